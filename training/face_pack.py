"""Pack the face training cache small enough to carry to another machine, and unpack it there.

    python -m training.face_pack pack --cache .cache/face_data --out .cache/face_pack
    python -m training.face_pack unpack --pack .cache/face_pack --out .cache/face_data

The cache (``training.face_data``) holds every crop raw: about 840 MB for 4,500 faces, too
much for a lent GPU machine, which takes 64 MiB with the repository. A pack holds instead:

- each photo's source file once (JPEGs as published); unpacking cuts the crop again from it
  with the alignment matrix that ``training.face_data`` stored, through the same
  ``detectors.face_align.warp``, so photo crops come back exactly where OpenCV warps alike;
- video-frame crops as JPEG (quality ``--video-quality``, 4:4:4): their frames are decoded
  H.264 already, and carrying the videos would need the same decoder there;
- the 68-point landmarks, the matrices and the metadata, unchanged;
- each original crop's sha256, so that unpacking reports how many crops came back identical.

A pack and its unpacked cache are local training inputs (git-ignored, like the cache); the data's
licences are those of ``../shared/data``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from detectors.face_align import CANONICAL_SIZE, warp
from detectors.media import load_image_rgb
from training.face_data import META_FIELDS, load

log = logging.getLogger("training.face_pack")

PACK_FIELDS = (*META_FIELDS, "packed")


def _digest(crop: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(crop).tobytes()).hexdigest()


def pack(cache: Path, out: Path, *, video_quality: int = 90) -> dict[str, int]:
    """Write the pack of ``cache`` to ``out``; returns counts and bytes."""
    crops, marks, meta = load(cache)
    matrices_path = cache / "matrices.npy"
    if not matrices_path.is_file():
        raise SystemExit(f"{cache} has no matrices.npy: rebuild it with this version of training.face_data")
    matrices = np.load(matrices_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sources").mkdir(exist_ok=True)
    copied: dict[str, str] = {}
    frames = bytearray()
    index: list[tuple[int, int, int]] = []
    rows = []
    for i, row in enumerate(meta):
        packed = ""
        if row["kind"] == "photo":
            src = Path(row["path"])
            if row["path"] not in copied:
                # named by a hash of the path: the data's own file names never become ours
                name = hashlib.sha256(row["path"].encode()).hexdigest()[:20] + src.suffix.lower()
                shutil.copyfile(src, out / "sources" / name)
                copied[row["path"]] = f"sources/{name}"
            packed = copied[row["path"]]
        else:
            buf = io.BytesIO()
            Image.fromarray(np.asarray(crops[i])).save(buf, "JPEG", quality=video_quality, subsampling=0)
            index.append((i, len(frames), buf.tell()))
            frames += buf.getvalue()
        rows.append([row[k] for k in META_FIELDS] + [packed])
    (out / "frames.bin").write_bytes(bytes(frames))
    np.save(out / "frames.npy", np.asarray(index, dtype=np.int64).reshape(-1, 3))
    np.save(out / "landmarks68.npy", marks)
    np.save(out / "matrices.npy", matrices)
    (out / "crops.sha256").write_text("".join(_digest(c) + "\n" for c in crops))
    with (out / "meta.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(PACK_FIELDS)
        w.writerows(rows)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log.info(
        "packed %d crops (%d source files, %d video frames): %.1f MB",
        len(meta),
        len(copied),
        len(index),
        total / 1e6,
    )
    return {"crops": len(meta), "sources": len(copied), "frames": len(index), "bytes": total}


def unpack(packed: Path, out: Path) -> dict[str, float]:
    """Rebuild a cache that ``training.face_data.load`` reads; returns how close it came."""
    with (packed / "meta.csv").open(newline="") as fh:
        meta = list(csv.DictReader(fh))
    matrices = np.load(packed / "matrices.npy")
    marks = np.load(packed / "landmarks68.npy")
    digests = (packed / "crops.sha256").read_text().split()
    if not (len(meta) == len(matrices) == len(marks) == len(digests)):
        raise SystemExit(f"{packed}: inconsistent pack")
    frames = (packed / "frames.bin").read_bytes()
    index = {int(i): (int(o), int(n)) for i, o, n in np.load(packed / "frames.npy")}
    out.mkdir(parents=True, exist_ok=True)
    crops = np.lib.format.open_memmap(
        out / "crops.npy", mode="w+", dtype=np.uint8, shape=(len(meta), CANONICAL_SIZE, CANONICAL_SIZE, 3)
    )
    photos = photos_exact = frames_exact = 0
    for i, row in enumerate(meta):
        if row["packed"]:
            src = (packed / row["packed"]).resolve()
            if not src.is_relative_to(packed.resolve() / "sources"):
                raise SystemExit(f"{packed}: row {i} points outside the pack's sources: {row['packed']!r}")
            crop = warp(load_image_rgb(src), matrices[i])
        else:
            o, n = index[i]
            crop = np.asarray(Image.open(io.BytesIO(frames[o : o + n])).convert("RGB"), dtype=np.uint8)
        crops[i] = crop
        same = _digest(crop) == digests[i]
        photos += bool(row["packed"])
        photos_exact += bool(row["packed"]) and same
        frames_exact += not row["packed"] and same
    crops.flush()
    np.save(out / "landmarks68.npy", marks)
    np.save(out / "matrices.npy", matrices)
    with (out / "meta.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(META_FIELDS)
        w.writerows([row[k] for k in META_FIELDS] for row in meta)
    log.info(
        "unpacked %d crops: %d photo crops cut again (%d identical to the original), "
        "%d video-frame crops from JPEG (%d identical)",
        len(meta),
        photos,
        photos_exact,
        len(meta) - photos,
        frames_exact,
    )
    return {"crops": len(meta), "photos": photos, "photos_exact": photos_exact, "frames_exact": frames_exact}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="cache → pack")
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--video-quality", type=int, default=90, help="JPEG quality of video-frame crops")
    u = sub.add_parser("unpack", help="pack → cache")
    u.add_argument("--pack", type=Path, required=True)
    u.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    t0 = time.time()
    if args.cmd == "pack":
        pack(args.cache, args.out, video_quality=args.video_quality)
    else:
        unpack(args.pack, args.out)
    log.info("done in %.0f s", time.time() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
