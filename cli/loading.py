"""Loading verified detectors for a command: exit 4 on a weight integrity failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from cli.exit_codes import ExitCode
from cli.output import echo_error

T = TypeVar("T")


def load_or_exit(make: Callable[[], T]) -> T:
    """``make()``; a WeightsError exits with INTEGRITY, a ValueError (bad option) is a usage error."""
    from detectors.weights import WeightsError

    try:
        return make()
    except WeightsError as exc:
        echo_error(exc.one_line())
        raise SystemExit(ExitCode.INTEGRITY) from exc
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def face_analyzer(weights_name: str | None, options: object) -> object:
    """The verified face classifier and MTCNN, loaded once."""

    def make() -> object:
        from detectors.face import FaceAnalyzer
        from detectors.face_classifier import FaceClassifier

        return FaceAnalyzer(FaceClassifier.default(name=weights_name), options=options)  # type: ignore[arg-type]

    return load_or_exit(make)


def voice_analyzer(weights_name: str | None, options: object) -> object:
    """The verified voice classifier, loaded once."""

    def make() -> object:
        from detectors.voice import VoiceAnalyzer, VoiceClassifier

        return VoiceAnalyzer(VoiceClassifier.default(name=weights_name), options=options)  # type: ignore[arg-type]

    return load_or_exit(make)
