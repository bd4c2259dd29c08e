"""The voice detector: model shapes, the streaming pipeline, abstentions, the CLI and a
two-step training run, all on tiny weights and audio the tests synthesise."""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from detectors.models.lcnn import LCNN, FrontEnd, linear_filterbank, min_samples, parameter_count
from detectors.music import N_FEATURES as N_MUSIC_FEATURES
from detectors.music import build_model as build_music_model
from detectors.voice import VoiceAnalyzer, VoiceClassifier, VoiceOptions
from detectors.weights import REQUIRED_CARD_SECTIONS, WeightInfo, WeightsError, list_weights, save_weights
from tests.face_helpers import CARD
from tests.test_speech import RATE, _encode, tone, vowelish, write_talking_video

TINY = {"n_filters": 32, "width": 8}


def voice_meta() -> dict[str, Any]:
    return {
        "task": "voice-forgery",
        "architecture": "LCNN",
        "arch": TINY,
        "input": {"rate": RATE, "window_s": 4.0, "hop_s": 2.0, "loudness_dbfs": -23.0},
        "calibration": {"method": "platt", "a": 1.0, "b": 0.0},
        "operating_points": {"0.01": 0.9, "0.05": 0.7, "0.1": 0.6},
        "default_operating_point": "0.05",
        "evaluation": {},
        "training": {"command": "test"},
        "license": "test",
    }


def helper_meta(
    task: str, architecture: str, arch: dict[str, Any], inputs: dict[str, Any], op: str
) -> dict[str, Any]:
    """Metadata of a tiny helper model (music-or-speech, noise suppression): identity calibration,
    one operating point ``op`` at probability 0.5."""
    return {
        "task": task,
        "architecture": architecture,
        "arch": arch,
        "input": inputs,
        "calibration": {"method": "platt", "a": 1.0, "b": 0.0},
        "operating_points": {op: 0.5},
        "default_operating_point": op,
        "evaluation": {},
        "training": {"command": "test"},
        "license": "test",
    }


def tiny_music_weights(folder: Path, bias: float, name: str = "music-test") -> WeightInfo:
    """A music-or-speech model whose output is ``bias`` whatever the audio."""
    model = build_music_model()
    with torch.no_grad():
        model.net[-1].weight.mul_(0.0)
        model.net[-1].bias.fill_(bias)
    meta = helper_meta(
        "music-detection",
        "MusicMLP",
        {"hidden": 32},
        {"rate": RATE, "window_s": 4.0, "features": N_MUSIC_FEATURES},
        "0.01",
    )
    return save_weights(folder, name, model.state_dict(), meta, card=CARD)


def tiny_voice_weights(
    folder: Path, bias: float, name: str = "voice-test", music_bias: float = -5.0
) -> WeightInfo:
    """Random LCNN weights whose output is pinned near ``bias`` (last layer scaled down), with
    a music-or-speech model beside them that calls everything speech (or, with a positive
    ``music_bias``, music)."""
    torch.manual_seed(0)
    model = LCNN(**TINY)
    with torch.no_grad():
        model.head[-1].weight.mul_(0.0)
        model.head[-1].bias.fill_(bias)
    tiny_music_weights(folder, music_bias)
    return save_weights(folder, name, model.state_dict(), voice_meta(), card=CARD)


def wav(path: Path, x: np.ndarray) -> Path:
    _encode(path, "wav", "pcm_s16le", x, RATE)
    return path


def through_8khz(x: np.ndarray) -> np.ndarray:
    """``x`` as a phone line leaves it: resampled to 8 kHz and back (nothing above 4 kHz)."""
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(x, 1, 2), 2, 1)


def analyzer(folder: Path, bias: float, music_bias: float = -5.0, **opts: Any) -> VoiceAnalyzer:
    return VoiceAnalyzer(
        VoiceClassifier(tiny_voice_weights(folder, bias, music_bias=music_bias)), VoiceOptions(**opts)
    )


def test_front_end_and_model_shapes() -> None:
    fb = linear_filterbank(60, 512)
    assert fb.shape == (257, 60) and float(fb.min()) >= 0
    centres = fb.argmax(dim=0)
    assert torch.all(centres[1:] > centres[:-1])  # filters in order, linearly spaced
    assert abs(float(np.diff(centres.numpy()).std())) < 1.0
    feats = FrontEnd(60)(torch.randn(2, RATE))
    assert feats.shape == (2, 1, 60, 101)
    assert torch.allclose(feats.mean(dim=3), torch.zeros(2, 1, 60), atol=1e-4)  # per-clip mean removed
    model = LCNN().eval()
    assert parameter_count(model) <= 5_000_000
    with torch.inference_mode():
        for n in (min_samples(), RATE * 2, RATE * 4 + 123):
            assert model(torch.randn(3, n)).shape == (3,)


