"""Shape helpers shared by the built-in encoders (their base class: ``eegbench.api.EEGEncoder``)."""

from __future__ import annotations


def fit_pool(length: int, pool: int, stride: int) -> tuple[int, int]:
    """Pool size and stride shrunk so that at least one output step remains."""
    pool = max(1, min(pool, length))
    stride = max(1, min(stride, pool))
    return pool, stride


def out_len(length: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one dimension."""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
