"""``eegbench compare``: paired permutation tests between two runs on the same test trials.

Scores are recomputed per trial from each run's ``predictions.csv``:

- metrics with per-trial scores (``Metric.per_item``: ROUGE, METEOR, CIDEr, BERTScore, the
  Thought2Text protocol) and object accuracy (expected object == predicted object) are means
  over trials: the test flips the sign of a random subset of the per-trial differences
  (``stats.paired_permutation_test``);
- metrics with per-sentence statistics (``Metric.sentence_stats``: corpus BLEU's n-gram
  counts): the test swaps the two runs' captions on a random subset of trials and recomputes
  the corpus metric for both (approximate randomization, Riezler & Maxwell 2005).

Metrics are built with run A's ``metrics.NAME`` parameters (the defaults for an older run).

Both are two-sided; a p-value counts the observed statistic as one permutation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.api.errors import ConfigError, DataError, EegbenchError, UnknownNameError
from eegbench.api.metric import CAPTIONS, Metric, output_key
from eegbench.evaluation.predictions import Predictions, read_predictions
from eegbench.evaluation.scoring import build_metric
from eegbench.evaluation.stats import paired_permutation_test
from eegbench.report.record import RESULTS, RunRecord

ACCURACY = "accuracy"
DEFAULT_METRICS = (ACCURACY, "bleu", "rouge")
SIGN_FLIP = "sign-flip"
SWAP = "approximate randomization"


@dataclass
class RunPredictions:
    """A run's prediction rows and, when it has a results.json, its test-split identity."""

    name: str
    predictions: Predictions
    split_test: str | None = None
    data: str | None = None
    metrics: list[str] | None = None
    metric_params: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_run_predictions(path: str | Path) -> RunPredictions:
    """A run directory (predictions.csv + results.json) or a bare prediction CSV."""
    p = Path(path).expanduser()
    if p.is_file():
        return RunPredictions(p.name, read_predictions(p))
    if not p.is_dir():
        raise DataError(f"{str(p)!r} is neither a run directory nor a prediction CSV.")
    csv_path = p / "predictions.csv"
    if not csv_path.is_file():
        raise DataError(
            f"run {str(p)!r} has no predictions.csv (incomplete run, or a dataset without "
            "captions); compare needs one per run."
        )
    run = RunPredictions(p.name, read_predictions(csv_path))
    if (p / RESULTS).is_file():
        record = RunRecord.read(p)
        hashes = record.dataset.hashes
        run.split_test, run.data = hashes.get("split_test"), hashes.get("data")
        config = record.config
        run.metrics = config.get("eval", {}).get("metrics")
        run.metric_params = config.get("metrics") or {}
    return run


def check_same_test_set(a: RunPredictions, b: RunPredictions) -> None:
    """DataError unless both runs scored the same test trials in the same order."""
    if a.split_test and b.split_test and a.split_test != b.split_test:
        raise DataError(
            f"{a.name} and {b.name} have different test sets (split_test hash {a.split_test} vs "
            f"{b.split_test}); a paired test needs the same trials."
        )
    pa, pb = a.predictions, b.predictions
    if len(pa) != len(pb):
        raise DataError(
            f"{a.name} has {len(pa)} test trials and {b.name} {len(pb)}; a paired test needs "
            "the same trials."
        )
    for column in ("image", "expected_object", "reference"):
        va, vb = getattr(pa, column), getattr(pb, column)
        for i, (x, y) in enumerate(zip(va, vb)):
            if x != y:
                raise DataError(
                    f"{a.name} and {b.name} have different test sets: row {i} has {column} "
                    f"{x!r} vs {y!r}."
                )


def _build(name: str, params: dict[str, Any]) -> Metric:
    try:
        return build_metric(name, params.get(name))
    except UnknownNameError as e:
        raise ConfigError(f"{e} (or {ACCURACY!r}: expected vs predicted object)") from None


def _check_caption_metric(name: str, metric: Metric) -> None:
    if tuple(metric.requires) != (CAPTIONS,):
        raise ConfigError(
            f"metric {name!r} needs {', '.join(r for r in metric.requires if r != CAPTIONS)}, "
            f"which predictions.csv does not hold; compare tests caption metrics and {ACCURACY!r}."
        )


def _not_testable(name: str) -> ConfigError:
    return ConfigError(
        f"metric {name!r} has no per-trial scores (per_item) or sentence statistics "
        "(sentence_stats), so it cannot be permutation-tested."
    )


def _hits(p: Predictions) -> np.ndarray:
    return np.array([e == q for e, q in zip(p.expected_object, p.predicted_object)], dtype=float)