def test_bfloat16_inference_is_close_and_leaves_training_alone() -> None:
    torch.manual_seed(0)
    model = LCNN().eval()
    x = torch.randn(2, RATE * 2) * 0.1
    with torch.inference_mode():
        full = model(x)
        model.bfloat16_inference = True
        fast = model(x)
    assert (
        fast.dtype == torch.float32 and torch.allclose(fast, full, atol=0.05) and not torch.equal(fast, full)
    )
    model.train()  # the flag is ignored while training: the same float32 arithmetic as before
    torch.manual_seed(1)
    a = model(x)
    model.bfloat16_inference = False
    torch.manual_seed(1)
    assert torch.equal(a, model(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a trainer's own autocast still applies
        model.bfloat16_inference = True
        assert not torch.equal(model(x), a)


def test_voice_classifier_sets_lcnn_precision_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from detectors.models.lcnn import LCNN as Net

    info = tiny_voice_weights(tmp_path, 0.0)
    for compute, expected in (("float32", False), ("bfloat16", True)):
        monkeypatch.setenv("VERACITY_PRECISION", compute)
        nets = [m for m in VoiceClassifier(info).model.modules() if isinstance(m, Net)]
        assert nets and all(m.bfloat16_inference is expected for m in nets)


def test_phase_channel_and_ensemble() -> None:
    """The phase-stability channel is 1 for steady partials and low for noise; an ensemble's
    logit is the mean of its members'."""
    import math

    from detectors.models.lcnn import LCNNEnsemble, build

    front = FrontEnd(60, phase=True)
    t = torch.arange(RATE) / RATE
    sine = front(torch.sin(2 * math.pi * 1000 * t)[None])
    noise = front(torch.from_numpy(np.random.default_rng(0).normal(size=(1, RATE)).astype(np.float32)))
    assert sine.shape == noise.shape == (1, 2, 60, 101)
    k = round(1000 / (8000 / 61)) - 1  # the filter around 1 kHz
    assert float(sine[0, 1, k, 5:-5].mean()) > 0.99
    assert float(noise[0, 1, :, 5:-5].mean()) < 0.3
    members = [{**TINY}, {**TINY, "phase": True}]
    ens = build("LCNN-ensemble", {"members": members}).eval()
    assert isinstance(ens, LCNNEnsemble)
    x = torch.from_numpy(vowelish(2.0))[None]
    with torch.inference_mode():
        each = [float(m(x)) for m in ens.members]
        assert abs(float(ens(x)) - sum(each) / 2) < 1e-5
    with pytest.raises(ValueError, match="unknown"):
        build("GRU", {})


def test_gain_barely_moves_the_score() -> None:
    model = LCNN(**TINY).eval()
    x = torch.from_numpy(vowelish(2.0))[None]
    with torch.inference_mode():
        a, b = float(model(x)), float(model(x * 0.1))
    assert abs(a - b) < 0.05 * max(1.0, abs(a))


def test_weights_are_verified(tmp_path: Path) -> None:
    info = tiny_voice_weights(tmp_path, 0.0)
    VoiceClassifier(info)
    blob = bytearray(info.path.read_bytes())
    blob[-1] ^= 0xFF
    info.path.write_bytes(bytes(blob))
    with pytest.raises(WeightsError, match="sha256"):
        VoiceClassifier(info)


@pytest.mark.parametrize(("bias", "verdict"), [(5.0, "synthetic"), (-5.0, "not-detected")])
def test_speech_is_scored_with_a_window_timeline(tmp_path: Path, bias: float, verdict: str) -> None:
    silence = np.zeros(2 * RATE, np.float32)
    p = wav(tmp_path / "speech.wav", np.concatenate([silence, vowelish(9.0), silence]))
    r = analyzer(tmp_path, bias).analyze(p)
    assert r.verdict == verdict and r.reason is None
    assert r.threshold == 0.7 and r.operating_point == "0.05"
    assert 8.0 < r.speech_s < 10.0 and abs(r.duration_s - 13.0) < 0.05
    assert len(r.windows) >= 4
    assert r.windows[0].start >= 1.5 and r.windows[-1].end <= 11.5  # times in the original file
    assert all(w.end - w.start == pytest.approx(3.99, abs=0.1) for w in r.windows[:-1])
    doc = r.as_dict()
    assert doc["windows"][0][2] == pytest.approx(r.windows[0].score, abs=1e-4)


def test_windows_over_the_threshold_are_joined_into_segments_and_reported() -> None:
    from detectors.voice import VoiceResult, Window
    from reports.scan_html import _voice
    from reports.voice_text import result_lines

    windows = (
        Window(0.0, 4.0, 0.90),
        Window(3.0, 7.0, 0.95),
        Window(6.0, 10.0, 0.2),
        Window(9.0, 13.0, 0.85),
    )
    r = VoiceResult("a.wav", "audio", "not-detected", 0.5, 0.8, "0.05", windows=windows)
    assert r.segments == [(0.0, 7.0, 0.95), (9.0, 13.0, 0.85)]
    assert r.as_dict()["segments"] == [[0.0, 7.0, 0.95], [9.0, 13.0, 0.85]]
    text = "\n".join(t for _, t in result_lines(r))
    assert "over the threshold: 0.0–7.0 s (0.95), 9.0–13.0 s (0.85); the file's score is under" in text
    html = _voice(r.as_dict())
    assert '<p class="err">Windows over the threshold: 0.0–7.0 s (0.95), 9.0–13.0 s (0.85); the file' in html
    flagged = VoiceResult("a.wav", "audio", "synthetic", 0.9, 0.8, "0.05", windows=windows)
    assert "<p>Windows over the threshold: 0.0–7.0 s" in _voice(flagged.as_dict())
    assert "listen there" not in "\n".join(t for _, t in result_lines(flagged))
    from reports.scan import text_lines

    summ = {"files": 1, "risk": {}, "status": {"ok": 1, "abstained": 0, "skipped": 0, "error": 0}}
    summ |= {"resumed": 0, "at_or_above_fail_on": 0, "fail_on": "high"}
    lines = list(text_lines([{"path": "a.wav", "voice": r.as_dict()}], summ))
    assert ("yellow", "  voice windows over the threshold: 0.0–7.0 s (0.95), 9.0–13.0 s (0.85)") in lines
    quiet = VoiceResult("a.wav", "audio", "abstained", None, None, None, reason="music", windows=windows)
    assert quiet.segments == [] and "over the threshold" not in _voice(quiet.as_dict())


def test_the_html_timeline_draws_each_window_over_the_file_time_it_covers() -> None:
    """A window is a bar from its start to its end on an axis from 0 s to the file's duration, red
    where it reaches the threshold, so one window of a long file still shows where it lies."""
    import re

    from detectors.voice import VoiceResult, Window
    from reports.scan_html import _voice

    windows = (Window(10.0, 14.0, 0.9), Window(13.0, 17.0, 0.3))
    r = VoiceResult("a.wav", "audio", "synthetic", 0.9, 0.8, "0.05", windows=windows, duration_s=40.0)
    svg = _voice(r.as_dict())
    assert ">0.0 s</text>" in svg and 'text-anchor="end">40.0 s</text>' in svg  # long times stay inside
    bars = re.findall(
        r'<line x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)" y2="[\d.]+" stroke="(#\w+)" stroke-width="3"', svg
    )
    assert len(bars) == 2
    (a1, b1, y1, c1), (a2, b2, y2, c2) = ((float(a), float(b), float(y), c) for a, b, y, c in bars)
    assert (c1, c2) == ("#c62828", "#1565c0")  # over the threshold, under it
    assert y1 < y2  # the higher score is drawn higher
    # 420 px wide with 4 px padding: 10 s of 40 s lies a quarter of the way along
    assert abs(a1 - (4 + 412 * 10 / 40)) < 0.2 and abs(b1 - (4 + 412 * 14 / 40)) < 0.2
    assert a1 < a2 < b1 < b2  # the windows overlap by a second


def test_band_energy_tells_telephone_band_from_wide_band() -> None:
    from detectors.voice import NARROWBAND_SHARE, band_energy

    noise = np.random.default_rng(0).normal(0, 0.1, 4 * RATE).astype(np.float32)
    high, total = band_energy(noise)
    assert high / total == pytest.approx((8000 - 4300) / 8000, abs=0.02)  # white: by bandwidth
    speech = vowelish(4.0) + noise / 5  # voiced sound with a little hiss, as in speech
    assert band_energy(speech)[0] > 10 * NARROWBAND_SHARE * band_energy(speech)[1]
    phone = through_8khz(speech)
    high, total = band_energy(phone)
    assert high < NARROWBAND_SHARE * total and total > 0.5 * band_energy(speech)[1]
    assert band_energy(np.zeros(100, np.float32)) == (0.0, 0.0)  # shorter than a frame


def test_narrow_band_speech_is_scored_with_a_caution(tmp_path: Path) -> None:
    from reports.voice_text import result_lines

    # vowelish has harmonics up to ~3.8 kHz only; fricative-like noise makes it wide-band
    hiss = np.random.default_rng(1).normal(0, 0.02, 6 * RATE).astype(np.float32)
    wide = wav(tmp_path / "wide.wav", vowelish(6.0) + hiss)
    phone = wav(tmp_path / "phone.wav", through_8khz(vowelish(6.0) + hiss))
    a = analyzer(tmp_path, 5.0)
    r_wide, r_phone = a.analyze(wide), a.analyze(phone)
    assert r_wide.verdict == r_phone.verdict == "synthetic"  # scored either way
    assert not r_wide.narrowband and r_wide.cautions == [] and r_wide.as_dict()["narrowband"] is False
    assert r_phone.narrowband and r_phone.as_dict()["cautions"] == r_phone.cautions != []
    assert any("caution: narrow-band" in text for _, text in result_lines(r_phone))
    quiet = a.analyze(wav(tmp_path / "quiet.wav", np.zeros(2 * RATE, np.float32)))
    assert quiet.abstained and not quiet.narrowband and quiet.cautions == []


def test_damaged_audio_is_decoded_around_and_scored_with_a_caution(tmp_path: Path) -> None:
    """Two AAC packets replaced by random bytes at about 1.9 s: the audio after them is still
    decoded and scored (before, decoding stopped there), and the result says what was lost."""
    from reports.voice_text import result_lines
    from tests.conftest import damage_packets

    clean = tmp_path / "clean.m4a"
    _encode(clean, "ipod", "aac", vowelish(5.0), RATE)
    rot = tmp_path / "rot.m4a"
    rot.write_bytes(damage_packets(clean.read_bytes(), [30, 31], kind="audio"))
    a = analyzer(tmp_path, 5.0)
    r, r_clean = a.analyze(rot), a.analyze(clean)
    assert r.verdict == r_clean.verdict == "synthetic"
    assert r.duration_s > 4.5 and r.windows[-1].end > 3.5  # the speech after the damage was scored
    [caution] = r.cautions
    assert caution.startswith("the audio stream is damaged: 2 packets could not be decoded (the first at 1.")
    assert r.as_dict()["cautions"] == [caution] and r_clean.cautions == []
    assert any(f"caution: {caution}" in text for _, text in result_lines(r))


def test_streaming_chunks_do_not_change_the_answer(tmp_path: Path) -> None:
    p = wav(
        tmp_path / "s.wav",
        np.concatenate([vowelish(5.0, seed=1), np.zeros(RATE, np.float32), vowelish(6.0, f0=180)]),
    )
    clf = VoiceClassifier(tiny_voice_weights(tmp_path, 0.0))
    clf.model.head[-1].weight.data.normal_(0, 1.0)  # make the score depend on the input
    big = VoiceAnalyzer(clf, VoiceOptions(chunk_s=30)).analyze(p)
    small = VoiceAnalyzer(clf, VoiceOptions(chunk_s=3)).analyze(p)
    assert big.verdict == small.verdict
    assert len(big.windows) == len(small.windows)
    assert big.score == pytest.approx(small.score, abs=0.05)


def test_window_hop_comes_from_the_weights_unless_set(tmp_path: Path) -> None:
    p = wav(tmp_path / "s.wav", vowelish(12.0))
    clf = VoiceClassifier(tiny_voice_weights(tmp_path, 0.0))  # its metadata says every 2 s

    def starts(r: Any) -> np.ndarray:
        return np.diff([w.start for w in r.windows[:-1]])  # the last window is aligned to the end

    own = VoiceAnalyzer(clf).analyze(p)
    wide = VoiceAnalyzer(clf, VoiceOptions(hop_s=3.0)).analyze(p)
    assert np.allclose(starts(own), 2.0, atol=0.05) and np.allclose(starts(wide), 3.0, atol=0.05)
    assert len(wide.windows) < len(own.windows)
    assert wide.windows[-1].end == pytest.approx(own.windows[-1].end, abs=0.05)  # the end is still scored
    with pytest.raises(ValueError, match=r"hop 4\.5 s"):
        VoiceAnalyzer(clf, VoiceOptions(hop_s=4.5))  # longer than the 4 s window: gaps


def test_long_files_are_cut_at_max_seconds(tmp_path: Path) -> None:
    p = wav(tmp_path / "long.wav", vowelish(12.0))
    r = analyzer(tmp_path, 0.0, max_seconds=5.0).analyze(p)
    assert r.truncated and r.duration_s == pytest.approx(5.0, abs=0.01)
    assert r.verdict in ("synthetic", "not-detected")


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        (np.zeros(RATE * 3, np.float32), "no-speech"),
        (vowelish(0.5), "too-little-speech"),
        (tone(3.0), "tone"),
        (np.clip(vowelish(3.0) * 5, -1, 1), "clipped"),
    ],
    ids=["silence", "half-second", "pure-tone", "clipped"],
)
def test_abstentions(tmp_path: Path, signal: np.ndarray, reason: str) -> None:
    r = analyzer(tmp_path, 5.0).analyze(wav(tmp_path / "a.wav", signal))
    assert r.verdict == "abstained" and r.reason == reason and r.score is None
    assert r.as_dict()["reason_text"]


