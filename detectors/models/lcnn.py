"""A light CNN (LCNN) anti-spoofing model over log linear-frequency filterbank energies.

The front end is part of the model (no librosa at inference): pre-emphasis, STFT (25 ms Hann
window, 10 ms hop), a bank of triangular filters spaced *linearly* in frequency (as in LFCC,
which keeps the high-frequency detail where vocoders leave their traces), log, and per-clip
mean normalisation over time (removes fixed channel colouring and level). The body follows the
LCNN of the ASVspoof baselines (Lavrentyev et al. 2019; Wang & Yamagishi 2021): convolutions
with max-feature-map (MFM) activations, then mean+standard-deviation pooling over time and a
small MFM head. About 0.3 M parameters.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

RATE = 16_000


def linear_filterbank(
    n_filters: int, n_fft: int, rate: int = RATE, fmin: float = 0.0, fmax: float | None = None
) -> torch.Tensor:
    """(n_fft // 2 + 1, n_filters) triangular filters, their edges spaced linearly from ``fmin`` to
    ``fmax`` (default: half the sample rate)."""
    bins = n_fft // 2 + 1
    freqs = torch.linspace(0, rate / 2, bins)
    edges = torch.linspace(fmin, rate / 2 if fmax is None else fmax, n_filters + 2)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return torch.clamp(torch.minimum(up, down), min=0).T.contiguous()


def pre_emphasis(wave: torch.Tensor, coef: float = 0.97) -> torch.Tensor:
    """(B, T) → (B, T): the first sample kept, then x[t] - coef * x[t-1] (first-order high-pass)."""
    return torch.cat([wave[:, :1], wave[:, 1:] - coef * wave[:, :-1]], dim=1)


def phase_stability(spec: torch.Tensor, fbank: torch.Tensor, pad: str = "constant") -> torch.Tensor:
    """(B, bins, frames) complex STFT, (bands, bins) filters → (B, bands, frames): per band, the
    magnitude-weighted cosine of the frame-to-frame change of each bin's phase advance (near 1 where
    partials glide smoothly, lower for noise or for phase a vocoder rebuilt inconsistently); the
    first two frames, which have no such change, are zeros (``pad="constant"``) or copies of the
    third (``"replicate"``)."""
    step = spec[:, :, 1:] * spec[:, :, :-1].conj()  # phase advance per bin (its angle)
    accel = step[:, :, 1:] * step[:, :, :-1].conj()  # change of that advance
    mag = accel.abs()
    weight = mag.sqrt()
    cos = accel.real / (mag + 1e-12)
    coherence = torch.einsum("bft,kf->bkt", cos * weight, fbank) / (
        torch.einsum("bft,kf->bkt", weight, fbank) + 1e-9
    )
    return torch.nn.functional.pad(coherence, (2, 0), mode=pad)


class FrontEnd(nn.Module):
    """Waveform (B, T) at 16 kHz → normalised log filterbank energies (B, 1, n_filters, frames).

    With ``phase``, a second channel holds each filter's phase stability: for every STFT bin, the
    cosine of the change, from one frame to the next, of the phase advance between frames (the
    bin's instantaneous frequency changing), weighted by magnitude and pooled by the same filters:
    near 1 where partials glide smoothly, lower for noise or for phase that a vocoder rebuilt
    inconsistently (Griffin-Lim, for one). Magnitude features cannot see the phase; this channel
    can."""

    window: torch.Tensor
    fbank: torch.Tensor

    def __init__(
        self, n_filters: int = 60, n_fft: int = 512, win: int = 400, hop: int = 160, phase: bool = False
    ) -> None:
        super().__init__()
        self.n_fft, self.win, self.hop, self.phase = n_fft, win, hop, phase
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        self.register_buffer("fbank", linear_filterbank(n_filters, n_fft), persistent=False)

    @property
    def channels(self) -> int:
        return 2 if self.phase else 1

    @property
    def signature(self) -> tuple[int, int, int, int, bool]:
        """What the features depend on (no trained parameters): front ends with equal signatures
        give equal features for the same waveform."""
        return (self.n_fft, self.win, self.hop, int(self.fbank.shape[1]), self.phase)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = pre_emphasis(wave)
        spec = torch.stft(x, self.n_fft, self.hop, self.win, self.window, center=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()  # (B, bins, frames)
        pooled = torch.einsum("bft,fk->bkt", power, self.fbank)
        feats = torch.log(pooled + 1e-6)
        feats = feats - feats.mean(dim=2, keepdim=True)
        if not self.phase:
            return feats.unsqueeze(1)
        return torch.stack([feats, phase_stability(spec, self.fbank.T)], dim=1)


class MFM(nn.Module):
    """Max-feature-map: split the channels in two halves and keep the element-wise maximum."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.maximum(a, b)


def _conv(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, 2 * cout, k, padding=k // 2), MFM())


class LCNN(nn.Module):
    """Waveform (B, T) → one logit per clip; higher means more likely synthetic."""

    def __init__(
        self, n_filters: int = 60, width: int = 32, dropout: float = 0.3, phase: bool = False
    ) -> None:
        super().__init__()
        w = width
        self.front = FrontEnd(n_filters, phase=phase)
        self.body = nn.Sequential(
            _conv(self.front.channels, w, 5),
            nn.MaxPool2d(2),
            _conv(w, w, 1),
            nn.BatchNorm2d(w),
            _conv(w, int(w * 1.5), 3),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(int(w * 1.5)),
            _conv(int(w * 1.5), int(w * 1.5), 1),
            nn.BatchNorm2d(int(w * 1.5)),
            _conv(int(w * 1.5), 2 * w, 3),
            nn.MaxPool2d(2),
            _conv(2 * w, 2 * w, 1),
            nn.BatchNorm2d(2 * w),
            _conv(2 * w, w, 3),
            nn.BatchNorm2d(w),
            _conv(w, w, 1),
            nn.BatchNorm2d(w),
            _conv(w, w, 3),
            nn.MaxPool2d(2),
        )
        freq_out = n_filters // 16
        self.embed = w * freq_out
        self.head = nn.Sequential(
            nn.Linear(2 * self.embed, 2 * 80),
            MFM1d(),
            nn.BatchNorm1d(80),
            nn.Dropout(dropout),
            nn.Linear(80, 1),
        )
        self.spec_mask: tuple[int, int] = (0, 0)  # (max frequency bins, max frames) masked in training
        # convolutions and head in bfloat16 when evaluating on a CPU (set by the detector where the
        # CPU multiplies bfloat16 in hardware); training steps are unaffected
        self.bfloat16_inference = False
        # set by the detector for float32 inference through OpenVINO or ONNX Runtime: runs ``tail``
        # (the convolutions, pooling and head: about 2.8x faster in ONNX Runtime on an AVX2 CPU);
        # training steps and bfloat16 inference never use it
        self.onnx_tail: Callable[[np.ndarray], np.ndarray] | None = None

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        return self.front(wave)

    def tail(self, f: torch.Tensor) -> torch.Tensor:
        """Front-end features (B, C, F, T) → one logit per clip (B, 1)."""
        h = self.body(f)  # (B, C, F', T')
        h = h.flatten(1, 2)  # (B, C*F', T')
        stats = torch.cat([h.mean(dim=2), h.std(dim=2, unbiased=False)], dim=1)
        return self.head(stats)

    def _mask(self, f: torch.Tensor) -> torch.Tensor:
        fmax, tmax = self.spec_mask
        if not self.training or (fmax == 0 and tmax == 0):
            return f
        f = f.clone()
        b, _, nf, nt = f.shape
        for i in range(b):  # SpecAugment: one frequency band and one time span per clip
            if fmax:
                w = int(torch.randint(0, fmax + 1, ()))
                s = int(torch.randint(0, max(nf - w, 1), ()))
                f[i, :, s : s + w] = 0
            if tmax:
                w = int(torch.randint(0, tmax + 1, ()))
                s = int(torch.randint(0, max(nt - w, 1), ()))
                f[i, :, :, s : s + w] = 0
        return f

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.from_features(self.features(wave))

    def from_features(self, f: torch.Tensor) -> torch.Tensor:
        """The logit per clip (B,) from the front end's features (``features``)."""
        f = self._mask(f)  # the front end stays float32
        if self.onnx_tail is not None and not self.training and f.device.type == "cpu":
            return torch.from_numpy(self.onnx_tail(f.numpy())[:, 0])
        fast = self.bfloat16_inference and not self.training and f.device.type == "cpu"
        # only entered when wanted: a disabled autocast would switch off a trainer's own autocast
        with torch.autocast("cpu", dtype=torch.bfloat16) if fast else contextlib.nullcontext():
            return self.tail(f).squeeze(1).float()


class LCNNTail(nn.Module):
    """An LCNN's ``tail`` as a module of its own, for export."""

    def __init__(self, lcnn: LCNN) -> None:
        super().__init__()
        self.lcnn = lcnn

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.lcnn.tail(f)


class LCNNEnsemble(nn.Module):
    """Several LCNNs (e.g. one on magnitude alone, one with the phase channel) on the same
    waveform; the logit is the mean of theirs."""

    def __init__(self, members: list[dict[str, object]]) -> None:
        super().__init__()
        self.members = nn.ModuleList([LCNN(**m) for m in members])  # type: ignore[arg-type]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(wave) for m in self.members]).mean(dim=0)


class VoiceEnsemble(nn.Module):
    """Members of different kinds (LCNNs, a Whisper probe); each member's logit is first put on
    a common scale, ``(logit - shift) / scale`` with the member's own ``scales`` entry (fitted on
    the validation clips), and the ensemble's logit is their ``weights``-weighted sum (by
    default equal weights summing to 1)."""

    scales: torch.Tensor
    weights: torch.Tensor

    def __init__(
        self, members: list[nn.Module], scales: list[list[float]], weights: list[float] | None = None
    ) -> None:
        super().__init__()
        if len(members) != len(scales) or any(len(s) != 2 or s[1] <= 0 for s in scales):
            raise ValueError("one (shift, scale > 0) pair per member")
        w = weights if weights is not None else [1.0 / len(members)] * len(members)
        if len(w) != len(members) or any(x < 0 for x in w) or abs(sum(w) - 1.0) > 1e-6:
            raise ValueError("one non-negative weight per member, summing to 1")
        self.members = nn.ModuleList(members)
        self.register_buffer("scales", torch.tensor(scales, dtype=torch.float32), persistent=False)
        self.register_buffer("weights", torch.tensor(w, dtype=torch.float32), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        fronts: dict[tuple[int, int, int, int, bool], torch.Tensor] = {}
        z = []
        for m, s in zip(self.members, self.scales, strict=True):
            if isinstance(m, LCNN) and not self.training:  # LCNNs with equal front ends share it
                f = fronts.get(m.front.signature)
                if f is None:
                    f = fronts[m.front.signature] = m.features(wave)
                logit = m.from_features(f)
            else:
                logit = m(wave)
            z.append((logit - s[0]) / s[1])
        return (torch.stack(z) * self.weights[:, None]).sum(dim=0)


def build_member(spec: dict[str, object]) -> nn.Module:
    """One member of a ``voice-ensemble`` from its metadata: ``kind`` ``lcnn`` (with the LCNN's
    arguments), ``whisper`` (with ``layers``, and ``preemphasis`` where it was fitted with one) or
    ``specnet`` (with the spectrogram's settings)."""
    spec = dict(spec)
    kind = spec.pop("kind", "lcnn")
    if kind == "lcnn":
        return LCNN(**spec)  # type: ignore[arg-type]
    if kind == "whisper":
        from detectors.models.whisper import WhisperProbe

        return WhisperProbe(
            int(spec["layers"]),  # type: ignore[call-overload]
            preemphasis=float(spec.get("preemphasis", 0.0)),  # type: ignore[arg-type]
        )
    if kind == "specnet":
        from detectors.models.specnet import SpecNet

        return SpecNet(**spec)  # type: ignore[arg-type]
    raise ValueError(f"unknown voice member kind {kind!r}")


def build(architecture: str, arch: dict[str, object]) -> nn.Module:
    """The model a weight's metadata describes (``LCNN``, ``LCNN-ensemble``, ``WhisperProbe``,
    ``SpecNet`` or ``voice-ensemble``)."""
    if architecture == "LCNN":
        return LCNN(**arch)  # type: ignore[arg-type]
    if architecture == "LCNN-ensemble":
        return LCNNEnsemble(list(arch["members"]))  # type: ignore[call-overload]
    if architecture == "WhisperProbe":
        return build_member({"kind": "whisper", **arch})
    if architecture == "SpecNet":
        return build_member({"kind": "specnet", **arch})
    if architecture == "voice-ensemble":
        members = [build_member(m) for m in arch["members"]]  # type: ignore[attr-defined]
        weights = arch.get("weights")
        return VoiceEnsemble(
            members,
            [list(map(float, s)) for s in arch["scales"]],  # type: ignore[attr-defined]
            None if weights is None else [float(w) for w in weights],  # type: ignore[attr-defined]
        )
    raise ValueError(f"unknown voice architecture {architecture!r}")


class MFM1d(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.maximum(a, b)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def min_samples() -> int:
    """Shortest input that survives the four 2× poolings (16 frames of 10 ms)."""
    return math.ceil(0.16 * RATE)
