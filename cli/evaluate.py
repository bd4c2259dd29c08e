"""``veracity evaluate``: measure a detector on a labelled set of files."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cli.exit_codes import ExitCode
from cli.options import output_options, sampling_options
from cli.output import check_output_path, envelope, finish
from veracity.errors import ConfigError

log = logging.getLogger(__name__)


@click.command()
@click.argument("labels", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--detector", type=click.Choice(["face", "voice"]), required=True, help="Which detector to measure."
)
@output_options(("text", "json"))
@sampling_options
@click.option("--weights", "weights_name", help="Use the weights with this name.")
@click.option(
    "--bootstrap",
    "resamples",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    help="Resamples for the 95 % intervals of AUC and EER (0: none). With a 'group' column "
    "in LABELS (a source video, a speaker), whole groups are drawn.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "float32", "bfloat16"]),
    default=None,
    help="Arithmetic of the networks (default: $VERACITY_PRECISION, else auto: bfloat16 where the "
    "CPU multiplies it in hardware). Scores differ slightly between the two, so a measurement to "
    "be repeated on other machines should fix it; the report records the one used.",
)
def evaluate(
    labels: Path,
    detector: str,
    fmt: str,
    output: Path | None,
    force: bool,
    fps: float,
    max_frames: int,
    weights_name: str | None,
    resamples: int,
    precision: str | None,
) -> None:
    """Run a detector over LABELS (a CSV with path,label columns; label real or fake;
    paths relative to the CSV) and report AUC, EER and TPR at 1/5/10 % FPR, with
    bootstrap 95 % intervals for AUC and EER.

    Abstained and unreadable files are listed and counted (n_abstained), not dropped;
    the metrics use the scored files. Exit 0 on success, 2 when the CSV cannot be
    used, 5 when a row or file could not be used (the report is still written), 4 on a weight integrity failure.
    """
    from cli.loading import face_analyzer, voice_analyzer
    from detectors.compute import inference_precision, precision_setting
    from detectors.evaluation import Outcome, read_labels
    from detectors.evaluation import evaluate as run_eval

    check_output_path(output, force)
    try:
        rows, row_errors = read_labels(labels)
    except ConfigError as exc:
        raise click.UsageError(exc.one_line()) from exc
    with precision_setting(precision):  # the networks read it when they are loaded
        if detector == "face":
            from detectors.face import FaceOptions

            analyzer = face_analyzer(weights_name, FaceOptions(fps=fps, max_frames=max_frames))
        else:
            from detectors.voice import VoiceOptions

            analyzer = voice_analyzer(weights_name, VoiceOptions())
        used = inference_precision()  # (an unknown setting was refused while loading)
    file_errors = []

    def detect(path: Path) -> Outcome:
        r = analyzer.analyze(path)  # type: ignore[attr-defined]
        if r.verdict == "error":
            file_errors.append(r.error)
            return Outcome(None, "unreadable", r.error.get("message"))
        if r.verdict == "abstained":
            return Outcome(None, r.reason)
        return Outcome(r.score)

    def progress(done: int, total: int) -> None:
        log.info("evaluate: %d/%d", done, total)

    report = run_eval(rows, detect, progress, resamples)
    model = analyzer.classifier.model_id  # type: ignore[attr-defined]
    errors = row_errors + file_errors
    doc = envelope("evaluate", [], errors)
    doc.pop("results")
    engine = analyzer.classifier.engine  # type: ignore[attr-defined]
    doc.update(
        {"detector": detector, "labels": str(labels), "model": model, "precision": used, "engine": engine}
    )
    doc.update(report)
    code = ExitCode.INPUT_ERROR if errors else ExitCode.OK
    finish("evaluate", fmt, output, [], errors, lambda: _text(doc), code, doc=doc)


def _fmt(v: object) -> str:
    return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def _ci(doc: dict[str, object], key: str) -> str:
    iv = doc.get("intervals")
    if not isinstance(iv, dict):
        return ""
    lo, hi = iv[key]
    return f" ({iv['level'] * 100:g} % interval {lo:.4f}–{hi:.4f})"


def _text(doc: dict[str, object]) -> list[tuple[str, str]]:
    tpr = doc["tpr_at_fpr"]
    assert isinstance(tpr, dict)
    lines = [
        (
            "bold",
            f"{doc['detector']} detector, model {doc['model']['name']} ({doc['precision']}, {doc['engine']}) on {doc['labels']}",  # type: ignore[index]
        ),
        (
            "",
            f"  real {doc['n_real']}, fake {doc['n_fake']}, abstained {doc['n_abstained']}, scored {doc['n_scored']}",
        ),
        ("bold", f"  AUC {_fmt(doc['auc'])}{_ci(doc, 'auc')}   EER {_fmt(doc['eer'])}{_ci(doc, 'eer')}"),
        ("", "  TPR at FPR " + ", ".join(f"{float(k) * 100:g} %: {_fmt(v)}" for k, v in tpr.items())),
    ]
    for f in doc["files"]:  # type: ignore[attr-defined]
        score = "abstained (" + str(f["reason"]) + ")" if f["abstained"] else f"{f['score']:.4f}"
        lines.append(("dim", f"    {f['label']:4}  {score:>12}  {f['path']}"))
    return lines
