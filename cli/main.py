"""The ``veracity`` command group."""

from __future__ import annotations

import logging
import sys

import click

from cli.exit_codes import ExitCode
from cli.output import SafeLogFormatter, echo_error
from veracity import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="veracity")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Veracity: is this photo, video or voice recording what it claims to be?

    Exit codes are the same for every command: 0 ok, 1 findings at or above the
    threshold, 2 usage error, 3 report not written, 4 weight integrity failure,
    5 a file could not be read or analysed (the others were; wins over 1),
    70 internal error.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeLogFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def _register() -> None:
    from cli.evaluate import evaluate
    from cli.face import face
    from cli.match import match
    from cli.registry import registry
    from cli.scan import policy, scan
    from cli.verify import verify
    from cli.voice import voice
    from cli.weights import weights

    for command in (scan, verify, face, voice, evaluate, weights, registry, match, policy):
        cli.add_command(command)


_register()


def main() -> None:
    try:
        cli.main(prog_name="veracity", standalone_mode=True)
    except Exception as exc:  # pragma: no cover - the last line of defence
        echo_error(f"internal error: {exc!r} (please report this)")
        sys.exit(ExitCode.INTERNAL)
