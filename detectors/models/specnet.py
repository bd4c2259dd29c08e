"""An ImageNet-pretrained image network reading a log spectrogram as a picture.

The member kind ``specnet`` of a voice ensemble: EfficientNet-Lite0 (the face classifier's
backbone, started from its ImageNet weights when trained) on 128 log-mel bands of 16 kHz speech,
or with ``scale="linear"`` on 128 bands spaced linearly in frequency (as LFCCs are, which keep the
high frequencies' detail that the mel scale pools).
Each window's spectrogram is standardised by the mean and standard deviation of its whole image,
so that the level says nothing, and repeated over the three colour channels the network was
pretrained on. With ``scale="stack"`` the three channels differ instead: the log-mel bands, the
log linear bands (0 Hz up) and, per linear band, the phase stability of the LCNN's phase front
end (detectors.models.lcnn.FrontEnd), each standardised on its own: three views of one window
for the price of one network. With ``blocks`` below 16 the network is cut after that many blocks
(``specnet-small``: 12, 0.93 M trained parameters instead of 3.4 M). Pretrained image features transfer to spectrograms far better than their origin
suggests (Gong et al., PSLA, 2021); here they caught unseen speakers' fakes as well as the whole
earlier ensemble (docs/training-voice.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from detectors.melscale import mel_filterbank
from detectors.models.efficientnet_lite import FULL_BLOCKS, EfficientNetLite0
from detectors.models.lcnn import RATE, linear_filterbank, phase_stability, pre_emphasis

SCALES = ("mel", "linear", "stack")


class SpecNet(nn.Module):
    """Waveform (B, T) at 16 kHz → one logit per row (higher: more likely synthetic)."""

    window: torch.Tensor
    fbank: torch.Tensor
    lin_fbank: torch.Tensor

    def __init__(
        self,
        n_mels: int = 128,
        n_fft: int = 1024,
        win: int = 512,
        hop: int = 160,
        fmin: float = 20.0,
        fmax: float = 8000.0,
        scale: str = "mel",
        blocks: int = FULL_BLOCKS,
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"unknown frequency scale {scale!r}")
        self.n_fft, self.win, self.hop = n_fft, win, hop
        self.net = EfficientNetLite0(num_outputs=1, blocks=blocks)
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        if scale in ("mel", "stack"):  # the first channel of a stack is the mel picture
            fb = torch.from_numpy(np.ascontiguousarray(mel_filterbank(RATE, n_fft, n_mels, fmin, fmax)))
        else:
            fb = linear_filterbank(n_mels, n_fft, RATE, fmin, fmax).T.contiguous()
        self.register_buffer("fbank", fb, persistent=False)  # (bands, bins)
        self.stack = scale == "stack"
        if self.stack:  # the second and third channels' bands: linear from 0 Hz
            self.register_buffer(
                "lin_fbank",
                linear_filterbank(n_mels, n_fft, RATE, 0.0, fmax).T.contiguous(),
                persistent=False,
            )
        # SpecAugment while training: one band mask of up to spec_mask[0] bands and one time mask of
        # up to spec_mask[1] frames (at most a quarter of the frames) per clip; (0, 0) masks nothing
        self.spec_mask = (0, 0)
        # as for the LCNN (detectors.models.lcnn): the network in bfloat16 on a CPU that multiplies
        # bfloat16 in hardware, or through an exported float32 graph, when evaluating; set by the
        # detector, never used by training steps
        self.bfloat16_inference = False
        self.onnx_tail: Callable[[np.ndarray], np.ndarray] | None = None

    def image(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) → (B, 3, bands, frames), channels-last: the picture the network reads."""
        spec = torch.stft(
            pre_emphasis(wave), self.n_fft, self.hop, self.win, self.window, center=True, return_complex=True
        )
        power = spec.real.square() + spec.imag.square()  # (B, bins, frames)
        m = _log_bands(power, self.fbank)
        if self.stack:
            phase = phase_stability(spec, self.lin_fbank, pad="replicate")
            img = torch.stack([m, _log_bands(power, self.lin_fbank), _standardise(phase)], dim=1)
        else:
            img = m[:, None]  # one picture, repeated over the three channels below
        if self.training and self.spec_mask != (0, 0):
            img = self._mask(img)
        return img.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)

    def _mask(self, m: torch.Tensor) -> torch.Tensor:
        """(B, C, bands, frames) → the same with one band stretch and one time stretch zeroed per clip
        (every channel alike: the bands of a stack are not the same frequencies, but a masked band
        index still hides as much of each picture)."""
        bands, frames = m.shape[2], m.shape[3]
        m = m.clone()
        for b in range(m.shape[0]):
            f = int(torch.randint(0, self.spec_mask[0] + 1, ()))
            f0 = int(torch.randint(0, bands - f + 1, ()))
            t = int(torch.randint(0, min(self.spec_mask[1], frames // 4) + 1, ()))
            t0 = int(torch.randint(0, frames - t + 1, ()))
            m[b, :, f0 : f0 + f] = 0
            m[b, :, :, t0 : t0 + t] = 0
        return m

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        img = self.image(wave)
        evaluating = not self.training and img.device.type == "cpu"
        if self.onnx_tail is not None and evaluating:
            return torch.from_numpy(self.onnx_tail(np.ascontiguousarray(img.numpy())))
        fast = self.bfloat16_inference and evaluating
        with torch.autocast("cpu", dtype=torch.bfloat16) if fast else contextlib.nullcontext():
            return self.net(img)[:, 0].float()


def _log_bands(power: torch.Tensor, fbank: torch.Tensor) -> torch.Tensor:
    """(B, bins, frames) power, (bands, bins) filters → the standardised log band energies."""
    return _standardise(torch.log(torch.einsum("bft,kf->bkt", power, fbank) + 1e-8))


def _standardise(m: torch.Tensor) -> torch.Tensor:
    """(B, bands, frames) → each row's picture at mean 0 and deviation 1."""
    return (m - m.mean(dim=(1, 2), keepdim=True)) / (m.std(dim=(1, 2), keepdim=True) + 1e-5)


class SpecNetTail(nn.Module):
    """The network part of a SpecNet (picture → logit), for an exported graph."""

    def __init__(self, spec: SpecNet) -> None:
        super().__init__()
        self.net = spec.net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)[:, 0]
