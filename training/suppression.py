"""Train the noise-suppression check behind the voice detector's caution, in one command, and
write its weights, metadata and model card.

    python -m training.suppression --corpus .cache/voice_data --out weights \
        [--eval-sets .cache/voice_eval] [--seed 0] [--features A,B,...] [--neural-copies]

Data: the voice corpus's training clips (both classes, untouched: label 0) against their
noise-suppressed copies (label 1) that ``training.voice_views`` writes (ffmpeg's FFT denoiser or
spectral gating, at random strengths, after added noise 60 % of the time); the copies are made
first where the corpus has none. With ``--neural-copies`` (and the ``pyrnnoise`` wheel installed),
each clip also gets, made on the spot, a copy with white or pink noise at 5–25 dB SNR (label 0:
noise alone is not suppression) and that copy through RNNoise (label 1), a neural suppressor as in
meeting apps; DeepFilterNet3 stays out, so that the evaluation sets measure a neural suppressor
never trained on. ``--features`` picks the statistics (default: the shipped check's three; with
``gap_drop`` and the neural copies the check was measured and not shipped, docs/training-voice.md).
One training speaker in five (by the corpus's speaker hash with
another seed) is held out for validation, its clips and their copies together; Platt
calibration and the operating points (the share of untouched held-out clips called suppressed:
1, 5, 10 %) come from them. ``--eval-sets`` (the folder that
``scripts/make_voice_eval_sets.py`` writes) also scores every evaluation set's files as the
voice detector does (speech regions of the whole file) and records the share called suppressed:
held-back speakers' recordings untouched and after processing, including two suppressors that
no copy imitates (wavelet thresholding and sox's profile-based reduction).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from detectors import metrics
from detectors.suppression import FEATURES, KNOWN_FEATURES, RATE, build_model, features, file_features
from training import neural_suppressors, voice_views
from training.cards import _f
from training.voice_data import held_back

log = logging.getLogger("training.suppression")

NAME = "suppression-logreg-v1"
NOISE_SNR_DB = (5.0, 25.0)  # the range of the noise under the neural copies
SPLIT_SEED = 101  # the inner split of the training speakers (the corpus's own split uses seed 0)
L2 = 1e-3
OPS = ("0.01", "0.05", "0.1")
KINDS = ("untouched", "noisy", "fft", "gate", "noisy-rnnoise")  # the held-out clips' kinds on the card


def front_end(names: tuple[str, ...]) -> str:
    """The statistics ``names`` in words, for the metadata and the card."""
    words = {
        "floor": "frame-energy floor (10th minus 95th percentile)",
        "holes": "the share of bins 60 dB (300–7000 Hz) under each loud frame's peak",
        "holes_tel": "the share of bins 50 dB (300–3400 Hz) under each loud frame's peak",
        "gap_drop": "the noise floor under the speech (median 10th-percentile bin level of the louder half of the "
        "frames) minus the pauses' level (median bin level of the quietest 15 %)",
    }
    return "; ".join(words[n] for n in names)


def noisy_copy(x: np.ndarray, seed: int) -> np.ndarray:
    """``x`` (16 kHz) with white or pink noise (even chance) at 5–25 dB under its active frames."""
    rng = np.random.default_rng(seed)
    snr = float(rng.uniform(*NOISE_SNR_DB))
    if rng.random() < 0.5:  # white noise
        noise = neural_suppressors.at_snr(np.random.default_rng(seed + 1).standard_normal(len(x)), x, snr)
    else:
        noise = neural_suppressors.pink_noise(x, seed, snr)
    return (x + noise).astype(np.float32)


def neural_copies(
    x: np.ndarray, seed: int, rnnoise: neural_suppressors.Denoiser | None
) -> list[tuple[np.ndarray, int, str]]:
    """The noisy copy of ``x`` (label 0) and that copy through RNNoise (label 1); none without it."""
    if rnnoise is None:
        return []
    noisy = noisy_copy(x, seed)
    return [(noisy, 0, "noisy"), (neural_suppressors.at_rate(rnnoise, noisy, RATE), 1, "noisy-rnnoise")]


def collect(
    corpus: Path, seed: int, names: tuple[str, ...] = FEATURES, neural: bool = False
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """Features ``names``, labels (1: suppressed copy) and per-row metadata (split, kind) of the
    corpus's training clips, their views and (with ``neural``, where RNNoise is installed) their
    neural copies."""
    import soundfile as sf

    rnnoise = neural_suppressors.neural_denoisers().get("rnnoise") if neural else None
    if neural and rnnoise is None:
        log.warning("pyrnnoise is not installed: no neural copies (scripts/setup.sh installs it)")

    with (corpus / "meta.csv").open(newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    if not (corpus / voice_views.VIEWS_CSV).is_file():
        log.info("no views in %s yet: writing them (training.voice_views)", corpus)
        voice_views.build(corpus, seed=seed)
    with (corpus / voice_views.VIEWS_CSV).open(newline="") as fh:
        views: dict[str, list[dict[str, str]]] = {}
        for v in csv.DictReader(fh):
            views.setdefault(v["clip"], []).append(v)
    x: list[np.ndarray] = []
    y: list[int] = []
    meta: list[dict[str, str]] = []
    for k, (clip, vs) in enumerate(views.items()):
        row = rows.get(clip)
        if row is None:
            continue
        split = "val" if held_back(row["speaker"], seed + SPLIT_SEED) else "train"
        original = sf.read(corpus / clip, dtype="float32")[0]
        copies = [(original, 0, "untouched")] + [
            (
                sf.read(corpus / v["view"], dtype="float32")[0],
                1,
                "fft" if v["made"].split(", ")[-1].startswith("afftdn") else "gate",
            )
            for v in vs
        ]
        for audio, label, kind in copies + neural_copies(original, seed * 100_003 + k, rnnoise):
            f = features(audio, names)
            if f is None:
                continue
            x.append(f)
            y.append(label)
            meta.append({"split": split, "kind": kind, "label": row["label"]})
    if not x:
        raise SystemExit(f"{corpus}: no training clip with views gave features")
    return np.stack(x), np.array(y), meta


def train(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """A class-balanced, lightly ridged logistic regression on standardised features (L-BFGS)."""
    import torch

    torch.manual_seed(seed)
    model = build_model(x.shape[1])
    model.mean.copy_(torch.from_numpy(x.mean(0)))
    model.std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    pos = float(y.mean())
    weight = torch.where(yt > 0, 0.5 / max(pos, 1e-6), 0.5 / max(1 - pos, 1e-6))
    opt = torch.optim.LBFGS(model.linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt), yt, weight=weight)
        loss = loss + L2 * model.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    model.eval()
    return model


def called(p: np.ndarray, ops: dict[str, float]) -> dict[str, Any]:
    """How many probabilities ``p`` there are, and the share at or over each operating point."""
    return {"n": len(p), "called_suppressed": {op: float(np.mean(p >= t)) for op, t in ops.items()}}


def probabilities(model: Any, platt: metrics.Platt, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return np.asarray(platt(model(torch.from_numpy(x)).double().numpy()), np.float64)


def evaluate_sets(
    folder: Path, model: Any, platt: metrics.Platt, ops: dict[str, float], names: tuple[str, ...] = FEATURES
) -> dict[str, dict[str, Any]]:
    """Per evaluation set and label: files scored, and the share called suppressed at each
    operating point (whole files, speech regions as the voice detector finds them)."""
    out: dict[str, dict[str, Any]] = {}
    for labels in sorted(folder.rglob("labels.csv")):
        name = labels.parent.relative_to(folder).as_posix()
        with labels.open(newline="") as fh:
            items = list(csv.DictReader(fh))
        by_label: dict[str, list[np.ndarray]] = {}
        for r in items:
            path = Path(r["path"]) if Path(r["path"]).is_absolute() else labels.parent / r["path"]
            try:
                f = file_features(path, names=names)
            except Exception as exc:  # a file that does not decode counts as not scored
                log.warning("%s: %s", path, exc)
                continue
            if f is not None:
                by_label.setdefault(r["label"], []).append(f)
        for label, fs in sorted(by_label.items()):
            out[f"{name}:{label}"] = called(probabilities(model, platt, np.stack(fs)), ops)
    return out


def _neural_limit(sets: dict[str, dict[str, Any]], trained: bool = False) -> str:
    """The limitation that neural suppressors set, with their numbers where the card has them;
    ``trained``: the check saw RNNoise copies in training."""
    neural = {k: d for k, d in sets.items() if k.startswith("processed/noisy-") and k.endswith(":real")}
    if not neural:
        return "Neural suppressors (RNNoise, DeepFilterNet, the ones in meeting apps) were not measured."
    shares = ", ".join(
        f"{_f(d['called_suppressed'][OPS[1]])} of `{k.split(':')[0].split('/', 1)[1]}`"
        for k, d in neural.items()
    )
    point = f"{float(OPS[1]) * 100:.0f} % point"
    if trained:
        return (
            "Of neural suppressors it saw RNNoise only, after added noise; DeepFilterNet3 was never trained on. "
            f"The share called suppressed at the {point} is {shares} (held-back real recordings with pink noise "
            "and then the suppressor); a neural suppressor on a quiet recording leaves little trace and is "
            "mostly missed (`denoise-*` rows)."
        )
    return (
        "It misses most neural suppression (RNNoise, DeepFilterNet3, as in meeting apps): the share called "
        f"suppressed at the {point} is {shares} (held-back real recordings with pink noise "
        "and then the suppressor), whose statistics lie between untouched speech and many fakes'."
    )


def render(meta: dict[str, Any]) -> str:
    ev, tr = meta["evaluation"], meta["training"]
    v = ev["validation"]
    ops = meta["operating_points"]

    def rows(table: dict[str, dict[str, Any]]) -> list[str]:
        return [
            f"| {k} | {d['n']} | {' / '.join(_f(d['called_suppressed'][op]) for op in OPS)} |"
            for k, d in table.items()
        ]

    kinds, sets = rows(ev["validation_by_kind"]), rows(ev.get("evaluation_sets", {}))
    names = meta["input"]["features"]
    coef = ", ".join(f"{n} {c:+.3f}" for n, c in zip(names, meta["coefficients"], strict=True))
    neural = bool(tr.get("neural_copies"))
    count = {3: "three", 4: "four"}.get(len(names), str(len(names)))
    return "\n".join(
        [
            f"# Model card: {meta['name']}",
            "",
            f"Noise-suppression check of the Veracity toolkit. File `{meta['file']}`, sha256 `{meta['sha256']}`, "
            f"{meta['size_bytes']} bytes, {meta['parameters']} trained parameters: a logistic regression on {count} "
            f"statistics of the speech's spectrogram ({meta['input']['front_end']}). Standardised coefficients: "
            f"{coef}.",
            "",
            "## Intended use",
            "",
            "- A caution beside the voice detector's verdict: the speech looks noise-suppressed, and real speech "
            "after noise suppression is flagged as synthetic far more often than untouched speech, so a reviewer "
            "should ask for the unprocessed recording before trusting a synthetic verdict. It never changes a "
            "score or a verdict.",
            "",
            "## Out-of-scope use",
            "",
            "- Evidence of editing or forgery in itself: noise suppression is everywhere in honest production. "
            "Clean synthetic speech (digital silence between words, as some TTS engines write it) can look "
            "suppressed too (see the evaluation sets below).",
            "",
            "## Training data",
            "",
            "- The voice corpus's training clips of both classes (real and synthetic speech, 1.6–3.5 s excerpts "
            "after a codec round trip), untouched, against their noise-suppressed copies from "
            "`training.voice_views` (ffmpeg `afftdn` at 6–30 dB reduction, or spectral gating at random "
            "over-subtraction and floor; white or pink noise at 10–35 dB SNR added first 60 % of the time)"
            + (
                "; and a copy of each clip with white or pink noise at 5–25 dB SNR (untouched: noise alone is not "
                "suppression) and that copy through RNNoise (the `pyrnnoise` wheel's model, at 48 kHz)."
                if neural
                else "."
            ),
            "- One training speaker in five held out for validation. Rows: "
            + ", ".join(f"{k.replace(':', ' ')} {v}" for k, v in sorted(tr["rows"].items()))
            + ".",
            "",
            "## Training procedure",
            "",
            f"- Command: `{tr['command']}`; class-balanced logistic loss with a ridge of {tr['l2']}, L-BFGS; took "
            f"{tr['seconds']} s on 2 CPU cores including feature extraction.",
            "",
            "## Evaluation",
            "",
            f"Held-out speakers' clips against their suppressed copies: AUC {_f(v['auc'])}, EER {_f(v['eer'])}.",
            "",
            "Share called suppressed at the 1 / 5 / 10 % operating points, held-out clips by kind:",
            "",
            "| held-out clips | n | called suppressed at 1 / 5 / 10 % |",
            "|---|---|---|",
            *kinds,
            "",
            *(
                [
                    "Whole files of the voice evaluation sets (`scripts/make_voice_eval_sets.py`; the speech regions "
                    "of each file, as the voice detector finds them), share called suppressed at 1 / 5 / 10 %. "
                    "`processed/*` are the held-back speakers' real recordings after each processing; "
                    "`heldback_neural:real` are the same recordings untouched. Wavelet thresholding (`afwtdn`), "
                    "sox's profile-based reduction (`denoise-profile`) and the neural suppressors RNNoise and "
                    "DeepFilterNet3 (`*rnnoise`, `*deepfilternet`; `noisy-*` after pink noise at 10 dB SNR, "
                    "`processed/noisy` that noise alone) are suppressors that no training copy imitates"
                    + (", except RNNoise, whose copies after noise it trained on" if neural else "")
                    + (
                        ". The first three statistics were chosen after looking at the sets before the neural "
                        "ones were added, so read them as a development measurement, not a held-out one; "
                        "`gap_drop` was chosen on training clips only."
                        if "gap_drop" in names
                        else ". The three statistics were chosen after looking at the sets before the neural ones "
                        "were added, so read them as a development measurement, not a held-out one."
                    ),
                    "",
                    "| set:label | files | called suppressed at 1 / 5 / 10 % |",
                    "|---|---|---|",
                    *sets,
                    "",
                ]
                if sets
                else []
            ),
            "## Operating points",
            "",
            f"Calibrated by Platt scaling on the held-out clips. Thresholds by the share of untouched held-out "
            f"clips called suppressed; default {float(meta['default_operating_point']):.0%}:",
            "",
            "| max share of untouched clips called suppressed | threshold |",
            "|---|---|",
            *[f"| {float(op):.0%} | {t:.4f} |" for op, t in ops.items()],
            "",
            "## Limitations",
            "",
            (
                "- Trained on three suppressors (FFT, spectral gating, RNNoise). "
                if neural
                else "- Trained on two suppressors only (FFT and spectral gating). "
            )
            + _neural_limit(ev.get("evaluation_sets", {}), trained=neural),
            "- Mild suppression (a few dB) leaves little trace and is mostly missed; so is suppression followed "
            "by added noise or a lossy codec that fills the holes.",
            "- Speech recorded in a very quiet studio, or narrow-band audio, can look suppressed.",
            "",
            f"Licence: {meta['license']}.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="a voice corpus (training.voice_data)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=NAME)
    ap.add_argument("--eval-sets", type=Path, default=None, help="scripts/make_voice_eval_sets.py's folder")
    ap.add_argument(
        "--features",
        default=",".join(FEATURES),
        help=f"comma-separated statistics to fit, of {', '.join(KNOWN_FEATURES)} (default: the shipped "
        "check's three)",
    )
    ap.add_argument(
        "--neural-copies",
        action="store_true",
        help="also a noisy copy of each clip (untouched) and that copy through RNNoise (suppressed); "
        "measured and not shipped (docs/training-voice.md)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not (args.corpus / "meta.csv").is_file():
        raise SystemExit(f"{args.corpus} holds no corpus (meta.csv); build one with training.voice_data")
    t0 = time.time()
    names = tuple(args.features.split(","))
    if not set(names) <= set(KNOWN_FEATURES) or len(set(names)) < len(names):
        ap.error(f"--features takes distinct names of {', '.join(KNOWN_FEATURES)}")
    x, y, meta = collect(args.corpus, args.seed, names, neural=args.neural_copies)
    va = np.array([m["split"] == "val" for m in meta])
    if len(set(y[~va].tolist())) < 2 or len(set(y[va].tolist())) < 2:
        raise SystemExit("need untouched clips and copies in both splits (too few speakers?)")
    model = train(x[~va], y[~va], args.seed)
    import torch

    with torch.inference_mode():
        val_logits = model(torch.from_numpy(x[va])).double().numpy()
    platt = metrics.Platt.fit(val_logits, y[va].astype(np.float64))
    pv = np.asarray(platt(val_logits))
    kinds = np.array([m["kind"] for m in meta])[va]
    ops = {op: metrics.threshold_at_fpr(pv[kinds == "untouched"], float(op)) for op in OPS}
    by_kind = {k: called(pv[kinds == k], ops) for k in KINDS if (kinds == k).any()}
    evaluation: dict[str, Any] = {"validation": metrics.summary(y[va], pv), "validation_by_kind": by_kind}
    if args.eval_sets is not None:
        evaluation["evaluation_sets"] = evaluate_sets(args.eval_sets, model, platt, ops, names)
    counts: dict[str, int] = {}
    for m, label in zip(meta, y, strict=True):
        kind = m["kind"] if m["kind"].startswith("noisy") else "suppressed" if label else "untouched"
        key = f"{m['split']}:{kind}"
        counts[key] = counts.get(key, 0) + 1
    from detectors.weights import save_weights

    command = f"python -m training.suppression --corpus {args.corpus} --out {args.out} --seed {args.seed}"
    if args.eval_sets is not None:
        command += f" --eval-sets {args.eval_sets}"
    if names != FEATURES:
        command += f" --features {','.join(names)}"
    if args.neural_copies:
        command += " --neural-copies"
    if args.name != NAME:
        command += f" --name {args.name}"
    info = save_weights(
        args.out,
        args.name,
        model.state_dict(),
        {
            "task": "noise-suppression",
            "architecture": "SuppressionLogReg",
            "arch": {},
            "parameters": int(sum(p.numel() for p in model.linear.parameters())),
            "coefficients": [float(c) for c in model.linear.weight.detach().numpy().ravel()],
            "input": {
                "rate": RATE,
                "channels": 1,
                "features": list(names),
                "front_end": front_end(names),
            },
            "output": "one logit per file; higher means the speech looks noise-suppressed",
            "calibration": {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "held-out clips"},
            "operating_points": ops,
            "default_operating_point": "0.05",
            "evaluation": evaluation,
            "training": {
                "command": command,
                "seed": args.seed,
                "l2": L2,
                "rows": counts,
                "seconds": round(time.time() - t0, 1),
                "neural_copies": any(m["kind"] == "noisy-rnnoise" for m in meta),
            },
            "license": "weights: Apache-2.0 (trained by this project)",
        },
    )
    doc = dict(info.meta)
    (args.out / doc["card"]).write_text(render(doc), encoding="utf-8")
    log.info("wrote %s: %s", info.path, json.dumps(evaluation["validation"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
