"""The evaluation harness: metrics on the test split, and the control and oracle rows beside them.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eegbench import plugins
from eegbench.api.data import EEGData
from eegbench.api.errors import PluginError
from eegbench.api.llm import CausalLM
from eegbench.api.metric import (
    ATTRIBUTES,
    CAPTIONS,
    EMBEDDINGS,
    LOGITS,
    Metric,
    Oracle,
    output_key,
)
from eegbench.config import EvalConfig, PromptConfig
from eegbench.config.schema import control_names
from eegbench.contracts import check_metric_values
from eegbench.evaluation.controls import CONTROLS, ENCODER_CONTROLS, LABEL_CONTROL, Condition
from eegbench.evaluation.mechanism import mechanism_probes
from eegbench.evaluation.scoring import build_metric
from eegbench.evaluation.stats import (
    TrialScores,
    bootstrap_cis,
    joint_trial_scores,
    paired_delta,
    trial_scores,
)
from eegbench.progress import task
from eegbench.train.device import FP32, Precision
from eegbench.train.generation import generate_captions, generate_with_literal_slot
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.prompting import DEFAULT_PROMPT

CEILING = "target_embedding"
"""The oracle row that is the headroom's ceiling."""
CEILING_DESCRIPTION = (
    "TARGET-EMBEDDING ORACLE (ceiling): the predicted label with the test image's own target "
    "embedding in the EEG slot, through the trained projector: what a perfect embedding gives"
)


Scored = dict[str, dict[str, Any]]  # output -> {"value", "higher_is_better", ...}


@dataclass(frozen=True)
class Scores:
    """What scoring a condition gives: the outputs (``{output: {"value", "higher_is_better",
    "metric", "ci"}}``) and, per metric, the trial scores its CIs resampled (what a paired
    difference with another condition concatenates)."""

    outputs: Scored
    trials: dict[str, TrialScores]


def headroom(row: Scored, floor: Scored, ceiling: Scored) -> dict[str, float]:
    """``(row - floor) / (ceiling - floor)`` per output that all three score and on which the
    ceiling beats the floor (in the output's direction); elsewhere the fraction means nothing
    and the output is left out. 0: the floor's value, 1: the ceiling's."""
    out = {}
    for key, entry in row.items():
        lo, hi = floor.get(key), ceiling.get(key)
        if lo is None or hi is None:
            continue
        gap = hi["value"] - lo["value"]
        if gap == 0 or (gap > 0) != entry["higher_is_better"]:
            continue
        out[key] = (entry["value"] - lo["value"]) / gap
    return out


@dataclass
class TestSet:
    data: EEGData
    index: np.ndarray  # trial indices of the test split
    targets: np.ndarray  # per-image target embeddings [n_images, D]

    @property
    def y(self) -> np.ndarray:
        return self.data.y[self.index]

    @property
    def image(self) -> np.ndarray:
        return self.data.image[self.index]

    @property
    def references(self) -> list[str]:
        caps = self.data.captions
        return [caps[i] for i in self.image] if caps is not None else []

    def references_for(self, metric: Metric) -> list[Any]:
        """What ``metric`` scores against: each trial's every reference for a metric that
        declares ``multi_reference`` on data with several (``EEGData.references``), else each
        trial's caption."""
        several = self.data.references
        if several is None or not metric.multi_reference:
            return self.references
        return [several[i] for i in self.image]


