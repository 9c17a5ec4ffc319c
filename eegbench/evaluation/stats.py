"""Uncertainty for benchmark numbers: clustered bootstrap CIs and paired permutation tests.

Design (numpy only):

- The unit of resampling is the *cluster*: the trials that share a stimulus image (and so a
  reference caption) are not independent, so a bootstrap sample draws whole clusters with
  replacement and a paired test permutes whole clusters. The dataset declares the unit
  (``EEGData.cluster``, by default the image); ``clusters=None`` treats every trial as its own
  cluster (the classical trial bootstrap). ``Units`` holds that choice.
- What a metric computed per trial is a ``TrialScores``: one class per kind, each knowing how
  to score itself on any trials and on a batch of resamples. ``TrialValues`` are per-trial
  values of outputs that are means over trials (accuracy, retrieval, cosine, per-pair
  ROUGE/METEOR, the Thought2Text protocol, ``metric.per_item``): their clustered bootstrap is a
  vectorised ratio of resampled cluster sums to resampled cluster sizes. ``SentenceStats`` are
  per-trial sufficient statistics (BLEU's n-gram counts) summed per resample, cheap and exact.
  ``CorpusScores`` recompute any other metric through ``fn(indices) -> {output: value}``
  (``Metric.resampler``, ``eegbench.contract.metric``): correct, but as slow as the metric.
- One bootstrap loop (``bootstrap_cis``) and one permutation loop (``paired_delta``,
  ``paired_permutation_test``) serve every kind, and one interval type (``CI``) carries every
  result. Every output of a metric is recomputed on the *same* resampled trials, so CIs of
  related outputs come from the same resamples.
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
  *joint* score of the ``2n`` concatenated trials (system A's first). The difference's CI
  resamples clusters and scores both systems on them; the p-value swaps the two systems' outputs
  on a random subset of whole clusters (approximate randomization, Riezler & Maxwell 2005); for
  a mean over trials this is the cluster sign-flip test. p-values are two-sided and count the
  observed statistic as one permutation, so they are never 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from eegbench.contract.errors import DataError
from eegbench.contract.metric import PER_TRIAL_CTX, Metric

IndexFn = Callable[[np.ndarray], Any]
Values = Sequence[float] | np.ndarray

SIGN_FLIP = "cluster sign-flip"
"""The paired test of means over trials: flip the sign of random clusters' differences."""
SWAP = "cluster approximate randomization"
"""The paired test of any other metric: swap the systems' outputs on random clusters."""
BATCH_CELLS = 2_000_000
"""Coin flips drawn per batch of permutations (bounds the memory of a batch)."""


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

    def as_dict(self) -> dict[str, Any]:
        """``{"value", "ci", "p"}`` as results.json records a difference (``p`` when set)."""
        out: dict[str, Any] = {"value": self.estimate, "ci": [self.low, self.high]}
        if self.p is not None:
            out["p"] = self.p
        return out


def cluster_codes(clusters: Sequence[Any] | np.ndarray | None, n: int) -> np.ndarray:
    """Cluster index ``0..G-1`` of each of ``n`` trials (``None``: every trial its own)."""
    if clusters is None:
        return np.arange(n)
    arr = np.asarray(clusters)
    if arr.shape != (n,):
        raise DataError(f"clusters must give one id per trial ({n}), got shape {arr.shape}.")
    return np.unique(arr, return_inverse=True)[1].reshape(-1)


@dataclass(frozen=True)
class Units:
    """The resampling units of ``n`` trials: trial ``i`` belongs to unit ``codes[i]``.

    ``clustered`` is False when no clusters were given and every trial is its own unit.
    """

    codes: np.ndarray
    clustered: bool

    @classmethod
    def of(cls, clusters: Sequence[Any] | np.ndarray | None, n: int) -> Units:
        """The units of ``n`` trials: their ``clusters``, or the trials themselves."""
        if n < 1:
            raise DataError("bootstrap needs at least one trial.")
        return cls(cluster_codes(clusters, n), clusters is not None)

    @property
    def n(self) -> int:
        """The number of trials."""
        return int(self.codes.size)

    @cached_property
    def size(self) -> int:
        """The number of units, ``G``."""
        return int(self.codes.max()) + 1

    def sums(self, values: np.ndarray) -> np.ndarray:
        """``[G]`` per-unit sums of per-trial ``values``."""
        return np.bincount(self.codes, weights=values)

    @cached_property
    def members(self) -> list[np.ndarray]:
        """The trials of each unit, in trial order."""
        order = np.argsort(self.codes, kind="stable")
        sizes = np.bincount(self.codes)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return [order[s : s + k] for s, k in zip(starts, sizes)]

    def trials(self, draw: np.ndarray) -> np.ndarray:
        """The trials of the drawn units (each with all of its trials)."""
        if not self.clustered:
            return draw
        return np.concatenate([self.members[g] for g in draw])


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
    units = Units.of(clusters, len(clusters))
    return [units.trials(row) for row in bootstrap_indices(units.size, n_boot, seed)]


