"""``veracity voice``: synthetic and cloned speech in audio files and video soundtracks."""

from __future__ import annotations

from pathlib import Path

import click

from cli.loading import voice_analyzer
from cli.options import InputPath, evidence_folder, evidence_option, operating_point_option, output_options
from cli.output import analyze_files, check_output_path


@click.command()
@click.argument("files", nargs=-1, required=True, type=InputPath(path_type=Path))
@output_options(("text", "json"))
@operating_point_option("validation real speech [default: 0.05]")
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=1.0),
    default=3600.0,
    show_default=True,
    help="Decode at most this much of each file (the rest is not read).",
)
@click.option(
    "--hop",
    "hop_s",
    type=click.FloatRange(min=0.25),
    default=None,
    help="Seconds between the starts of two 4 s windows [default: the weights' own, 3 s]. A shorter hop "
    "scores each stretch of speech in more windows (a finer timeline, short spliced fakes less diluted) "
    "and takes longer.",
)
@evidence_option(
    "the highest-scoring window's spectrogram and, where the weights have a spectrogram network, "
    "its Grad-CAM heatmap"
)
@click.option(
    "--weights", "weights_name", help="Use the voice weights with this name (see `veracity weights list`)."
)
def voice(
    files: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    force: bool,
    operating_point: str | None,
    max_seconds: float,
    hop_s: float | None,
    evidence_dir: Path | None,
    weights_name: str | None,
) -> None:
    """Score the speech in audio and video FILES for synthesis or voice cloning.

    Per file: a verdict (synthetic, not-detected, abstained with a reason, or error), a
    calibrated score (0.8 quantile of the window scores) with the threshold of the operating
    point, and the timeline of 4 s speech windows. Exit 0 when nothing was flagged, 1 when a
    file is flagged as synthetic, 5 when a file could not be read (5 wins over 1), 4 when the
    weights fail their integrity check.
    """
    from detectors.voice import VoiceOptions
    from reports.voice_text import result_lines, summary_line

    check_output_path(output, force)
    evidence_folder(evidence_dir)
    options = VoiceOptions(
        operating_point=operating_point, max_seconds=max_seconds, hop_s=hop_s, evidence_dir=evidence_dir
    )
    analyzer = voice_analyzer(weights_name, options)
    analyze_files("voice", analyzer, files, "synthetic", result_lines, summary_line, fmt, output)
