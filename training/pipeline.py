"""The one-command shape shared by ``training.face`` and ``training.voice``: build the data
cache when it is missing, then train on it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

Main = Callable[[list[str]], int]


def run(
    doc: str | None, argv: list[str] | None, build: Main, train: Main, cache_flag: str, default: Path
) -> int:
    """``--data --out [--CACHE] [--seed] [--data-seed] [-- trainer options]``. ``--seed`` is the
    trainer's; the data builder has its own ``--data-seed`` (default 0), so that training seeds
    can change without changing the data, its splits and its held-out people."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(f"--{cache_flag}", dest="cache", type=Path, default=default)
    ap.add_argument("--seed", type=int, default=0, help="the trainer's seed")
    ap.add_argument("--data-seed", type=int, default=0, help="the data builder's seed (splits, excerpts)")
    args = ap.parse_args(argv)
    if not (args.cache / "meta.csv").is_file():
        build(["--data", str(args.data), "--out", str(args.cache), "--seed", str(args.data_seed)])
    return train(
        [f"--{cache_flag}", str(args.cache), "--out", str(args.out), "--seed", str(args.seed), *extra]
    )
