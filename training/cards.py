"""Shared pieces of the model cards: metric rows, whole-file evaluation tables, and the
command that adds ``veracity evaluate`` reports to a weight's metadata and re-renders its card."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _ci(m: dict[str, Any], key: str) -> str:
    """`` (low–high)``: the 95 % bootstrap interval of ``key`` in ``m["intervals"]``, where recorded."""
    iv = m.get("intervals") or {}
    return f" ({_f(iv[key][0])}–{_f(iv[key][1])})" if iv.get(key) else ""


def interval_note(evaluation: dict[str, Any], units: str) -> str:
    """The sentence that explains the bracketed intervals of an evaluation table drawn by ``units``
    (nothing when no set of ``evaluation`` records an interval)."""
    if not any((v or {}).get("intervals") for v in evaluation.values()):
        return ""
    return f" In brackets: 95 % percentile-bootstrap intervals drawing whole {units}."


def _row(name: str, m: dict[str, Any]) -> str:
    t = m.get("tpr_at_fpr", {})
    return (
        f"| {name} | {m.get('n_real')} | {m.get('n_fake')} | {_f(m.get('auc'))}{_ci(m, 'auc')} | "
        f"{_f(m.get('eer'))}{_ci(m, 'eer')} | {_f(t.get('0.01'))} | {_f(t.get('0.05'))} | {_f(t.get('0.1'))} |"
    )


def pipeline_table(meta: dict[str, Any], intro: str) -> list[str]:
    """The ``pipeline_evaluation`` entries as a Markdown table (nothing when there are none)."""
    pe = meta.get("pipeline_evaluation", {})
    if not pe:
        return []
    lines = [
        intro,
        "",
        "| set | real | fake | abstained | AUC | EER | TPR@1% | TPR@5% | TPR@10% | reals flagged at 1/5/10 % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    draws: set[str] = set()
    grouped: list[str] = []
    for name, m in pe.items():
        t = m.get("tpr_at_fpr", {})
        fl = m.get("real_flagged", {})
        flagged = " / ".join(str(fl.get(k, "?")) for k in ("0.01", "0.05", "0.1"))
        iv = m.get("intervals") or {}
        if iv:
            draws.add(f"{iv['resamples']} resamples, seed {iv['seed']}")
            if "groups" in str(iv.get("method")):
                grouped.append(name)
        lines.append(
            f"| {name} | {m.get('n_real')} | {m.get('n_fake')} | {m.get('n_abstained')} | {_f(m.get('auc'))}{_ci(m, 'auc')} | "
            f"{_f(m.get('eer'))}{_ci(m, 'eer')} | {_f(t.get('0.01'))} | {_f(t.get('0.05'))} | {_f(t.get('0.1'))} | {flagged} |"
        )
    note = (
        f" In brackets: 95 % percentile-bootstrap intervals (`veracity evaluate`, {'; '.join(sorted(draws))}), "
        "drawing files within each class"
        + (f", or whole groups of files that share a source for {'; '.join(grouped)}" if grouped else "")
        + ": with this few files a point estimate alone says little."
        if draws
        else ""
    )
    return [
        *lines,
        "",
        "TPR@x% here uses thresholds set on each set's own reals; the last column counts the real files that "
        "the shipped operating-point thresholds flag (false positives in deployment)." + note,
        "",
    ]


def add_evaluation(meta: dict[str, Any], name: str, report: dict[str, Any]) -> None:
    """Store an ``evaluate --format json`` report under ``pipeline_evaluation[name]``."""
    entry = {
        k: report[k] for k in ("n_real", "n_fake", "n_abstained", "n_scored", "auc", "eer", "tpr_at_fpr")
    }
    if report.get("intervals"):
        entry["intervals"] = report["intervals"]
    # how many real files the shipped operating points flag (false positives)
    reals = [f["score"] for f in report["files"] if f["label"] == "real" and f["score"] is not None]
    entry["real_flagged"] = {op: sum(sc >= t for sc in reals) for op, t in meta["operating_points"].items()}
    meta.setdefault("pipeline_evaluation", {})[name] = entry


def main(doc: str | None, render: Callable[[dict[str, Any]], str], argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("meta", type=Path, help="the weight's .json metadata")
    ap.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="NAME=REPORT.json",
        help="add an `evaluate --format json` report under this name",
    )
    args = ap.parse_args(argv)
    meta = json.loads(args.meta.read_text(encoding="utf-8"))
    for item in args.eval:
        name, _, path = item.partition("=")
        add_evaluation(meta, name, json.loads(Path(path).read_text(encoding="utf-8")))
    args.meta.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    card = args.meta.with_name(meta["card"])
    card.write_text(render(meta), encoding="utf-8")
    print(f"wrote {card}")
    return 0
