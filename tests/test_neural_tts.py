"""Offline neural TTS engines (Piper, Kokoro) that make fakes for the voice evaluation sets."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from detectors.speech import check
from training import neural_tts as nt

needs = {
    name: pytest.mark.skipif(
        name not in nt.available(),
        reason=f"{name} is not available: needs espeak-ng (scripts/setup.sh installs it as root) and the "
        "train extra (pip install -e '.[train]')",
    )
    for name in ("piper", "kokoro")
}


def test_espeak_ipa_to_kokoro_letters() -> None:
    assert nt.to_kokoro("ðə kwˈɪk bɹˈaʊn") == "ðə kwˈɪk bɹˈWn"
    assert nt.to_kokoro("dʒˈʌmps ˌoʊvɚ ðə lˈeɪzi") == "ʤˈʌmps ˌOvɚ ðə lˈAzi"
    assert nt.to_kokoro("tʃˈɜːtʃ  bˈɔɪ") == "ʧˈɜɹʧ bˈY"
    assert nt.to_kokoro("wˈɔːɾɚ  fˈaɪv") == "wˈɔTɚ fˈIv"


@needs["piper"]
def test_piper_phoneme_ids_frame_each_phoneme_with_pads() -> None:
    piper = nt.Piper()
    ids = piper.phoneme_ids(["hɛlˈoʊ"])
    bos, eos, pad = piper.ids["^"][0], piper.ids["$"][0], piper.ids["_"][0]
    assert ids[0] == bos and ids[-1] == eos
    body = ids[1:-1]
    assert body[0::2] == [pad] * len(body[0::2])  # a pad after the start and after each phoneme
    assert body[1::2] == [piper.ids[ch][0] for ch in "hɛlˈoʊ."]


def _is_speech(audio: np.ndarray, rate: int) -> None:
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    assert 0.05 < float(np.abs(audio).max()) <= 1.0
    result = check(librosa.resample(audio, orig_sr=rate, target_sr=16_000))
    assert result.reason is None, result.reason  # speech a detector would judge, not a tone or silence


@needs["piper"]
def test_piper_speaks_a_sentence() -> None:
    piper = nt.Piper()
    text = "Please call Stella and ask her to bring these things."
    audio = piper(text)
    assert piper.rate == 22_050
    assert 1.5 < len(audio) / piper.rate < 6.0
    _is_speech(audio, piper.rate)
    plain = piper(text, noise=0.0, noise_w=0.0)  # durations not sampled: the same length every time
    slow = piper(text, length=1.3, noise=0.0, noise_w=0.0)
    assert len(slow) > 1.15 * len(plain)  # the length scale stretches time
    assert np.array_equal(
        slow, piper(text, length=1.3, noise=0.0, noise_w=0.0)
    )  # no sampling noise: repeatable


@needs["kokoro"]
def test_kokoro_speaks_in_its_voices_and_their_mix() -> None:
    kokoro = nt.Kokoro()
    assert set(kokoro.voices) == {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"}
    text = "The museum opens at nine."
    a = kokoro(text, "jf_alpha")
    assert 0.8 < len(a) / kokoro.rate < 5.0
    _is_speech(a, kokoro.rate)
    n = len(kokoro.tokens(nt.espeak_ipa(text)))
    mixed = kokoro.style(("jf_alpha", "jm_kumo", 0.5), n)
    assert np.allclose(mixed, 0.5 * kokoro.style("jf_alpha", n) + 0.5 * kokoro.style("jm_kumo", n))
    b = kokoro(text, ("jf_alpha", "jm_kumo", 0.5))
    _is_speech(b, kokoro.rate)
    m = min(len(a), len(b))
    assert not np.allclose(a[:m], b[:m], atol=1e-3)


@needs["kokoro"]
def test_kokoro_model_parts_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    blob = nt.kokoro_model()
    assert len(blob) > 50_000_000
    monkeypatch.setattr(hashlib, "sha256", lambda data: hashlib.md5(data))  # a wrong digest
    with pytest.raises(RuntimeError, match="sha256"):
        nt.kokoro_model()
