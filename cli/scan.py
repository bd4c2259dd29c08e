"""``veracity scan``: provenance, face, voice and likeness together, with a risk level, a
recommended action and reasons per file, reported for people (text, HTML) and pipelines
(JSON, JSONL, SARIF); ``veracity policy show`` prints the policy in force."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from cli.exit_codes import ExitCode, combine
from cli.options import (
    InputPath,
    evidence_folder,
    evidence_option,
    operating_point_option,
    sampling_options,
    trust_options,
)
from cli.output import check_output_path, echo_error, render_lines, to_json, write_atomic
from risk.policy import LEVELS, USES
from veracity.errors import ConfigError, OutputError

log = logging.getLogger(__name__)
FORMATS = ("text", "json", "jsonl", "html", "sarif")
STEPS = ("provenance", "face", "voice", "likeness")


def _load_policy(policy_path: Path | None) -> Any:
    from risk.policy import load_policy

    try:
        return load_policy(policy_path)
    except ConfigError as exc:
        raise click.UsageError(exc.one_line()) from exc


def _parse_reports(items: tuple[str, ...], force: bool) -> list[tuple[str, Path]]:
    out = []
    for item in items:
        fmt, sep, path = item.partition("=")
        if not sep or fmt not in FORMATS or not path:
            raise click.BadParameter(
                f"{item!r}: expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}",
                param_hint="--report",
            )
        check_output_path(Path(path), force)
        out.append((fmt, Path(path)))
    return out


@click.command()
@click.argument("paths", nargs=-1, required=True, type=InputPath())
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Report format."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to FILE (atomically; JSONL is appended as files finish).",
)
@click.option("--force", is_flag=True, help="Overwrite report files that exist.")
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT=FILE",
    help="Also write this report kind to FILE (repeatable).",
)
@click.option(
    "--use", type=click.Choice(USES), help="Declared use of the media, for consent [default: the policy's]."
)
@click.option("--licensee", help="Who publishes: a registry licence to this name counts as consent.")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="VERACITY_POLICY",
    help="Risk policy TOML [default: $VERACITY_POLICY or the built-in policy].",
)
@click.option(
    "--fail-on",
    type=click.Choice(LEVELS[1:]),
    default="high",
    show_default=True,
    help="Exit 1 when a file's risk is at or above this level.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even with findings (errors still exit 5).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the scan recorded in the JSONL journal (-o with --format jsonl, or --journal).",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stream records to this JSONL file as files finish (what --resume reads).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Worker processes [default: the number of cores].",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Per-file time limit in seconds.",
)
@click.option(
    "--include", multiple=True, metavar="GLOB", help="Only files matching GLOB inside folders (repeatable)."
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out files matching GLOB inside folders (repeatable).",
)
@click.option(
    "--skip", multiple=True, type=click.Choice(STEPS), help="Leave out an analysis step (repeatable)."
)
@operating_point_option("validation real media, for the face and voice detectors [default: the policy's]")
@click.option(
    "--max-audio-seconds",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="Decode at most this much audio per file.",
)
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="VERACITY_REGISTRY",
    help="Likeness registry [default: $VERACITY_REGISTRY or the default registry, if it exists].",
)
@evidence_option("face crops and heatmaps, and voice spectrograms and heatmaps")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@sampling_options
@trust_options
def scan(**kw: Any) -> None:
    """Scan PATHS (files, folders, or - for paths on stdin) for provenance, manipulated
    faces, synthetic speech and enrolled people, and judge each file's likeness-rights risk.

    \b
    Exit codes: 0 nothing at or above --fail-on; 1 a file at or above --fail-on (0 with
    --exit-zero); 2 usage error (bad option, policy, registry); 3 a report could not be
    written; 4 weights failed their hash check; 5 a file could not be read or analysed
    (every other file is still scanned and reported; 5 wins over 1).
    """
    from reports import scan as rs
    from scanner.run import Journal, collect, read_journal, run_scan
    from scanner.worker import ScanOptions

    fmt: str = kw["fmt"]
    output: Path | None = kw["output"]
    force: bool = kw["force"]
    policy = _load_policy(kw["policy_path"])
    use = kw["use"] or policy.use
    licensee = kw["licensee"] if kw["licensee"] is not None else policy.licensee
    op = kw["operating_point"] or policy.operating_point
    journal_path: Path | None = kw["journal"] or (output if fmt == "jsonl" else None)
    if kw["resume"] and journal_path is None:
        raise click.UsageError(
            "--resume needs the JSONL journal: -o FILE with --format jsonl, or --journal FILE"
        )
    if not kw["resume"]:
        check_output_path(output, force)
        if kw["journal"]:
            check_output_path(kw["journal"], force)
    elif output is not None and output != journal_path:
        check_output_path(output, force)
    extra = _parse_reports(kw["reports"], force)
    try:
        paths = collect(kw["paths"], tuple(kw["include"]), tuple(kw["exclude"]), sys.stdin)
    except OSError as exc:
        raise click.UsageError(f"cannot list paths: {exc}") from exc
    if not paths:
        raise click.UsageError("no files to scan")
    wants_html = fmt == "html" or any(f == "html" for f, _ in extra)
    evidence_dir: Path | None = kw["evidence_dir"]
    evidence_folder(evidence_dir)
    tmp_evidence = None
    if evidence_dir is None and wants_html:
        tmp_evidence = tempfile.TemporaryDirectory(prefix="veracity-evidence-")
        evidence_dir = Path(tmp_evidence.name)
    workers = kw["workers"] or min(os.cpu_count() or 1, max(1, len(paths)))
    options = ScanOptions(
        use=use,
        licensee=licensee,
        steps=tuple(s for s in STEPS if s not in kw["skip"]),
        operating_point=op,
        fps=kw["fps"],
        max_frames=kw["max_frames"],
        max_audio_s=kw["max_audio_seconds"],
        timeout_s=kw["timeout_s"],
        evidence_dir=evidence_dir,
        registry=kw["registry_path"],
        policy=kw["policy_path"],
        trust_anchors=tuple(kw["trust_anchors"]),
        allowed_signers=tuple(kw["allowed_signers"]),
        config=kw["config"],
    )
    _check_setup(options)
    previous = read_journal(journal_path) if kw["resume"] and journal_path else []
    try:
        journal = (
            Journal(journal_path, append=kw["resume"])
            if journal_path is not None
            else Journal(None, stream=sys.stdout)
            if fmt == "jsonl"
            else None
        )
    except OSError as exc:
        echo_error(f"cannot open journal {journal_path}: {exc.strerror}")
        raise SystemExit(ExitCode.OUTPUT_FAILED) from exc
    keep = fmt != "jsonl" or bool(extra)
    progress = _progress(
        len(paths) - sum(1 for r in previous if r["path"] in {str(p) for p in paths}), kw["quiet"]
    )
    try:
        outcome = run_scan(paths, options, workers=workers, journal=journal, previous=previous,
                           on_record=progress.advance, keep_records=keep)  # fmt: skip
    except OSError as exc:
        echo_error(f"cannot write journal: {exc.strerror}")
        raise SystemExit(ExitCode.OUTPUT_FAILED) from exc
    finally:
        progress.stop()
        if journal is not None:
            journal.close()
    records = outcome.records
    policy_doc = {"source": policy.source, "use": use, "licensee": licensee, "operating_point": op}
    doc = rs.document(records, policy=policy_doc, weights=outcome.model_ids, fail_on=kw["fail_on"],
                      resumed=outcome.resumed, duplicates=outcome.duplicates)  # fmt: skip
    errors = doc["errors"]
    findings = doc["summary"]["at_or_above_fail_on"]
    ok = not any(r.get("status") == "error" for r in records)
    try:
        outputs = ([] if fmt == "jsonl" else [(fmt, output)]) + [(f, p) for f, p in extra]
        for f, target in outputs:
            _write(f, target, doc, ok, evidence_dir)
    except OutputError as exc:
        echo_error(exc.one_line())
        raise SystemExit(ExitCode.OUTPUT_FAILED) from exc
    finally:
        if tmp_evidence is not None:
            tmp_evidence.cleanup()
    if kw["quiet"] is False and (fmt != "text" or output is not None):
        s = doc["summary"]
        click.echo(
            f"scanned {s['files']} file(s) ({outcome.resumed} resumed): {s['status']['error']} error(s), "
            f"{findings} at or above {kw['fail_on']}",
            err=True,
        )
    for err in errors[:50]:
        echo_error(f"{err.get('path')}: {err.get('message')}")
    codes = [ExitCode.OK]
    if findings and not kw["exit_zero"]:
        codes.append(ExitCode.FINDINGS)
    if not ok:
        codes.append(ExitCode.INPUT_ERROR)
    raise SystemExit(combine(*codes))


def _check_setup(options: Any) -> None:
    """Fail early, before any file, on weights that do not verify or a registry that cannot open."""
    from detectors.weights import WeightsError, find_weights
    from veracity.errors import VeracityError

    for task, step in (("face-forgery", "face"), ("voice-forgery", "voice")):
        if step not in options.steps:
            continue
        try:
            info = find_weights(task)
            problems = info.problems()  # what `veracity weights verify` checks; no torch here
            if problems:
                raise WeightsError("; ".join(problems), path=str(info.path))
        except WeightsError as exc:
            echo_error(exc.one_line())
            raise SystemExit(ExitCode.INTEGRITY) from exc
    if "likeness" in options.steps and options.registry is not None:
        from likeness.store import Registry

        try:
            Registry(options.registry, create=False).close()
        except VeracityError as exc:
            raise click.UsageError(exc.one_line()) from exc


def _write(fmt: str, target: Path | None, doc: dict[str, Any], ok: bool, evidence_dir: Path | None) -> None:
    from reports import scan as rs
    from reports.scan_html import render

    if fmt == "text":
        render_lines(list(rs.text_lines(doc["results"], doc["summary"])), target)
        return
    if fmt == "json":
        text = to_json(doc)
    elif fmt == "jsonl":
        text = "".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in doc["results"]
        )
    elif fmt == "html":
        text = render(doc, evidence_dir)
    else:
        text = to_json(rs.sarif(doc["results"], doc["weights"], ok))
    if target is None:
        click.echo(text, nl=False)
    else:
        write_atomic(target, text)


class _Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and total > 0:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)  # fmt: skip
            self._task = self._bar.add_task("scan", total=total)
            self._bar.start()

    def advance(self, record: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _progress(total: int, quiet: bool) -> _Progress:
    return _Progress(total, not quiet and sys.stderr.isatty())


@click.group()
def policy() -> None:
    """The risk policy that ``veracity scan`` applies."""


@policy.command("show")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="VERACITY_POLICY",
    help="Policy TOML [default: $VERACITY_POLICY or the built-in policy].",
)
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
def policy_show(policy_path: Path | None, fmt: str) -> None:
    """Print the policy in force: levels and actions per rule, consent defaults."""
    p = _load_policy(policy_path)
    click.echo(p.to_toml() if fmt == "toml" else json.dumps(p.as_dict(), indent=2), nl=fmt == "json")