def test_bad_files_are_errors_and_silent_video_abstains(tmp_path: Path) -> None:
    from tests.conftest import make_video

    a = analyzer(tmp_path, 5.0)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3" + bytes(300))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for p in (junk, empty, text, tmp_path / "missing.flac"):
        r = a.analyze(p)
        assert r.verdict == "error" and r.error and r.error["path"] == str(p)
    silent = tmp_path / "silent.mp4"
    silent.write_bytes(make_video("mp4", "libx264", frames=6))
    r = a.analyze(silent)
    assert r.verdict == "abstained" and r.reason == "no-audio"


def test_video_soundtrack_is_scored(tmp_path: Path) -> None:
    p = write_talking_video(tmp_path / "talk.mp4", vowelish(4.0), RATE, fps=5)
    r = analyzer(tmp_path, 5.0).analyze(p)
    assert r.media == "video" and r.verdict == "synthetic" and r.speech_s > 3.0


def test_cli_voice_exit_codes_and_json(tmp_path: Path, run: Any) -> None:
    tiny_voice_weights(tmp_path / "w", 5.0)
    env = {"VERACITY_WEIGHTS": str(tmp_path / "w")}
    speech = wav(tmp_path / "speech.wav", vowelish(5.0))
    quiet = wav(tmp_path / "quiet.wav", np.zeros(RATE * 2, np.float32))
    res = run("voice", str(speech), str(quiet), "--format", "json", env=env)
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert [r["verdict"] for r in doc["results"]] == ["synthetic", "abstained"]
    assert doc["results"][0]["windows"] and doc["results"][0]["model"]["name"] == "voice-test"
    res = run("voice", str(quiet), str(tmp_path / "nope.wav"), env=env)
    assert res.exit_code == 5
    assert "cannot evaluate" in res.stdout and "no such file" in res.stdout
    res = run("voice", str(speech), "--hop", "1", "--format", "json", env=env)
    starts = [w[0] for w in json.loads(res.stdout)["results"][0]["windows"]]
    assert res.exit_code == 1 and np.allclose(np.diff(starts[:-1]), 1.0, atol=0.05)
    res = run("voice", str(speech), "--hop", "5", env=env)
    assert res.exit_code == 2 and "hop 5 s" in res.output
    tiny_voice_weights(tmp_path / "w", -5.0)
    assert run("voice", str(speech), env=env).exit_code == 0


