"""A temporal convolution network (Bai et al. 2018, non-causal) as an eegbench encoder."""

from __future__ import annotations

import torch
from torch import nn

from eegbench_example.plugin import TCNParams


class ResidualBlock(nn.Module):
    """Two dilated temporal convs with batch norm, ELU and dropout, plus a skip connection."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.net = nn.Sequential(
            nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation),
            nn.BatchNorm1d(channels),
            nn.ELU(),
            nn.Dropout(dropout),
            nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation),
            nn.BatchNorm1d(channels),
            nn.Dropout(dropout),
        )
        self.act = nn.ELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.net(x))


class TemporalConvNet(nn.Module):
    """``[B, C, T]`` -> ``[B, hidden]``: a 1x1 channel mix, residual dilated blocks, time mean.

    The core adds the embedding and classifier heads on top of ``n_features`` features. It gets
    its validated parameters as one ``TCNParams`` (it declares a parameter of that class).
    """

    def __init__(self, n_chans: int, n_times: int, p: TCNParams) -> None:
        super().__init__()
        self.n_features = p.hidden
        self.mix = nn.Conv1d(n_chans, p.hidden, 1)
        self.blocks = nn.Sequential(
            *(ResidualBlock(p.hidden, p.kernel, 2**i, p.dropout) for i in range(p.levels))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.mix(x)).mean(dim=-1)
