"""A folder of mixed media, some of it corrupt or truncated, scanned, killed with SIGKILL
part-way, and resumed: every file must end up accounted for exactly once.

    .venv/bin/python scripts/stress_scan.py [--files 1000] [--workers 2] [--kill-after 0.4]

Makes ``--files`` files (JPEG and PNG pictures, WAV speech-like audio, MP4 video with and
without a soundtrack, and damaged ones: truncated JPEG/MP4/WAV, random bytes with a media
extension, empty files, text files, MP4s with a video packet overwritten mid-stream), runs ``veracity scan --format jsonl -o journal`` in its
own process group, kills the whole group with SIGKILL once ``--kill-after`` of the files are
in the journal, then runs the same command with ``--resume`` and checks the journal: one
record per file, no duplicates, every status ok, abstained, skipped or error.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_samples import jpeg, picture  # noqa: E402


def voiced(seconds: float, f0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    y = (
        sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 20))
        * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)) ** 2
    )
    return (0.3 * y / np.abs(y).max() + 0.003 * rng.normal(size=t.size)).astype(np.float32)


def wav_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def mp4_bytes(seed: int, audio: bool) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=5)
        vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
        au = c.add_stream("aac", rate=16000) if audio else None
        if au is not None:
            au.layout = "mono"
        for i in range(10):
            for pkt in vs.encode(av.VideoFrame.from_ndarray(picture(160, 120, seed + i), format="rgb24")):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        if au is not None:
            x = voiced(2.0, 120 + seed % 50, seed)
            for i in range(0, len(x), 1024):
                fr = av.AudioFrame.from_ndarray(x[None, i : i + 1024].copy(), format="fltp", layout="mono")
                fr.sample_rate, fr.pts = 16000, i
                for pkt in au.encode(fr):
                    c.mux(pkt)
            for pkt in au.encode():
                c.mux(pkt)
    return buf.getvalue()


def rot_packet(data: bytes, seed: int) -> bytes:
    """``data`` with one of its middle video packets overwritten by random bytes (the container
    intact): damage the decoder meets mid-stream and must decode around."""
    import av

    with av.open(io.BytesIO(data)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    pos, size = packets[len(packets) // 2 + seed % 3]
    out = bytearray(data)
    out[pos + 4 : pos + size] = (
        np.random.default_rng(seed).integers(0, 256, size - 4, dtype=np.uint8).tobytes()
    )
    return bytes(out)


def make_files(folder: Path, n: int) -> dict[str, str]:
    """Writes ``n`` files into ``folder``; returns each file's name with its kind."""
    rng = np.random.default_rng(0)
    kinds: dict[str, str] = {}
    cache: dict[str, bytes] = {}
    for i in range(n):
        k = i % 20
        if k < 6:
            name, data, kind = f"{i:05d}.jpg", jpeg(picture(240, 180, i)), "jpeg"
        elif k < 8:
            buf = io.BytesIO()
            from PIL import Image

            Image.fromarray(picture(200, 150, i)).save(buf, "PNG")
            name, data, kind = f"{i:05d}.png", buf.getvalue(), "png"
        elif k < 12:
            name, data, kind = f"{i:05d}.wav", wav_bytes(voiced(2.5, 100 + i % 80, i)), "wav"
        elif k < 14:
            key = f"mp4{i % 7}"
            cache.setdefault(key, mp4_bytes(i % 7, audio=i % 2 == 0))
            name, data, kind = f"{i:05d}.mp4", cache[key] + bytes([i % 251]) * 0, "mp4"
        elif k == 14:
            good = jpeg(picture(240, 180, i))
            name, data, kind = f"{i:05d}.jpg", good[: len(good) // 2], "truncated-jpeg"
        elif k == 15 and (i // 20) % 2:
            good = cache.setdefault("mp4a", mp4_bytes(3, audio=True))
            name, data, kind = f"{i:05d}.mp4", rot_packet(good, i), "damaged-packet-mp4"
        elif k == 15:
            good = cache.setdefault("mp4a", mp4_bytes(3, audio=True))
            name, data, kind = f"{i:05d}.mp4", good[: len(good) // 3 + i % 100], "truncated-mp4"
        elif k == 16:
            good = wav_bytes(voiced(2.0, 150, i))
            name, data, kind = f"{i:05d}.wav", good[:60], "truncated-wav"
        elif k == 17:
            name, data, kind = (
                f"{i:05d}.jpg",
                rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(),
                "random-bytes",
            )
        elif k == 18:
            name, data, kind = f"{i:05d}.mp4", b"", "empty"
        else:
            name, data, kind = f"{i:05d}.txt", f"note {i}\n".encode(), "text"
        (folder / name).write_bytes(data)
        kinds[name] = kind
    return kinds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-after", type=float, default=0.4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "media"
        folder.mkdir()
        kinds = make_files(folder, args.files)
        journal = Path(tmp) / "scan.jsonl"
        cmd = [sys.executable, "-m", "cli", "scan", str(folder), "-q", "--workers", str(args.workers),
               "--skip", "likeness", "--format", "jsonl", "-o", str(journal)]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        want = int(args.files * args.kill_after)
        while proc.poll() is None and (not journal.exists() or journal.read_bytes().count(b"\n") < want):
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        first_s = time.perf_counter() - t0
        before = journal.read_bytes().count(b"\n")
        t1 = time.perf_counter()
        res = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True)
        resume_s = time.perf_counter() - t1
        lines = journal.read_text().splitlines()
        records = [json.loads(x) for x in lines]
        paths = [r["path"] for r in records]
        status = collections.Counter(r["status"] for r in records)
        expected = sorted(str(p) for p in folder.iterdir())
        out = {
            "files": args.files,
            "kinds": dict(collections.Counter(kinds.values())),
            "killed_after_records": before,
            "first_run_s": round(first_s, 1),
            "resume_s": round(resume_s, 1),
            "resume_exit_code": res.returncode,
            "resume_stderr_tail": res.stderr[-600:] if res.returncode not in (0, 1, 5) else "",
            "records": len(records),
            "unique_paths": len(set(paths)),
            "all_accounted_for": sorted(paths) == expected,
            "duplicates": len(paths) - len(set(paths)),
            "status": dict(status),
            "status_by_kind": {
                k: dict(collections.Counter(r["status"] for r in records if kinds[Path(r["path"]).name] == k))
                for k in sorted(set(kinds.values()))
            },
            "files_per_s_resume": round((len(records) - before) / resume_s, 1),
        }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    ok = out["all_accounted_for"] and out["duplicates"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
