"""The evaluation: inference on the evaluated split, then scoring; ``evaluate`` gives both.

``infer`` runs the pipeline under every condition (the real run, the controls, the
``target_embedding`` oracle) and keeps what it saw and said (``Inference``); ``score`` turns
that into the record's own types (``EvaluationResult``). Nothing is left on an object.

Every CI resamples whole clusters (``EEGData.clusters``: the image unless the dataset says
otherwise). Every control row carries ``delta``: per metric output, the paired difference
full - control with its clustered bootstrap CI and cluster-permutation p-value
(``stats.paired_delta``). Metrics may offer oracle rows (``Metric.oracles``), scored with every
caption metric. The headroom of a caption output is ``(value - floor) / (ceiling - floor)``
with the floor the label-only control (``only_obj``: the same pipeline without the EEG slot)
and the ceiling the ``target_embedding`` oracle (the same LM, projector and predicted label,
fed each test image's own target embedding: what a perfect embedding gives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from eegbench import plugins
from eegbench.checks import check_metric_values
from eegbench.config import EvalConfig
from eegbench.config.schema import control_names
from eegbench.contract.data import EEGData
from eegbench.contract.errors import PluginError
from eegbench.contract.hub import ModelFiles
from eegbench.contract.metric import ATTRIBUTES, CAPTIONS, EMBEDDINGS, LOGITS, Metric, output_key
from eegbench.evaluation.controls import (
    CONTROLS,
    ENCODER_CONTROLS,
    LABEL_CONTROL,
    Condition,
    Encoded,
)
from eegbench.evaluation.mechanism import mechanism_probes
from eegbench.evaluation.scoring import build_metric
from eegbench.evaluation.stats import (
    TrialScores,
    TrialValues,
    bootstrap_cis,
    joint_trial_scores,
    paired_delta,
    trial_scores,
)
from eegbench.progress import task
from eegbench.results.record import Control, MetricValue, Oracle, PairedDelta, Statistics
from eegbench.train.generation import generate_captions, generate_with_literal_slot

if TYPE_CHECKING:
    from eegbench.train.parts import Parts

CEILING = "target_embedding"
"""The oracle row that is the headroom's ceiling."""
CEILING_DESCRIPTION = (
    "TARGET-EMBEDDING ORACLE (ceiling): the predicted label with the test image's own target "
    "embedding in the EEG slot, through the trained projector: what a perfect embedding gives"
)

Scored = dict[str, MetricValue]  # output -> its value, direction, metric and CI


@dataclass(frozen=True)
class Scores:
    """What scoring a condition gives: the outputs and, per metric, the trial scores its CIs
    resampled (what a paired difference with another condition concatenates)."""

    outputs: Scored
    trials: dict[str, TrialScores]


@dataclass(frozen=True)
class TestSet:
    """The evaluated split of ``data``: its trial indices and the per-image targets."""

    data: EEGData
    index: np.ndarray  # trial indices of the evaluated split
    targets: np.ndarray  # per-image target embeddings [n_images, D]

    @property
    def y(self) -> np.ndarray:
        return self.data.y[self.index]

    @property
    def image(self) -> np.ndarray:
        return self.data.image[self.index]

    @property
    def clusters(self) -> np.ndarray:
        """The statistical unit of each trial (what the bootstrap resamples whole)."""
        return self.data.clusters[self.index]

    @property
    def references(self) -> list[str]:
        caps = self.data.captions
        return [caps[i] for i in self.image] if caps is not None else []

    @property
    def has_attributes(self) -> bool:
        return self.data.attributes is not None

    def references_for(self, metric: Metric) -> list[Any]:
        """What ``metric`` scores against: each trial's every reference for a metric that
        declares ``multi_reference`` on data with several (``EEGData.references``), else each
        trial's caption."""
        several = self.data.references
        if several is None or not metric.multi_reference:
            return self.references
        return [several[i] for i in self.image]

    def shared_context(self, encoded: Encoded) -> dict[str, Any]:
        """The metric context entries that are the same for every condition."""
        data = self.data
        test_images, target_index = np.unique(self.image, return_inverse=True)
        shared: dict[str, Any] = {
            "y_true": self.y,
            "targets": self.targets[self.image],
            "target_bank": self.targets[test_images],
            "target_index": target_index,
            "class_names": data.class_names,
            "image_id": self.image,
        }
        if self.has_attributes:
            train = data.splits["train"]
            shared.update(
                attributes=data.trial_attributes(self.index),
                attribute_words=data.attribute_words,
                describe=data.describe,
                train_embeddings=encoded.train_embeddings(),
                train_y=data.y[train],
                train_attributes=data.trial_attributes(train),
            )
        return shared


