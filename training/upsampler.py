"""A small encoder-decoder whose up-sampling layers leave the spectral traces of image generators.

The AutoGAN idea (Zhang, Karaman & Chang, 2019): GAN and diffusion decoders build images
with up-sampling layers (transposed convolutions, nearest or bilinear up-sampling), which
leave periodic artefacts in the spectrum. Passing real faces through a self-trained
auto-encoder with such layers makes "synthetic" examples without any generator's weights.
"""

from __future__ import annotations

import torch
from torch import nn


class Upsampler(nn.Module):
    """Three stride-2 encoder stages, three up-sampling decoder stages of the given ``mode``.

    ``mode``: ``"transposed"`` (ConvTranspose2d, stride 2: checkerboard artefacts),
    ``"nearest"`` or ``"bilinear"`` (resize then 3×3 convolution).
    """

    def __init__(self, mode: str = "transposed", width: int = 32) -> None:
        super().__init__()
        if mode not in ("transposed", "nearest", "bilinear"):
            raise ValueError(f"unknown up-sampling mode {mode!r}")
        c1, c2, c3 = width, width * 2, width * 4
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c1, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),
            nn.Conv2d(c2, c3, 4, 2, 1), nn.BatchNorm2d(c3), nn.LeakyReLU(0.2),
        )  # fmt: skip
        layers: list[nn.Module] = []
        for c_in, c_out in ((c3, c2), (c2, c1), (c1, c1)):
            if mode == "transposed":
                layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1))
            else:
                layers += [nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(c_in, c_out, 3, 1, 1)]
            layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(c1, 3, 3, 1, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x in [-1, 1], N×3×H×W with H, W divisible by 8; returns the reconstruction in [-1, 1]."""
        return self.decoder(self.encoder(x))
