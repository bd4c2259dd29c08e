"""Labelled whole-file sets for ``veracity evaluate --detector voice``, from data the voice
model never trained on.

    .venv/bin/python scripts/make_voice_eval_sets.py --data ../shared/data --out .cache/voice_eval

Writes ``labels.csv`` files (``path,label``) under ``--out``:

- ``hierspeechpp/``: the HierSpeech++ demo (zero-shot TTS and eight voice-conversion systems)
  against its own real references, the files as published (held out of training entirely);
- ``flite/``: flite TTS (four voices, a TTS engine never trained on) against the real
  recordings of the speakers held back from training (the corpus's ``split=val`` reals);
- ``heldback_neural/``: the neural TTS/VC files of the held-back speakers in the trained neural
  sources (Tortoise, CycleGAN-VC2, SpeechT5, VoiceCraft, YourTTS) against the same real
  recordings.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import voice_data  # noqa: E402


def write(folder: Path, rows: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(rows)
    print(
        f"{folder / 'labels.csv'}: {sum(r[1] == 'real' for r in rows)} real, {sum(r[1] == 'fake' for r in rows)} fake"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--corpus", type=Path, default=ROOT / ".cache" / "voice_data", help="for the held-back speakers"
    )
    args = ap.parse_args()
    demo = (args.data / "speech" / "demos" / "hierspeechpp_demo").resolve()
    rows = [
        (str(f), "real" if "real" in f.relative_to(demo).parts else "fake")
        for f in sorted(demo.rglob("*"))
        if f.suffix.lower() in (".flac", ".wav", ".mp3")
    ]
    write(args.out / "hierspeechpp", rows)
    import soundfile as sf

    flite_dir = args.out / "flite"
    flite_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, text in enumerate(voice_data.SENTENCES):
        for voice in voice_data.FLITE_VOICES:
            path = flite_dir / f"flite-{voice}-{k:02d}.wav"
            sf.write(path, voice_data.flite(text, voice), 16000, subtype="PCM_16")
            rows.append((path.name, "fake"))
    with (args.corpus / "meta.csv").open(newline="") as fh:
        held = sorted({r["source"] for r in csv.DictReader(fh) if r["split"] == "val" and r["label"] == "real"
                       and "hierspeechpp" not in r["source"]})  # fmt: skip
    reals = [(str(voice_data.source_path(args.data, s).resolve()), "real") for s in held]
    write(flite_dir, rows + reals)
    with (args.corpus / "meta.csv").open(newline="") as fh:
        fakes = sorted({r["source"] for r in csv.DictReader(fh) if r["split"] == "val" and r["family"] == "neural"
                        and "hierspeechpp" not in r["source"]})  # fmt: skip
    write(args.out / "heldback_neural", [(str((args.data / s).resolve()), "fake") for s in fakes] + reals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
