"""``veracity face``: manipulated and synthetic faces in images and videos."""

from __future__ import annotations

from pathlib import Path

import click

from cli.loading import face_analyzer
from cli.options import (
    InputPath,
    evidence_folder,
    evidence_option,
    operating_point_option,
    output_options,
    sampling_options,
)
from cli.output import analyze_files, check_output_path


@click.command()
@click.argument("files", nargs=-1, required=True, type=InputPath(path_type=Path))
@output_options(("text", "json"))
@sampling_options
@click.option(
    "--min-face",
    type=click.IntRange(min=8),
    default=48,
    show_default=True,
    help="Smallest face (shorter box side, pixels) to judge.",
)
@operating_point_option("validation real faces [default: 0.05]")
@evidence_option("each track's face crop and Grad-CAM heatmap")
@click.option(
    "--weights", "weights_name", help="Use the face weights with this name (see `veracity weights list`)."
)
def face(
    files: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    force: bool,
    fps: float,
    max_frames: int,
    min_face: int,
    operating_point: str | None,
    evidence_dir: Path | None,
    weights_name: str | None,
) -> None:
    """Score the faces in image and video FILES for manipulation or synthesis.

    Per file: a verdict (manipulated, not-detected, abstained with a reason, or error),
    a calibrated score and the threshold of the operating point, and per face track the
    time range, frames used, score and box of the best frame. Exit 0 when nothing was
    flagged, 1 when a file is flagged as manipulated, 5 when a file could not be read
    (5 wins over 1), 4 when the weights fail their integrity check.
    """
    from detectors.face import FaceOptions
    from reports.face_text import result_lines, summary_line

    check_output_path(output, force)
    evidence_folder(evidence_dir)
    options = FaceOptions(
        fps=fps,
        max_frames=max_frames,
        min_face=min_face,
        operating_point=operating_point,
        evidence_dir=evidence_dir,
    )
    analyzer = face_analyzer(weights_name, options)
    analyze_files("face", analyzer, files, "manipulated", result_lines, summary_line, fmt, output)
