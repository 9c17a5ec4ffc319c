"""Shared pieces of the built-in encoders: a shape-checked base class and shape helpers."""

from __future__ import annotations

import torch
from torch import nn

from eegbench.api import ConfigError, DataError


class EEGEncoder(nn.Module):
    """Base class: maps ``[B, C, T]`` to ``[B, n_features]``; checks the input shape."""

    n_features: int

    def __init__(self, n_chans: int, n_times: int) -> None:
        super().__init__()
        if n_chans < 1 or n_times < 1:
            raise ConfigError(
                f"an encoder needs n_chans >= 1 and n_times >= 1, got {n_chans} x {n_times}."
            )
        self.n_chans = int(n_chans)
        self.n_times = int(n_times)

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            raise DataError(
                f"{type(self).__name__} was built for [B, {self.n_chans}, {self.n_times}] input, "
                f"got {list(x.shape)}; rebuild the encoder for this data shape."
            )


def fit_pool(length: int, pool: int, stride: int) -> tuple[int, int]:
    """Pool size and stride shrunk so that at least one output step remains."""
    pool = max(1, min(pool, length))
    stride = max(1, min(stride, pool))
    return pool, stride


def out_len(length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one dimension."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