def _coin_flips(seed: int, n_units: int, n_perm: int, dtype: type) -> Iterator[np.ndarray]:
    """``[m, n_units]`` fair 0/1 coins for ``n_perm`` permutations, a batch at a time."""
    rng = np.random.default_rng(seed)
    rows = max(1, min(n_perm, BATCH_CELLS // n_units))
    for start in range(0, n_perm, rows):
        yield rng.integers(0, 2, size=(min(rows, n_perm - start), n_units), dtype=dtype)


def _draw_counts(draws: np.ndarray, n_units: int) -> np.ndarray:
    """``[n_boot, G]``: how often each unit appears in each row of ``draws``."""
    rows = np.repeat(np.arange(draws.shape[0]), draws.shape[1])
    counts = np.zeros((draws.shape[0], n_units), dtype=np.int64)
    np.add.at(counts, (rows, draws.reshape(-1)), 1)
    return counts


def _as_values(values: Values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise DataError("bootstrap needs at least one per-trial value.")
    if not np.isfinite(arr).all():
        raise DataError("per-trial values contain NaN or inf.")
    return arr


def _floats(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


def _minus(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {k: float(a[k]) - float(b[k]) for k in a}


def _stack(rows: Sequence[Mapping[str, float]]) -> dict[str, np.ndarray]:
    """``{output: array}`` of one value per row."""
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


class Resampled(Protocol):
    """Outputs the bootstrap recomputes on resampled trials."""

    def score(self, idx: np.ndarray) -> dict[str, float]:
        """The outputs on the trials ``idx`` (repeats count as often as they appear)."""
        ...

    def resampled(self, units: Units, draws: np.ndarray) -> dict[str, np.ndarray]:
        """``{output: [n_boot]}`` on the trials of each row of drawn ``units``."""
        ...


class Paired(Resampled, Protocol):
    """A - B of two systems on the same trials: resampled, and tested by permuting units."""

    def statistic(self, units: Units) -> dict[str, float]:
        """The observed test statistic (its absolute value is compared)."""
        ...

    def coins(self, units: Units, n_perm: int, seed: int) -> Iterator[np.ndarray]:
        """``n_perm`` random exchanges of A and B per unit, in batches ``[m, G]``."""
        ...

    def permuted(self, units: Units, coins: np.ndarray) -> dict[str, np.ndarray]:
        """``{output: [m]}``: the statistic after each row of ``coins``."""
        ...


@runtime_checkable
class TrialScores(Resampled, Protocol):
    """What a metric computed per trial, which the bootstrap and the paired tests resample:
    ``TrialValues``, ``SentenceStats`` or ``CorpusScores``."""

    test: ClassVar[str]
    """The paired test ``paired_delta`` makes of two systems' scores (``SIGN_FLIP``, ``SWAP``)."""

    @property
    def n(self) -> int | None:
        """The number of trials (None: the caller says, ``n`` of ``bootstrap_cis``)."""
        ...

    def concat(self, other: Any) -> TrialScores | None:
        """The scores of these trials then ``other``'s (the same kind); None when the pair
        must be scored anew."""
        ...

    def paired(self, n: int) -> Paired:
        """A - B, for these scores of A's ``n`` trials followed by B's."""
        ...


class TrialValues(dict[str, np.ndarray]):
    """Per-trial values ``{output: array[n]}`` of outputs that are their means over trials.

    Its bootstrap is vectorised; as a difference (``paired``) its test flips the sign of the
    per-cluster sums of random clusters (``SIGN_FLIP``).
    """

    test: ClassVar[str] = SIGN_FLIP

    def __init__(self, values: Mapping[str, Values]) -> None:
        super().__init__((k, _as_values(v)) for k, v in values.items())
        sizes = {k: a.size for k, a in self.items()}
        if len(set(sizes.values())) > 1:
            raise DataError(f"per-trial value arrays differ in length: {sizes}.")

    @property
    def n(self) -> int:
        """The number of trials."""
        return next((a.size for a in self.values()), 0)

    def score(self, idx: np.ndarray) -> dict[str, float]:
        return {k: float(v[idx].mean()) for k, v in self.items()}

    def resampled(self, units: Units, draws: np.ndarray) -> dict[str, np.ndarray]:
        """Resampled means: of trials, or of whole clusters (ratio of sums to sizes)."""
        if not units.clustered:
            return {k: v[draws].mean(axis=1) for k, v in self.items()}
        sizes = np.bincount(units.codes).astype(float)[draws].sum(axis=1)
        return {k: units.sums(v)[draws].sum(axis=1) / sizes for k, v in self.items()}

    def concat(self, other: TrialValues) -> TrialValues:
        return TrialValues({k: np.concatenate([v, other[k]]) for k, v in self.items()})

    def paired(self, n: int) -> TrialValues:
        """The per-trial differences A - B."""
        for k, v in self.items():
            if v.size != 2 * n:
                raise DataError(f"joint values of {k!r} have {v.size} entries, expected {2 * n}.")
        return TrialValues({k: v[:n] - v[n:] for k, v in self.items()})

    def statistic(self, units: Units) -> dict[str, float]:
        """The sum of the differences (the test of their mean)."""
        return {k: float(units.sums(v).sum()) for k, v in self.items()}

    def coins(self, units: Units, n_perm: int, seed: int) -> Iterator[np.ndarray]:
        """Per unit, 1 keeps the sign of its differences and 0 flips it."""
        return _coin_flips(seed, units.size, n_perm, np.int8)

    def permuted(self, units: Units, coins: np.ndarray) -> dict[str, np.ndarray]:
        signs = coins * 2 - 1
        return {k: signs @ units.sums(v) for k, v in self.items()}


class _Swapped(ABC):
    """The test of a difference of any metric: swap A's and B's outputs on random units."""

    @abstractmethod
    def score(self, idx: np.ndarray) -> dict[str, float]:
        """A - B on the trials ``idx``."""

    def statistic(self, units: Units) -> dict[str, float]:
        """The observed difference."""
        return self.score(np.arange(units.n))

    def coins(self, units: Units, n_perm: int, seed: int) -> Iterator[np.ndarray]:
        """Per unit, 1 swaps A's and B's outputs and 0 keeps them."""
        return _coin_flips(seed + 1, units.size, n_perm, np.int64)


@dataclass(frozen=True)
class SentenceStats:
    """A corpus metric's per-trial sufficient statistics ``[n, k]`` (integers) and its
    ``from_stats``: the value on any trials is ``from_stats`` of their summed rows.

    The bootstrap and the paired test sum the rows of all resamples at once (exact integer
    sums, one matrix product).
    """

    stats: np.ndarray
    from_stats: Callable[[np.ndarray], dict[str, float]]
    test: ClassVar[str] = SWAP

    @property
    def n(self) -> int:
        """The number of trials."""
        return int(self.stats.shape[0])

    def score(self, idx: np.ndarray) -> dict[str, float]:
        return _floats(self.from_stats(self.stats[np.asarray(idx)].sum(axis=0)))

    def cluster_sums(self, units: Units) -> np.ndarray:
        """``[G, k]`` row sums per unit."""
        sums = np.zeros((units.size, self.stats.shape[1]), dtype=self.stats.dtype)
        np.add.at(sums, units.codes, self.stats)
        return sums

    def resampled(self, units: Units, draws: np.ndarray) -> dict[str, np.ndarray]:
        totals = _draw_counts(draws, units.size) @ self.cluster_sums(units)
        return _stack([self.from_stats(t) for t in totals])

    def concat(self, other: SentenceStats) -> SentenceStats:
        return SentenceStats(np.concatenate([self.stats, other.stats]), self.from_stats)

    def paired(self, n: int) -> Paired:
        if self.n != 2 * n:
            raise DataError(f"joint statistics have {self.n} rows, expected {2 * n}.")
        a, b = self.stats[:n], self.stats[n:]
        return _StatsDifference(
            SentenceStats(a, self.from_stats), SentenceStats(b, self.from_stats)
        )


@dataclass(frozen=True)
class _StatsDifference(_Swapped):
    """A - B of sentence statistics on the same trials."""

    a: SentenceStats
    b: SentenceStats

    def _minus(self, total_a: np.ndarray, total_b: np.ndarray) -> dict[str, float]:
        return _minus(self.a.from_stats(total_a), self.b.from_stats(total_b))

    def score(self, idx: np.ndarray) -> dict[str, float]:
        return _minus(self.a.score(idx), self.b.score(idx))

    def resampled(self, units: Units, draws: np.ndarray) -> dict[str, np.ndarray]:
        counts = _draw_counts(draws, units.size)
        a, b = counts @ self.a.cluster_sums(units), counts @ self.b.cluster_sums(units)
        return _stack([self._minus(ta, tb) for ta, tb in zip(a, b)])

    def permuted(self, units: Units, coins: np.ndarray) -> dict[str, np.ndarray]:
        a, b = self.a.cluster_sums(units), self.b.cluster_sums(units)
        keep = 1 - coins
        pairs = zip(keep @ a + coins @ b, coins @ a + keep @ b)
        return _stack([self._minus(ta, tb) for ta, tb in pairs])


@dataclass(frozen=True)
class CorpusScores:
    """Outputs that ``fn(trial indices) -> {output: value}`` recomputes on each resample:
    exact for any metric (corpus-level ones included), as slow as the metric."""

    fn: IndexFn
    test: ClassVar[str] = SWAP

    @property
    def n(self) -> None:
        """Unknown: the caller says how many trials ``fn`` scores."""
        return None

    def score(self, idx: np.ndarray) -> dict[str, float]:
        return _floats(self.fn(idx))

    def resampled(self, units: Units, draws: np.ndarray) -> dict[str, np.ndarray]:
        return _stack([self.score(units.trials(row)) for row in draws])

    def concat(self, other: CorpusScores) -> None:
        return None

    def paired(self, n: int) -> Paired:
        return _CorpusDifference(self, n)


@dataclass(frozen=True)
class _CorpusDifference(_Swapped):
    """A - B of ``joint``, which scores A's trials ``0..n-1`` and B's ``n..2n-1``."""

    joint: CorpusScores
    n: int

    def score(self, idx: np.ndarray) -> dict[str, float]:
        return _minus(self.joint.score(idx), self.joint.score(idx + self.n))

    def resampled(self, units: Units, draws: np.ndarray) -> dict[str, np.ndarray]:
        return _stack([self.score(units.trials(row)) for row in draws])

    def permuted(self, units: Units, coins: np.ndarray) -> dict[str, np.ndarray]:
        base, rows = np.arange(self.n), []
        for row in coins:
            swap = row.astype(bool)[units.codes]
            a, b = np.where(swap, base + self.n, base), np.where(swap, base, base + self.n)
            rows.append(_minus(self.joint.score(a), self.joint.score(b)))
        return _stack(rows)


def as_trial_scores(data: TrialScores | Mapping[str, Values] | IndexFn) -> TrialScores:
    """``data`` as trial scores: per-trial values ``{output: array}`` become ``TrialValues``
    and ``fn(indices) -> {output: value}`` becomes ``CorpusScores``."""
    if isinstance(data, Mapping):
        return data if isinstance(data, TrialValues) else TrialValues(data)
    if isinstance(data, TrialScores):
        return data
    return CorpusScores(data)


def _interval(estimate: float, samples: np.ndarray, alpha: float, n_boot: int, n_units: int) -> CI:
    """Percentile interval of ``samples``, widened around ``estimate`` by sqrt(G / (G - 1))."""
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}.")
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    widen = float(np.sqrt(n_units / (n_units - 1))) if n_units > 1 else 1.0
    low, high = estimate + widen * (low - estimate), estimate + widen * (high - estimate)
    return CI(float(estimate), float(low), float(high), "bootstrap", float(alpha), int(n_boot))


def _bootstrap(
    scores: Resampled, units: Units, n_boot: int, alpha: float, seed: int
) -> dict[str, CI]:
    """The estimates on all trials with their percentile intervals over ``n_boot`` draws of
    ``units`` (the same draws for every output)."""
    estimate = scores.score(np.arange(units.n))
    samples = scores.resampled(units, bootstrap_indices(units.size, n_boot, seed))
    return {k: _interval(v, samples[k], alpha, n_boot, units.size) for k, v in estimate.items()}


def _permutation_p(pair: Paired, units: Units, n_perm: int, seed: int) -> dict[str, float]:
    """Two-sided p-values of ``pair``'s statistic over ``n_perm`` random exchanges of units
    (the observed one counted as one permutation)."""
    observed = {k: abs(v) for k, v in pair.statistic(units).items()}
    extreme = dict.fromkeys(observed, 0)
    for coins in pair.coins(units, n_perm, seed):
        for k, values in pair.permuted(units, coins).items():
            # a tolerance keeps exactly-equal permuted values (identical inputs) counted extreme
            tol = 1e-12 * max(1.0, observed[k])
            extreme[k] += int((np.abs(values) >= observed[k] - tol).sum())
    return {k: (count + 1) / (n_perm + 1) for k, count in extreme.items()}


def bootstrap_cis(
    data: TrialScores | Mapping[str, Values] | IndexFn,
    n: int | None = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    clusters: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, CI]:
    """CIs for several outputs on shared resamples (of whole ``clusters`` when given).

    ``data`` is trial scores (``trial_scores``), ``{output: per-trial values}`` (means) or
    ``fn(indices) -> {output: value}``; ``n``, the number of trials, is needed for ``fn``.
    """
    scores = as_trial_scores(data)
    size = scores.n if scores.n is not None else n
    if size is None:
        raise DataError("a bootstrap of fn(indices) needs n, the number of trials.")
    return _bootstrap(scores, Units.of(clusters, size), n_boot, alpha, seed)


def bootstrap_ci(
    data: Values | IndexFn,
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
        fn = data
        scores: TrialScores = CorpusScores(lambda idx: {"": fn(idx)})
    else:
        scores = TrialValues({"": data})
    return bootstrap_cis(scores, n, n_boot=n_boot, alpha=alpha, seed=seed, clusters=clusters)[""]


def paired_permutation_test(
    a: Values,
    b: Values,
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
    diff = TrialValues({"": a - b})
    return _permutation_p(diff, Units.of(clusters, diff.n), n_perm, seed)[""]


def paired_delta(
    joint: TrialScores | Mapping[str, Values] | IndexFn,
    n: int,
    *,
    clusters: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    n_perm: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, CI]:
    """``{output: CI}`` of system A minus system B, scored on the same ``n`` trials, with the
    permutation test's ``p``.

    ``joint`` scores the ``2n`` concatenated trials (A's ``0..n-1``, then B's): trial scores
    (``joint_trial_scores``), per-trial values ``{output: array[2n]}`` (the metric is their mean)
    or ``fn(indices) -> {output: value}`` (any metric, e.g. corpus BLEU). The CI resamples whole
    clusters and scores A and B on the same draw; the p-value swaps A's and B's outputs on
    random subsets of whole clusters.
    """
    if n < 1:
        raise DataError("a paired comparison needs at least one trial.")
    if n_perm < 1 or n_boot < 1:
        raise DataError(f"n_perm and n_boot must be >= 1, got {n_perm} and {n_boot}.")
    units = Units.of(clusters, n)
    pair = as_trial_scores(joint).paired(n)
    cis = _bootstrap(pair, units, n_boot, alpha, seed)
    p = _permutation_p(pair, units, n_perm, seed)
    return {k: replace(ci, p=p[k]) for k, ci in cis.items()}


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


def trial_scores(
    metric: Any, predictions: Sequence[str], references: Sequence[str], **ctx: Any
) -> TrialScores:
    """What the bootstrap and ``paired_delta`` resample for a built metric.

    ``TrialValues`` when every output is a mean over trials (its ``per_item`` covers
    ``outputs``; vectorised), ``SentenceStats`` when the metric sums sentence statistics
    (vectorised), else ``CorpusScores`` of ``metric.resampler(...)`` (``compute`` on each
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
            return TrialValues(per)
    return CorpusScores(metric.resampler(preds, refs, **ctx))


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
    they are of one kind that can be (``TrialScores.concat``); otherwise the pair is scored
    anew."""
    if scores_a is not None and type(scores_a) is type(scores_b):
        joint = scores_a.concat(scores_b)
        if joint is not None:
            return joint
    ctx = joint_context(ctx_a, ctx_b)
    preds = [*predictions_a, *predictions_b] if predictions_a else []
    refs = [*references, *references] if references else []
    return trial_scores(metric, preds, refs, **ctx)
