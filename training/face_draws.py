"""Score face weights on fresh draws of the held-out self-blend and landmark-swap sets.

    python -m training.face_draws --cache .cache/face_data --seeds 1,2,3,4,5 \\
        weights/face-effnetlite0-v5.json [--record]

The trainer measures each weight on one draw of its held-out sets (its own seed). The real photos
are fixed, but the blends, swaps and JPEG qualities are random, and one draw moves the AUC by
about 0.01, as much as two recipes differ by. This draws the two sets anew for each seed (the
same 608 real photos of held-out people) and scores every weight given at its own input size, in
float32 as the trainer does
(and averaged with the mirror image where the weights say so). ``--record`` stores the AUCs in each weight's metadata under
``fresh_draws`` and re-renders its card, whose targets are then judged by their mean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from detectors import metrics
from detectors.models.efficientnet_lite import EfficientNetLite0
from detectors.weights import load_state, read_info
from training import face_card, fastmalloc
from training.face_data import load
from training.train_face import Pools, build_validation, logits_of

SETS = ("self_blended_heldout_people", "landmark_swaps_heldout_people")


def score(
    cache: Path, weights: list[Path], seeds: list[int], device: str = "cpu"
) -> dict[str, dict[str, list[float]]]:
    """AUC per weight name, per set, one value per seed (in the order of ``seeds``); the networks
    run on ``device`` (the draws are made on the CPU alike)."""
    crops, marks, meta = load(cache)
    pools = Pools(meta, "val")
    models: list[tuple[str, EfficientNetLite0, int, bool]] = []
    for w in weights:
        info = read_info(w)  # the sha256 is checked on loading; nothing is unpickled
        if any(name == info.name for name, *_ in models):
            raise SystemExit(f"two weights named {info.name}: their draws would be recorded under one name")
        model = EfficientNetLite0(num_outputs=1)
        model.load_state_dict(load_state(info))
        spec = info.meta["input"]
        models.append(
            (info.name, model.to(device).eval(), int(spec["size"]), bool(spec.get("mirror_average", False)))
        )
    out: dict[str, dict[str, list[float]]] = {name: {k: [] for k in SETS} for name, *_ in models}
    for seed in seeds:
        sets = build_validation(crops, marks, meta, pools, [], seed)
        for name, model, size, mirror in models:
            real_logits: tuple[np.ndarray, np.ndarray] | None = None  # (the real photos, their logits)
            for k in SETS:
                imgs, labels, _ = sets[k]
                logits = _logits(model, imgs, labels, size, mirror, real_logits)
                real_logits = (imgs[labels == 0], logits[labels == 0])
                value = metrics.auc(labels, logits)
                if value is None:
                    raise SystemExit(f"{k} has only one class for seed {seed}")
                out[name][k].append(round(value, 4))
    return out


def _logits(
    model: EfficientNetLite0,
    imgs: np.ndarray,
    labels: np.ndarray,
    size: int,
    mirror: bool,
    known: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """Logits of one set; its real photos are not scored again where they are the ones already
    scored for the other set of the same draw (both sets hold the same real photos)."""
    real = labels == 0
    if known is None or not np.array_equal(imgs[real], known[0]):
        return logits_of(model, imgs, size, mirror_average=mirror)
    out = np.empty(len(imgs), np.float32)
    out[real] = known[1]
    out[~real] = logits_of(model, imgs[~real], size, mirror_average=mirror)
    return out


def pick(result: dict[str, dict[str, list[float]]]) -> str:
    """The weight with the highest mean landmark-swap AUC over the draws, ties broken by the
    self-blends': the swaps are the set a lineage's root carries to its end (its later stages and
    soups add a few thousandths), the self-blends the set they improve."""
    swaps, blends = SETS[1], SETS[0]
    return max(result, key=lambda n: (float(np.mean(result[n][swaps])), float(np.mean(result[n][blends]))))


def record(meta_path: Path, seeds: list[int], aucs: dict[str, list[float]], command: str) -> None:
    """Store the draws in the weight's metadata and re-render its card."""
    doc = json.loads(meta_path.read_text(encoding="utf-8"))
    doc["fresh_draws"] = {"seeds": seeds, "auc": aucs, "command": command}
    meta_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (meta_path.parent / doc["card"]).write_text(face_card.render(doc), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, nargs="+", help="face weights' .json metadata")
    ap.add_argument("--cache", type=Path, required=True, help="folder written by training.face_data")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated draw seeds")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--record", action="store_true", help="store the AUCs in each weight's metadata and card")
    ap.add_argument("--device", default="cpu", help="torch device for the networks (cuda on a lent GPU)")
    ap.add_argument(
        "--json", type=Path, default=None, help="also write the AUCs here (weight name -> set -> per seed)"
    )
    ap.add_argument(
        "--pick",
        type=Path,
        default=None,
        help="write the best weight's metadata path here (highest mean landmark-swap AUC, ties by self-blends); "
        "use draw seeds that no rule is judged on",
    )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    result = score(args.cache, args.weights, seeds, args.device)
    for name, per_set in result.items():
        for k, v in per_set.items():
            print(f"{name} {k}: {' / '.join(f'{a:.3f}' for a in v)} (mean {np.mean(v):.3f})")
    if args.json is not None:
        args.json.write_text(json.dumps({"seeds": seeds, "auc": result}, indent=2) + "\n", encoding="utf-8")
    if args.pick is not None:
        best = pick(result)
        chosen = args.weights[list(result).index(best)]  # names are unique, in the order given
        args.pick.write_text(str(chosen) + "\n", encoding="utf-8")
        print(f"picked {best}: {chosen}")
    if args.record:
        cmd = "python -m training.face_draws " + " ".join(argv if argv is not None else sys.argv[1:])
        for w, name in zip(args.weights, result, strict=True):  # names are unique, in the order given
            record(w, seeds, result[name], cmd)
    return 0


if __name__ == "__main__":
    fastmalloc.reexec()
    raise SystemExit(main())
