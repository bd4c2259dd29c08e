"""Music without speech: the features, the shipped music-or-speech model on audio the tests
synthesise, the voice detector's "music" abstention, and a small training run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors.music import N_FEATURES, MusicClassifier, features
from detectors.speech import loudness_normalise
from detectors.voice import VoiceAnalyzer, VoiceClassifier
from tests.test_speech import RATE
from tests.test_voice import analyzer, tiny_voice_weights, wav

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (scripts/setup.sh installs it as root)",
)


def synth_music(seconds: float = 12.0, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """Chords, a melody, a kick drum and hi-hats at ``bpm``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    y = np.zeros_like(t)
    beat = 60 / bpm
    chords = ((261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7))
    for i, start in enumerate(np.arange(0, seconds, beat * 4)):
        m = (t >= start) & (t < start + beat * 4)
        for f in chords[i % 4]:
            for k in range(1, 6):
                y[m] += np.sin(2 * np.pi * f * k * t[m]) / k**1.5 * 0.2
    for start in np.arange(0, seconds, beat):
        a = int(start * RATE)
        tt = np.arange(min(int(0.15 * RATE), len(t) - a)) / RATE
        y[a : a + len(tt)] += np.sin(2 * np.pi * (60 + 80 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 20) * 0.8
        h = int((start + beat / 2) * RATE)
        hn = min(int(0.05 * RATE), len(t) - h)
        if hn > 0:
            y[h : h + hn] += rng.normal(0, 0.2, hn) * np.exp(-np.arange(hn) / RATE * 80)
    notes = (523.3, 587.3, 659.3, 698.5, 784.0, 659.3, 587.3, 523.3)
    for i, start in enumerate(np.arange(0, seconds, beat / 2)):
        m = (t >= start) & (t < start + beat / 2)
        y[m] += 0.25 * np.sin(2 * np.pi * notes[(i + seed) % len(notes)] * t[m]) * np.exp(-(t[m] - start) * 4)
    return (y / np.abs(y).max() * 0.6).astype(np.float32)


def speech(seconds: float = 12.0, voice: str = "en") -> np.ndarray:
    from training.voice_data import SENTENCES, espeak

    parts, n = [], 0
    for text in SENTENCES:
        parts.append(espeak(text, voice, 160, 50))
        n += len(parts[-1])
        if n >= seconds * RATE:
            break
    return np.concatenate(parts)[: int(seconds * RATE)].astype(np.float32)


def windows(x: np.ndarray) -> list[np.ndarray]:
    return [loudness_normalise(x[i : i + 4 * RATE]) for i in range(0, len(x) - 4 * RATE + 1, 4 * RATE)]


def test_features_have_a_fixed_size_and_scores_ignore_level() -> None:
    x = synth_music(4.0)
    f = features(x)
    assert f.shape == (N_FEATURES,) and np.isfinite(f).all()
    assert not np.allclose(features(synth_music(4.0, bpm=90, seed=1)), f, atol=1e-2)
    with pytest.raises(ValueError, match=r"0\.5 s"):
        features(x[: RATE // 4])
    model = MusicClassifier.default()
    p = model.music_probability([x, x * 0.05, synth_music(4.0, bpm=90, seed=1)])
    assert abs(p[0] - p[1]) < 1e-3 and abs(p[0] - p[2]) > 1e-3


def test_shipped_model_tells_music_from_speech() -> None:
    model = MusicClassifier.default()
    t = model.threshold()
    for bpm in (90, 120, 140):
        p = model.music_probability(windows(synth_music(12.0, bpm)))
        assert np.median(p) >= t, (bpm, p)


@needs_espeak
def test_shipped_model_keeps_speech_and_speech_over_music() -> None:
    model = MusicClassifier.default()
    t = model.threshold()
    s = speech(12.0)
    assert np.median(model.music_probability(windows(s))) < t
    bed = synth_music(12.0) * 0.3 * np.sqrt(np.mean(s**2) / np.mean(synth_music(12.0) ** 2))
    assert np.median(model.music_probability(windows(s + bed))) < t


def test_voice_detector_abstains_on_music(tmp_path: Path) -> None:
    p = wav(tmp_path / "song.wav", synth_music(10.0))
    r = analyzer(tmp_path, 5.0, music_bias=5.0).analyze(p)
    assert r.verdict == "abstained" and r.reason == "music" and r.score is None
    assert r.music_score is not None and r.music_score > 0.99
    d = r.as_dict()
    assert d["reason_text"] == "music without speech" and d["music_score"] > 0.99
    # the same file with a model that calls it speech is scored
    r = analyzer(tmp_path / "b", 5.0, music_bias=-5.0).analyze(p)
    assert r.verdict == "synthetic" and r.music_score is not None and r.music_score < 0.01


def test_shipped_music_model_sits_beside_test_voice_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voice weight folder without a music model falls back to the shipped one (also when
    $VERACITY_WEIGHTS names that folder), and a song through the whole pipeline abstains."""
    info = tiny_voice_weights(tmp_path, 5.0)
    (tmp_path / "music-test.json").unlink()
    monkeypatch.setenv("VERACITY_WEIGHTS", str(tmp_path))
    a = VoiceAnalyzer(VoiceClassifier(info))
    assert a.music.info.name.startswith("music-mlp")
    r = a.analyze(wav(tmp_path / "song.wav", synth_music(12.0)))
    assert r.reason == "music"


@needs_espeak
def test_music_training_runs_on_synthesised_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import music

    # the soundtracks' folders under a fake root, as WAV (PyAV has no Vorbis encoder)
    monkeypatch.setattr(music, "MUSIC", tuple((s, p.replace(".ogg", ".wav")) for s, p in music.MUSIC))
    root = tmp_path / "root"
    for _, pattern in music.MUSIC:
        folder = root / Path(pattern.lstrip("/")).parent
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(6):
            wav(folder / f"track{k}zik.wav", synth_music(9.0, 80 + 12 * k, seed=k))
    data = tmp_path / "data"
    voices = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en+f2", "en+m3", "en+f4")
    for k, voice in enumerate(voices):
        folder = data / "speech" / "real" / f"spk{k}"
        folder.mkdir(parents=True)
        wav(folder / "a.wav", speech(9.0, voice))
    out = tmp_path / "weights"
    assert (
        music.main(["--data", str(data), "--out", str(out), "--music-root", str(root), "--epochs", "30"]) == 0
    )
    meta = json.loads((out / f"{music.NAME}.json").read_text())
    assert meta["task"] == "music-detection" and meta["input"]["features"] == N_FEATURES
    assert set(meta["operating_points"]) == {"0.01", "0.05", "0.1"}
    counts = meta["training"]["windows"]
    assert counts["train:music"] > 0 and counts["val:speech+music"] > 0
    card = (out / meta["card"]).read_text()
    assert "## Evaluation" in card and meta["sha256"] in card
    model = MusicClassifier.default(out)
    assert model.music_probability(windows(synth_music(8.0, 100, seed=3))).shape == (2,)


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmin", "fmax"),
    [(16000, 400, 80, 0.0, None), (16000, 512, 40, 50.0, 7600.0), (22050, 2048, 128, 0.0, None)],
)
def test_mel_filterbank_equals_librosas_to_the_last_bit(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None
) -> None:
    """Whisper's and the music model's filters no longer come from librosa (whose import pulls in
    scipy.signal, seconds of a model's load): they must stay the very same filters."""
    import librosa

    from detectors.melscale import hz_to_mel, mel_filterbank, mel_to_hz

    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == (n_mels, 1 + n_fft // 2)
    assert np.array_equal(ours, theirs)
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 4321.0, 8000.0])
    assert np.allclose(hz_to_mel(hz), librosa.hz_to_mel(hz), rtol=1e-12)
    assert np.allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12)