def test_cli_evaluate_voice(tmp_path: Path, run: Any) -> None:
    tiny_voice_weights(tmp_path / "w", 0.0)
    clf_env = {"VERACITY_WEIGHTS": str(tmp_path / "w")}
    rows = []
    for i in range(3):
        rows.append((wav(tmp_path / f"r{i}.wav", vowelish(3.0, f0=110 + 10 * i, seed=i)).name, "real"))
        rows.append((wav(tmp_path / f"f{i}.wav", vowelish(3.0, f0=200 + 10 * i, seed=9 + i)).name, "fake"))
    rows.append((wav(tmp_path / "s.wav", np.zeros(RATE, np.float32)).name, "real"))
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as fh:
        csv.writer(fh).writerows([("path", "label"), *rows])
    res = run("evaluate", str(labels), "--detector", "voice", "--format", "json", env=clf_env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["detector"] == "voice" and doc["n_real"] == 4 and doc["n_fake"] == 3
    assert doc["n_abstained"] == 1 and doc["n_scored"] == 6
    assert set(doc["tpr_at_fpr"]) == {"0.01", "0.05", "0.1"} and doc["auc"] is not None
    assert [f["reason"] for f in doc["files"] if f["abstained"]] == ["no-speech"]


def tiny_training(epochs: int) -> dict[str, Any]:
    """Trainer settings for the tiny corpus: tiny LCNNs, small batches, one thread, no music."""
    return {"epochs": epochs, "batch": 4, "arch": TINY, "music_beds_on": False, "threads": 1}


def tiny_ensemble(tmp_path: Path, members: list[str]) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A tiny corpus, its trainer settings (one epoch) and a voice-ensemble of ``members`` trained
    on it (seed 3) into ``tmp_path/whole``."""
    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    common = tiny_training(epochs=1)
    whole = train_voice.train(corpus, tmp_path / "whole", name="e", seed=3, members=members, **common)
    assert whole["architecture"] == "voice-ensemble"
    return corpus, common, whole


def _tiny_corpus(root: Path) -> Path:
    (root / "clips").mkdir(parents=True)
    rows = []
    for i in range(16):
        fake = i % 2 == 1
        x = vowelish(2.0, f0=100 + 7 * i, seed=i)
        if fake:  # a crude "vocoder": noise-excited copy with the same envelope
            x = (np.abs(x) * np.random.default_rng(i).normal(size=x.size) * 0.8).astype(np.float32)
        name = f"clips/{i:03d}.wav"
        wav(root / name, x)
        split = "val" if i >= 12 else "train"
        rows.append({"path": name, "label": "fake" if fake else "real", "family": "vocoder" if fake else "real",
                     "generator": "t", "speaker": f"s{i}", "split": split, "source": "test", "seconds": "2.0"})  # fmt: skip
    with (root / "meta.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root


def test_two_step_training_run_writes_verified_weights_and_card(tmp_path: Path) -> None:
    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    meta = train_voice.train(
        corpus,
        tmp_path / "out",
        name="voice-tiny",
        members=["linear", "phase"],
        epochs=2,
        batch=4,
        seed=1,
        arch=TINY,
        music_beds_on=False,
    )
    assert meta["architecture"] == "LCNN-ensemble" and len(meta["arch"]["members"]) == 2
    assert [m["seed"] for m in meta["training"]["members"]] == [1, 2]
    assert set(meta["member_evaluation"]) == {"linear", "phase"}
    assert meta["parameters"] < 100_000
    assert set(meta["operating_points"]) == {"0.01", "0.05", "0.1"}
    assert "heldback_speakers" in meta["evaluation"] and "all_validation" in meta["evaluation"]
    gens = meta["evaluation_by_generator"]["heldback_speakers"]
    assert set(gens) == {"t"} and gens["t"]["n_fake"] == 2 and 0 <= gens["t"]["tpr_at_fpr_0.05"] <= 1
    clf = VoiceClassifier(WeightInfo(tmp_path / "out", meta))
    assert clf.logits([vowelish(2.0)]).shape == (1,)
    card = (tmp_path / "out" / "voice-tiny.md").read_text()
    for section in REQUIRED_CARD_SECTIONS:
        assert f"## {section}" in card
    assert meta["sha256"] in card
    assert meta["training"]["debian_recordings"] == [] and "none was installed" in card
    iv = meta["evaluation"]["heldback_speakers"]["intervals"]
    assert (
        "groups" in iv["method"]
        and iv["eer"][0] <= meta["evaluation"]["heldback_speakers"]["eer"] <= iv["eer"][1]
    )
    assert "drawing whole speakers" in card


def test_remeasure_records_the_evaluation_again_and_keeps_the_calibration(tmp_path: Path) -> None:
    import json

    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    meta = train_voice.train(
        corpus, out, name="voice-tiny", members=["linear"], epochs=1, batch=4, seed=3, arch=TINY,
        music_beds_on=False, threads=1,
    )  # fmt: skip
    path = out / "voice-tiny.json"
    doc = json.loads(path.read_text())
    doc["evaluation"] = {}  # as weights written before the intervals were recorded
    doc["calibration"]["a"] += 1.0  # a calibration the validation clips would not give
    path.write_text(json.dumps(doc))
    assert (
        train_voice.main(["--corpus", str(corpus), "--out", str(out), "--name", "voice-tiny", "--remeasure"])
        == 0
    )
    again = json.loads(path.read_text())
    assert again["calibration"] == doc["calibration"] and again["operating_points"] == doc["operating_points"]
    assert again["evaluation"] == meta["evaluation"]  # the same clips and tensors give the same numbers
    assert "drawing whole speakers" in (out / "voice-tiny.md").read_text()


def test_members_of_one_kind_are_reported_apart(tmp_path: Path) -> None:
    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    meta = train_voice.train(
        corpus, tmp_path / "out", name="pp", members=["phase", "phase"], epochs=1, batch=4, seed=5,
        arch=TINY, music_beds_on=False, threads=1,
    )  # fmt: skip
    assert set(meta["member_evaluation"]) == {"phase, seed 5", "phase, seed 6"}
    assert "--members phase,phase" in meta["training"]["command"]


def test_compare_adds_earlier_weights_scored_on_the_same_clips(tmp_path: Path) -> None:
    from detectors.weights import sha256_file
    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    common = tiny_training(epochs=1)
    old = train_voice.train(corpus, tmp_path / "old", name="v-old", seed=3, members=["linear"], **common)
    new = train_voice.train(corpus, tmp_path / "new", name="v-new", seed=4, members=["phase"], **common)
    before = sha256_file(tmp_path / "new" / "v-new.safetensors")
    argv = ["--corpus", str(corpus), "--out", str(tmp_path / "new"), "--name", "v-new"]
    for _ in range(2):  # a second run replaces the entry instead of adding another
        assert train_voice.main([*argv, "--compare", str(tmp_path / "old" / "v-old.json")]) == 0
    meta = json.loads((tmp_path / "new" / "v-new.json").read_text())
    (row,) = meta["comparison"]
    assert row["name"] == "v-old" and row["sha256"] == old["sha256"]
    # the earlier weights' own EER on these clips, as their training run measured it
    assert row["eer"] == {k: v["eer"] for k, v in old["evaluation"].items()}
    assert meta["evaluation"] == new["evaluation"] and meta["sha256"] == before
    assert sha256_file(tmp_path / "new" / "v-new.safetensors") == before
    card = (tmp_path / "new" / "v-new.md").read_text()
    assert "| v-old | " in card and "| v-new (this card) | " in card
    with pytest.raises(WeightsError):
        train_voice.main([*argv, "--compare", str(tmp_path / "missing.json")])


def test_framing_records_each_sets_eer_with_the_clips_started_later(tmp_path: Path) -> None:
    from detectors import metrics
    from detectors.weights import read_info, sha256_file
    from training import train_voice, voice_card

    corpus = _tiny_corpus(tmp_path / "corpus")
    meta = train_voice.train(
        corpus, tmp_path / "w", name="v", seed=4, members=["phase"], **tiny_training(epochs=1)
    )
    before = sha256_file(tmp_path / "w" / "v.safetensors")
    argv = ["--corpus", str(corpus), "--out", str(tmp_path / "w"), "--name", "v", "--framing"]
    assert train_voice.main(argv) == 0
    again = json.loads((tmp_path / "w" / "v.json").read_text())
    fr = again["evaluation_framing"]
    assert fr["rate"] == 16000 and fr["shifts"] == list(train_voice.FRAMING_SHIFTS)
    assert set(fr["eer"]) == set(meta["evaluation"])
    # the first start is the evaluation table's own framing
    assert {k: v[0] for k, v in fr["eer"].items()} == {k: v["eer"] for k, v in meta["evaluation"].items()}
    # the last: every validation clip without its first 160 samples, scored by the same tensors
    rows, waves = train_voice.load_corpus(corpus)
    idx = train_voice.validation_sets(rows)["all_validation"]
    model = train_voice._load_model(read_info(tmp_path / "w" / "v.json"))
    logits = train_voice.score(model, [waves[i][160:] for i in idx])
    labels = [rows[i]["label"] == "fake" for i in idx]
    assert fr["eer"]["all_validation"][-1] == round(metrics.eer(labels, logits), 4)
    assert again["evaluation"] == meta["evaluation"] and again["calibration"] == meta["calibration"]
    assert sha256_file(tmp_path / "w" / "v.safetensors") == before
    card = (tmp_path / "w" / "v.md").read_text()
    assert "| set | 0 ms | 2.5 ms | 5 ms | 7.5 ms | 10 ms | mean | spread |" in card
    assert "| all_validation | " in card.split("| mean | spread |")[1]
    assert "another build" not in card  # the first start is the evaluation table's, to the digit
    again["evaluation"]["all_validation"]["eer"] += 0.1  # as if the table had been measured on other clips
    other = voice_card.render(again)
    assert "another build" in other and "at the first start the two differ in all_validation (" in other


def test_validation_sets_keep_voice_split_families_apart() -> None:
    from training.train_voice import validation_sets

    def row(split: str, label: str, family: str, source: str = "x") -> dict[str, str]:
        return {"split": split, "label": label, "family": family, "source": source}

    rows = [
        row("train", "fake", "espeak"),
        row("train", "fake", "kokoro"),
        row("val", "real", "real"),  # 2: a held-back speaker
        row("val", "real", "real", "speech/demos/hierspeechpp_demo/real/a.flac"),  # 3
        row("val", "fake", "espeak"),  # 4: a held-back espeak-ng voice
        row("val", "fake", "kokoro"),  # 5: a held-out Kokoro voice
        row("val", "fake", "flite"),  # 6: a family never trained on
        row("val", "fake", "neural", "speech/demos/hierspeechpp_demo/fake/b.flac"),  # 7
    ]
    sets = {k: sorted(v.tolist()) for k, v in validation_sets(rows).items()}
    assert sets == {
        "heldback_speakers": [2, 4],
        "heldback_voices_kokoro": [2, 5],
        "heldout_family_flite": [2, 3, 6],
        "heldout_neural_hierspeechpp": [2, 3, 7],
        "all_validation": [2, 3, 4, 5, 6, 7],
    }


def test_by_generator_hand_computed() -> None:
    from training.train_voice import by_generator

    rows = [{"label": "real", "generator": "human"}] * 4 + [
        {"label": "fake", "generator": "a"},
        {"label": "fake", "generator": "a"},
        {"label": "fake", "generator": "b"},
    ]
    logits = np.array([0.0, 1.0, 2.0, 3.0, 3.5, 0.5, 1.5])
    out = by_generator(logits, rows, np.arange(7))
    # a: 3.5 beats all four reals, 0.5 beats one -> 5/8; b: 1.5 beats two -> 2/4
    assert out["a"]["auc"] == pytest.approx(5 / 8) and out["b"]["auc"] == pytest.approx(0.5)
    # at 5 % FPR on four reals no real may be flagged: only scores above 3.0 count
    assert out["a"]["tpr_at_fpr_0.05"] == 0.5 and out["b"]["tpr_at_fpr_0.05"] == 0.0
    assert out["a"]["n_fake"] == 2 and set(out) == {"a", "b"}


def test_training_draws_clips_by_the_corpus_weights() -> None:
    from training.train_voice import draw_probabilities

    rows = [{"weight": "2"}, {"weight": "0"}, {"weight": "1"}, {}]
    assert draw_probabilities(rows, np.array([0, 1, 2])).tolist() == pytest.approx([2 / 3, 0, 1 / 3])
    assert draw_probabilities(rows, np.array([3])).tolist() == [1.0]  # no column: uniform
    with pytest.raises(SystemExit, match="weight"):
        draw_probabilities([{"weight": "-1"}, {"weight": "1"}], np.array([0, 1]))


def test_demo_real_share_rescales_draws_within_the_group() -> None:
    from training.train_voice import is_demo, with_share

    p = np.array([0.1, 0.3, 0.2, 0.4])
    group = np.array([True, False, True, False])
    out = with_share(p, group, 0.6)
    assert out[group].sum() == pytest.approx(0.6) and out.sum() == pytest.approx(1.0)
    assert out[0] / out[2] == pytest.approx(0.5) and out[1] / out[3] == pytest.approx(0.75)  # ratios kept
    with pytest.raises(SystemExit, match="share"):
        with_share(p, group, 1.0)
    with pytest.raises(SystemExit, match="inside and outside"):
        with_share(p, np.zeros(4, bool), 0.5)
    assert is_demo({"source": "speech/demos/voicecraft_demo/a.wav"})
    assert not is_demo({"source": "speech/real/x/a.flac"})


def test_ensemble_assembled_from_members_equals_one_run(tmp_path: Path) -> None:
    """``--combine`` of single-member runs gives the same tensors as training the ensemble."""
    from safetensors.numpy import load_file

    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    common = tiny_training(epochs=2)
    whole = train_voice.train(
        corpus, tmp_path / "whole", name="e", seed=3, members=["linear", "phase"], **common
    )
    train_voice.train(corpus, tmp_path / "a", name="a", seed=3, members=["linear"], **common)
    train_voice.train(corpus, tmp_path / "b", name="b", seed=4, members=["phase"], **common)
    combined = train_voice.combine(
        corpus, tmp_path / "c", "e", [tmp_path / "a" / "a.json", tmp_path / "b" / "b.json"]
    )
    assert combined["arch"] == whole["arch"]
    x, y = load_file(tmp_path / "whole" / "e.safetensors"), load_file(tmp_path / "c" / "e.safetensors")
    assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
    assert combined["training"]["command"].endswith("--members linear,phase --epochs 2 --parallel")
    # the members trained at the same time, one process each: the same tensors again
    par = train_voice.train(
        corpus, tmp_path / "p", name="e", seed=3, members=["linear", "phase"], parallel=True, **common
    )
    z = load_file(tmp_path / "p" / "e.safetensors")
    assert z.keys() == x.keys() and all(np.array_equal(x[k], z[k]) for k in x)
    assert par["training"]["parallel_members"] and par["training"]["command"].endswith("--parallel")
    with pytest.raises(SystemExit, match="seed"):
        train_voice.combine(
            corpus, tmp_path / "d", "e", [tmp_path / "b" / "b.json", tmp_path / "a" / "a.json"]
        )


def test_batches_made_by_workers_depend_only_on_seed_and_index(tmp_path: Path) -> None:
    from training.train_voice import BatchDraws, load_corpus

    rows, waves = load_corpus(_tiny_corpus(tmp_path / "corpus"))
    labels = np.array([r["label"] == "fake" for r in rows], dtype=np.float32)
    third = np.full(3, 1 / 3)
    pools = (np.array([0, 2, 4]), third, np.array([1, 3, 5]), third)
    draws = BatchDraws(waves, labels, pools, batch=4, seed=5, total=3, beds=[])
    (x1, y1), (x1_again, y1_again), (x0, _) = draws[1], draws[1], draws[0]
    assert torch.equal(x1, x1_again) and torch.equal(y1, y1_again)
    assert y1.tolist() == [0.0, 0.0, 1.0, 1.0]  # half real, half fake
    assert x0.shape != x1.shape or not torch.equal(x0, x1)


def test_training_with_workers_a_width_and_the_corpus_music_beds(tmp_path: Path) -> None:
    import soundfile as sf

    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    (corpus / "music_beds").mkdir()
    sf.write(corpus / "music_beds" / "bed000.flac", 0.1 * np.sin(np.arange(32000) / 7.0), 16000)
    meta = train_voice.train(
        corpus, tmp_path / "out", name="voice-w", epochs=2, batch=4, seed=1, arch=TINY, width=12, workers=1
    )
    assert meta["arch"]["width"] == 12 and meta["training"]["workers"] == 1
    assert "--width 12" in meta["training"]["command"] and "--workers 1" in meta["training"]["command"]
    assert "1 soundtrack excerpts" in meta["training"]["augmentation"]


def test_training_in_bfloat16_records_it_and_keeps_float32_weights(tmp_path: Path) -> None:
    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    meta = train_voice.train(
        corpus, tmp_path / "out", name="voice-bf", epochs=1, batch=4, seed=1, arch=TINY, precision="bfloat16"
    )
    assert (
        meta["training"]["precision"] == "bfloat16" and "--precision bfloat16" in meta["training"]["command"]
    )
    assert "bfloat16 autocast" in (tmp_path / "out" / "voice-bf.md").read_text()
    [info] = list_weights(tmp_path / "out")
    assert info.problems() == [] and info.meta["parameters"] > 0
    with pytest.raises(SystemExit, match="precision"):
        train_voice.train(
            corpus, tmp_path / "x", name="voice-x", epochs=1, batch=4, arch=TINY, precision="fp8"
        )


def test_training_can_keep_a_uniform_average_of_the_last_steps(tmp_path: Path) -> None:
    """``--average-last``: the training run is unchanged, and what is kept is the mean of the
    weights after each of the run's last steps instead of a selected epoch (an average of one step
    is the plain last weights)."""
    from safetensors.numpy import load_file

    from training import train_voice, voice_card

    corpus = _tiny_corpus(tmp_path / "corpus")
    common = tiny_training(epochs=1)  # 12 training clips in batches of 4: three steps
    plain = train_voice.train(corpus, tmp_path / "p", name="p", seed=2, **common)
    one = train_voice.train(corpus, tmp_path / "o", name="o", seed=2, average_last=1e-6, **common)
    every = train_voice.train(corpus, tmp_path / "a", name="a", seed=2, average_last=1.0, **common)
    p, o, a = (load_file(tmp_path / d / f"{d}.safetensors") for d in "poa")
    assert all(np.array_equal(p[k], o[k]) for k in p)  # the last step alone: the plain weights
    assert any(not np.array_equal(p[k], a[k]) for k in p if p[k].dtype.kind == "f")
    assert one["training"]["members"][0]["averaged_steps"] == 1
    member = every["training"]["members"][0]
    assert member["averaged_steps"] == 3 and member["selected_epoch"] is None and "plain_best" in member
    assert every["training"]["average_last"] == 1.0 and "--average-last 1" in every["training"]["command"]
    assert "average_last" not in plain["training"] and "averaged_steps" not in plain["training"]["members"][0]
    card = voice_card.render(every)
    assert "uniform average of its weights after each of its last 3 training steps" in card
    assert "kept epoch" in voice_card.render(plain)
    # combine keeps the record of how the member's weights were kept
    again = train_voice.combine(corpus, tmp_path / "c", "c", [tmp_path / "a" / "a.json"])
    assert again["training"]["members"][0]["averaged_steps"] == 3
    with pytest.raises(SystemExit):
        train_voice.main(["--corpus", str(corpus), "--out", str(tmp_path / "x"), "--average-last", "2"])


def test_sharpness_aware_step_takes_the_gradient_at_the_climbed_weights() -> None:
    """On f(w) = sum(a w^2) / 2 the gradient is a w, so with plain SGD (lr 1) a SAM step must land
    at w - a (w + rho g / |g|), g = a w, and leave the weights it climbed to behind."""
    from training.sam import sharpness_aware_step

    a = torch.tensor([1.0, 3.0])
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
    w0 = model.w.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loss = sharpness_aware_step(model, lambda: (a * model.w**2).sum() / 2, opt, rho=0.5)
    g = a * w0
    expected = w0 - a * (w0 + 0.5 * g / g.norm())
    assert torch.allclose(model.w.detach(), expected, atol=1e-6)
    assert float(loss) == pytest.approx(float((a * w0**2).sum() / 2))
    # rho 0 is a plain gradient step
    model.w.data.copy_(w0)
    sharpness_aware_step(model, lambda: (a * model.w**2).sum() / 2, opt, rho=0.0)
    assert torch.allclose(model.w.detach(), w0 - g, atol=1e-6)


def test_sharpness_aware_step_counts_each_batch_once_in_batchnorm_statistics() -> None:
    from training.sam import sharpness_aware_step

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    twin = copy.deepcopy(net)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sharpness_aware_step(net, lambda: ((net(x) - y) ** 2).mean(), opt, rho=0.05)
    twin(x)  # one plain training pass over the batch
    bn, once = net[1], twin[1]
    assert torch.allclose(bn.running_mean, once.running_mean) and torch.allclose(
        bn.running_var, once.running_var
    )
    assert int(bn.num_batches_tracked) == 1 and bn.momentum == once.momentum


def _plain_and_with(tmp_path: Path, **option: float) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The tiny corpus and two one-epoch runs of the same seed on it, plain and with the trainer
    ``option``; the option must change the tensors."""
    from safetensors.numpy import load_file

    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    common = tiny_training(epochs=1)
    plain = train_voice.train(corpus, tmp_path / "p", name="p", seed=2, **common)
    meta = train_voice.train(corpus, tmp_path / "s", name="s", seed=2, **option, **common)
    p, s = (load_file(tmp_path / d / f"{d}.safetensors") for d in "ps")
    assert any(not np.array_equal(p[k], s[k]) for k in p if p[k].dtype.kind == "f")
    return corpus, plain, meta


