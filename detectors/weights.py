"""Shipped weights: safetensors files with JSON metadata beside them, checked before loading.

Each model ``NAME`` in a weights folder is three files:
- ``NAME.safetensors``: the tensors (never a pickle);
- ``NAME.json``: metadata: file name, full sha256, size, input spec, calibration,
  operating points, evaluation numbers, training recipe, licence;
- ``NAME.md``: the model card.
Loading recomputes the sha256 and refuses a mismatch (WeightsIntegrityError).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veracity.errors import VeracityError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
REQUIRED_META = (
    "name",
    "task",
    "file",
    "sha256",
    "size_bytes",
    "architecture",
    "input",
    "calibration",
    "operating_points",
    "default_operating_point",
    "evaluation",
    "training",
    "license",
    "card",
)
REQUIRED_CARD_SECTIONS = (
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Evaluation",
    "Operating points",
    "Limitations",
)


class WeightsError(VeracityError):
    """A weight file that is missing, damaged, or does not match its recorded sha256."""

    code = "weights-integrity"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_dir() -> Path:
    """``$VERACITY_WEIGHTS`` if set, else the ``weights/`` folder of this checkout."""
    env = os.environ.get("VERACITY_WEIGHTS")
    return Path(env) if env else WEIGHTS_DIR


@dataclass(frozen=True)
class WeightInfo:
    """The metadata of one shipped model."""

    folder: Path
    meta: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def path(self) -> Path:
        return self.folder / str(self.meta["file"])

    @property
    def sha256(self) -> str:
        return str(self.meta["sha256"])

    @property
    def card(self) -> Path:
        return self.folder / str(self.meta["card"])

    def problems(self) -> list[str]:
        """Everything wrong with this entry: missing fields or files, wrong size or hash."""
        out = [f"metadata lacks {k!r}" for k in REQUIRED_META if k not in self.meta]
        if out:
            return out
        if not self.path.is_file():
            return [f"weight file {self.path.name} is missing"]
        size = self.path.stat().st_size
        if size != int(self.meta["size_bytes"]):
            out.append(f"size {size} differs from the recorded {self.meta['size_bytes']}")
        digest = sha256_file(self.path)
        if digest != self.sha256:
            out.append(f"sha256 {digest} differs from the recorded {self.sha256}")
        if not self.card.is_file():
            out.append(f"model card {self.card.name} is missing")
        else:
            text = self.card.read_text(encoding="utf-8")
            out += [
                f"model card lacks a '{s}' section" for s in REQUIRED_CARD_SECTIONS if f"## {s}" not in text
            ]
        return out


def read_info(meta_path: Path) -> WeightInfo:
    """The weight described by the metadata file ``meta_path`` (its files lie beside it)."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"unreadable weight metadata: {exc}", path=str(meta_path)) from None
    if not isinstance(meta, dict):
        raise WeightsError("weight metadata is not a JSON object", path=str(meta_path))
    return WeightInfo(meta_path.parent, meta)


# models that serve a detector rather than give a verdict (the voice detector's music-or-speech
# and noise-suppression checks): looked for in ``helper_folders``
HELPER_TASKS = ("music-detection", "noise-suppression")


def helper_folders(first: Path | None = None) -> tuple[Path, ...]:
    """Where a helper model is looked for, in order: ``first`` (the folder of the weight it serves),
    the weights folder in use, the weights shipped with this checkout (each folder once)."""
    return tuple(dict.fromkeys(f for f in (first, weights_dir(), WEIGHTS_DIR) if f is not None))


def list_weights(folder: Path | None = None) -> list[WeightInfo]:
    """Every ``*.json`` metadata file in the weights folder, sorted by name."""
    folder = folder or weights_dir()
    return [read_info(meta_path) for meta_path in sorted(folder.glob("*.json"))]


def version_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Order weight names by their numbers as numbers: ``...-v10`` after ``...-v9``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name))


def newest(infos: list[WeightInfo]) -> WeightInfo:
    """The newest of ``infos`` by name (the default when several serve one task)."""
    return max(infos, key=lambda w: version_key(w.name))


def defaults(infos: list[WeightInfo]) -> set[str]:
    """The names that commands use when no ``--weights`` is given: the newest of each task."""
    tasks: dict[str, list[WeightInfo]] = {}
    for w in infos:
        tasks.setdefault(str(w.meta.get("task")), []).append(w)
    return {newest(ws).name for ws in tasks.values()}


def find_weights(task: str, name: str | None = None, folder: Path | None = None) -> WeightInfo:
    """The model for ``task`` (the newest name when several), or the one called ``name``."""
    candidates = [
        w for w in list_weights(folder) if w.meta.get("task") == task and (name is None or w.name == name)
    ]
    if not candidates:
        want = f"{task} weights" + (f" named {name!r}" if name else "")
        raise WeightsError(f"no {want} in {folder or weights_dir()}")
    return newest(candidates)


def load_tensors(info: WeightInfo) -> dict[str, Any]:
    """The verified tensors of ``info`` as torch tensors (sha256 checked first; no pickle involved)."""
    from safetensors.torch import load as st_load

    if not info.path.is_file():
        raise WeightsError(f"weight file {info.path.name} is missing", path=str(info.path))
    data = info.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != info.sha256:
        raise WeightsError(
            f"sha256 mismatch: file has {digest}, metadata says {info.sha256}; refusing to load",
            path=str(info.path),
        )
    try:
        return st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(f"not a valid safetensors file: {exc}", path=str(info.path)) from None


def load_state(info: WeightInfo) -> dict[str, Any]:
    """``load_tensors`` with the floating-point tensors in float32 (weights are stored in float16),
    ready for ``load_state_dict``."""
    return {k: v.float() if v.is_floating_point() else v for k, v in load_tensors(info).items()}


def save_weights(
    folder: Path, name: str, state: dict[str, Any], meta: dict[str, Any], card: str | None = None
) -> WeightInfo:
    """Write ``name.safetensors`` and ``name.json`` (sha256 and size filled in); the card if given."""
    from safetensors.torch import save as st_save

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    # one metadata entry: safetensors writes a map of several in no fixed order, and the same
    # tensors must give the same file (and sha256) every time
    blob = st_save(tensors, metadata={"weight": f"{name} ({meta.get('task', '')})"})
    path = folder / f"{name}.safetensors"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    doc = dict(meta)
    doc.update(
        name=name,
        file=path.name,
        sha256=hashlib.sha256(blob).hexdigest(),
        size_bytes=len(blob),
        card=f"{name}.md",
        tensors=len(tensors),
        stored_parameters=int(sum(int(np.prod(tuple(v.shape))) for v in tensors.values())),
    )
    (folder / f"{name}.json").write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    if card is not None:
        (folder / f"{name}.md").write_text(card, encoding="utf-8")
    return WeightInfo(folder, doc)
