"""Encoder against encoder: paired differences between the configurations of a leaderboard.

Two configurations are compared on the worlds (seeds) in which both ran on the same test
trials: their prediction files are pooled over those worlds (``compare.pool_runs``) and every
headline caption metric is tested on the pooled trials, paired by world and test image
(``compare.compare_predictions``: a clustered bootstrap CI and a cluster permutation p, the
cluster being one test image of one world). The p-values of all pairs x metrics are one family,
adjusted by Holm (or Benjamini-Hochberg on request); rank groups are the compact letter
display of the adjusted tests: rows sharing a letter are not significantly different.

A corpus metric (BLEU) is computed on the pooled trials of the shared worlds, so the pair's
difference can differ slightly from the difference of the rows' per-world means; a mean over
trials (ROUGE-L, METEOR) gives the same difference when every world has as many test trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from eegbench.config.saved import SavedConfig
from eegbench.contract.errors import ConfigError
from eegbench.evaluation.compare import (
    RunPredictions,
    caption_metric_problem,
    compare_predictions,
    load_run_predictions,
    pool_runs,
)
from eegbench.evaluation.multiplicity import adjust, compact_letters
from eegbench.evaluation.stats import CI
from eegbench.report.leaderboard.columns import Column

if TYPE_CHECKING:
    from eegbench.report.leaderboard.collect import Run
    from eegbench.report.leaderboard.table import Row

ALPHA = 0.05


@dataclass(frozen=True)
class Pair:
    """Row ``a`` minus row ``b`` (indices into the leaderboard's rows) in one metric."""

    a: int
    b: int
    metric: str
    delta: CI
    worlds: tuple[Any, ...]
    n_trials: int
    n_clusters: int
    test: str


@dataclass
class Pairwise:
    """All pairs, the correction applied over them, and the rank groups per metric."""

    pairs: list[Pair] = field(default_factory=list)
    correction: str = "holm"
    groups: dict[str, dict[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _shared_worlds(a: Row, b: Row) -> list[Any]:
    """Seeds both rows ran whose test splits are recorded as the same (or not recorded)."""
    by_seed_a = {repr(r.seed): r for r in a.runs}
    shared = []
    for rb in b.runs:
        ra = by_seed_a.get(repr(rb.seed))
        if ra is None:
            continue
        ha, hb = ra.data_hashes.get("split_test"), rb.data_hashes.get("split_test")
        if ha is None or hb is None or ha == hb:
            shared.append(rb.seed)
    return shared


def _plugins(rows: Sequence[Row], metrics: Sequence[str], explicit: bool) -> dict[str, str]:
    """``{output: metric plugin}`` of the ``metrics`` that prediction files can test; with
    ``explicit`` a metric that cannot be tested is an error, else it is left out."""
    found: dict[str, str] = {}
    run = rows[0].runs[0]
    for m in metrics:
        value = run.metric(m)
        plugin = None if value is None else value.metric
        params = SavedConfig.read(run.config).metric_params
        problem = (
            "no metric plugin recorded"
            if plugin is None
            else caption_metric_problem(plugin, params)
        )
        if problem is None:
            found[m] = str(plugin)
        elif explicit:
            raise ConfigError(f"{m} cannot be compared encoder against encoder: {problem}")
    return found


class _Loader:
    """Prediction files read once per run."""

    def __init__(self) -> None:
        self.cache: dict[str, RunPredictions] = {}

    def __call__(self, run: Run) -> RunPredictions:
        key = str(run.path)
        if key not in self.cache:
            self.cache[key] = load_run_predictions(run.path)
        return self.cache[key]

    def pooled(self, row: Row, seeds: list[Any], name: str) -> RunPredictions:
        by_seed = {repr(r.seed): r for r in row.runs}
        return pool_runs([self(by_seed[repr(s)]) for s in seeds], name)


def pairwise(
    rows: Sequence[Row],
    names: Sequence[str],
    metrics: Sequence[str],
    higher_is_better: dict[str, bool],
    *,
    correction: str = "holm",
    n_perm: int = 10000,
    n_boot: int = 1000,
    seed: int = 0,
    explicit: bool = False,
) -> Pairwise:
    """Every pair of configuration rows in ``metrics`` (row indices into ``rows``); ``explicit``:
    the metrics were named, so one that prediction files cannot test is an error."""
    out = Pairwise(correction=correction)
    system = [i for i, r in enumerate(rows) if r.is_system]
    plugins = _plugins([rows[i] for i in system], metrics, explicit)
    if not plugins:
        raise ConfigError(
            f"none of {', '.join(metrics)} is a caption metric that prediction files can test."
        )
    found = _compare_all(rows, names, system, plugins, out.notes, n_perm, n_boot, seed)
    adjusted = adjust([r["p"] for _, _, r, _ in found], correction)
    for (i, j, r, result), p_adj in zip(found, adjusted, strict=True):
        worlds = tuple(result["worlds"])
        delta = CI(
            r["diff"],
            r["ci"][0],
            r["ci"][1],
            "bootstrap",
            n=len(worlds),
            seeds=worlds,
            p=float(r["p"]),
            p_adjusted=float(p_adj),
        )
        n_trials, n_clusters = result["n_trials"], result["n_clusters"]
        out.pairs.append(Pair(i, j, r["output"], delta, worlds, n_trials, n_clusters, r["test"]))
    out.groups = _groups(rows, system, out.pairs, plugins, higher_is_better)
    return out


def _compare_all(
    rows: Sequence[Row],
    names: Sequence[str],
    system: list[int],
    plugins: dict[str, str],
    notes: list[str],
    n_perm: int,
    n_boot: int,
    seed: int,
) -> list[tuple[int, int, dict[str, Any], dict[str, Any]]]:
    """``(a, b, compare row, compare result)`` per pair of system rows and paired output; the
    result carries the shared ``worlds``."""
    load = _Loader()
    found = []
    for i, j in combinations(system, 2):
        worlds = _shared_worlds(rows[i], rows[j])
        if not worlds:
            notes.append(f"{names[i]} and {names[j]} share no world: not compared")
            continue
        a = load.pooled(rows[i], worlds, names[i])
        b = load.pooled(rows[j], worlds, names[j])
        metrics = sorted(set(plugins.values()))
        result = {
            **compare_predictions(b, a, metrics, n_perm, seed, n_boot=n_boot),
            "worlds": worlds,
        }
        found += [(i, j, r, result) for r in result["rows"] if r["output"] in plugins]
    return found


def _groups(
    rows: Sequence[Row],
    system: list[int],
    pairs: list[Pair],
    plugins: dict[str, str],
    higher_is_better: dict[str, bool],
) -> dict[str, dict[int, str]]:
    """Per metric, the compact letters of the system rows, ``a`` for the best."""
    groups = {}
    for metric in plugins:
        sign = -1.0 if higher_is_better.get(metric, True) else 1.0
        col = Column(metric)
        have = [i for i in system if col in rows[i].stats]
        ranked = sorted(have, key=lambda i: sign * rows[i].stats[col].estimate)
        different = [
            (p.a, p.b)
            for p in pairs
            if p.metric == metric and p.delta.p_adjusted is not None and p.delta.p_adjusted < ALPHA
        ]
        groups[metric] = compact_letters(ranked, different)
    return groups