def test_training_with_sharpness_aware_steps_is_recorded(tmp_path: Path) -> None:
    from training import train_voice, voice_card

    corpus, plain, meta = _plain_and_with(tmp_path, sam=0.05)
    assert meta["training"]["sam_rho"] == 0.05 and "--sam 0.05" in meta["training"]["command"]
    assert meta["training"]["members"][0]["sam_rho"] == 0.05 and "sam_rho" not in plain["training"]
    assert "sharpness-aware steps of radius 0.05" in voice_card.render(meta)
    assert "sharpness-aware" not in voice_card.render(plain)
    with pytest.raises(SystemExit):
        train_voice.main(["--corpus", str(corpus), "--out", str(tmp_path / "x"), "--sam", "-1"])


def test_label_smoothing_moves_the_targets_and_is_recorded(tmp_path: Path) -> None:
    from training import train_voice, voice_card

    y = torch.tensor([0.0, 1.0])
    assert torch.allclose(train_voice.smoothed(y, 0.1), torch.tensor([0.05, 0.95]))
    assert train_voice.smoothed(y, 0.0) is y
    corpus, plain, meta = _plain_and_with(tmp_path, label_smoothing=0.1)
    assert (
        meta["training"]["label_smoothing"] == 0.1 and "--label-smoothing 0.1" in meta["training"]["command"]
    )
    assert (
        meta["training"]["members"][0]["label_smoothing"] == 0.1
        and "label_smoothing" not in plain["training"]
    )
    assert "label-smoothed targets 0.05 and 0.95 (ε = 0.1)" in voice_card.render(meta)
    assert "label-smoothed" not in voice_card.render(plain)
    with pytest.raises(SystemExit):
        train_voice.main(["--corpus", str(corpus), "--out", str(tmp_path / "x"), "--label-smoothing", "1"])


