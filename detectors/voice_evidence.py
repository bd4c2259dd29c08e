"""Pictures of a voice file's most suspicious window, for a reviewer: its spectrogram on the time
and frequency grid of the voice model's spectrogram network, and a Grad-CAM heatmap of where in time
and frequency that network's synthetic logit came from.

The heatmap explains one member of the ensemble (the spectrogram network with the largest weight),
not the whole score: the LCNNs and the Whisper probe have no map here. Weights without a spectrogram
network get the spectrogram alone (128 log bands spaced linearly 0–8 kHz).
Both pictures have time running left to right and low frequencies at the bottom, each band row
drawn two pixels high.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detectors.evidence import heatmap_overlay, safe_stem, write_png

if TYPE_CHECKING:
    import torch

    from detectors.models.specnet import SpecNet

ROW_PX = 2  # pixels per band row


def spectrogram_member(model: torch.nn.Module) -> SpecNet | None:
    """The spectrogram network of a voice model: itself, or the ensemble member with the largest
    weight (the first on a tie); None when there is none."""
    from detectors.models.lcnn import VoiceEnsemble
    from detectors.models.specnet import SpecNet

    if isinstance(model, SpecNet):
        return model
    if isinstance(model, VoiceEnsemble):
        best: tuple[float, SpecNet] | None = None
        for member, weight in zip(model.members, model.weights.tolist(), strict=True):
            if isinstance(member, SpecNet) and (best is None or weight > best[0]):
                best = (weight, member)
        return None if best is None else best[1]
    return None


def picture(spec: SpecNet | None, wave: np.ndarray) -> np.ndarray:
    """(bands, frames) log band energies of ``wave`` on the network's own grid (its STFT and bands;
    else a 1024-point STFT every 10 ms into 128 linear bands 0–8 kHz), without the network's
    pre-emphasis, which would paint the high bands as loud as the voice: the picture a person reads,
    cell for cell where the heatmap is."""
    import torch

    from detectors.models.lcnn import RATE, linear_filterbank

    if spec is not None:
        n_fft, hop, win, fbank = spec.n_fft, spec.hop, spec.win, spec.fbank
    else:
        n_fft, hop, win = 1024, 160, 512
        fbank = linear_filterbank(128, n_fft, RATE, 0.0, RATE / 2).T
    x = torch.from_numpy(np.asarray(wave, np.float32))[None]
    with torch.inference_mode():
        stft = torch.stft(x, n_fft, hop, win, torch.hann_window(win), center=True, return_complex=True)
        power = stft.real.square() + stft.imag.square()
        bands = torch.log10(torch.einsum("bft,kf->bkt", power, fbank) + 1e-10)
    return bands[0].numpy()


def gradcam(spec: SpecNet, wave: np.ndarray) -> np.ndarray:
    """Grad-CAM of the network's synthetic logit over its last feature map, as a (bands, frames) map
    in [0, 1] (all zero when nothing raised the logit). Float32 and PyTorch whatever engine scores
    the windows, since the map needs gradients."""
    import cv2
    import torch

    was_training = spec.training
    spec.eval()
    try:
        with torch.enable_grad():
            img = spec.image(torch.from_numpy(np.asarray(wave, np.float32))[None]).float()
            img.requires_grad_(True)  # gradients reach the map even where the weights are frozen
            fmap = spec.net.features(img)
            fmap.retain_grad()
            spec.net.head(fmap)[0, 0].backward()
        grad = fmap.grad
        assert grad is not None
        cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * fmap).sum(dim=1))[0].detach().numpy()
    finally:
        spec.zero_grad(set_to_none=True)
        spec.train(was_training)
    if cam.max() > 0:
        cam = cam / cam.max()
    bands, frames = img.shape[2], img.shape[3]
    return cv2.resize(cam.astype(np.float32), (frames, bands), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def grey_rgb(pic: np.ndarray) -> np.ndarray:
    """(bands, frames) picture → RGB uint8, low frequencies at the bottom, ROW_PX pixels a band; its
    2nd percentile black and its top 0.2 % white, so that quiet bands and gaps read dark."""
    lo, hi = np.percentile(pic, [2.0, 99.8])
    grey = ((pic - lo) / max(float(hi - lo), 1e-6)).clip(0, 1)
    grey = np.repeat((grey * 255).astype(np.uint8)[::-1], ROW_PX, axis=0)
    return np.repeat(grey[:, :, None], 3, axis=2)


def write_evidence(
    out_dir: Path, path: str, model: torch.nn.Module, wave: np.ndarray, start: float
) -> dict[str, str]:
    """Write the window's spectrogram (and, where the model has a spectrogram network, its Grad-CAM
    overlay) as PNGs into ``out_dir``; returns kind → file written. The files are named by a hash of
    ``path`` and by ``start`` (seconds into the file), never by the untrusted name itself."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = spectrogram_member(model)
    base = grey_rgb(picture(spec, wave))
    pictures = {"spectrogram": base}
    if spec is not None:
        cam = np.repeat(gradcam(spec, wave)[::-1], ROW_PX, axis=0)
        pictures["heatmap"] = heatmap_overlay(base, cam)
    stem = f"{safe_stem(path)}-voice-{start:.1f}s"
    written = {}
    for kind, rgb in pictures.items():
        target = out_dir / f"{stem}-{kind}.png"
        if write_png(target, rgb):
            written[kind] = str(target)
    return written