@dataclass(frozen=True)
class OracleRow:
    """An oracle row: its captions (as a condition), what it is, and its role (``ceiling``)."""

    condition: Condition
    description: str
    role: str = ""


@dataclass(frozen=True)
class Inference:
    """What the pipeline saw and said on the evaluated split: the real run, each control and
    the ``target_embedding`` ceiling (no captions without an LLM)."""

    test: TestSet
    real: Condition
    controls: dict[str, Condition] = field(default_factory=dict)
    ceiling: Condition | None = None

    def rows(self) -> dict[str | None, Condition]:
        """Every condition by row name (None: the real run), as the predictions files go."""
        ceiling = {} if self.ceiling is None else {CEILING: self.ceiling}
        return {None: self.real, **self.controls, **ceiling}


@dataclass(frozen=True)
class EvaluationResult:
    """What an evaluation adds to the run record, in the record's own types."""

    metrics: dict[str, MetricValue]
    controls: dict[str, Control]
    statistics: Statistics
    oracles: dict[str, Oracle] = field(default_factory=dict)
    headroom: dict[str, float] = field(default_factory=dict)
    metric_signatures: dict[str, str] = field(default_factory=dict)
    mechanism_probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: tuple[ModelFiles, ...] = ()  # the files of the models the metrics read

    def record_fields(self) -> dict[str, Any]:
        """The ``RunRecord`` fields, the optional ones only where they hold something."""
        out: dict[str, Any] = {
            "metrics": self.metrics,
            "controls": self.controls,
            "statistics": self.statistics,
        }
        if self.metric_signatures:
            out["metric_signatures"] = self.metric_signatures
        if self.oracles:
            out["oracles"] = self.oracles
        if self.headroom:
            out["headroom"] = self.headroom
            out["headroom_basis"] = {"floor": f"control {LABEL_CONTROL}", "ceiling": CEILING}
        if self.mechanism_probes:
            out["mechanism_probes"] = self.mechanism_probes
        return out


@dataclass(frozen=True)
class Evaluated:
    inference: Inference
    result: EvaluationResult


def evaluate(parts: Parts) -> Evaluated:
    """The evaluated split (``eval.split``) of the trained ``parts`` under every condition,
    scored with the config's metrics (``eval.metrics`` with the ``metrics`` section)."""
    cfg = parts.config
    data = parts.data
    test = TestSet(data, data.splits[cfg.eval.split], parts.targets)
    metrics = {name: build_metric(name, params) for name, params in cfg.metrics.items()}
    encoded = Encoded(parts.model, data, test.index, parts.encoder_precision)
    inference = infer(parts, test, encoded)
    shared = test.shared_context(encoded)
    scorer = Scorer(metrics, test, inference.real, shared, cfg.eval.bootstrap, cfg.seed)
    return Evaluated(inference, score(inference, scorer, cfg.eval))


def infer(parts: Parts, test: TestSet, encoded: Encoded) -> Inference:
    """The real run, the ceiling oracle and every control on ``test``, each with its captions
    when the data have them (generated in that order)."""
    cfg = parts.config.eval
    real = encoded.real()
    has_caps = test.data.captions is not None
    if not has_caps:
        controls = _controls(encoded, real, cfg, parts.config.seed, None)
        return Inference(test, real, controls)
    gen = Captioner(parts, cfg)
    real = gen.caption(real, "generating captions")
    ceiling = Condition(test.targets[test.image].astype(np.float32), None, real.labels)
    ceiling = gen.caption(ceiling, f"oracle {CEILING}")
    controls = _controls(encoded, real, cfg, parts.config.seed, gen)
    return Inference(test, real, controls, ceiling)