def test_speed_perturbation_scales_the_pitch_by_the_drawn_factor() -> None:
    from fractions import Fraction

    from training import train_voice

    rate, n = train_voice.RATE, 32000
    tone = np.sin(2 * np.pi * 200.0 * np.arange(3 * rate) / rate).astype(np.float32)
    factors = []
    for seed in range(4):
        f = Fraction(np.random.default_rng(seed).uniform(0.9, 1.1)).limit_denominator(50)  # its first draw
        y = train_voice.speed_perturbed(tone, n, np.random.default_rng(seed))
        assert y.shape == (n,) and y.dtype == np.float32
        peak = np.argmax(np.abs(np.fft.rfft(y * np.hanning(n)))) * rate / n
        assert peak == pytest.approx(200.0 * float(f), abs=1.0)
        factors.append(float(f))
    assert max(abs(f - 1) for f in factors) > 0.03  # the pitch did move


def test_training_with_speed_perturbation_is_recorded(tmp_path: Path) -> None:
    from training import train_voice, voice_card

    corpus, plain, meta = _plain_and_with(tmp_path, speed_perturb=0.5)
    assert meta["training"]["speed_perturb"] == 0.5 and "--speed-perturb 0.5" in meta["training"]["command"]
    assert meta["training"]["members"][0]["speed_perturb"] == 0.5 and "speed_perturb" not in plain["training"]
    assert meta["training"]["augmentation"].startswith("speed perturbation (p 0.5): factor 0.9–1.1")
    assert "speed-perturbed training clips (p 0.5)" in voice_card.render(meta)
    assert "speed-perturbed" not in voice_card.render(plain)
    with pytest.raises(SystemExit):
        train_voice.main(["--corpus", str(corpus), "--out", str(tmp_path / "x"), "--speed-perturb", "1.5"])


def test_voice_pack_round_trip(tmp_path: Path) -> None:
    from training import parts as parts_mod
    from training import voice_pack

    corpus = _tiny_corpus(tmp_path / "corpus")
    parts = voice_pack.pack(corpus, tmp_path / "pack", part_mb=0.15, with_beds=False)
    assert len(parts) > 1 and all(p.stat().st_size for p in (tmp_path / "pack").rglob("*.wav"))
    assert parts_mod.join(tmp_path / "pack", tmp_path / "joined") == 17  # 16 clips and meta.csv
    for rel in voice_pack.corpus_files(corpus):
        assert (tmp_path / "joined" / rel).read_bytes() == (corpus / rel).read_bytes()


