"""Search the registry: a matrix of templates loaded once, queried by cosine similarity.

Each modality has a decision threshold calibrated by ``python -m likeness.calibrate`` and
shipped in ``weights/calibration/likeness.json`` with the false-accept and false-reject
rates measured at it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.weights import weights_dir
from likeness.errors import RegistryError
from likeness.store import Person, Registry


@dataclass(frozen=True)
class Threshold:
    modality: str
    model: str
    threshold: float
    far: float  # false-accept rate measured at the threshold
    frr: float  # false-reject rate measured at the threshold
    measured_on: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "far": self.far,
            "frr": self.frr,
            "measured_on": self.measured_on,
        }


def calibration_path() -> Path:
    return weights_dir() / "calibration" / "likeness.json"


def load_thresholds(path: Path | None = None) -> dict[str, Threshold]:
    path = path or calibration_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"cannot read match thresholds: {exc}", path=str(path)) from None
    out = {}
    for modality, d in doc.get("modalities", {}).items():
        op = d["operating_point"]
        out[modality] = Threshold(
            modality, d["model"], float(op["threshold"]), float(op["far"]), float(op["frr"]), d["measured_on"]
        )
    return out


@dataclass(frozen=True)
class Match:
    person: Person
    modality: str
    similarity: float
    threshold: Threshold

    @property
    def matched(self) -> bool:
        return self.similarity >= self.threshold.threshold

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": {"id": self.person.id, "name": self.person.name},
            "modality": self.modality,
            "similarity": round(self.similarity, 4),
            "threshold": round(self.threshold.threshold, 4),
            "far_at_threshold": self.threshold.far,
            "frr_at_threshold": self.threshold.frr,
            "matched": self.matched,
        }


class Matcher:
    """Templates of one registry, per modality, as normalised matrices (loaded once)."""

    def __init__(self, registry: Registry, thresholds: dict[str, Threshold] | None = None) -> None:
        self.registry = registry
        self.thresholds = thresholds if thresholds is not None else load_thresholds()
        self._people = {p.id: p for p in registry.list_persons()}
        self._index: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        self.skipped: dict[str, int] = {}
        for modality in ("face", "voice"):
            ids, mat, models = registry.templates(modality)
            want = self.thresholds[modality].model if modality in self.thresholds else None
            if want is not None and ids:
                keep = [i for i, m in enumerate(models) if m == want]
                if len(keep) < len(ids):
                    # similarities across template models are meaningless: leave those out
                    self.skipped[modality] = len(ids) - len(keep)
                    ids = [ids[i] for i in keep]
                    mat = mat[keep] if keep else np.zeros((0, mat.shape[1]), np.float32)
            if len(ids):
                norms = np.linalg.norm(mat, axis=1, keepdims=True)
                mat = mat / np.where(norms > 0, norms, 1)
            # templates grouped by person, so the best per person is one maximum.reduceat
            uniq = sorted(set(ids))
            pos = {pid: i for i, pid in enumerate(uniq)}
            owner = np.array([pos[i] for i in ids], dtype=np.int64)
            order = np.argsort(owner, kind="stable")
            mat = mat[order] if len(ids) else mat
            starts = np.searchsorted(owner[order], np.arange(len(uniq)))
            self._index[modality] = (np.ascontiguousarray(mat, dtype=np.float32), starts, uniq)

    def size(self, modality: str) -> int:
        return len(self._index[modality][2])

    def search(self, modality: str, queries: np.ndarray, top_k: int = 3) -> list[list[Match]]:
        """For each query row, the ``top_k`` people by their best template's cosine similarity."""
        mat, starts, people = self._index[modality]
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if not people or q.size == 0:
            return [[] for _ in range(len(q))]
        if modality not in self.thresholds:
            raise RegistryError(f"no calibrated threshold for {modality}")
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        # queries × templates: a few queries by einsum (single-threaded, no BLAS thread
        # start-up per call), batches by BLAS
        sims = np.einsum("ij,kj->ik", q, mat) if len(q) <= 16 else q @ mat.T
        best = np.maximum.reduceat(sims, starts, axis=1) if len(starts) < sims.shape[1] else sims
        k = min(top_k, len(people))
        top = np.argpartition(-best, k - 1, axis=1)[:, :k]
        out = []
        for row, cand in enumerate(top):
            order = cand[np.argsort(-best[row, cand])]
            out.append(
                [
                    Match(self._people[people[j]], modality, float(best[row, j]), self.thresholds[modality])
                    for j in order
                ]
            )
        return out
