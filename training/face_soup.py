"""Average trained face weights into one (a uniform model soup, Wortsman et al., ICML 2022).

    python -m training.face_soup --out DIR --name NAME W1.json W2.json ...

The ingredients must share the architecture (they are meant to be continuations of one parent:
weights that start from the same point stay in one basin, where their average is a model
too). Every floating-point tensor, BatchNorm statistics included, is averaged in float32 and
stored in float16 as shipped; integer tensors (BatchNorm's step counts) come from the first.
Each file's sha256 is checked on loading; nothing is unpickled.

The soup is not calibrated: measure and calibrate it with ``python -m training.train_face
--init DIR/NAME.json --size S --steps 0``, which records the ingredients (name, sha256 and
training command each) in the weight it writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from detectors.models.efficientnet_lite import EfficientNetLite0
from detectors.weights import WeightInfo, load_state, read_info, save_weights


def average(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The uniform average of state dicts with the same keys and shapes (float16 out)."""
    if not states:
        raise SystemExit("no weights to average")
    keys = states[0].keys()
    for s in states[1:]:
        if s.keys() != keys or any(s[k].shape != states[0][k].shape for k in keys):
            raise SystemExit("the weights differ in their tensors: not one architecture")
    out = {}
    for k in keys:
        first = states[0][k]
        if first.is_floating_point():
            out[k] = torch.stack([s[k].float() for s in states]).mean(0).half()
        else:
            out[k] = first.clone()
    return out


def soup(weights: list[Path], out: Path, name: str, command: str = "") -> WeightInfo:
    infos = [read_info(w) for w in weights]
    for info in infos:
        if info.meta.get("architecture") != "EfficientNetLite0" or info.meta.get("task") != "face-forgery":
            raise SystemExit(f"{info.name} is not an EfficientNetLite0 face-forgery weight")
    if len({i.sha256 for i in infos}) != len(infos):
        raise SystemExit("the same weights twice: a soup of distinct weights only")
    state = average([load_state(i) for i in infos])
    EfficientNetLite0(num_outputs=1).load_state_dict(state)  # the average is a whole model
    first = infos[0].meta
    ingredients = []
    for i in infos:
        tr = i.meta.get("training") or {}
        init = tr.get("init") or {}
        ingredients.append(
            {
                "name": i.name,
                "sha256": i.sha256,
                "command": tr.get("command"),
                "init": init.get("name"),
                "steps": tr.get("steps"),
                "total_seconds": tr.get("total_seconds"),
            }
        )
    seconds = [x["total_seconds"] for x in ingredients]
    known = all(isinstance(x, (int, float)) for x in seconds)
    meta = {
        "task": "face-forgery",
        "architecture": "EfficientNetLite0",
        "parameters": first.get("parameters"),
        "input": first["input"],
        "output": first.get("output"),
        "training": {
            "command": command,
            "soup_of": ingredients,
            "steps": 0,
            "precision": "float32",
            # the ingredients' own training time; their parents' is recorded in each one
            "total_seconds": round(sum(seconds), 1) if known else None,  # type: ignore[arg-type]
            "lineage_seconds": None,
        },
        "evaluation": {},
        "license": first.get("license"),
    }
    return save_weights(out, name, state, meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, nargs="+", help="the ingredients' .json metadata")
    ap.add_argument("--out", type=Path, required=True, help="folder for the soup's .safetensors and metadata")
    ap.add_argument("--name", required=True)
    args = ap.parse_args(argv)
    if len(args.weights) < 2:
        raise SystemExit("a soup needs at least two weights")
    cmd = "python -m training.face_soup " + " ".join(argv if argv is not None else sys.argv[1:])
    info = soup(args.weights, args.out, args.name, cmd)
    print(f"wrote {info.path} (sha256 {info.sha256[:12]}…), the average of {len(args.weights)} weights")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
