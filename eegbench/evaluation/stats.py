"""Uncertainty for benchmark numbers: bootstrap confidence intervals and paired permutation tests.

Design (numpy only):

- The unit of resampling is the test trial. A bootstrap sample is ``n`` trial indices drawn with
  replacement; every output of a metric is recomputed on the *same* indices, so CIs of related
  outputs come from the same resamples.
- Metrics that are means over trials (accuracy, retrieval, cosine, per-pair ROUGE/METEOR, the
  Thought2Text protocol) give per-trial values (``metric.per_item``); their bootstrap is a
  vectorised mean over index rows, so 1,000 resamples of 2,000 trials take milliseconds.
- Corpus-level metrics (corpus BLEU, balanced accuracy, ...) are recomputed through a callable
  ``fn(indices) -> value``: ``Metric.resampler`` (``eegbench.api.metric``) sums per-sentence
  statistics where the metric has them (BLEU's n-gram counts), which is cheap and exact, and
  otherwise calls ``compute`` on the subset (correct, but as slow as the metric).
- Intervals are percentile intervals (Efron & Tibshirani 1993) at level ``1 - alpha``.
- ``paired_permutation_test`` compares two systems scored on the same trials: under the null the
  sign of each per-trial difference is exchangeable; the p-value (two-sided, on the mean
  difference) counts the observed statistic as one permutation, so it is never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eegbench.api.errors import DataError

IndexFn = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class CI:
    """A point estimate with its ``1 - alpha`` interval and how the interval was obtained.

    ``method`` is ``"bootstrap"`` (percentile interval over ``n_boot`` resamples of the test
    trials), ``"t"`` (t-interval over ``n`` seeds, the leaderboard's) or ``"none"`` (no interval:
    ``low`` and ``high`` are None). ``values`` and ``seeds`` are what a summary over seeds saw.
    """

    estimate: float
    low: float | None
    high: float | None
    method: str = "bootstrap"
    alpha: float = 0.05
    n_boot: int = 0
    n: int = 1
    values: tuple[float, ...] = ()
    seeds: tuple[Any, ...] = ()


def bootstrap_indices(n: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """``[n_boot, n]`` trial indices drawn with replacement (reproducible for a seed)."""
    if n < 1:
        raise DataError("bootstrap needs at least one trial.")
    if n_boot < 1:
        raise DataError(f"n_boot must be >= 1, got {n_boot}.")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _interval(estimate: float, samples: np.ndarray, alpha: float, n_boot: int) -> CI:
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}.")
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return CI(float(estimate), float(low), float(high), "bootstrap", float(alpha), int(n_boot))


def _as_values(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise DataError("bootstrap needs at least one per-trial value.")
    if not np.isfinite(arr).all():
        raise DataError("per-trial values contain NaN or inf.")
    return arr


def bootstrap_ci(
    data: Sequence[float] | np.ndarray | IndexFn,
    n: int | None = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> CI:
    """Percentile bootstrap CI.

    ``data`` is either per-trial values (the statistic is their mean) or a callable
    ``fn(indices) -> float`` that recomputes a corpus-level metric on the given trials; then
    ``n`` (the number of trials) is required and the estimate is ``fn(arange(n))``.
    """
    if callable(data):
        if n is None:
            raise DataError("bootstrap_ci with a callable needs n, the number of trials.")
        idx = bootstrap_indices(n, n_boot, seed)
        samples = np.array([float(data(row)) for row in idx])
        return _interval(float(data(np.arange(n))), samples, alpha, n_boot)
    values = _as_values(data)
    idx = bootstrap_indices(values.size, n_boot, seed)
    return _interval(float(values.mean()), values[idx].mean(axis=1), alpha, n_boot)


def bootstrap_cis(
    data: Mapping[str, Sequence[float] | np.ndarray] | IndexFn,
    n: int | None = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, CI]:
    """CIs for several outputs on shared resamples.

    ``data`` is ``{output: per-trial values}`` (means) or ``fn(indices) -> {output: value}``.
    """
    if callable(data):
        if n is None:
            raise DataError("bootstrap_cis with a callable needs n, the number of trials.")
        idx = bootstrap_indices(n, n_boot, seed)
        full = data(np.arange(n))
        rows = [data(row) for row in idx]
        return {
            k: _interval(float(full[k]), np.array([float(r[k]) for r in rows]), alpha, n_boot)
            for k in full
        }
    arrays = {k: _as_values(v) for k, v in data.items()}
    sizes = {a.size for a in arrays.values()}
    if len(sizes) != 1:
        raise DataError(
            f"per-trial value arrays differ in length: { {k: a.size for k, a in arrays.items()} }."
        )
    idx = bootstrap_indices(sizes.pop(), n_boot, seed)
    return {
        k: _interval(float(a.mean()), a[idx].mean(axis=1), alpha, n_boot) for k, a in arrays.items()
    }


def paired_permutation_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_perm: int = 10000,
    seed: int = 0,
) -> float:
    """Two-sided p-value that paired per-trial scores ``a`` and ``b`` have the same mean.

    Each permutation flips the sign of a random subset of the differences ``a - b``.
    """
    a, b = _as_values(a), _as_values(b)
    if a.shape != b.shape:
        raise DataError(f"paired test needs equal-length scores, got {a.size} and {b.size}.")
    if n_perm < 1:
        raise DataError(f"n_perm must be >= 1, got {n_perm}.")
    diff = a - b
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed)
    # a tolerance keeps exactly-equal permuted means (e.g. identical inputs) counted as extreme
    tol = 1e-12 * max(1.0, observed)
    extreme, done, chunk = 0, 0, max(1, min(n_perm, 2_000_000 // max(1, diff.size)))
    while done < n_perm:
        m = min(chunk, n_perm - done)
        signs = rng.integers(0, 2, size=(m, diff.size), dtype=np.int8) * 2 - 1
        extreme += int((np.abs((signs * diff).mean(axis=1)) >= observed - tol).sum())
        done += m
    return (extreme + 1) / (n_perm + 1)
