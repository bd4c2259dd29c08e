"""Time `verify` per file against a bare c2pa-python Reader on the same files.

    python scripts/bench_verify.py FILE_OR_DIR... [--repeat 3]

Prints median milliseconds per file for: a bare Reader (json() only), verify with C2PA
only (--no-signals --no-watermark), and full verify (signals and watermark).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import c2pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance.trust import TrustConfig
from provenance.verify import VerifyOptions, verify_file


def files_of(args: list[Path]) -> list[Path]:
    out: list[Path] = []
    for a in args:
        out += sorted(p for p in a.rglob("*") if p.is_file()) if a.is_dir() else [a]
    return out


def bare(path: Path, ctx: c2pa.Context) -> None:
    try:
        with c2pa.Reader(str(path), context=ctx) as r:
            r.json()
    except Exception:  # the bare reader's errors count as work done
        return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    files = files_of(args.paths)
    trust = TrustConfig()
    ctx = c2pa.Context.from_dict(trust.c2pa_settings())
    modes = {
        "bare c2pa Reader": lambda p: bare(p, ctx),
        "verify (C2PA only)": lambda p: verify_file(
            p, VerifyOptions(trust=trust, signals=False, watermark=False)
        ),
        "verify (full)": lambda p: verify_file(p, VerifyOptions(trust=trust)),
    }
    for f in files[:3]:  # warm-up
        for fn in modes.values():
            fn(f)
    for name, fn in modes.items():
        per_file = []
        for f in files:
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                fn(f)
                times.append(time.perf_counter() - t)
            per_file.append(statistics.median(times) * 1000)
        print(
            f"{name:22s} files={len(files):4d}  median {statistics.median(per_file):7.2f} ms/file  "
            f"mean {statistics.mean(per_file):7.2f}  max {max(per_file):8.2f}"
        )


if __name__ == "__main__":
    main()
