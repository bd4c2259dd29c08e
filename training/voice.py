"""Train the voice anti-spoofing classifier from the shared data in one command.

    python -m training.voice --data ../shared/data --out weights [--corpus .cache/voice_data] [--seed 0] [--data-seed 0]

Builds the corpus (``training.voice_data``) when ``--corpus`` does not hold one yet, then
trains, validates, calibrates and writes the weights, metadata and model card
(``training.train_voice``). Extra options after ``--`` go to the trainer, e.g. ``-- --epochs 30``.
"""

from __future__ import annotations

from pathlib import Path

from training import fastmalloc, train_voice, voice_data
from training.pipeline import run


def main(argv: list[str] | None = None) -> int:
    return run(__doc__, argv, voice_data.main, train_voice.main, "corpus", Path(".cache/voice_data"))


if __name__ == "__main__":
    fastmalloc.reexec()
    raise SystemExit(main())
