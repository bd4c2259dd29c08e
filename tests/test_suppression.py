"""The noise-suppression check: its statistics, the shipped weight, the voice detector's caution,
and a training run on a corpus the test synthesises."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from detectors import suppression
from detectors.suppression import (
    FEATURES,
    KNOWN_FEATURES,
    FrameCollector,
    SuppressionCheck,
    build_model,
    features,
)
from detectors.voice import SUPPRESSION_TEXT, VoiceAnalyzer, VoiceClassifier, VoiceOptions, VoiceResult
from detectors.weights import WeightInfo, save_weights
from tests.face_helpers import CARD
from tests.test_speech import RATE, vowelish
from tests.test_voice import helper_meta, tiny_voice_weights, wav
from training import neural_suppressors
from training.voice_data import held_back


def noisy(seconds: float = 4.0, snr_db: float = 30.0, seed: int = 0) -> np.ndarray:
    """Speech-like sound over white noise at ``snr_db``."""
    x = vowelish(seconds, seed=seed).astype(np.float64)
    n = np.random.default_rng(seed).normal(size=len(x))
    n *= np.sqrt(np.mean(x**2) / np.mean(n**2) / 10 ** (snr_db / 10))
    return (x + n).astype(np.float32)


def gated(x: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """``x`` through a spectral-subtraction gate (over-subtraction 4, gain floor ``floor_db``)."""
    from scipy.signal import istft, stft

    _, _, z = stft(x, RATE, nperseg=512, noverlap=384)
    power = np.abs(z) ** 2
    noise = np.median(power, axis=1, keepdims=True)
    gain = np.maximum(1 - 4 * noise / np.maximum(power, 1e-20), 10 ** (floor_db / 20))
    return np.asarray(istft(z * gain, RATE, nperseg=512, noverlap=384)[1][: len(x)], np.float32)


def test_statistics_see_the_holes_and_the_floor_that_gating_leaves() -> None:
    for seed, snr in ((0, 20.0), (1, 30.0), (2, 40.0)):
        before, after = features(noisy(snr_db=snr, seed=seed)), features(gated(noisy(snr_db=snr, seed=seed)))
        assert before is not None and after is not None
        floor, holes, holes_tel = (after - before).tolist()
        assert floor < -10 and holes > 0.3 and holes_tel > 0.3, (before, after)
    assert features(np.zeros(RATE // 2, np.float32)) is None  # under MIN_FRAMES frames
    # digital silence counts as -100 dB, not as the epsilon's -200 dB
    silent = np.concatenate([vowelish(2.0), np.zeros(RATE, np.float32)])
    f = features(silent)
    assert f is not None and -110 < f[0] < -50


def test_gap_drop_rises_when_suppression_empties_the_pauses() -> None:
    """Noise lies under the words and between them alike; a gate takes it from between them."""
    t = np.arange(4 * RATE) / RATE
    for seed, snr in ((0, 20.0), (1, 30.0)):
        x = vowelish(4.0, seed=seed).astype(np.float64) * (np.sin(2 * np.pi * 1.5 * t) > -0.3)  # with pauses
        n = np.random.default_rng(seed).normal(size=len(x))
        x += n * np.sqrt(np.mean(x**2) / np.mean(n**2) / 10 ** (snr / 10))
        before = features(x.astype(np.float32), ("gap_drop",))
        after = features(gated(x.astype(np.float32)), ("gap_drop",))
        assert before is not None and after is not None
        assert abs(float(before[0])) < 5 and float(after[0] - before[0]) > 5, (before, after)
    assert features(vowelish(4.0), KNOWN_FEATURES)[:3].tolist() == features(vowelish(4.0)).tolist()  # type: ignore[index]


def test_collector_equals_one_pass_and_stops_at_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    x = noisy(seconds=6.0)
    c = FrameCollector()
    for a in range(0, len(x), 2 * RATE):
        c.add(x[a : a + 2 * RATE])
    parts = np.concatenate([suppression.frame_stats(x[a : a + 2 * RATE]) for a in range(0, len(x), 2 * RATE)])
    assert np.allclose(c.features(), suppression.summarise(parts))
    monkeypatch.setattr(suppression, "MAX_FRAMES", 100)
    capped = FrameCollector()
    for _ in range(5):
        capped.add(x)
    assert capped.frames == 100 and sum(len(p) for p in capped.parts) == 100
    assert FrameCollector().features() is None


def test_shipped_weight_loads_verified_and_scores_gated_speech_higher() -> None:
    check = SuppressionCheck.default()
    assert (
        check.info.meta["task"] == "noise-suppression"
        and tuple(check.info.meta["input"]["features"]) == FEATURES
    )
    for seed in range(3):
        x = noisy(seed=seed)
        p_before, p_after = check.probability(np.stack([features(x), features(gated(x))]))  # type: ignore[list-item]
        assert p_before < check.threshold() <= p_after


def tiny_suppression_weights(folder: Path, bias: float) -> WeightInfo:
    """A noise-suppression model whose output is ``bias`` whatever the audio."""
    model = build_model()
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.bias.fill_(bias)
    meta = helper_meta(
        "noise-suppression", "SuppressionLogReg", {}, {"rate": RATE, "features": list(FEATURES)}, "0.05"
    )
    return save_weights(folder, "suppression-test", model.state_dict(), meta, card=CARD)


@pytest.mark.parametrize("bias", [5.0, -5.0])
def test_voice_results_carry_the_caution_only_where_the_check_fires(tmp_path: Path, bias: float) -> None:
    tiny_suppression_weights(tmp_path, bias)
    an = VoiceAnalyzer(VoiceClassifier(tiny_voice_weights(tmp_path, 2.0)), VoiceOptions())
    assert an.suppression.info.name == "suppression-test"  # the check beside the voice weight is used
    r = an.analyze(wav(tmp_path / "speech.wav", noisy(seconds=5.0)))
    doc = r.as_dict()
    assert r.verdict == "synthetic" and r.suppression is not None
    assert r.suppressed is (bias > 0) and (SUPPRESSION_TEXT in doc["cautions"]) is (bias > 0)
    assert doc["suppression"] == pytest.approx(1 / (1 + np.exp(-bias)), abs=1e-3)
    quiet = an.analyze(wav(tmp_path / "silence.wav", np.zeros(RATE * 3, np.float32)))
    assert quiet.abstained and quiet.suppression is None and not quiet.cautions
    # an abstention says nothing of suppression even where the statistics would
    unscored = VoiceResult("x.wav", "audio", "abstained", None, None, None, suppressed=True)
    assert SUPPRESSION_TEXT not in unscored.cautions


def test_training_writes_a_verified_weight_and_card(tmp_path: Path) -> None:
    from training import suppression as trainer

    corpus = tmp_path / "corpus"
    (corpus / "clips").mkdir(parents=True)
    names = [f"spk{i}" for i in range(40)]
    val = [n for n in names if held_back(n, trainer.SPLIT_SEED)][:2]
    speakers = val + [n for n in names if n not in val][:4]
    rows = []
    for i in range(18):
        spk = speakers[i % len(speakers)]
        path = f"clips/{i:03d}.flac"
        sf.write(corpus / path, noisy(seconds=2.0, snr_db=20 + i, seed=i), RATE)
        label = "real" if i % 2 else "fake"
        rows.append(
            {
                "path": path,
                "label": label,
                "family": "real" if label == "real" else "espeak",
                "generator": "test",
                "speaker": spk,
                "split": "train",
                "source": "test",
                "seconds": "2.00",
                "weight": "1",
            }
        )
    with (corpus / "meta.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "weights"
    assert trainer.main(["--corpus", str(corpus), "--out", str(out), "--name", "suppression-tiny"]) == 0
    assert (corpus / "views.csv").is_file()  # the copies were made where the corpus had none
    meta = json.loads((out / "suppression-tiny.json").read_text())
    counts, n_val = meta["training"]["rows"], sum(r["speaker"] in val for r in rows)
    assert counts["val:untouched"] == n_val and counts["train:untouched"] == len(rows) - n_val
    assert counts["val:suppressed"] == 2 * n_val and not meta["training"]["neural_copies"]  # two views a clip
    assert meta["input"]["features"] == list(FEATURES) and meta["parameters"] == len(FEATURES) + 1
    assert set(meta["operating_points"]) == {"0.01", "0.05", "0.1"}
    card = (out / "suppression-tiny.md").read_text()
    assert "## Intended use" in card and meta["sha256"] in card and "three statistics" in card
    check = SuppressionCheck.default(out)
    assert check.info.name == "suppression-tiny" and check.feature_names == FEATURES
    assert check.probability(np.zeros((2, len(FEATURES)))).shape == (2,)

    # the measured variant: the fourth statistic and, where RNNoise is installed, the neural copies
    args = ["--corpus", str(corpus), "--out", str(out), "--name", "suppression-tiny-v2"]
    assert trainer.main([*args, "--features", ",".join(KNOWN_FEATURES), "--neural-copies"]) == 0
    meta = json.loads((out / "suppression-tiny-v2.json").read_text())
    counts = meta["training"]["rows"]
    if "rnnoise" in neural_suppressors.neural_denoisers():  # a noisy copy and its RNNoise copy per clip
        assert (
            counts["val:noisy"] == counts["val:noisy-rnnoise"] == n_val and meta["training"]["neural_copies"]
        )
        assert "RNNoise" in (out / "suppression-tiny-v2.md").read_text().split("## Training data")[1]
    assert meta["input"]["features"] == list(KNOWN_FEATURES) and meta["parameters"] == len(KNOWN_FEATURES) + 1
    assert meta["training"]["command"].endswith(
        f"--features {','.join(KNOWN_FEATURES)} --neural-copies --name suppression-tiny-v2"
    )
    check = SuppressionCheck.default(out, "suppression-tiny-v2")
    assert check.feature_names == KNOWN_FEATURES
    assert check.probability(np.zeros((2, len(KNOWN_FEATURES)))).shape == (2,)
    with pytest.raises(SystemExit):
        trainer.main([*args, "--features", "floor,nonsense"])


def test_card_states_the_neural_suppressors_shares_when_they_were_measured() -> None:
    from training import suppression as trainer

    shares = {"0.01": 0.05, "0.05": 0.169, "0.1": 0.3}
    sets = {
        "processed/noisy-rnnoise:real": {"n": 83, "called_suppressed": shares},
        "processed/denoise-strong:real": {"n": 83, "called_suppressed": {**shares, "0.05": 0.771}},
    }
    text = trainer._neural_limit(sets)
    assert "0.169 of `noisy-rnnoise`" in text and "5 % point" in text and "0.771" not in text
    assert "not measured" in trainer._neural_limit(
        {"processed/denoise-strong:real": sets["processed/denoise-strong:real"]}
    )
    shipped = (Path(__file__).parent.parent / "weights" / "suppression-logreg-v1.md").read_text()
    meta = json.loads((Path(__file__).parent.parent / "weights" / "suppression-logreg-v1.json").read_text())
    assert trainer._neural_limit(meta["evaluation"]["evaluation_sets"]) in shipped
    assert trainer.render(meta) == shipped  # the shipped card is what its metadata renders to