def _controls(
    encoded: Encoded, real: Condition, cfg: EvalConfig, seed: int, gen: Captioner | None
) -> dict[str, Condition]:
    """Each control of ``eval.controls``, in order, captioned by ``gen`` (None: no captions,
    and only the controls that run the encoder)."""
    out = {}
    rng = np.random.default_rng(seed)
    for name in control_names(cfg.controls):
        fn, _ = CONTROLS[name]
        if gen is None and name not in ENCODER_CONTROLS:
            continue  # without captions this control changes nothing that is scored
        with torch.no_grad():
            cond = fn(encoded, real, rng)
        out[name] = cond if gen is None else gen.caption(cond, f"control {name}")
    return out


@dataclass(frozen=True)
class Captioner:
    """The trained projector and frozen LLM, decoding as ``eval`` says."""

    parts: Parts
    cfg: EvalConfig

    def caption(self, cond: Condition, description: str) -> Condition:
        """``cond`` with its captions."""
        p, cfg = self.parts, self.cfg
        if cond.literal_slot:
            captions = generate_with_literal_slot(
                p.llm, cond.labels, p.prompt, batch_size=cfg.batch_size,
                max_new_tokens=cfg.max_new_tokens, repetition_penalty=cfg.repetition_penalty,
                description=description, precision=p.precision,
            )  # fmt: skip
        else:
            captions = generate_captions(
                p.llm, p.projector, cond.embeddings, cond.labels, batch_size=cfg.batch_size,
                max_new_tokens=cfg.max_new_tokens, repetition_penalty=cfg.repetition_penalty,
                generation=cfg.generation, description=description, precision=p.precision,
                prompt=p.prompt,
            )  # fmt: skip
        return cond.with_captions(captions)


@dataclass(frozen=True)
class Scorer:
    """The metrics of a run, scoring conditions of one test set (a pure function of each)."""

    metrics: dict[str, Metric]
    test: TestSet
    real: Condition  # the real run: its logits and embeddings stand in where a row has none
    shared: dict[str, Any]  # the context entries common to every condition
    n_boot: int
    seed: int

    def context(self, cond: Condition) -> dict[str, Any]:
        """The metric context of ``cond`` (its logits and embeddings, else the real run's)."""
        real = self.real
        return {
            **self.shared,
            "logits": cond.logits if cond.logits is not None else real.logits,
            "embeddings": cond.embeddings if cond.embeddings is not None else real.embeddings,
        }

    def score(self, cond: Condition, inputs: set[str]) -> Scores:
        """The condition's outputs for the metrics whose inputs (``Metric.requires``) are among
        ``inputs``, and their trial scores.

        Outputs of a protocol (``protocol:NAME``) are named ``NAME/output`` so that they never
        collide with the plain metrics of the same name. CIs resample whole clusters.
        """
        ctx = self.context(cond)
        out: Scored = {}
        trials: dict[str, TrialScores] = {}
        for name, metric in self.metrics.items():
            if not set(metric.requires) <= inputs:
                continue
            refs = self.test.references_for(metric)
            if CAPTIONS in metric.requires and not refs:
                continue
            scores = None
            if self.n_boot > 0:
                scores = trials[name] = trial_scores(metric, cond.captions, refs, **ctx)
            for key, value in self._outputs(name, metric, cond, refs, ctx, scores).items():
                if key in out:
                    raise PluginError(
                        f"metrics {out[key].metric!r} and {name!r} both report "
                        f"{key.rsplit('/', 1)[-1]!r}; list only one of them in eval.metrics."
                    )
                out[key] = value
        return Scores(out, trials)

    def _outputs(
        self,
        name: str,
        metric: Metric,
        cond: Condition,
        refs: list[Any],
        ctx: dict[str, Any],
        scores: TrialScores | None,
    ) -> Scored:
        """One metric's outputs on ``cond``, with their CIs from ``scores``."""
        if isinstance(scores, TrialValues):  # per-trial values: the outputs are their means
            values = {k: float(np.mean(v)) for k, v in scores.items()}
        else:
            values = metric.compute(cond.captions, refs, **ctx)
        check_metric_values(plugins.get("metrics", name), metric, values)
        cis = {}
        if scores is not None:
            cis = bootstrap_cis(
                scores, n=len(self.test.index), n_boot=self.n_boot, seed=self.seed,
                clusters=self.test.clusters,
            )  # fmt: skip
        out = {}
        for key, value in values.items():
            row: dict[str, Any] = {
                "value": float(value),
                "higher_is_better": metric.higher_is_better(key) is not False,
                "metric": name,
            }
            if key in cis:
                row["ci"] = (cis[key].low, cis[key].high)
            out[output_key(name, key)] = MetricValue(**row)
        return out

    def delta(
        self, a: Condition, a_scores: Scores, b: Condition, b_scores: Scores
    ) -> dict[str, PairedDelta]:
        """``a`` - ``b`` for every metric both scored with trial scores."""
        n, out = len(self.test.index), {}
        for name, b_trials in b_scores.trials.items():
            a_trials = a_scores.trials.get(name)
            if a_trials is None:
                continue
            metric = self.metrics[name]
            joint = joint_trial_scores(
                metric, a.captions, b.captions, self.test.references_for(metric),
                self.context(a), self.context(b), a_trials, b_trials,
            )  # fmt: skip
            deltas = paired_delta(
                joint, n, clusters=self.test.clusters, n_boot=self.n_boot, n_perm=self.n_boot,
                seed=self.seed,
            )  # fmt: skip
            out.update({output_key(name, k): PairedDelta(**d.as_dict()) for k, d in deltas.items()})
        return out