class Evaluation:
    """Runs the real condition, the controls and the oracles, and scores them with the metrics.

    ``metric_params`` is the resolved config's ``metrics`` section: each metric of
    ``eval.metrics`` with its parameters, in order.
    """

    def __init__(
        self,
        model: EEGClassifier,
        projector: Projector | None,
        llm: CausalLM | None,
        test: TestSet,
        cfg: EvalConfig,
        seed: int,
        metric_params: Mapping[str, Mapping[str, Any]],
        precision: Precision = FP32,
        prompt: PromptConfig = DEFAULT_PROMPT,
        encoder_precision: Precision | None = None,
    ) -> None:
        self.model, self.projector, self.llm, self.test, self.cfg = model, projector, llm, test, cfg
        self.seed = seed
        self.precision, self.prompt = precision, prompt
        self.encoder_precision = encoder_precision or precision
        self.entries = {name: plugins.get("metrics", name) for name in metric_params}
        self.metrics = {name: build_metric(name, params) for name, params in metric_params.items()}
        emb, logits = self.predict(test.data.X[test.index])
        self.real = Condition(emb, logits, self.label_names(logits))
        self.conditions: dict[str, Condition] = {}
        self.oracle_conditions: dict[str, Condition] = {}
        self.oracles: dict[str, dict[str, Any]] = {}
        self.headroom: dict[str, float] = {}
        self.clusters = test.data.clusters[test.index]
        self._train_embeddings: np.ndarray | None = None
        self._shared = self._shared_context()

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EEG embeddings and class logits of trials ``X``."""
        return self.model.predict(X, precision=self.encoder_precision)

    def train_embeddings(self) -> np.ndarray:
        """EEG embeddings of the training trials (computed once)."""
        if self._train_embeddings is None:
            data = self.test.data
            with torch.no_grad():
                self._train_embeddings = self.predict(data.X[data.splits["train"]])[0]
        return self._train_embeddings

    def label_names(self, logits: np.ndarray) -> list[str | None]:
        names = self.test.data.class_names
        return [names[k] for k in logits.argmax(1)]

    @property
    def has_attributes(self) -> bool:
        return self.test.data.attributes is not None

    def _shared_context(self) -> dict[str, Any]:
        """Context entries that are the same for every condition."""
        t, data = self.test, self.test.data
        test_images, target_index = np.unique(t.image, return_inverse=True)
        shared: dict[str, Any] = {
            "y_true": t.y,
            "targets": t.targets[t.image],
            "target_bank": t.targets[test_images],
            "target_index": target_index,
            "class_names": data.class_names,
            "image_id": t.image,
        }
        if self.has_attributes:
            train = data.splits["train"]
            shared.update(
                attributes=data.trial_attributes(t.index),
                attribute_words=data.attribute_words,
                describe=data.describe,
                train_embeddings=self.train_embeddings(),
                train_y=data.y[train],
                train_attributes=data.trial_attributes(train),
            )
        return shared

    def generate(self, cond: Condition, description: str) -> None:
        if cond.literal_slot:
            cond.captions = generate_with_literal_slot(
                self.llm,
                cond.labels,
                self.prompt,
                batch_size=self.cfg.batch_size,
                max_new_tokens=self.cfg.max_new_tokens,
                repetition_penalty=self.cfg.repetition_penalty,
                description=description,
                precision=self.precision,
            )
            return
        cond.captions = generate_captions(
            self.llm,
            self.projector,
            cond.embeddings,
            cond.labels,
            batch_size=self.cfg.batch_size,
            max_new_tokens=self.cfg.max_new_tokens,
            repetition_penalty=self.cfg.repetition_penalty,
            generation=self.cfg.generation,
            description=description,
            precision=self.precision,
            prompt=self.prompt,
        )

    def context(self, cond: Condition) -> dict[str, Any]:
        return {
            **self._shared,
            "logits": cond.logits if cond.logits is not None else self.real.logits,
            "embeddings": cond.embeddings if cond.embeddings is not None else self.real.embeddings,
        }

    def score(self, cond: Condition, inputs: set[str]) -> Scores:
        """The condition's outputs for the metrics whose inputs (``Metric.requires``) are among
        ``inputs``, and their trial scores; a pure function of ``cond``.

        Outputs of a protocol (``protocol:NAME``) are named ``NAME/output`` so that they never
        collide with the plain metrics of the same name. CIs resample whole clusters.
        """
        ctx = self.context(cond)
        out: dict[str, dict[str, Any]] = {}
        trials: dict[str, TrialScores] = {}
        for name, metric in self.metrics.items():
            if not set(metric.requires) <= inputs:
                continue
            refs = self.test.references_for(metric)
            if CAPTIONS in metric.requires and not refs:
                continue
            scores = None
            if self.cfg.bootstrap > 0:
                scores = trials[name] = trial_scores(metric, cond.captions, refs, **ctx)
            if isinstance(scores, dict):  # per-trial values: the outputs are their means
                values = {k: float(np.mean(v)) for k, v in scores.items()}
            else:
                values = metric.compute(cond.captions, refs, **ctx)
            check_metric_values(self.entries[name], metric, values)
            cis = {}
            if scores is not None:
                cis = bootstrap_cis(
                    scores,
                    n=len(self.test.index),
                    n_boot=self.cfg.bootstrap,
                    seed=self.seed,
                    clusters=self.clusters,
                )
            for key, value in values.items():
                result = output_key(name, key)
                if result in out:
                    raise PluginError(
                        f"metrics {out[result]['metric']!r} and {name!r} both report "
                        f"{key!r}; list only one of them in eval.metrics."
                    )
                row = {
                    "value": float(value),
                    "higher_is_better": metric.higher_is_better(key) is not False,
                    "metric": name,
                }
                if key in cis:
                    row["ci"] = [cis[key].low, cis[key].high]
                out[result] = row
        return Scores(out, trials)

    def delta(
        self, a: Condition, a_scores: Scores, b: Condition, b_scores: Scores
    ) -> dict[str, dict[str, Any]]:
        """``{output: {"value", "ci", "p"}}``: ``a`` - ``b`` for every metric both scored with
        trial scores; a pure function of the two scored conditions."""
        n, out = len(self.test.index), {}
        for name, b_trials in b_scores.trials.items():
            a_trials = a_scores.trials.get(name)
            if a_trials is None:
                continue
            joint = joint_trial_scores(
                self.metrics[name],
                a.captions,
                b.captions,
                self.test.references_for(self.metrics[name]),
                self.context(a),
                self.context(b),
                a_trials,
                b_trials,
            )
            deltas = paired_delta(
                joint,
                n,
                clusters=self.clusters,
                n_boot=self.cfg.bootstrap,
                n_perm=self.cfg.bootstrap,
                seed=self.seed,
            )
            out.update({output_key(name, k): d.as_dict() for k, d in deltas.items()})
        return out

    def score_oracles(self, inputs: set[str]) -> None:
        """The ceiling (``target_embedding``) and the rows the metrics offer, scored with the
        caption metrics."""
        refs = self.test.references
        ctx = self.context(self.real)
        offered: dict[str, Oracle] = {}
        for name, metric in self.metrics.items():
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
                offered[row] = oracle
        caption_inputs = {CAPTIONS, ATTRIBUTES} & inputs
        t = self.test
        ceiling = Condition(t.targets[t.image].astype(np.float32), None, self.real.labels)
        self.generate(ceiling, f"oracle {CEILING}")
        self.oracle_conditions[CEILING] = ceiling
        rows = [(CEILING, ceiling, CEILING_DESCRIPTION, "ceiling")]
        for row, oracle in offered.items():
            cond = Condition(None, None, self.real.labels, list(oracle.captions))
            rows.append((row, cond, oracle.description, ""))
        for row, cond, description, role in rows:
            self.oracles[row] = {
                "description": description,
                "role": role,
                "metrics": self.score(cond, caption_inputs).outputs,
            }

    def run(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metrics of the real run, {control: {"description", "metrics", "delta"}}).

        Oracle rows and the headroom are left in ``self.oracles`` and ``self.headroom``; the
        headroom needs the label-only control (``only_obj``) among ``eval.controls``.
        """
        has_caps = self.test.data.captions is not None
        if has_caps:
            self.generate(self.real, "generating captions")
        inputs = {CAPTIONS, LOGITS, EMBEDDINGS} if has_caps else {LOGITS, EMBEDDINGS}
        if self.has_attributes:
            inputs.add(ATTRIBUTES)
        with task("scoring the run (metrics, bootstrap CIs, oracles)", total=1) as advance:
            real = self.score(self.real, inputs)
            metrics = real.outputs
            if has_caps:
                self.score_oracles(inputs)
            advance()
        controls: dict[str, Any] = {}
        rng = np.random.default_rng(self.seed)
        for name in control_names(self.cfg.controls):
            fn, description = CONTROLS[name]
            if not has_caps and name not in ENCODER_CONTROLS:
                continue  # without captions this control changes nothing that is scored
            with torch.no_grad():
                cond = fn(self, rng)
            control_inputs = {LOGITS, EMBEDDINGS} if cond.logits is not None else set()
            if has_caps:
                self.generate(cond, f"control {name}")
                control_inputs.add(CAPTIONS)
            if self.has_attributes:
                control_inputs.add(ATTRIBUTES)
            with task(f"scoring control {name}", total=1) as advance:
                scored = self.score(cond, control_inputs)
                controls[name] = {"description": description, "metrics": scored.outputs}
                if self.cfg.bootstrap > 0:
                    controls[name]["delta"] = self.delta(self.real, real, cond, scored)
                advance()
            self.conditions[name] = cond
        floor = controls.get(LABEL_CONTROL)
        ceiling = self.oracles.get(CEILING)
        if floor is not None and ceiling is not None:
            self.headroom = headroom(metrics, floor["metrics"], ceiling["metrics"])
            for row in controls.values():
                fraction = headroom(row["metrics"], floor["metrics"], ceiling["metrics"])
                if fraction:
                    row["headroom"] = fraction
        return metrics, controls

    def record(self) -> dict[str, Any]:
        """The entries this evaluation adds to results.json besides metrics and controls."""
        data = self.test.data
        out: dict[str, Any] = {
            "statistics": {
                "cluster_unit": data.cluster_unit,
                "n_clusters": int(len(np.unique(self.clusters))),
                "n_trials": int(len(self.clusters)),
                "n_boot": self.cfg.bootstrap,
                "n_perm": self.cfg.bootstrap,
                "ci": "percentile bootstrap over clusters, 95%",
                "test": "paired cluster permutation (swap / sign-flip per cluster), two-sided",
                "clusters": np.unique(self.clusters, return_inverse=True)[1].reshape(-1).tolist(),
            }
        }
        signatures = {name: m.signature() for name, m in self.metrics.items()}
        if any(signatures.values()):
            out["metric_signatures"] = {k: s for k, s in signatures.items() if s}
        if self.oracles:
            out["oracles"] = self.oracles
        if self.headroom:
            out["headroom"] = self.headroom
            out["headroom_basis"] = {"floor": f"control {LABEL_CONTROL}", "ceiling": CEILING}
        if self.has_attributes:  # ground truth: the evoked and induced ceilings of the data
            probes = mechanism_probes(
                data, self.cfg.split, n_boot=max(self.cfg.bootstrap, 1), seed=self.seed
            )
            out["mechanism_probes"] = {k: v.as_dict() for k, v in probes.items()}
        return out
