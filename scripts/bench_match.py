"""Registry search speed: queries per second against N enrolled people (synthetic templates).

    .venv/bin/python scripts/bench_match.py [--people 10000] [--queries 5000]

Target of the likeness issue: ≥ 1,000 queries per second against 10,000 people.
Reports the registry load time, batched search (all queries in one call, as a video's
tracks are searched) and one-query-at-a-time search, for faces (128-d) and voices (256-d).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=5_000)
    ap.add_argument("--templates-per-person", type=int, default=2)
    args = ap.parse_args()

    from likeness.crypto import Cipher
    from likeness.matcher import Matcher, Threshold
    from likeness.store import SCHEMA_VERSION, Registry

    rng = np.random.default_rng(0)
    people = []
    for i in range(args.people):
        t = [
            {"modality": "face", "model": "bench", "vector": rng.normal(size=128).round(4).tolist()}
            for _ in range(args.templates_per_person)
        ]
        t.append({"modality": "voice", "model": "bench", "vector": rng.normal(size=256).round(4).tolist()})
        people.append({"id": f"p{i:06d}", "name": f"Person {i}", "templates": t})
    doc = {"format": "veracity-registry", "schema_version": SCHEMA_VERSION, "people": people}
    thresholds = {m: Threshold(m, "bench", 0.9, 0.001, 0.05, "bench") for m in ("face", "voice")}
    out: dict[str, object] = {"people": args.people, "templates_per_person": args.templates_per_person}
    with tempfile.TemporaryDirectory() as tmp, Registry(Path(tmp) / "bench.db", cipher=Cipher(None)) as reg:
        t = time.perf_counter()
        reg.import_(doc)
        out["import_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        matcher = Matcher(reg, thresholds)
        out["load_s"] = round(time.perf_counter() - t, 3)
        for modality, dim in (("face", 128), ("voice", 256)):
            q = rng.normal(size=(args.queries, dim)).astype(np.float32)
            matcher.search(modality, q[:10])
            t = time.perf_counter()
            for s in range(0, len(q), 1000):
                matcher.search(modality, q[s : s + 1000], top_k=3)
            out[f"{modality}_batched_qps"] = round(len(q) / (time.perf_counter() - t))
            n = min(500, len(q))
            t = time.perf_counter()
            for row in q[:n]:
                matcher.search(modality, row[None], top_k=3)
            out[f"{modality}_single_qps"] = round(n / (time.perf_counter() - t))
    out["meets_1000_qps"] = min(out["face_single_qps"], out["voice_single_qps"]) >= 1000  # type: ignore[call-overload]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