def score(inference: Inference, scorer: Scorer, cfg: EvalConfig) -> EvaluationResult:
    """The record's entries of an inference: the run's metrics, the oracle rows, the controls
    with their paired differences, the headroom and how the statistics were computed."""
    test, real = inference.test, inference.real
    has_caps = inference.ceiling is not None
    inputs = {CAPTIONS, LOGITS, EMBEDDINGS} if has_caps else {LOGITS, EMBEDDINGS}
    if test.has_attributes:
        inputs.add(ATTRIBUTES)
    with task("scoring the run (metrics, bootstrap CIs, oracles)", total=1) as advance:
        scored = scorer.score(real, inputs)
        oracles = _oracles(inference, scorer, inputs) if has_caps else {}
        advance()
    controls = {}
    for name, cond in inference.controls.items():
        with task(f"scoring control {name}", total=1) as advance:
            controls[name] = _control(name, cond, inference, scorer, scored)
            advance()
    headroom = _headroom(scored.outputs, controls, oracles)
    signatures = {name: m.signature() for name, m in scorer.metrics.items()}
    probes = {}
    if test.has_attributes:  # ground truth: the evoked and induced ceilings of the data
        found = mechanism_probes(
            test.data, cfg.split, n_boot=max(cfg.bootstrap, 1), seed=scorer.seed
        )
        probes = {k: v.as_dict() for k, v in found.items()}
    return EvaluationResult(
        metrics=scored.outputs, controls=controls, statistics=statistics(test, cfg),
        oracles=oracles, headroom=headroom,
        metric_signatures={k: s for k, s in signatures.items() if s}, mechanism_probes=probes,
        sources=tuple(f for m in scorer.metrics.values() for f in m.sources()),
    )  # fmt: skip


def _control(
    name: str, cond: Condition, inference: Inference, scorer: Scorer, real: Scores
) -> Control:
    """A control row: its metrics and, with a bootstrap, its paired differences to the run."""
    inputs = {LOGITS, EMBEDDINGS} if cond.logits is not None else set()
    if inference.ceiling is not None:
        inputs.add(CAPTIONS)
    if inference.test.has_attributes:
        inputs.add(ATTRIBUTES)
    scored = scorer.score(cond, inputs)
    row = Control(description=CONTROLS[name][1], metrics=scored.outputs)
    if scorer.n_boot > 0:
        row.delta = scorer.delta(inference.real, real, cond, scored)
    return row


