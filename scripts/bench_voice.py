"""Voice detector speed on this machine, against the target of the voice issue.

    .venv/bin/python scripts/bench_voice.py [--runs 3] [--hop S] [--json]

Measures the model load (hash check + safetensors) and a 60 s speech clip end to end
(decode, voice activity, 4 s windows at the weights' hop, scoring, aggregation) as a multiple of real
time. The clip is real speech from ../shared/data when present (recordings joined to 60 s),
else espeak-ng speech, else a synthetic voiced signal. Target: ≥ 50× real time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 16_000
TARGET_X_REALTIME = 50.0


def speech_60s() -> tuple[np.ndarray, str]:
    from detectors.audio import load_audio

    real = ROOT.parent / "shared" / "data" / "speech" / "real" / "vctk_p239"
    files = sorted(real.rglob("*.flac")) if real.is_dir() else []
    if files:
        parts, total = [], 0
        for f in files:
            x = load_audio(f, RATE)
            parts.append(x)
            total += len(x)
            if total >= 60 * RATE:
                break
        return np.concatenate(parts)[: 60 * RATE], f"real speech ({real.name})"
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_samples import NARRATION, tts_speech

    tts = tts_speech(NARRATION)
    if tts is not None:
        return np.tile(tts, int(np.ceil(60 * RATE / len(tts))))[: 60 * RATE], "espeak-ng speech"
    from tests.test_speech import vowelish

    return vowelish(60.0), "synthetic voiced signal"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hop", type=float, default=None, help="seconds between windows [the weights' own]")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from detectors.voice import VoiceAnalyzer, VoiceClassifier, VoiceOptions

    t0 = time.perf_counter()
    analyzer = VoiceAnalyzer(VoiceClassifier.default(), VoiceOptions(hop_s=args.hop))
    load_s = time.perf_counter() - t0
    x, what = speech_60s()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        analyzer.analyze(path)  # warm-up
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            r = analyzer.analyze(path)
            times.append(time.perf_counter() - t)
    best, median = min(times), statistics.median(times)
    out = {
        "clip": what,
        "clip_s": len(x) / RATE,
        "speech_s": r.speech_s,
        "windows": len(r.windows),
        "hop_s": analyzer.hop_s,
        "load_s": round(load_s, 3),
        "engine": analyzer.classifier.engine,  # openvino or onnxruntime: float32 on a CPU without fast bfloat16
        "seconds_median": round(median, 3),
        "x_realtime_median": round(len(x) / RATE / median, 1),
        "x_realtime_best": round(len(x) / RATE / best, 1),
        "target_x_realtime": TARGET_X_REALTIME,
        "met": len(x) / RATE / median >= TARGET_X_REALTIME,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"clip: {out['clip_s']:.0f} s of {what}, {r.speech_s:.1f} s speech, {len(r.windows)} windows "
              f"every {analyzer.hop_s:g} s")  # fmt: skip
        print(f"model load: {load_s:.2f} s")
        print(f"60 s clip: {median:.2f} s median of {args.runs} → {out['x_realtime_median']}× real time "
              f"(target ≥ {TARGET_X_REALTIME:g}×: {'met' if out['met'] else 'NOT met'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