def swap_test(
    stats_a: np.ndarray,
    stats_b: np.ndarray,
    score: Any,
    n_perm: int = 10000,
    seed: int = 0,
) -> dict[str, float]:
    """Approximate randomization p-values of a corpus metric from per-trial statistics.

    ``stats_*`` ``[n, k]`` sum to the corpus statistic; ``score(total) -> {output: value}``.
    """
    if stats_a.shape != stats_b.shape:
        raise DataError(f"statistics differ in shape: {stats_a.shape} vs {stats_b.shape}.")
    if n_perm < 1:
        raise DataError(f"n_perm must be >= 1, got {n_perm}.")
    ta, tb = stats_a.sum(axis=0), stats_b.sum(axis=0)
    sa, sb = score(ta), score(tb)
    observed = {k: abs(sa[k] - sb[k]) for k in sa}
    extreme = dict.fromkeys(sa, 0)
    rng = np.random.default_rng(seed)
    delta = stats_b - stats_a
    n = stats_a.shape[0]
    done = 0
    while done < n_perm:
        m = min(1000, n_perm - done)
        moved = rng.integers(0, 2, size=(m, n)).astype(delta.dtype) @ delta
        for d in moved:
            xa, xb = score(ta + d), score(tb - d)
            for k in observed:
                if abs(xa[k] - xb[k]) >= observed[k] - 1e-12 * max(1.0, observed[k]):
                    extreme[k] += 1
        done += m
    return {k: (extreme[k] + 1) / (n_perm + 1) for k in observed}


def compare_runs(
    run_a: str | Path,
    run_b: str | Path,
    metrics: list[str] | None = None,
    n_perm: int = 10000,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"run_a", "run_b", "n_trials", "n_perm", "seed", "rows", "skipped"}``.

    ``rows``: one ``{output, metric, a, b, diff, p, higher_is_better, test}`` per metric output.

    ``diff`` is B - A. ``metrics`` are metric plugin names or ``accuracy``; by default the
    caption metrics of run A's config (those that cannot be tested are listed in
    ``skipped``) plus accuracy.
    """
    a, b = load_run_predictions(run_a), load_run_predictions(run_b)
    check_same_test_set(a, b)
    skipped: dict[str, str] = {}
    built: dict[str, Metric] = {}
    explicit = bool(metrics)
    if not metrics:
        metrics = [ACCURACY]
        for name in a.metrics or DEFAULT_METRICS[1:]:
            if name == ACCURACY:
                continue
            try:
                built[name] = _build(name, a.metric_params)
                _check_caption_metric(name, built[name])
            except EegbenchError as e:
                skipped[name] = str(e)
                continue
            metrics.append(name)
    pa, pb = a.predictions, b.predictions
    rows: list[dict[str, Any]] = []

    def add(output: str, metric: str, va: float, vb: float, p: float, hib: bool, test: str):
        rows.append(
            {
                "output": output,
                "metric": metric,
                "a": float(va),
                "b": float(vb),
                "diff": float(vb) - float(va),
                "p": float(p),
                "higher_is_better": hib,
                "test": test,
            }
        )

    for name in dict.fromkeys(metrics):
        if name == ACCURACY:
            ha, hb = _hits(pa), _hits(pb)
            p = paired_permutation_test(ha, hb, n_perm, seed)
            add(ACCURACY, ACCURACY, ha.mean(), hb.mean(), p, True, SIGN_FLIP)
            continue
        metric = built.get(name) or _build(name, a.metric_params)
        _check_caption_metric(name, metric)
        ia = metric.per_item(
            pa.generated,
            pa.reference,
            expected_objects=pa.expected_object,
            predicted_objects=pa.predicted_object,
        )
        if ia is not None:
            ib = metric.per_item(
                pb.generated,
                pb.reference,
                expected_objects=pb.expected_object,
                predicted_objects=pb.predicted_object,
            )
            for key in ia:
                p = paired_permutation_test(ia[key], ib[key], n_perm, seed)
                hib = bool(metric.outputs.get(key, True))
                mean_a, mean_b = np.mean(ia[key]), np.mean(ib[key])
                add(output_key(name, key), name, mean_a, mean_b, p, hib, SIGN_FLIP)
            continue
        sa = metric.sentence_stats(pa.generated, pa.reference)
        if sa is None:
            if explicit:
                raise _not_testable(name)
            skipped[name] = str(_not_testable(name))
            continue
        sb = metric.sentence_stats(pb.generated, pb.reference)
        ps = swap_test(sa, sb, metric.from_stats, n_perm, seed)
        va, vb = metric.from_stats(sa.sum(axis=0)), metric.from_stats(sb.sum(axis=0))
        for key in va:
            hib = bool(metric.outputs.get(key, True))
            add(output_key(name, key), name, va[key], vb[key], ps[key], hib, SWAP)
    return {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "n_trials": len(pa),
        "n_perm": n_perm,
        "seed": seed,
        "rows": rows,
        "skipped": skipped,
    }