def _oracles(inference: Inference, scorer: Scorer, inputs: set[str]) -> dict[str, Oracle]:
    """The ceiling (``target_embedding``) and the rows the metrics offer, scored with the
    caption metrics."""
    offered = offered_oracles(inference, scorer, inputs)
    assert inference.ceiling is not None
    rows = {CEILING: OracleRow(inference.ceiling, CEILING_DESCRIPTION, "ceiling"), **offered}
    caption_inputs = {CAPTIONS, ATTRIBUTES} & inputs
    return {
        row: Oracle(
            description=o.description,
            role=o.role,
            metrics=scorer.score(o.condition, caption_inputs).outputs,
        )
        for row, o in rows.items()
    }


def offered_oracles(inference: Inference, scorer: Scorer, inputs: set[str]) -> dict[str, OracleRow]:
    """The oracle rows the metrics offer (``Metric.oracles``), checked."""
    refs = inference.test.references
    ctx = scorer.context(inference.real)
    offered: dict[str, OracleRow] = {}
    for name, metric in scorer.metrics.items():
        if not set(metric.requires) <= inputs:
            continue
        for row, oracle in metric.oracles(refs, **ctx).items():
            if row in offered or row in CONTROLS or row == CEILING:
                raise PluginError(
                    f"oracle row {row!r} of metric {name!r} repeats another row's name."
                )
            if len(oracle.captions) != len(refs):
                raise PluginError(
                    f"oracle {row!r} of metric {name!r} wrote {len(oracle.captions)} "
                    f"captions for {len(refs)} test trials."
                )
            cond = Condition(None, None, inference.real.labels, list(oracle.captions))
            offered[row] = OracleRow(cond, oracle.description)
    return offered


def headroom(row: Scored, floor: Scored, ceiling: Scored) -> dict[str, float]:
    """``(row - floor) / (ceiling - floor)`` per output that all three score and on which the
    ceiling beats the floor (in the output's direction); elsewhere the fraction means nothing
    and the output is left out. 0: the floor's value, 1: the ceiling's."""
    out = {}
    for key, entry in row.items():
        lo, hi = floor.get(key), ceiling.get(key)
        if lo is None or hi is None:
            continue
        gap = hi.value - lo.value
        if gap == 0 or (gap > 0) != entry.higher_is_better:
            continue
        out[key] = (entry.value - lo.value) / gap
    return out


def _headroom(
    metrics: Scored, controls: dict[str, Control], oracles: dict[str, Oracle]
) -> dict[str, float]:
    """The run's headroom; each control row gets its own (``Control.headroom``). Empty without
    the label-only control (``only_obj``) among ``eval.controls`` or without the ceiling."""
    floor, ceiling = controls.get(LABEL_CONTROL), oracles.get(CEILING)
    if floor is None or ceiling is None:
        return {}
    for row in controls.values():
        fraction = headroom(row.metrics, floor.metrics, ceiling.metrics)
        if fraction:
            row.headroom = fraction
    return headroom(metrics, floor.metrics, ceiling.metrics)


def statistics(test: TestSet, cfg: EvalConfig) -> Statistics:
    """How the CIs and the paired tests were computed, and each trial's cluster."""
    clusters = test.clusters
    return Statistics(
        cluster_unit=test.data.cluster_unit,
        n_clusters=int(len(np.unique(clusters))),
        n_trials=int(len(clusters)),
        n_boot=cfg.bootstrap,
        n_perm=cfg.bootstrap,
        ci="percentile bootstrap over clusters, 95%",
        test="paired cluster permutation (swap / sign-flip per cluster), two-sided",
        clusters=np.unique(clusters, return_inverse=True)[1].reshape(-1).tolist(),
    )
