"""``veracity verify``: C2PA Content Credentials and other origin signals."""

from __future__ import annotations

from pathlib import Path

import click

from cli.exit_codes import ExitCode, combine
from cli.options import InputPath, output_options, trust_options
from cli.output import check_output_path, finish
from provenance.trust import load_trust
from provenance.verify import VerifyOptions, VerifyResult, verify_file
from reports.verify_text import result_lines, summary_line
from veracity.errors import ConfigError


@click.command()
@click.argument("files", nargs=-1, required=True, type=InputPath(path_type=Path))
@output_options(("text", "json"))
@trust_options
@click.option(
    "--require",
    type=click.Choice(["valid", "trusted"]),
    help="Exit 1 unless every file is at least this state.",
)
@click.option("--no-signals", is_flag=True, help="Skip XMP/EXIF/PNG-text origin signals.")
@click.option("--no-watermark", is_flag=True, help="Skip the invisible-watermark decoder.")
def verify(
    files: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    force: bool,
    trust_anchors: tuple[Path, ...],
    allowed_signers: tuple[Path, ...],
    config: Path | None,
    allow_network: bool | None,
    require: str | None,
    no_signals: bool,
    no_watermark: bool,
) -> None:
    """Validate C2PA manifests and report other origin signals for FILES.

    State per file: trusted, valid, invalid, absent or error. Exit 0 when every file
    verified and none is invalid; 1 when one is invalid or below --require; 2 for a
    usage error; 5 when a file could not be read (5 wins over 1).
    """
    check_output_path(output, force)
    try:
        trust = load_trust(trust_anchors, allowed_signers, config=config, allow_network=allow_network)
    except ConfigError as exc:
        raise click.UsageError(exc.one_line()) from exc
    options = VerifyOptions(trust=trust, signals=not no_signals, watermark=not no_watermark)
    results: list[VerifyResult] = [verify_file(path, options) for path in files]

    codes = [ExitCode.OK]
    for r in results:
        if r.state == "error":
            codes.append(ExitCode.INPUT_ERROR)
        elif r.state == "invalid" or not r.meets(require):
            codes.append(ExitCode.FINDINGS)
    errors = [r.error for r in results if r.error]

    def text() -> list[tuple[str, str]]:
        return [*(line for r in results for line in result_lines(r)), summary_line(results)]

    finish("verify", fmt, output, [r.as_dict() for r in results], errors, text, combine(*codes))
