"""Shallow and Deep ConvNets (Schirrmeister et al. 2017), without their classifier convs.

Small inputs: kernels and pools shrink to the time steps left, so every T >= 1 builds.
"""

from __future__ import annotations

import torch
from eegbench_plugins.encoders.common import fit_pool, out_len
from eegbench_plugins.encoders.params import DeepParams, ShallowParams
from torch import nn

from eegbench.api import EEGEncoder, EncoderContext


class ShallowFBCSPNet(EEGEncoder):
    """Temporal conv, spatial conv, BN, square, mean pool, log, dropout (FBCSP-like power)."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: ShallowParams = ShallowParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.params = p
        k = min(p.kernel_length, n_times)
        t = out_len(n_times, k)
        pool, stride = fit_pool(t, p.pool_length, p.pool_stride)
        self.conv_time = nn.Conv2d(1, p.n_filters, (1, k))
        self.conv_spat = nn.Conv2d(p.n_filters, p.n_filters, (n_chans, 1), bias=False)
        self.bnorm = nn.BatchNorm2d(p.n_filters, momentum=0.1)
        self.pool = nn.AvgPool2d((1, pool), (1, stride))
        self.drop = nn.Dropout(p.dropout)
        self.n_features = p.n_filters * out_len(t, pool, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.bnorm(self.conv_spat(self.conv_time(x.unsqueeze(1))))
        x = torch.log(torch.clamp(self.pool(x * x), min=1e-6))
        return self.drop(x).flatten(1)


class Deep4Net(EEGEncoder):
    """Four conv-max-pool blocks (split temporal/spatial first conv), ELU, batch norm."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: DeepParams = DeepParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.params = p
        t = n_times
        blocks: list[nn.Module] = []
        in_ch = 1
        for i, n_out in enumerate(p.n_filters):
            k = min(p.kernel_length, t)
            t = out_len(t, k)
            pool, _ = fit_pool(t, p.pool_length, p.pool_length)
            t = out_len(t, pool, pool)
            if i == 0:
                layers: list[nn.Module] = [
                    nn.Conv2d(1, n_out, (1, k)),
                    nn.Conv2d(n_out, n_out, (n_chans, 1), bias=False),
                ]
            else:
                layers = [nn.Dropout(p.dropout), nn.Conv2d(in_ch, n_out, (1, k), bias=False)]
            layers += [nn.BatchNorm2d(n_out, momentum=0.1), nn.ELU(), nn.MaxPool2d((1, pool))]
            blocks.append(nn.Sequential(*layers))
            in_ch = n_out
        self.blocks = nn.Sequential(*blocks)
        self.n_features = in_ch * t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.blocks(x.unsqueeze(1)).flatten(1)
