"""The leaderboard floor: the flattened input, optionally through one Linear layer."""

from __future__ import annotations

import torch
from eegbench_plugins.encoders.params import LinearParams
from torch import nn

from eegbench.api import EEGEncoder, EncoderContext


class LinearEncoder(EEGEncoder):
    """Features = ``x.flatten(1)`` (``C*T`` of them), or ``Linear(C*T -> out_features)``."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: LinearParams = LinearParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.params = p
        d = n_chans * n_times
        self.proj = nn.Linear(d, p.out_features) if p.out_features > 0 else None
        self.n_features = p.out_features if p.out_features > 0 else d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = x.flatten(1)
        return self.proj(x) if self.proj is not None else x
