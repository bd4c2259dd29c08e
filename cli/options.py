"""Options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class InputPath(click.Path):
    """A path argument naming input media. As ``click.Path``, but an empty argument is a usage
    error (exit 2): ``Path("")`` is the current folder, so ``veracity scan "$FILE"`` with
    ``FILE`` unset would otherwise scan everything below the working directory."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            self.fail(
                "an empty path (is a shell variable unset?); name '.' for the current folder", param, ctx
            )
        return super().convert(value, param, ctx)


def output_options(formats: tuple[str, ...]) -> Callable[[F], F]:
    """``--format``, ``-o/--output`` and ``--force``."""

    def decorator(func: F) -> F:
        func = click.option("--force", is_flag=True, help="Overwrite the --output file if it exists.")(func)
        func = click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the report to FILE (atomically) instead of stdout.",
        )(func)
        func = click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default=formats[0],
            show_default=True,
            help="Report format.",
        )(func)
        return func

    return decorator


def trust_options(func: F) -> F:
    """Trust anchors, allowed signers, config file and network policy."""
    func = click.option(
        "--allow-network",
        is_flag=True,
        default=None,
        help="Allow fetching remote manifests and OCSP responses (off by default).",
    )(func)
    func = click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="VERACITY_CONFIG",
        help="TOML config file with a [trust] table (also $VERACITY_CONFIG).",
    )(func)
    func = click.option(
        "--allowed-signers",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="PEM file of signer certificates to accept as trusted (repeatable).",
    )(func)
    func = click.option(
        "--trust-anchors",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="PEM file of trust anchor (root) certificates (repeatable).",
    )(func)
    return func


def sampling_options(func: F) -> F:
    """``--fps`` and ``--max-frames`` for commands that sample video frames."""
    func = click.option(
        "--max-frames",
        type=click.IntRange(min=1, max=10000),
        default=60,
        show_default=True,
        help="At most this many frames per video, spread evenly.",
    )(func)
    func = click.option(
        "--fps",
        type=click.FloatRange(min=0.01, max=60),
        default=2.0,
        show_default=True,
        help="Video frames sampled per second.",
    )(func)
    return func


def operating_point_option(what: str) -> Callable[[F], F]:
    """``--operating-point 0.01|0.05|0.1``: the threshold by its false-positive rate on ``what``."""
    from risk.policy import OPERATING_POINTS

    return click.option(
        "--operating-point",
        type=click.Choice(OPERATING_POINTS),
        default=None,
        help=f"Decision threshold by its false-positive rate on {what}.",
    )


def evidence_option(what: str) -> Callable[[F], F]:
    """``--evidence DIR``: where evidence pictures (``what``) go; checked by ``evidence_folder``."""
    return click.option(
        "--evidence",
        "evidence_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Write {what} (PNG) into this folder.",
    )


def evidence_folder(folder: Path | None) -> None:
    """Make the ``--evidence`` folder and check that it is writable, once, before any file is read:
    else every file would fail on it, one at a time."""
    import os

    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"--evidence {folder}: cannot make the folder ({exc.strerror})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.UsageError(f"--evidence {folder}: the folder is not writable")
