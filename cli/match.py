"""``veracity match``: faces and voices in media matched against the likeness registry."""

from __future__ import annotations

from pathlib import Path

import click

from cli.exit_codes import ExitCode, combine
from cli.options import InputPath, output_options, sampling_options
from cli.output import check_output_path, echo_error, finish
from cli.registry import open_registry, registry_option
from veracity.errors import VeracityError


@click.command()
@click.argument("files", nargs=-1, required=True, type=InputPath(path_type=Path))
@output_options(("text", "json"))
@registry_option
@click.option(
    "--top-k",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="Best matches listed per face/voice.",
)
@sampling_options
@click.option("--no-audit", is_flag=True, help="Do not record matches in the registry's audit log.")
def match(
    files: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    force: bool,
    registry_path: Path | None,
    top_k: int,
    fps: float,
    max_frames: int,
    no_audit: bool,
) -> None:
    """Match each face track and voice segment of FILES against the registry.

    Per face/voice: the best matches with person, modality, similarity, the decision
    threshold and the false-accept rate measured there, and whether it matched. Exit 0
    when nothing matched, 1 when an enrolled person matched, 2 for an unusable registry, 5 for an
    unreadable file (5 wins over 1).
    """
    from likeness.matcher import Matcher
    from likeness.scan import LikenessMatcher, MatchOptions
    from reports.match_text import match_lines

    check_output_path(output, force)
    with open_registry(registry_path, create=False) as reg:
        try:
            matcher = Matcher(reg)
        except VeracityError as exc:
            echo_error(exc.one_line())
            raise SystemExit(ExitCode.USAGE) from exc
        lm = LikenessMatcher(
            matcher, MatchOptions(fps=fps, max_frames=max_frames, top_k=top_k, audit=not no_audit)
        )
        results = [lm.match(p) for p in files]
    codes = [ExitCode.OK]
    for r in results:
        codes.append(ExitCode.INPUT_ERROR if r.error else ExitCode.FINDINGS if r.matched else ExitCode.OK)
    errors = [r.error for r in results if r.error]
    finish(
        "match",
        fmt,
        output,
        [r.as_dict() for r in results],
        errors,
        lambda: match_lines(results),
        combine(*codes),
    )
