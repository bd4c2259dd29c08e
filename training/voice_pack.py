"""Carry a voice corpus to a lent GPU machine, whose calls take 64 MiB each.

    python -m training.voice_pack pack --corpus .cache/voice_data --out .cache/voice_pack
    python -m training.parts join --pack .cache/voice_pack --out /tmp/voice_data   # there

``pack`` writes the corpus's files (its FLAC clips, ``meta.csv`` and ``shortcut_check.json``)
plus the music beds that the trainer mixes under speech (``music_beds/*.flac``, taken from this
machine's Debian packages: the GPU machine has none) into parts ``part1``, ``part2``, ... of at
most ``--part-mb`` each (``training.parts``), so that each part travels in one call beside the
repository; ``training.parts join`` makes one corpus folder of them again, every sha256 checked.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from training import parts

log = logging.getLogger("training.voice_pack")

CORPUS_FILES = ("meta.csv", "shortcut_check.json")


def corpus_files(corpus: Path) -> list[str]:
    """The corpus's files, relative to it: the clips ``meta.csv`` names, then its reports."""
    import csv

    with (corpus / "meta.csv").open(newline="") as fh:
        clips = [row["path"] for row in csv.DictReader(fh)]
    return [*clips, *(f for f in CORPUS_FILES if (corpus / f).is_file())]


def write_beds(beds: list[np.ndarray], folder: Path, rate: int) -> list[Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, bed in enumerate(beds):
        path = folder / f"bed{k:03d}.flac"
        sf.write(path, np.clip(bed, -1, 1), rate, subtype="PCM_16")
        paths.append(path)
    return paths


def pack(corpus: Path, out: Path, part_mb: float = 55.0, with_beds: bool = True) -> list[Path]:
    """Split ``corpus`` (and the music beds) into parts of at most ``part_mb`` MB; the parts' folders."""
    from detectors.models.lcnn import RATE
    from training.train_voice import BEDS_DIR, music_beds

    files = [(rel, corpus / rel) for rel in corpus_files(corpus)]
    with tempfile.TemporaryDirectory() as tmp:
        if with_beds:
            # the Debian soundtracks, as 16-bit FLAC: the trainer reads these instead where present
            beds = write_beds(music_beds(), Path(tmp) / BEDS_DIR, RATE)
            files += [(f"{BEDS_DIR}/{p.name}", p) for p in beds]
        return parts.split(files, out, part_mb)  # links made inside tmp are copies or survive it


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="split a corpus (and the music beds) into parts")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--part-mb", type=float, default=55.0, help="largest part, in MB (default 55)")
    p.add_argument("--no-music-beds", action="store_true", help="leave the music beds out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    pack(args.corpus, args.out, args.part_mb, with_beds=not args.no_music_beds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