def test_specnet_member_trains_from_imagenet_weights_and_joins_an_ensemble(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spectrogram member: trained by its own recipe from the ImageNet backbone, weighed as a
    front-end family of its own, assembled by ``--combine`` from an ensemble and a single member
    with the same tensors as one run, and scored by the detector."""
    from safetensors.numpy import load_file

    from detectors.models.specnet import SpecNet
    from training import train_voice
    from training.train_face import pretrained_backbone

    monkeypatch.setitem(train_voice.SPECNET_RECIPE, "epochs", 1)  # 12 in the shipped recipe
    corpus, common, whole = tiny_ensemble(tmp_path, ["linear", "phase", "specnet"])
    assert [m["kind"] for m in whole["arch"]["members"]] == ["lcnn", "lcnn", "specnet"]
    assert whole["arch"]["weights"] == pytest.approx([0.25, 0.25, 0.5])  # two front-end families
    assert whole["training"]["specnet"]["epochs"] == 1 and "ImageNet" in whole["license"]
    assert (
        "specnet" in whole["input"]["front_end"]
        and "--members linear,phase,specnet" in whole["training"]["command"]
    )
    # the first epoch moved the network away from its ImageNet start, all but the new head
    state = load_file(tmp_path / "whole" / "e.safetensors")
    start = pretrained_backbone()["_blocks.0._depthwise_conv.weight"].numpy()
    trained = state["members.2.net._blocks.0._depthwise_conv.weight"]
    assert trained.shape == start.shape and not np.allclose(trained, start)
    assert np.corrcoef(trained.ravel(), start.ravel())[0, 1] > 0.9  # fine-tuned, not re-initialised
    # the LCNN pair as an ensemble of its own, then the specnet member alone (seed 5), combined
    train_voice.train(corpus, tmp_path / "a", name="a", seed=3, members=["linear", "phase"], **common)
    single = train_voice.train(corpus, tmp_path / "b", name="b", seed=5, members=["specnet"], **common)
    assert single["architecture"] == "SpecNet"
    combined = train_voice.combine(
        corpus, tmp_path / "c", "e", [tmp_path / "a" / "a.json", tmp_path / "b" / "b.json"]
    )
    assert combined["arch"] == whole["arch"]
    y = load_file(tmp_path / "c" / "e.safetensors")
    assert y.keys() == state.keys() and all(np.array_equal(state[k], y[k]) for k in y)
    assert [m["seed"] for m in combined["training"]["members"]] == [3, 4, 5]
    clf = VoiceClassifier(WeightInfo(tmp_path / "c", combined))
    assert clf.logits([vowelish(4.0), vowelish(2.5)]).shape == (2,)
    spec = SpecNet()
    assert spec.image(torch.zeros(2, RATE)).shape == (2, 3, 128, 101)


def test_stacked_specnet_reads_mel_linear_and_phase_channels() -> None:
    """``specnet-stack``: the picture's three channels are the mel member's log-mel bands, the linear
    member's bands, and a phase-stability channel that tells a steady tone from noise."""
    from detectors.models.lcnn import phase_stability
    from detectors.models.specnet import SpecNet
    from training import train_voice, voice_card

    stack, mel, lin = SpecNet(scale="stack"), SpecNet(), SpecNet(scale="linear", fmin=0.0)
    x = torch.from_numpy(vowelish(1.0)[None])
    img = stack.image(x)
    assert img.shape == (1, 3, 128, 101)
    assert torch.allclose(img[:, 0], mel.image(x)[:, 0], atol=1e-5)
    assert torch.allclose(img[:, 1], lin.image(x)[:, 0], atol=1e-5)
    assert not torch.allclose(img[:, 2], img[:, 1], atol=0.1)

    t = torch.arange(RATE) / RATE
    tone = 0.5 * torch.sin(2 * torch.pi * 1000.0 * t)[None]
    noise = torch.from_numpy(np.random.default_rng(0).standard_normal(RATE).astype(np.float32))[None] * 0.1
    band = int(stack.lin_fbank[:, 64].argmax())  # the band around 1 kHz (bin 64 of 513)
    for wave, low, high in ((tone, 0.99, 1.0), (noise, -0.6, 0.6)):
        spec = torch.stft(wave, 1024, 160, 512, torch.hann_window(512), center=True, return_complex=True)
        value = float(phase_stability(spec, stack.lin_fbank)[0, band, 10:-10].mean())
        assert low <= value <= high + 1e-6, value

    assert train_voice.trainer_kind("specnet", {"scale": "stack"}) == "specnet-stack"
    assert "phase stability" in voice_card._specnet_text({"scale": "stack"})


def test_small_specnet_member_is_the_network_cut_after_twelve_blocks() -> None:
    """``specnet-small``: EfficientNet-Lite0 cut after its 12th block (the first 192-channel one),
    pooled straight into the head; ImageNet weights fill everything kept, the metadata's ``blocks``
    rebuilds the same network, and the card says it is cut."""
    from detectors.models.efficientnet_lite import FULL_BLOCKS, EfficientNetLite0
    from detectors.models.lcnn import build_member
    from detectors.models.specnet import SpecNet
    from training import train_voice, voice_card
    from training.train_face import pretrained_backbone

    arch = {**train_voice.SPECNET_ARCH, **train_voice.SPECNETS["specnet-small"]}
    small = train_voice.new_member("specnet-small", arch)
    assert isinstance(small, SpecNet) and len(small.net._blocks) == 12 < FULL_BLOCKS
    assert small.net._fc.in_features == 192 and not hasattr(small.net, "_conv_head")
    trained = sum(p.numel() for p in small.parameters() if p.requires_grad)
    full = sum(p.numel() for p in SpecNet().parameters() if p.requires_grad)
    assert 0.9e6 < trained < 1.0e6 and full > 3 * trained
    imagenet = pretrained_backbone()
    cut, whole = EfficientNetLite0(1, blocks=12).eval(), EfficientNetLite0(1).eval()
    missing, unexpected = cut.load_state_dict(imagenet, strict=False)
    assert sorted(missing) == ["_fc.bias", "_fc.weight"]  # every kept layer starts from ImageNet
    assert unexpected and all(k.startswith(("_blocks.1", "_conv_head", "_bn1")) for k in unexpected)
    assert not any(k.startswith(tuple(f"_blocks.{i}." for i in range(12))) for k in unexpected)
    whole.load_state_dict(imagenet, strict=False)
    x = torch.randn(1, 3, 128, 101)
    with torch.no_grad():  # the cut network's features are the whole one's after its 12th block
        h = torch.nn.functional.relu6(whole._bn0(whole._conv_stem(x)))
        for block in whole._blocks[:12]:
            h = block(h)
        assert torch.allclose(cut.features(x), h, atol=1e-5) and h.shape[1] == 192
    with pytest.raises(ValueError, match="blocks"):
        EfficientNetLite0(1, blocks=17)

    rebuilt = build_member({"kind": "specnet", **arch})
    assert rebuilt.state_dict().keys() == small.state_dict().keys()
    small.eval()
    assert small(torch.from_numpy(vowelish(1.5)[None])).shape == (1,)
    assert train_voice.trainer_kind("specnet", arch) == "specnet-small"
    assert train_voice.trainer_kind("specnet", train_voice.SPECNET_ARCH) == "specnet"
    assert "cut to its first 12 blocks" in voice_card._specnet_text(arch)
    assert voice_card._specnet_text(train_voice.SPECNET_ARCH).endswith(
        "EfficientNet-Lite0 fine-tuned on 128-band log-mel spectrograms read as pictures"
    )


def test_linear_band_specnet_member_keeps_its_bands_through_combine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``specnet-linear``: the spectrogram network on bands spaced linearly in frequency, recorded as
    such in the metadata and the card, rebuilt with those bands by the detector, and named by its
    own kind when ``--combine`` reads it back."""
    from detectors.models.specnet import SpecNet
    from training import train_voice, voice_card

    lin, mel = SpecNet(scale="linear", fmin=0.0), SpecNet()  # the trainer's specnet-linear
    assert lin.fbank.shape == mel.fbank.shape == (128, 513)
    hz = torch.linspace(0, RATE / 2, 513)
    peaks = hz[lin.fbank.argmax(dim=1)]
    steps = peaks.diff()
    assert steps.max() - steps.min() <= 16.0  # evenly spaced, within one FFT bin (15.6 Hz)
    assert peaks[-1] > 7900 and float(hz[mel.fbank.argmax(dim=1)].diff()[-1]) > 3 * float(steps.mean())
    with pytest.raises(ValueError, match="scale"):
        SpecNet(scale="bark")
    x = torch.from_numpy(vowelish(1.0)[None])
    assert not torch.allclose(lin.image(x), mel.image(x))

    monkeypatch.setitem(train_voice.SPECNET_RECIPE, "epochs", 1)
    corpus = _tiny_corpus(tmp_path / "corpus")
    common = tiny_training(epochs=1)
    single = train_voice.train(corpus, tmp_path / "s", name="s", seed=2, members=["specnet-linear"], **common)
    assert single["architecture"] == "SpecNet" and single["arch"]["scale"] == "linear"
    assert "linearly" in single["input"]["front_end"] and "linearly" in voice_card.render(single)
    clf = VoiceClassifier(WeightInfo(tmp_path / "s", single))
    member = next(m for m in clf.model.modules() if isinstance(m, SpecNet))
    assert torch.equal(member.fbank, lin.fbank)
    train_voice.train(corpus, tmp_path / "l", name="l", seed=1, members=["linear"], **common)
    combined = train_voice.combine(
        corpus, tmp_path / "c", "c", [tmp_path / "l" / "l.json", tmp_path / "s" / "s.json"]
    )
    assert combined["arch"]["members"][1]["scale"] == "linear"
    assert "-- --name c --members linear,specnet-linear" in combined["training"]["command"]
    card = voice_card.render(combined)
    assert "(linear bands)" in card and "Member specnet-linear" in card and "Note:" not in card
    # a note on how the members came to be goes into the card; a source's own note does not
    noted = train_voice.combine(corpus, tmp_path / "n", "n", [tmp_path / "c" / "c.json"], note="reused")
    assert noted["training"]["note"] == "reused" and "- Note: reused." in voice_card.render(noted)
    relabelled = json.loads((tmp_path / "n" / "n.json").read_text())
    relabelled["training"]["note"] = "only about n"
    (tmp_path / "n" / "n.json").write_text(json.dumps(relabelled))
    again = train_voice.combine(corpus, tmp_path / "m", "m", [tmp_path / "n" / "n.json"])
    assert "note" not in again["training"]

    # one member of an ensemble (A.json@K) joined with others, no LCNN among them: each spectrogram
    # network kind weighs alike, and no LCNN recipe is claimed
    small = train_voice.train(corpus, tmp_path / "t", name="t", seed=3, members=["specnet-small"], **common)
    assert small["arch"]["blocks"] == 12
    picked = train_voice.combine(
        corpus, tmp_path / "p", "p", [Path(f"{tmp_path / 'c' / 'c.json'}@1"), tmp_path / "t" / "t.json"]
    )
    assert [m["kind"] for m in picked["arch"]["members"]] == ["specnet", "specnet"]
    assert picked["arch"]["weights"] == pytest.approx([0.5, 0.5])
    from safetensors.numpy import load_file

    state = load_file(tmp_path / "p" / "p.safetensors")
    single_state = load_file(tmp_path / "s" / "s.safetensors")
    assert all(np.array_equal(state[f"members.0.{k}"], v) for k, v in single_state.items())
    tr = picked["training"]
    assert tr["seed"] == 2 and "epochs" not in tr and "lr" not in tr
    assert tr["command"].endswith("--seed 2 -- --name p --members specnet-linear,specnet-small")
    card = voice_card.render(picked)
    assert "the linear-band spectrogram network and the cut mel spectrogram network, weighs half" in card
    assert "epochs of class-balanced" not in card and "Member specnet-small" in card
    with pytest.raises(SystemExit, match="LCNN member first"):
        train_voice.combine(
            corpus, tmp_path / "q", "q", [tmp_path / "t" / "t.json", tmp_path / "l" / "l.json"]
        )
    with pytest.raises(SystemExit, match="members 0 to 1"):
        train_voice.combine(corpus, tmp_path / "q", "q", [Path(f"{tmp_path / 'c' / 'c.json'}@2")])


def test_views_are_noise_suppressed_copies_of_training_clips_only(tmp_path: Path) -> None:
    from training import voice_views
    from training.train_voice import load_corpus

    corpus = _tiny_corpus(tmp_path / "corpus")
    assert voice_views.main(["--corpus", str(corpus), "--per-clip", "2", "--seed", "1"]) == 0
    rows, waves = load_corpus(corpus)
    views = voice_views.load_views(corpus, rows)
    assert sorted(views) == [i for i, r in enumerate(rows) if r["split"] == "train"]  # no val clip
    for i, copies in views.items():
        assert len(copies) == 2
        for v in copies:  # same length and level, but not the same samples
            assert len(v) == len(waves[i])
            assert np.sqrt(np.mean(v**2)) == pytest.approx(np.sqrt(np.mean(waves[i] ** 2)), rel=0.05)
            assert not np.allclose(v, waves[i], atol=1e-3)
    with (corpus / voice_views.VIEWS_CSV).open() as fh:
        made = [r["made"] for r in csv.DictReader(fh)]
    assert any("afftdn" in m for m in made) == (shutil.which("ffmpeg") is not None) or not made


def test_gate_removes_steady_noise_between_bursts() -> None:
    from training.voice_views import spectral_gate

    rng = np.random.default_rng(0)
    x = 0.01 * rng.normal(size=32000).astype(np.float32)  # steady noise, a tone burst in the middle
    x[12000:20000] += 0.3 * np.sin(np.arange(8000) * 2 * np.pi * 200 / 16000).astype(np.float32)
    y, how = spectral_gate(x, np.random.default_rng(3))
    assert how.startswith("gate") and len(y) == len(x)
    quiet_before, quiet_after = np.mean(x[:8000] ** 2), np.mean(y[:8000] ** 2)
    assert quiet_after < quiet_before / 2  # the noise-only stretch is turned down
    assert np.mean(y[13000:19000] ** 2) > 0.5 * np.mean(x[13000:19000] ** 2)  # the tone stays


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_fft_denoise_undoes_the_filter_delay() -> None:
    from training.voice_views import fft_denoise

    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    y, how = fft_denoise(x + 0.003 * rng.normal(size=x.size).astype(np.float32), rng)
    assert how.startswith("afftdn") and len(y) == len(x)
    assert np.corrcoef(x[4000:-4000], y[4000:-4000])[0, 1] > 0.95  # aligned, not 25 ms late


def test_view_swaps_change_only_the_clips_drawn() -> None:
    """With --views the batches draw the same clips, lengths and crops as without (the swaps have a
    generator of their own); at p 1 every clip with views comes from them, at p 0 none does."""
    from training.train_voice import ViewSwap, draw_batch, view_generator

    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, 48000).astype(np.float32) for _ in range(6)]
    views = {k: [rng.normal(0, 0.1, 48000).astype(np.float32)] for k in range(6)}
    labels = np.array([0, 0, 0, 1, 1, 1], np.float32)
    third = np.full(3, 1 / 3)
    pools = (np.array([0, 1, 2]), third, np.array([3, 4, 5]), third)

    def batch(clips: list[np.ndarray], p: float | None) -> tuple[torch.Tensor, torch.Tensor]:
        swap = None if p is None else (ViewSwap(views, p), view_generator(7))
        return draw_batch(clips, labels, pools, 8, np.random.default_rng(7), [], swap)

    plain, y = batch(waves, None)
    only_views, _ = batch([views[k][0] for k in range(6)], None)
    none, y0 = batch(waves, 0.0)
    every, y1 = batch(waves, 1.0)
    half, _ = batch(waves, 0.5)
    assert torch.equal(plain, none) and torch.equal(y, y0) and torch.equal(y, y1)
    assert torch.equal(every, only_views)  # same clips, crops and augmentation, from the views
    from_views = [torch.equal(h, v) for h, v in zip(half, only_views, strict=True)]
    from_clips = [torch.equal(h, c) for h, c in zip(half, plain, strict=True)]
    assert all(a != b for a, b in zip(from_views, from_clips, strict=True)) and 0 < sum(from_views) < 8


def test_training_with_views_records_them_and_fits_the_probe_on_them(tmp_path: Path) -> None:
    from training import train_voice

    corpus = _tiny_corpus(tmp_path / "corpus")
    meta = train_voice.train(
        corpus, tmp_path / "out", name="voice-v", epochs=1, batch=4, seed=1, arch=TINY, view_p=0.5
    )  # the corpus has no views yet: the trainer writes them
    assert (corpus / "views.csv").is_file()
    views = meta["training"]["views"]
    assert views["p"] == 0.5 and views["per_clip"] == 2 and views["clips"] == 12
    assert views["fft"] + views["gate"] == 24
    assert "--views 0.5" in meta["training"]["command"]
    assert "noise suppression (p 0.5)" in meta["training"]["augmentation"]
    with pytest.raises(SystemExit, match="probability"):
        train_voice.train(corpus, tmp_path / "x", name="voice-x", epochs=1, batch=4, arch=TINY, view_p=1.5)


def test_card_names_only_the_debian_recordings_the_corpus_held() -> None:
    from training.voice_card import _debian_text

    assert "klettres-data" in _debian_text({}) and "where installed" in _debian_text({})  # older records
    only_alsa = _debian_text({"debian_recordings": ["alsa-utils"]})
    assert only_alsa.startswith("the human recordings of the Debian package alsa-utils (channel")
    assert "(klettres-data and fillets-ng-data were not installed" in only_alsa
    assert "none was installed" in _debian_text({"debian_recordings": []})
