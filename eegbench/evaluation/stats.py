"""Uncertainty for benchmark numbers: clustered bootstrap CIs and paired permutation tests.

Design (numpy only):

- The unit of resampling is the *cluster*: the trials that share a stimulus image (and so a
  reference caption) are not independent, so a bootstrap sample draws whole clusters with
  replacement and a paired test permutes whole clusters. The dataset declares the unit
  (``EEGData.cluster``, by default the image); ``clusters=None`` treats every trial as its own
  cluster (the classical trial bootstrap).
- Every output of a metric is recomputed on the *same* resampled trials, so CIs of related
  outputs come from the same resamples.
- Metrics that are means over trials (accuracy, retrieval, cosine, per-pair ROUGE/METEOR, the
  Thought2Text protocol) give per-trial values (``metric.per_item``); their clustered bootstrap
  is a vectorised ratio of resampled cluster sums to resampled cluster sizes.
- Corpus-level metrics (corpus BLEU, balanced accuracy, ...) are recomputed through a callable
  ``fn(indices) -> value``: ``Metric.resampler`` (``eegbench.api.metric``) sums per-sentence
  statistics where the metric has them (BLEU's n-gram counts), which is cheap and exact, and
  otherwise calls ``compute`` on the subset (correct, but as slow as the metric).
- Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13) at level ``1 - alpha``,
  with the resampled statistics' spread around the estimate widened by ``sqrt(G / (G - 1))``
  for ``G`` resampled units. The bootstrap distribution of a mean over ``G`` units has the
  plug-in variance (divisor ``G``), ``(G - 1) / G`` of the unbiased one, so the percentile
  interval is too narrow by ``sqrt((G - 1) / G)`` ("narrowness bias", Hesterberg 2015, "What
  teachers should know about the bootstrap", The American Statistician 69:371-386;
  his *expanded percentile interval* corrects this factor and also z versus t; eegbench
  corrects the factor only). It matters for the few dozen test images of a typical split; the
  unwidened interval is ``scipy.stats.bootstrap(method="percentile")``'s (a test checks it).
- Paired comparisons of two systems on the same trials (``paired_delta``) score both through one
  *joint* resampler over the ``2n`` concatenated trials (system A's first). The difference's CI
  resamples clusters and scores both systems on them; the p-value swaps the two systems' outputs
  on a random subset of whole clusters (approximate randomization, Riezler & Maxwell 2005); for
  a mean over trials this is the cluster sign-flip test. p-values are two-sided and count the
  observed statistic as one permutation, so they are never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eegbench.api.errors import DataError
from eegbench.api.metric import PER_TRIAL_CTX, Metric

IndexFn = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class CI:
    """A point estimate with its ``1 - alpha`` interval and how the interval was obtained.

    ``method`` is ``"bootstrap"`` (percentile interval over ``n_boot`` resamples of the test
    trials), ``"t"`` (t-interval over ``n`` seeds, the leaderboard's) or ``"none"`` (no interval:
    ``low`` and ``high`` are None). ``values`` and ``seeds`` are what a summary over seeds saw.
    ``p`` is set for a difference: its test's two-sided p-value; ``p_adjusted`` the same p
    adjusted for the other tests of its table (``multiplicity``; the leaderboard's ``*``/``**``).
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
    p: float | None = None
    p_adjusted: float | None = None


@dataclass(frozen=True)
class SentenceStats:
    """A corpus metric's per-trial sufficient statistics ``[n, k]`` (integers) and its
    ``from_stats``: the value on any resample is ``from_stats`` of the summed rows.

    Called with trial indices it is an ``IndexFn``; the bootstrap and ``paired_delta`` instead
    sum the rows of all resamples at once (exact integer sums, one matrix product).
    """

    stats: np.ndarray
    from_stats: Callable[[np.ndarray], dict[str, float]]

    def __call__(self, idx: np.ndarray) -> dict[str, float]:
        return self.from_stats(self.stats[np.asarray(idx)].sum(axis=0))

    def cluster_sums(self, codes: np.ndarray, n_clusters: int) -> np.ndarray:
        """``[G, k]`` row sums per cluster code."""
        sums = np.zeros((n_clusters, self.stats.shape[1]), dtype=self.stats.dtype)
        np.add.at(sums, codes, self.stats)
        return sums


def _draw_counts(draws: np.ndarray, n_units: int) -> np.ndarray:
    """``[n_boot, G]``: how often each unit appears in each row of ``draws``."""
    rows = np.repeat(np.arange(draws.shape[0]), draws.shape[1])
    counts = np.zeros((draws.shape[0], n_units), dtype=np.int64)
    np.add.at(counts, (rows, draws.reshape(-1)), 1)
    return counts


def _resampled_totals(
    stats: SentenceStats, n: int, n_boot: int, seed: int, clusters: Any
) -> np.ndarray:
    """``[n_boot, k]`` summed statistics of the resamples ``_resamples`` draws (same draws)."""
    if n < 1:
        raise DataError("bootstrap needs at least one trial.")
    if clusters is not None and len(clusters) != n:
        raise DataError(f"clusters must give one id per trial ({n}), got {len(clusters)}.")
    codes = cluster_codes(clusters, n)
    n_units = int(codes.max()) + 1
    draws = bootstrap_indices(n_units, n_boot, seed)
    return _draw_counts(draws, n_units) @ stats.cluster_sums(codes, n_units)


def cluster_codes(clusters: Sequence[Any] | np.ndarray | None, n: int) -> np.ndarray:
    """Cluster index ``0..G-1`` of each of ``n`` trials (``None``: every trial its own)."""
    if clusters is None:
        return np.arange(n)
    arr = np.asarray(clusters)
    if arr.shape != (n,):
        raise DataError(f"clusters must give one id per trial ({n}), got shape {arr.shape}.")
    return np.unique(arr, return_inverse=True)[1].reshape(-1)


def bootstrap_indices(n: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """``[n_boot, n]`` trial indices drawn with replacement (reproducible for a seed)."""
    if n < 1:
        raise DataError("bootstrap needs at least one trial.")
    if n_boot < 1:
        raise DataError(f"n_boot must be >= 1, got {n_boot}.")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def cluster_bootstrap_indices(
    clusters: Sequence[Any] | np.ndarray, n_boot: int = 1000, seed: int = 0
) -> list[np.ndarray]:
    """``n_boot`` trial index arrays, each the trials of clusters drawn with replacement."""
    codes = cluster_codes(clusters, len(clusters))
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    members = [order[s : s + k] for s, k in zip(starts, sizes)]
    draws = bootstrap_indices(len(members), n_boot, seed)
    return [np.concatenate([members[g] for g in row]) for row in draws]


def _resamples(n: int, n_boot: int, seed: int, clusters: Any) -> Sequence[np.ndarray]:
    if clusters is None:
        return bootstrap_indices(n, n_boot, seed)
    if n < 1:
        raise DataError("bootstrap needs at least one trial.")
    if len(clusters) != n:
        raise DataError(f"clusters must give one id per trial ({n}), got {len(clusters)}.")
    return cluster_bootstrap_indices(clusters, n_boot, seed)


def _interval(estimate: float, samples: np.ndarray, alpha: float, n_boot: int, n_units: int) -> CI:
    """Percentile interval of ``samples``, widened around ``estimate`` by sqrt(G / (G - 1))."""
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}.")
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    widen = float(np.sqrt(n_units / (n_units - 1))) if n_units > 1 else 1.0
    low, high = estimate + widen * (low - estimate), estimate + widen * (high - estimate)
    return CI(float(estimate), float(low), float(high), "bootstrap", float(alpha), int(n_boot))


def _n_units(n: int, clusters: Any) -> int:
    return n if clusters is None else int(len(np.unique(np.asarray(clusters))))


def _as_values(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise DataError("bootstrap needs at least one per-trial value.")
    if not np.isfinite(arr).all():
        raise DataError("per-trial values contain NaN or inf.")
    return arr


def _mean_samples(values: np.ndarray, n_boot: int, seed: int, clusters: Any) -> np.ndarray:
    """Bootstrap means of ``values``: trials, or whole clusters (ratio of sums to sizes)."""
    if clusters is None:
        return values[bootstrap_indices(values.size, n_boot, seed)].mean(axis=1)
    codes = cluster_codes(clusters, values.size)
    sums, sizes = np.bincount(codes, weights=values), np.bincount(codes).astype(float)
    draws = bootstrap_indices(sums.size, n_boot, seed)
    return sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)


def bootstrap_ci(
    data: Sequence[float] | np.ndarray | IndexFn,
    n: int | None = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    clusters: Sequence[Any] | np.ndarray | None = None,
) -> CI:
    """Percentile bootstrap CI, resampling whole ``clusters`` when given.

    ``data`` is either per-trial values (the statistic is their mean) or a callable
    ``fn(indices) -> float`` that recomputes a corpus-level metric on the given trials; then
    ``n`` (the number of trials) is required and the estimate is ``fn(arange(n))``.
    """
    if callable(data):
        if n is None:
            raise DataError("bootstrap_ci with a callable needs n, the number of trials.")
        samples = np.array([float(data(row)) for row in _resamples(n, n_boot, seed, clusters)])
        return _interval(float(data(np.arange(n))), samples, alpha, n_boot, _n_units(n, clusters))
    values = _as_values(data)
    return _interval(
        float(values.mean()),
        _mean_samples(values, n_boot, seed, clusters),
        alpha,
        n_boot,
        _n_units(values.size, clusters),
    )


def bootstrap_cis(
    data: Mapping[str, Sequence[float] | np.ndarray] | IndexFn,
    n: int | None = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    clusters: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, CI]:
    """CIs for several outputs on shared resamples (of whole ``clusters`` when given).

    ``data`` is ``{output: per-trial values}`` (means) or ``fn(indices) -> {output: value}``.
    """
    if callable(data):
        if n is None:
            raise DataError("bootstrap_cis with a callable needs n, the number of trials.")
        if isinstance(data, SentenceStats):
            full = data.from_stats(data.stats[:n].sum(axis=0))
            totals = _resampled_totals(data, n, n_boot, seed, clusters)
            rows = [data.from_stats(t) for t in totals]
        else:
            full = data(np.arange(n))
            rows = [data(row) for row in _resamples(n, n_boot, seed, clusters)]
        units = _n_units(n, clusters)
        return {
            k: _interval(
                float(full[k]), np.array([float(r[k]) for r in rows]), alpha, n_boot, units
            )
            for k in full
        }
    arrays = {k: _as_values(v) for k, v in data.items()}
    sizes = {a.size for a in arrays.values()}
    if len(sizes) != 1:
        raise DataError(
            f"per-trial value arrays differ in length: { {k: a.size for k, a in arrays.items()} }."
        )
    units = _n_units(next(iter(arrays.values())).size, clusters)
    return {
        k: _interval(
            float(a.mean()), _mean_samples(a, n_boot, seed, clusters), alpha, n_boot, units
        )
        for k, a in arrays.items()
    }


def paired_permutation_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_perm: int = 10000,
    seed: int = 0,
    clusters: Sequence[Any] | np.ndarray | None = None,
) -> float:
    """Two-sided p-value that paired per-trial scores ``a`` and ``b`` have the same mean.

    Each permutation flips the sign of the differences ``a - b`` of a random subset of whole
    ``clusters`` (of single trials when ``clusters`` is None).
    """
    a, b = _as_values(a), _as_values(b)
    if a.shape != b.shape:
        raise DataError(f"paired test needs equal-length scores, got {a.size} and {b.size}.")
    if n_perm < 1:
        raise DataError(f"n_perm must be >= 1, got {n_perm}.")
    diff = a - b
    if clusters is not None:
        diff = np.bincount(cluster_codes(clusters, diff.size), weights=diff)
    observed = abs(diff.sum())
    rng = np.random.default_rng(seed)
    # a tolerance keeps exactly-equal permuted sums (e.g. identical inputs) counted as extreme
    tol = 1e-12 * max(1.0, observed)
    extreme, done, chunk = 0, 0, max(1, min(n_perm, 2_000_000 // max(1, diff.size)))
    while done < n_perm:
        m = min(chunk, n_perm - done)
        signs = rng.integers(0, 2, size=(m, diff.size), dtype=np.int8) * 2 - 1
        extreme += int((np.abs(signs @ diff) >= observed - tol).sum())
        done += m
    return (extreme + 1) / (n_perm + 1)


@dataclass(frozen=True)
class Delta:
    """A paired difference A - B with its clustered bootstrap CI and permutation p-value."""

    value: float
    low: float
    high: float
    p: float

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": [self.low, self.high], "p": self.p}


def paired_delta(
    joint: Mapping[str, Sequence[float] | np.ndarray] | IndexFn,
    n: int,
    *,
    clusters: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    n_perm: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Delta]:
    """``{output: Delta}`` of system A minus system B, scored on the same ``n`` trials.

    ``joint`` scores the ``2n`` concatenated trials (A's ``0..n-1``, then B's): either per-trial
    values ``{output: array[2n]}`` (the metric is their mean) or ``fn(indices) -> {output: value}``
    (any metric, e.g. corpus BLEU). The CI resamples whole clusters and scores A and B on the
    same draw; the p-value swaps A's and B's outputs on random subsets of whole clusters.
    """
    if n < 1:
        raise DataError("a paired comparison needs at least one trial.")
    if n_perm < 1 or n_boot < 1:
        raise DataError(f"n_perm and n_boot must be >= 1, got {n_perm} and {n_boot}.")
    codes = cluster_codes(clusters, n)
    n_clusters = int(codes.max()) + 1
    if not callable(joint):
        out = {}
        for k, v in joint.items():
            v = _as_values(v)
            if v.size != 2 * n:
                raise DataError(f"joint values of {k!r} have {v.size} entries, expected {2 * n}.")
            d = v[:n] - v[n:]
            ci = bootstrap_ci(d, n_boot=n_boot, alpha=alpha, seed=seed, clusters=clusters)
            p = paired_permutation_test(v[:n], v[n:], n_perm, seed, clusters=codes)
            out[k] = Delta(float(d.mean()), ci.low, ci.high, p)
        return out
    if isinstance(joint, SentenceStats):
        if joint.stats.shape[0] != 2 * n:
            raise DataError(f"joint statistics have {joint.stats.shape[0]} rows, expected {2 * n}.")
        return _paired_delta_stats(joint, n, codes, n_clusters, n_boot, n_perm, alpha, seed)
    base = np.arange(n)

    def diff(ia: np.ndarray, ib: np.ndarray) -> dict[str, float]:
        fa, fb = joint(ia), joint(ib)
        return {k: float(fa[k]) - float(fb[k]) for k in fa}

    observed = diff(base, base + n)
    boots = [diff(row, row + n) for row in _resamples(n, n_boot, seed, clusters)]
    rng = np.random.default_rng(seed + 1)
    swaps = [rng.integers(0, 2, size=n_clusters).astype(bool)[codes] for _ in range(n_perm)]
    perms = [diff(np.where(swap, base + n, base), np.where(swap, base, base + n)) for swap in swaps]
    return _deltas(observed, boots, perms, alpha, n_boot, n_clusters, n_perm)


def _paired_delta_stats(
    joint: SentenceStats,
    n: int,
    codes: np.ndarray,
    n_clusters: int,
    n_boot: int,
    n_perm: int,
    alpha: float,
    seed: int,
) -> dict[str, Delta]:
    """``paired_delta`` of summed statistics: the same resamples and swaps as the general path,
    their totals from one matrix product each (integer sums: the same totals)."""
    a = SentenceStats(joint.stats[:n], joint.from_stats).cluster_sums(codes, n_clusters)
    b = SentenceStats(joint.stats[n:], joint.from_stats).cluster_sums(codes, n_clusters)

    def diff(ta: np.ndarray, tb: np.ndarray) -> dict[str, float]:
        fa, fb = joint.from_stats(ta), joint.from_stats(tb)
        return {k: float(fa[k]) - float(fb[k]) for k in fa}

    observed = diff(a.sum(axis=0), b.sum(axis=0))
    counts = _draw_counts(bootstrap_indices(n_clusters, n_boot, seed), n_clusters)
    boots = [diff(ta, tb) for ta, tb in zip(counts @ a, counts @ b)]
    rng = np.random.default_rng(seed + 1)
    swap = np.array(
        [rng.integers(0, 2, size=n_clusters).astype(bool) for _ in range(n_perm)]
    ).astype(np.int64)
    keep = 1 - swap
    perms = [diff(ta, tb) for ta, tb in zip(keep @ a + swap @ b, swap @ a + keep @ b)]
    return _deltas(observed, boots, perms, alpha, n_boot, n_clusters, n_perm)


def _deltas(
    observed: dict[str, float],
    boots: list[dict[str, float]],
    perms: list[dict[str, float]],
    alpha: float,
    n_boot: int,
    n_clusters: int,
    n_perm: int,
) -> dict[str, Delta]:
    """Deltas from the observed difference, its bootstrap replicates and permuted replicates."""
    extreme = dict.fromkeys(observed, 0)
    for perm in perms:
        for k, v in perm.items():
            obs = abs(observed[k])
            if abs(v) >= obs - 1e-12 * max(1.0, obs):
                extreme[k] += 1
    out = {}
    for k, value in observed.items():
        ci = _interval(value, np.array([b[k] for b in boots]), alpha, n_boot, n_clusters)
        out[k] = Delta(value, ci.low, ci.high, (extreme[k] + 1) / (n_perm + 1))
    return out


def _concat(a: Any, b: Any) -> Any:
    if isinstance(a, np.ndarray) or hasattr(a, "shape"):
        return np.concatenate([np.asarray(a), np.asarray(b)])
    return [*a, *b]


def joint_context(ctx_a: Mapping[str, Any], ctx_b: Mapping[str, Any]) -> dict[str, Any]:
    """The context of the ``2n`` concatenated trials of two systems (A's first).

    Per-trial entries are concatenated; every other entry must be the same object in both.
    """
    out = dict(ctx_a)
    for key in set(ctx_a) | set(ctx_b):
        va, vb = ctx_a.get(key), ctx_b.get(key)
        if key not in PER_TRIAL_CTX:
            if va is not vb:
                raise DataError(f"paired contexts differ in the shared entry {key!r}.")
            continue
        if va is None or vb is None:
            if va is not vb:
                raise DataError(f"context entry {key!r} is given for one system only.")
            continue
        if isinstance(va, Mapping):
            out[key] = {k: _concat(va[k], vb[k]) for k in va}
        else:
            out[key] = _concat(va, vb)
    return out


TrialScores = dict[str, np.ndarray] | IndexFn
"""What a metric computed per trial, which the bootstrap and the paired tests resample:
per-trial values ``{output: array[n]}``, ``SentenceStats``, or a resampler."""


def trial_scores(
    metric: Any, predictions: Sequence[str], references: Sequence[str], **ctx: Any
) -> TrialScores:
    """What the bootstrap and ``paired_delta`` resample for a built metric.

    Per-trial values ``{output: array[n]}`` when every output is a mean over trials (its
    ``per_item`` covers ``outputs``; vectorised), ``SentenceStats`` when the metric sums
    sentence statistics (vectorised), else ``metric.resampler(...)`` (``compute`` on each
    resample, or the metric's own resampler).
    """
    preds, refs = list(predictions or []), list(references or [])
    stats = metric.sentence_stats(preds, refs) if preds else None
    if stats is not None and type(metric).resampler is Metric.resampler:
        return SentenceStats(np.asarray(stats), metric.from_stats)
    if stats is None:
        per = metric.per_item(preds, refs, **ctx)
        exact = {k for k in metric.outputs if not any(c in k for c in "*?[")}
        covers = per is not None and exact <= set(per)
        if covers and per and all(metric.higher_is_better(k) is not None for k in per):
            return {k: _as_values(v) for k, v in per.items()}
    return metric.resampler(preds, refs, **ctx)


def joint_trial_scores(
    metric: Any,
    predictions_a: Sequence[str],
    predictions_b: Sequence[str],
    references: Sequence[str],
    ctx_a: Mapping[str, Any],
    ctx_b: Mapping[str, Any],
    scores_a: TrialScores | None = None,
    scores_b: TrialScores | None = None,
) -> TrialScores:
    """``trial_scores`` of the ``2n`` concatenated trials of two systems on the same trials (A's
    first), what ``paired_delta`` takes. Scores each system already has are concatenated when
    they are per-trial values or sentence statistics; otherwise the pair is scored anew."""
    if isinstance(scores_a, dict) and isinstance(scores_b, dict):
        return {k: np.concatenate([scores_a[k], scores_b[k]]) for k in scores_a}
    if isinstance(scores_a, SentenceStats) and isinstance(scores_b, SentenceStats):
        return SentenceStats(np.concatenate([scores_a.stats, scores_b.stats]), scores_a.from_stats)
    ctx = joint_context(ctx_a, ctx_b)
    preds = [*predictions_a, *predictions_b] if predictions_a else []
    refs = [*references, *references] if references else []
    return trial_scores(metric, preds, refs, **ctx)
