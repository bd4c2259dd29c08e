"""Writing reports: stdout or an atomically written file; JSON envelopes; safe text."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click

from cli.exit_codes import ExitCode, combine
from veracity import TOOL_NAME, __version__
from veracity.errors import OutputError

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NEWLINE_MARK = "\u23ce"  # ⏎: where untrusted text held a line break


def safe_text(value: object, newlines: bool = False) -> str:
    """Untrusted text (file names, media metadata) for a terminal or a text report: control and
    bidi-override characters replaced, and line breaks shown as ⏎ so that no text can start a
    line of its own that reads like the report's (``newlines`` keeps them, for log records)."""
    text = _CONTROL.sub("\ufffd", str(value))
    return text if newlines else text.replace("\n", NEWLINE_MARK)


def echo_error(message: str) -> None:
    """``Error: MESSAGE`` on stderr, with the message made safe for a terminal (it names files)."""
    click.echo(f"Error: {safe_text(message)}", err=True)


class SafeLogFormatter(logging.Formatter):
    """Log records with control characters replaced (messages name files; tracebacks keep their
    line breaks)."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_text(super().format(record), newlines=True)


def envelope(command: str, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "command": command,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "results": results,
        "errors": errors,
    }


def check_output_path(output: Path | None, force: bool) -> None:
    """Refuse early (before any work) to overwrite an existing report."""
    if output is None:
        return
    if output.exists() and not force:
        raise click.UsageError(f"{output} exists; use --force to overwrite it")
    if output.is_dir():
        raise click.UsageError(f"{output} is a directory")
    folder = output.parent  # "." for a bare file name
    if not folder.is_dir():  # found now, not after hours of scanning
        raise click.UsageError(f"{output}: cannot write there, {folder} is not an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.UsageError(f"{output}: cannot write there, {folder} is not writable")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write report: {exc.strerror}", path=str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write report: {exc.strerror}", path=str(path)) from exc


def emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        write_atomic(output, text if text.endswith("\n") else text + "\n")


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def use_rich(output: Path | None) -> bool:
    """Rich styling only for a terminal, and never with NO_COLOR set."""
    return output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def render_lines(lines: Iterable[tuple[str, str]], output: Path | None) -> None:
    """Print ``(style, text)`` lines: styled on a terminal, plain elsewhere.

    Text is passed to rich as ``Text`` objects, never parsed as markup, so strings
    from media cannot inject styles or links.
    """
    items = [(style, safe_text(text)) for style, text in lines]
    if use_rich(output):
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False, soft_wrap=True)
        for style, text in items:
            console.print(Text(text, style=style or ""))
    else:
        emit("\n".join(text for _, text in items) + "\n", output)


def finish(
    command: str,
    fmt: str,
    output: Path | None,
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    text: Callable[[], list[tuple[str, str]]],
    code: int,
    doc: dict[str, Any] | None = None,
) -> None:
    """Write the report (JSON envelope or text lines), echo each error on stderr, and exit.

    ``doc`` replaces the standard envelope for JSON when a command has its own layout.
    Exits OUTPUT_FAILED (3) when the report cannot be written, else with ``code``.
    """
    try:
        if fmt == "json":
            emit(to_json(doc if doc is not None else envelope(command, results, errors)), output)
        else:
            render_lines(text(), output)
    except OutputError as exc:
        echo_error(exc.one_line())
        raise SystemExit(ExitCode.OUTPUT_FAILED) from exc
    for err in errors:
        echo_error(f"{err.get('path')}: {err.get('message')}")
    raise SystemExit(code)


def analyze_files(
    command: str,
    analyzer: Any,
    files: Sequence[Path],
    flagged: str,
    lines_of: Callable[[Any], Iterable[tuple[str, str]]],
    summary_of: Callable[[list[Any]], tuple[str, str]],
    fmt: str,
    output: Path | None,
) -> None:
    """Run a detector's ``analyzer.analyze`` on each file in turn and :func:`finish`.

    A file that cannot be read is the analyser's ``error`` verdict, never an exception, so the
    batch goes on. Exits INPUT_ERROR (5) when a file could not be read, FINDINGS (1) when a
    result's verdict is ``flagged``, else OK."""
    results: list[Any] = []
    for i, path in enumerate(files, 1):
        log.info("%s %d/%d: %s", command, i, len(files), path)
        results.append(analyzer.analyze(path))
    outcome = {"error": ExitCode.INPUT_ERROR, flagged: ExitCode.FINDINGS}
    codes = [outcome.get(r.verdict, ExitCode.OK) for r in results]
    errors = [r.error for r in results if r.error]

    def text() -> list[tuple[str, str]]:
        return [*(line for r in results for line in lines_of(r)), summary_of(results)]

    finish(command, fmt, output, [r.as_dict() for r in results], errors, text, combine(*codes))
