"""``veracity weights``: list the shipped weights and check their integrity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.exit_codes import ExitCode
from cli.output import echo_error, emit, envelope, render_lines, to_json

folder_option = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Weights folder [default: the shipped weights/ or $VERACITY_WEIGHTS].",
)


def _load(folder: Path | None) -> list[Any]:
    """Every weight's metadata in ``folder`` (or the default); exit 4 when one is unreadable."""
    from detectors.weights import WeightsError, list_weights, weights_dir

    try:
        return list_weights(folder or weights_dir())
    except WeightsError as exc:
        echo_error(exc.one_line())
        raise SystemExit(ExitCode.INTEGRITY) from exc


def _points(points: Any) -> str:
    """``{"0.05": 0.81, ...}`` (max false-positive rate → threshold) as ``5 % → 0.8100, ...``."""
    if not isinstance(points, dict) or not points:
        return "none"
    return ", ".join(
        f"{float(fpr) * 100:g} % → {t:.4f}" if isinstance(t, (int, float)) else f"{fpr} → {t}"
        for fpr, t in sorted(points.items(), key=lambda kv: float(kv[0]))
    )


@click.group()
def weights() -> None:
    """Shipped model weights: list them, verify their sha256."""


@weights.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@folder_option
def list_cmd(fmt: str, folder: Path | None) -> None:
    """Show every shipped weight: name, task, file, size, sha256, operating points."""
    from detectors.weights import defaults

    infos = _load(folder)
    chosen = defaults(infos)
    rows = [
        {
            "name": w.name,
            "task": w.meta.get("task"),
            "default": w.name in chosen,
            "file": w.meta.get("file"),
            "size_bytes": w.meta.get("size_bytes"),
            "sha256": w.meta.get("sha256"),
            "architecture": w.meta.get("architecture"),
            "parameters": w.meta.get("parameters"),
            "operating_points": w.meta.get("operating_points"),
            "license": w.meta.get("license"),
            "card": w.meta.get("card"),
        }
        for w in infos
    ]
    if fmt == "json":
        emit(to_json(envelope("weights list", rows, [])), None)
        return
    lines: list[tuple[str, str]] = []
    for r in rows:
        lines.append(("bold", f"{r['name']}  ({r['task']}{', default' if r['default'] else ''})"))
        lines.append(
            (
                "",
                f"  file {r['file']}, {r['size_bytes']} bytes, {r['architecture']}, {r['parameters']} parameters",
            )
        )
        lines.append(("", f"  sha256 {r['sha256']}"))
        lines.append(
            (
                "",
                f"  operating points (max false-positive rate → threshold): {_points(r['operating_points'])}",
            )
        )
        lines.append(("dim", f"  card {r['card']}; license: {r['license']}"))
    if not rows:
        lines.append(("", "no weights found"))
    render_lines(lines, None)


@weights.command("verify")
@click.argument("names", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@folder_option
def verify_cmd(names: tuple[str, ...], fmt: str, folder: Path | None) -> None:
    """Recompute the sha256 and size of every shipped weight (or NAMES) and check its card.

    Exit 0 when all match, 4 when any fails.
    """
    infos = _load(folder)
    known = {w.name for w in infos}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.UsageError(
            f"no weights named {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
        )
    chosen = [w for w in infos if not names or w.name in names]
    checked = [(w, w.problems()) for w in chosen]
    results: list[dict[str, object]] = [
        {"name": w.name, "ok": not probs, "problems": probs, "sha256": w.meta.get("sha256")}
        for w, probs in checked
    ]
    if fmt == "json":
        emit(to_json(envelope("weights verify", results, [])), None)
    else:
        lines = [
            ("bold green" if r["ok"] else "bold red", f"{'OK  ' if r['ok'] else 'FAIL'} {r['name']}")
            for r in results
        ]
        for w, probs in checked:
            lines += [("", f"  {w.name}: {p}") for p in probs]
        if not results:
            lines.append(("", "no weights found"))
        render_lines(lines, None)
    if any(not r["ok"] for r in results) or not results:
        raise SystemExit(ExitCode.INTEGRITY)
