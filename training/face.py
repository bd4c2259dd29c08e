"""Train the face-forgery classifier from the shared data in one command.

    python -m training.face --data ../shared/data --out weights [--cache .cache/face_data] [--seed 0]

Builds the face cache (``training.face_data``) when ``--cache`` does not hold one yet, then
trains, validates, calibrates and writes the weights, metadata and model card
(``training.train_face``). Extra options after ``--`` go to the trainer, e.g. ``-- --steps 3600``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training import face_data, train_face


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=Path(".cache/face_data"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not (args.cache / "meta.csv").is_file():
        face_data.main(["--data", str(args.data), "--out", str(args.cache), "--seed", str(args.seed)])
    return train_face.main(
        ["--cache", str(args.cache), "--out", str(args.out), "--seed", str(args.seed), *extra]
    )


if __name__ == "__main__":
    raise SystemExit(main())
