"""LSTM encoder of Spampinato et al. (CVPR 2017): channels are the features of each time step."""

from __future__ import annotations

import torch
from eegbench_plugins.encoders.params import LSTMParams
from torch import nn

from eegbench.api import EEGEncoder, EncoderContext


class LSTMEncoder(EEGEncoder):
    """LSTM over time; the last hidden state, optionally through a ReLU output layer."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: LSTMParams = LSTMParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.params = p
        self.lstm = nn.LSTM(
            n_chans,
            p.hidden_size,
            num_layers=p.num_layers,
            batch_first=True,
            dropout=p.dropout if p.num_layers > 1 else 0.0,
        )
        self.output = nn.Linear(p.hidden_size, p.output_size) if p.output_size > 0 else None
        self.n_features = p.output_size if p.output_size > 0 else p.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        h = self.lstm(x.transpose(1, 2))[0][:, -1]
        return torch.relu(self.output(h)) if self.output is not None else h
