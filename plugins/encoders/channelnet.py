"""EEG-ChannelNet (Palazzo et al., TPAMI 2020), the encoder of Thought2Text (``dilated``).

Layout: input ``[B, 1, C, T]``; a block of parallel dilated temporal convs, a block of parallel
spatial convs with kernel heights C, C/2, C/3, C/4, residual stages each followed by a stride-2
3x3 conv, and a final 3x3 conv; the maps are flattened (500 features at 128 x 440).

Small inputs: a downsampling or final conv uses kernel 1 and stride 1 along any dimension that
is already smaller than its kernel (3), so every input size >= 1 x 1 builds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from eegbench_plugins.encoders.common import out_len
from eegbench_plugins.encoders.params import ChannelNetParams
from torch import nn

from eegbench.api import EEGEncoder, EncoderContext

DOWN_KERNEL = 3
DOWN_STRIDE = 2


class PaddedConv2d(nn.Conv2d):
    """Conv2d that zero-pads with ``F.pad`` and convolves unpadded.

    torch 2.13's CPU (oneDNN) backward intermittently returns NaN weight gradients for the
    spatial convs (tall kernel, stride 2, implicit padding), e.g. Conv2d(40, 50, (32, 1),
    stride=(2, 1), padding=(15, 0)) in ~15% of backward passes; explicit padding avoids it.
    Same parameters and state-dict keys as ``nn.Conv2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvLayer2D(nn.Sequential):
    """BatchNorm -> ReLU -> Conv2d -> Dropout2d, the reference's unit layer."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
        dilation: tuple[int, int] = (1, 1),
        dropout: float = 0.2,
    ) -> None:
        super().__init__(
            nn.BatchNorm2d(in_ch),
            nn.ReLU(),
            PaddedConv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, dilation=dilation),
            nn.Dropout2d(dropout),
        )


def _aligned_padding(size: int, kernel_extent: int, stride: int) -> int:
    """Symmetric padding giving ``floor((size - 1) / stride) + 1`` outputs when possible."""
    target = (size - 1) // stride + 1
    pad = (kernel_extent - 1) // 2
    while out_len(size, kernel_extent, stride, pad) < target:
        pad += 1
    return pad


class TemporalBlock(nn.Module):
    """Parallel dilated temporal convs with equal output widths, concatenated."""

    def __init__(
        self,
        in_ch: int,
        filters: int,
        kernel: int,
        dilations: tuple[int, ...],
        n_times: int,
        dropout: float,
    ) -> None:
        super().__init__()
        layers = []
        for d in dilations:
            pad = _aligned_padding(n_times, d * (kernel - 1) + 1, 2)
            layers.append(
                ConvLayer2D(in_ch, filters, (1, kernel), (1, 2), (0, pad), (1, d), dropout)
            )
        self.layers = nn.ModuleList(layers)
        self.out_width = out_len(n_times, kernel, 2, layers[0][2].padding[1], dilations[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([layer(x) for layer in self.layers], dim=1)


class SpatialBlock(nn.Module):
    """Parallel spatial convs (kernel heights C // 1, C // 2, ...) with equal heights."""

    def __init__(self, in_ch: int, filters: int, n_layers: int, n_chans: int, dropout: float):
        super().__init__()
        layers = []
        for i in range(n_layers):
            k = max(1, n_chans // (i + 1))
            pad = _aligned_padding(n_chans, k, 2)
            layers.append(ConvLayer2D(in_ch, filters, (k, 1), (2, 1), (pad, 0), dropout=dropout))
        self.layers = nn.ModuleList(layers)
        self.out_height = (n_chans - 1) // 2 + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([layer(x) for layer in self.layers], dim=1)


class ResidualBlock(nn.Module):
    """Two 3x3 convs with batch norm and an identity skip (ResNet basic block)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


def _down(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """Kernel, stride and output size along one dimension (kernel 1 once the size is too small)."""
    if size < kernel:
        kernel, stride = 1, 1
    return kernel, stride, out_len(size, kernel, stride)


def _scaled(n: int, width: float) -> int:
    return max(1, round(n * width))


class ChannelNet(EEGEncoder):
    """EEG-ChannelNet feature extractor: ``[B, C, T]`` -> flattened final maps."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: ChannelNetParams = ChannelNetParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.params = p
        t_f = _scaled(p.temporal_filters, p.width)
        s_f = _scaled(p.spatial_filters, p.width)
        o_f = _scaled(p.out_filters, p.width)
        t_ch = t_f * len(p.dilations)
        r_ch = s_f * p.n_spatial_layers

        self.temporal = TemporalBlock(
            1, t_f, p.temporal_kernel, tuple(p.dilations), n_times, p.dropout
        )
        self.spatial = SpatialBlock(t_ch, s_f, p.n_spatial_layers, n_chans, p.dropout)
        h, w = self.spatial.out_height, self.temporal.out_width
        stages = []
        for _ in range(p.residual_blocks):
            kh, sh, h = _down(h, DOWN_KERNEL, DOWN_STRIDE)
            kw, sw, w = _down(w, DOWN_KERNEL, DOWN_STRIDE)
            stages.append(
                nn.Sequential(
                    ResidualBlock(r_ch),
                    ConvLayer2D(r_ch, r_ch, (kh, kw), (sh, sw), (0, 0), dropout=p.dropout),
                )
            )
        self.res_blocks = nn.Sequential(*stages)
        kh, _, h = _down(h, DOWN_KERNEL, 1)
        kw, _, w = _down(w, DOWN_KERNEL, 1)
        self.final_conv = ConvLayer2D(r_ch, o_f, (kh, kw), (1, 1), (0, 0), dropout=p.dropout)
        self.out_shape = (o_f, h, w)
        self.n_features = o_f * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.spatial(self.temporal(x.unsqueeze(1)))
        x = self.final_conv(self.res_blocks(x))
        return x.flatten(1)
