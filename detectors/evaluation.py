"""``evaluate``: run a detector over a labelled CSV and measure it.

LABELS.csv has a header with at least ``path`` and ``label`` (``real`` or ``fake``);
paths are relative to the CSV's folder. An optional ``group`` column names what files
share (a source video, a speaker): the bootstrap intervals then draw whole groups. Other
columns are ignored. Every row gets an entry in ``files``; abstentions and unreadable
files are counted, never dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors import metrics
from veracity.errors import ConfigError

LABELS = {"real": 0, "fake": 1}
MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class LabelRow:
    line: int
    path_text: str  # as written in the CSV
    path: Path  # resolved against the CSV's folder
    label: str
    group: str | None = None  # what the file shares with others (a source video, a speaker)


@dataclass(frozen=True)
class Outcome:
    """What a detector said about one file: a score, or an abstention / error with a reason."""

    score: float | None
    reason: str | None = None
    error: str | None = None


def read_labels(csv_path: Path) -> tuple[list[LabelRow], list[dict[str, Any]]]:
    """The rows of LABELS.csv and one error per row that cannot be used (bad label, empty path).

    Raises ConfigError when the file cannot be read or lacks the ``path``/``label`` columns.
    """
    try:
        fh = csv_path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read labels: {exc.strerror}", path=str(csv_path)) from None
    rows: list[LabelRow] = []
    errors: list[dict[str, Any]] = []
    base = csv_path.parent
    with fh:
        try:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            if "path" not in fields or "label" not in fields:
                raise ConfigError(
                    "labels CSV needs a header with 'path' and 'label' columns", path=str(csv_path)
                )
            reader.fieldnames = fields
            for raw in reader:
                line = reader.line_num
                if len(rows) >= MAX_ROWS:
                    raise ConfigError(f"labels CSV has more than {MAX_ROWS} rows", path=str(csv_path))
                p = (raw.get("path") or "").strip()
                label = (raw.get("label") or "").strip().lower()
                if not p:
                    errors.append(
                        {"code": "bad-row", "message": f"line {line}: empty path", "path": str(csv_path)}
                    )
                    continue
                if label not in LABELS:
                    errors.append(
                        {
                            "code": "bad-row",
                            "message": f"line {line}: label must be 'real' or 'fake', not {label!r}",
                            "path": str(csv_path),
                        }
                    )
                    continue
                group = ((raw.get("group") or "").strip() or None) if "group" in fields else None
                rows.append(LabelRow(line, p, base / p, label, group))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"malformed labels CSV: {exc}", path=str(csv_path)) from None
    return rows, errors


def evaluate(
    rows: list[LabelRow],
    detect: Callable[[Path], Outcome],
    progress: Callable[[int, int], None] | None = None,
    resamples: int = 2000,
) -> dict[str, Any]:
    """Metrics over the scored rows, their bootstrap intervals (``resamples`` draws; 0: none)
    and one ``files`` entry per row."""
    files = []
    labels: list[int] = []
    scores: list[float] = []
    groups: list[str] = []
    for i, row in enumerate(rows):
        out = detect(row.path)
        abstained = out.score is None
        files.append(
            {
                "path": row.path_text,
                "label": row.label,
                "score": out.score,
                "abstained": abstained,
                "reason": out.reason if abstained else None,
                "error": out.error,
            }
        )
        if not abstained:
            labels.append(LABELS[row.label])
            scores.append(float(out.score))  # type: ignore[arg-type]
            groups.append(row.group if row.group is not None else f"line {row.line}")
        if progress:
            progress(i + 1, len(rows))
    m = (
        metrics.summary(labels, scores)
        if scores
        else {"auc": None, "eer": None, "tpr_at_fpr": {f"{p:g}": None for p in metrics.FPR_POINTS}}
    )
    grouped = any(r.group is not None for r in rows)
    intervals = (
        metrics.bootstrap_intervals(labels, scores, groups if grouped else None, resamples=resamples)
        if scores and resamples > 0
        else None
    )
    return {
        "n_real": sum(r.label == "real" for r in rows),
        "n_fake": sum(r.label == "fake" for r in rows),
        "n_abstained": sum(f["abstained"] for f in files),
        "n_scored": len(scores),
        "auc": m["auc"],
        "eer": m["eer"],
        "tpr_at_fpr": m["tpr_at_fpr"],
        "intervals": intervals,
        "files": files,
    }
