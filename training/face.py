"""Train the face-forgery classifier from the shared data in one command.

    python -m training.face --data ../shared/data --out weights [--cache .cache/face_data] [--seed 0]

Builds the face cache (``training.face_data``) when ``--cache`` does not hold one yet, then
trains, validates, calibrates and writes the weights, metadata and model card
(``training.train_face``). Extra options after ``--`` go to the trainer, e.g. ``-- --steps 3600``.
"""

from __future__ import annotations

from pathlib import Path

from training import face_data, fastmalloc, train_face
from training.pipeline import run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, argv, face_data.main, train_face.main, "cache", Path(".cache/face_data"))


if __name__ == "__main__":
    fastmalloc.reexec()
    raise SystemExit(main())
