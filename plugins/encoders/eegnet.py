"""EEGNet (Lawhern et al. 2018): temporal conv, depthwise spatial conv, separable conv.

Small inputs: each average pool shrinks to the time steps left (T >= 32 keeps 4 and 8).
"""

from __future__ import annotations

from typing import Any

import torch
from eegbench_plugins.encoders.common import fit_pool
from eegbench_plugins.encoders.params import EEGNetParams
from torch import nn

from eegbench.api import EEGEncoder, EncoderContext


class MaxNormConv2d(nn.Conv2d):
    """Conv2d whose per-filter weight L2 norm is clipped to ``max_norm`` (Keras max_norm)."""

    def __init__(self, *args: Any, max_norm: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_norm = max_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.max_norm > 0 and self.training:
            with torch.no_grad():
                self.weight.copy_(torch.renorm(self.weight, p=2, dim=0, maxnorm=self.max_norm))
        return super().forward(x)


def _same_pad(kernel: int) -> nn.ZeroPad2d:
    """Keras "same" padding along time (the extra zero of an even kernel goes right)."""
    return nn.ZeroPad2d(((kernel - 1) // 2, kernel // 2, 0, 0))


class EEGNet(EEGEncoder):
    """EEGNet-F1,D feature extractor: ``[B, C, T]`` -> ``F2 * (T // pool1 // pool2)``."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: EEGNetParams = EEGNetParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.params = p
        fd = p.f1 * p.d
        pool1, _ = fit_pool(n_times, p.pool1, p.pool1)
        t1 = n_times // pool1
        pool2, _ = fit_pool(t1, p.pool2, p.pool2)
        t2 = t1 // pool2
        bn = {"momentum": 0.01, "eps": 1e-3}  # Keras BatchNormalization defaults
        self.block1 = nn.Sequential(
            _same_pad(p.kernel_length),
            nn.Conv2d(1, p.f1, (1, p.kernel_length), bias=False),
            nn.BatchNorm2d(p.f1, **bn),
            MaxNormConv2d(p.f1, fd, (n_chans, 1), groups=p.f1, bias=False, max_norm=p.max_norm),
            nn.BatchNorm2d(fd, **bn),
            nn.ELU(),
            nn.AvgPool2d((1, pool1)),
            nn.Dropout(p.dropout),
        )
        self.block2 = nn.Sequential(
            _same_pad(p.separable_kernel),
            nn.Conv2d(fd, fd, (1, p.separable_kernel), groups=fd, bias=False),
            nn.Conv2d(fd, p.f2, 1, bias=False),
            nn.BatchNorm2d(p.f2, **bn),
            nn.ELU(),
            nn.AvgPool2d((1, pool2)),
            nn.Dropout(p.dropout),
        )
        self.pools = (pool1, pool2)
        self.n_features = p.f2 * t2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.block2(self.block1(x.unsqueeze(1))).flatten(1)
