"""``eegbench compare``: paired tests between two runs, or a run and one of its controls.

Both systems must have scored the same test trials. Trials that share a cluster (the statistical
unit the dataset declared, recorded in ``results.json`` ``statistics.clusters``; by default, and
for bare prediction CSVs, the image) are not independent, so every test permutes whole clusters
and every CI resamples whole clusters (``stats.paired_delta``):

- metrics with ``per_item`` (ROUGE, METEOR, CIDEr, BERTScore, the Thought2Text protocol) and
  ``object_match`` (expected object == predicted object) are means over trials: the test flips
  the sign of the per-cluster differences of a random subset of clusters;
- corpus BLEU recomputes from per-sentence n-gram statistics: the test swaps the two systems'
  captions on a random subset of clusters and recomputes corpus BLEU for both (approximate
  randomization, Riezler & Maxwell 2005).

Both are two-sided; a p-value counts the observed statistic as one permutation. ``diff`` is
B - A; with ``--control`` A is the control and B the full pipeline, so ``diff`` is full - control.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.config.saved import SavedConfig
from eegbench.contract.errors import ConfigError, DataError, EegbenchError, UnknownNameError
from eegbench.contract.metric import CAPTIONS, Metric, output_key
from eegbench.evaluation.predictions import COLUMNS, Predictions, read_predictions
from eegbench.evaluation.scoring import build_metric
from eegbench.evaluation.stats import (
    CI,
    TrialScores,
    TrialValues,
    joint_trial_scores,
    paired_delta,
)
from eegbench.results.record import RunRecord, identity_conflicts
from eegbench.results.rundir import RunDir

OBJECT_MATCH = "object_match"
"""Compare's own row: the share of trials whose predicted object is the expected one, read from
predictions.csv (not the ``accuracy`` metric plugin, which needs the classifier's logits)."""
DEFAULT_METRICS = (OBJECT_MATCH, "bleu", "rouge")


@dataclass
class RunPredictions:
    """A run's prediction rows and, when it has a results.json, its test-split identity."""

    name: str
    predictions: Predictions
    split_test: str | None = None
    data: str | None = None
    metrics: list[str] | None = None
    metric_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: list[int] | None = None  # per trial, from results.json (None: by image)
    cluster_unit: str = "image"
    record: RunRecord | None = None


def load_run_predictions(path: str | Path, control: str | None = None) -> RunPredictions:
    """A run directory (predictions.csv + results.json) or a bare prediction CSV.

    With ``control``, the run's ``predictions_<control>.csv`` instead of its full pipeline.
    """
    p = Path(path).expanduser()
    if p.is_file():
        if control is not None:
            raise DataError(f"--control needs a run directory, and {str(p)!r} is a file.")
        return RunPredictions(p.name, read_predictions(p))
    if not p.is_dir():
        raise DataError(f"{str(p)!r} is neither a run directory nor a prediction CSV.")
    run_dir = RunDir(p)
    csv_path = run_dir.predictions(control)
    if not csv_path.is_file():
        if control is not None:
            have = sorted(run_dir.rows())
            raise DataError(
                f"run {str(p)!r} has no {csv_path.name}; its controls on disk: "
                f"{', '.join(have) or '(none)'} (run with eval.controls=... to get more)."
            )
        raise DataError(
            f"run {str(p)!r} has no {csv_path.name} (incomplete run, or a dataset without "
            "captions); compare needs one per run."
        )
    name = p.name if control is None else f"{p.name}:{control}"
    run = RunPredictions(name, read_predictions(csv_path))
    if run_dir.results.is_file():
        record = run.record = RunRecord.read(p)
        hashes = record.dataset.hashes
        run.split_test, run.data = hashes.get("split_test"), hashes.get("data")
        saved = SavedConfig.read(record.config)
        run.metrics, run.metric_params = saved.metrics, saved.metric_params
        if record.statistics is not None:
            run.clusters = record.statistics.clusters
            run.cluster_unit = record.statistics.cluster_unit
        if run.clusters is not None and len(run.clusters) != len(run.predictions):
            raise DataError(
                f"{str(run_dir.results)!r} records {len(run.clusters)} clusters for "
                f"{len(run.predictions)} predictions; the run directory is inconsistent."
            )
    return run


def pool_runs(runs: list[RunPredictions], name: str) -> RunPredictions:
    """Several runs (one per world) as one prediction set: trials concatenated in the order
    given, each cluster numbered within its world (a cluster is a world's image, or its unit)."""
    if not runs:
        raise DataError("pooling needs at least one run.")
    preds = Predictions()
    clusters: list[int] = []
    offset = 0
    for run in runs:
        for column in COLUMNS:
            getattr(preds, column).extend(getattr(run.predictions, column))
        own = run.clusters if run.clusters is not None else run.predictions.image
        codes = {c: offset + i for i, c in enumerate(dict.fromkeys(own))}
        clusters += [codes[c] for c in own]
        offset += len(codes)
    return RunPredictions(
        name,
        preds,
        split_test="+".join(str(r.split_test) for r in runs),
        metrics=runs[0].metrics,
        metric_params=runs[0].metric_params,
        clusters=clusters,
        cluster_unit=f"world x {runs[0].cluster_unit}",
    )


def shared_clusters(a: RunPredictions, b: RunPredictions) -> tuple[list[Any], str]:
    """The clusters both runs' trials fall in (recorded, else the image), and the unit's name."""
    if a.clusters is not None and b.clusters is not None and a.clusters != b.clusters:
        raise DataError(
            f"{a.name} and {b.name} record different clusters of the same test trials; a paired "
            "test needs one statistical unit."
        )
    for run in (a, b):
        if run.clusters is not None:
            return list(run.clusters), run.cluster_unit
    return list(a.predictions.image), "image"


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
    for column in ("image", "expected_object", "references"):
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
        raise ConfigError(f"{e} (or {OBJECT_MATCH!r}: expected vs predicted object)") from None


def _check_caption_metric(name: str, metric: Metric) -> None:
    if tuple(metric.requires) != (CAPTIONS,):
        raise ConfigError(
            f"metric {name!r} needs {', '.join(r for r in metric.requires if r != CAPTIONS)}, "
            f"which predictions.csv does not hold; compare tests caption metrics and "
            f"{OBJECT_MATCH!r}."
        )


def caption_metric_problem(name: str, metric_params: dict[str, Any]) -> str | None:
    """Why metric ``name`` cannot be tested from prediction files, or None if it can."""
    try:
        metric = _build(name, metric_params)
        _check_caption_metric(name, metric)
    except EegbenchError as e:
        return str(e)
    return None


def _not_testable(name: str) -> ConfigError:
    return ConfigError(
        f"metric {name!r} has no per-trial scores (per_item) or sentence statistics "
        "(sentence_stats), so it cannot be permutation-tested."
    )


def _hits(p: Predictions) -> np.ndarray:
    return np.array([e == q for e, q in zip(p.expected_object, p.predicted_object)], dtype=float)


def _ctx(p: Predictions) -> dict[str, Any]:
    return {"expected_objects": p.expected_object, "predicted_objects": p.predicted_object}


def compare_runs(
    run_a: str | Path,
    run_b: str | Path,
    metrics: list[str] | None = None,
    n_perm: int = 10000,
    seed: int = 0,
    *,
    n_boot: int = 1000,
    control: str | None = None,
) -> dict[str, Any]:
    """``{"run_a", "run_b", "n_trials", "n_clusters", "cluster_unit", "n_perm", "seed", "rows",
    "skipped", "warnings"}``.

    ``rows``: one ``{output, metric, a, b, diff, ci, p, higher_is_better, test}`` per metric
    output; ``diff`` is B - A with its clustered 95% bootstrap ``ci``. ``metrics`` are metric
    plugin names or ``object_match``; by default the caption metrics of run A's config (those
    that cannot be tested are listed in ``skipped``) plus ``object_match``. ``warnings``: one
    line per model both runs name alike but recorded with different weights. With ``control``, A
    is run_a's ``predictions_<control>.csv`` and ``run_b`` must be None (B is run_a's full
    pipeline).
    """
    if control is not None:
        if run_b is not None:
            raise ConfigError("compare takes one run with --control (B is its full pipeline).")
        a, b = load_run_predictions(run_a, control), load_run_predictions(run_a)
        a.metrics = b.metrics
    elif run_b is None:
        raise ConfigError("compare needs two runs, or one run and --control NAME.")
    else:
        a, b = load_run_predictions(run_a), load_run_predictions(run_b)
    return compare_predictions(a, b, metrics, n_perm, seed, n_boot=n_boot)


def compare_predictions(
    a: RunPredictions,
    b: RunPredictions,
    metrics: list[str] | None = None,
    n_perm: int = 10000,
    seed: int = 0,
    *,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """``compare_runs`` of two loaded (or pooled) prediction sets: B - A on the same trials."""
    check_same_test_set(a, b)
    clusters, unit = shared_clusters(a, b)
    skipped: dict[str, str] = {}
    explicit = bool(metrics)
    names, built = (list(metrics), {}) if metrics else _default_metrics(a, skipped)
    n = len(a.predictions)
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(names):
        metric = None if name == OBJECT_MATCH else built.get(name) or _build(name, a.metric_params)
        joint = _joint_scores(name, metric, a.predictions, b.predictions, explicit, skipped)
        if joint is None:
            continue
        deltas = paired_delta(joint, n, clusters=clusters, n_boot=n_boot, n_perm=n_perm, seed=seed)
        rows += _rows(name, metric, joint, deltas, n)
    return {
        "run_a": a.name,
        "run_b": b.name,
        "n_trials": n,
        "n_clusters": len(set(clusters)),
        "cluster_unit": unit,
        "n_perm": n_perm,
        "seed": seed,
        "rows": rows,
        "skipped": skipped,
        "warnings": identity_conflicts(
            [(r.name, r.record) for r in (a, b) if r.record is not None]
        ),
    }


def _default_metrics(
    a: RunPredictions, skipped: dict[str, str]
) -> tuple[list[str], dict[str, Metric]]:
    """``object_match`` and the caption metrics of run A's config that can be tested (built),
    the others in ``skipped`` with the reason."""
    names, built = [OBJECT_MATCH], {}
    for name in a.metrics or DEFAULT_METRICS[1:]:
        if name == OBJECT_MATCH:
            continue
        try:
            built[name] = _build(name, a.metric_params)
            _check_caption_metric(name, built[name])
        except EegbenchError as e:
            skipped[name] = str(e)
            continue
        names.append(name)
    return names, built


def _joint_scores(
    name: str,
    metric: Metric | None,
    pa: Predictions,
    pb: Predictions,
    explicit: bool,
    skipped: dict[str, str],
) -> TrialScores | None:
    """The trial scores of A's trials then B's for metric ``name`` (``metric``; None for
    ``object_match``); None, with the reason in ``skipped``, when the metric cannot be tested
    and was not named."""
    if metric is None:
        return TrialValues({OBJECT_MATCH: np.concatenate([_hits(pa), _hits(pb)])})
    _check_caption_metric(name, metric)
    refs = pa.references if metric.multi_reference else pa.reference
    if (
        metric.sentence_stats(pa.generated, refs) is None
        and metric.per_item(pa.generated, refs, **_ctx(pa)) is None
    ):
        if explicit:
            raise _not_testable(name)
        skipped[name] = str(_not_testable(name))
        return None
    return joint_trial_scores(metric, pa.generated, pb.generated, refs, _ctx(pa), _ctx(pb))


def _rows(
    name: str, metric: Metric | None, joint: TrialScores, deltas: dict[str, CI], n: int
) -> list[dict[str, Any]]:
    """One result row per output: A's and B's values and B - A with its CI and p."""
    va, vb = joint.score(np.arange(n)), joint.score(np.arange(n, 2 * n))
    return [
        {
            "output": output_key(name, key),
            "metric": name,
            "a": va[key],
            "b": vb[key],
            "diff": vb[key] - va[key],
            "ci": [-d.high, -d.low],
            "p": float(d.p),
            "higher_is_better": metric is None or metric.higher_is_better(key) is not False,
            "test": joint.test,
        }
        for key, d in deltas.items()
    ]
