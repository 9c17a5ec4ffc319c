"""The evaluation harness: metrics on the test split, and the control and oracle rows beside them.

Every CI resamples whole clusters (``EEGData.clusters``: the image unless the dataset says
otherwise). Every control row carries ``delta``: per metric output, the paired difference
full - control with its clustered bootstrap CI and cluster-permutation p-value
(``stats.paired_delta``). Metrics may offer oracle rows (``Metric.oracles``); they are scored
with every caption metric, and a ``floor`` and a ``ceiling`` give each caption output's
fraction of headroom realised, ``(value - floor) / (ceiling - floor)``.
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
    ORACLE_ROLES,
    Oracle,
    output_key,
)
from eegbench.config import EvalConfig, PromptConfig
from eegbench.contracts import check_metric_values
from eegbench.evaluation.controls import CONTROLS, Condition, control_names
from eegbench.evaluation.scoring import build_metric
from eegbench.evaluation.stats import (
    SentenceStats,
    bootstrap_cis,
    metric_joint,
    metric_material,
    paired_delta,
)
from eegbench.progress import task
from eegbench.train.device import FP32, Precision
from eegbench.train.generation import generate_captions
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.prompting import DEFAULT_PROMPT


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
    ) -> None:
        self.model, self.projector, self.llm, self.test, self.cfg = model, projector, llm, test, cfg
        self.seed = seed
        self.precision, self.prompt = precision, prompt
        self.entries = {name: plugins.get("metrics", name) for name in metric_params}
        self.metrics = {name: build_metric(name, params) for name, params in metric_params.items()}
        emb, logits = self.predict(test.data.X[test.index])
        self.real = Condition(emb, logits, self.label_names(logits))
        self.conditions: dict[str, Condition] = {}
        self.oracles: dict[str, dict[str, Any]] = {}
        self.headroom: dict[str, float] = {}
        self.clusters = test.data.clusters[test.index]
        self._shared = self._shared_context()

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EEG embeddings and class logits of trials ``X``."""
        return self.model.predict(X, precision=self.precision)

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
            with torch.no_grad():
                train_embeddings = self.predict(data.X[train])[0]
            shared.update(
                attributes=data.trial_attributes(t.index),
                attribute_words=data.attribute_words,
                describe=data.describe,
                train_embeddings=train_embeddings,
                train_y=data.y[train],
                train_attributes=data.trial_attributes(train),
            )
        return shared

    def generate(self, cond: Condition, description: str) -> None:
        cond.captions = generate_captions(
            self.llm,
            self.projector,
            cond.embeddings,
            cond.labels,
            batch_size=self.cfg.batch_size,
            max_new_tokens=self.cfg.max_new_tokens,
            repetition_penalty=self.cfg.repetition_penalty,
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

    def score(self, cond: Condition, kinds: set[str]) -> dict[str, dict[str, Any]]:
        """``{output: {"value", "higher_is_better", "metric", "ci"}}`` for metrics of ``kinds``.

        Outputs of a protocol (``protocol:NAME``) are named ``NAME/output`` so that they never
        collide with the plain metrics of the same name. CIs resample whole clusters.
        """
        refs = self.test.references
        ctx = self.context(cond)
        out: dict[str, dict[str, Any]] = {}
        for name, metric in self.metrics.items():
            if not set(metric.requires) <= kinds:
                continue
            if CAPTIONS in metric.requires and not refs:
                continue
            material = None
            if self.cfg.bootstrap > 0:
                material = cond.material[name] = metric_material(metric, cond.captions, refs, **ctx)
            if isinstance(material, dict):  # per-trial values: the outputs are their means
                values = {k: float(np.mean(v)) for k, v in material.items()}
            else:
                values = metric.compute(cond.captions, refs, **ctx)
            check_metric_values(self.entries[name], metric, values)
            cis = {}
            if material is not None:
                cis = bootstrap_cis(
                    cond.material[name],
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
        return out

    def delta(self, cond: Condition) -> dict[str, dict[str, Any]]:
        """``{output: {"value", "ci", "p"}}``: full - ``cond`` for every metric both scored."""
        n, out = len(self.test.index), {}
        for name in cond.material:
            a, b = self.real.material.get(name), cond.material[name]
            if a is None:
                continue
            if isinstance(a, dict) and isinstance(b, dict):
                joint: Any = {k: np.concatenate([a[k], b[k]]) for k in a}
            elif isinstance(a, SentenceStats) and isinstance(b, SentenceStats):
                joint = SentenceStats(np.concatenate([a.stats, b.stats]), a.from_stats)
            else:
                joint = metric_joint(
                    self.metrics[name],
                    self.real.captions,
                    cond.captions,
                    self.test.references,
                    self.context(self.real),
                    self.context(cond),
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

    def score_oracles(self, kinds: set[str]) -> None:
        """Oracle rows offered by the metrics, scored with the caption metrics; then headroom."""
        refs = self.test.references
        ctx = self.context(self.real)
        offered: dict[str, Oracle] = {}
        for name, metric in self.metrics.items():
            if not set(metric.requires) <= kinds:
                continue
            for row, oracle in metric.oracles(refs, **ctx).items():
                if row in offered or row in CONTROLS:
                    raise PluginError(
                        f"oracle row {row!r} of metric {name!r} repeats another row's name."
                    )
                if oracle.role not in ORACLE_ROLES:
                    raise PluginError(
                        f"oracle {row!r} of metric {name!r} has role {oracle.role!r}; "
                        "valid: floor, ceiling or ''."
                    )
                if len(oracle.captions) != len(refs):
                    raise PluginError(
                        f"oracle {row!r} of metric {name!r} wrote {len(oracle.captions)} "
                        f"captions for {len(refs)} test trials."
                    )
                offered[row] = oracle
        caption_kinds = {CAPTIONS, ATTRIBUTES} & kinds
        for row, oracle in offered.items():
            cond = Condition(None, None, self.real.labels, list(oracle.captions))
            self.oracles[row] = {
                "description": oracle.description,
                "role": oracle.role,
                "metrics": self.score(cond, caption_kinds),
            }
            cond.material.clear()
        floors = [r for r in self.oracles.values() if r["role"] == "floor"]
        ceilings = [r for r in self.oracles.values() if r["role"] == "ceiling"]
        if len(floors) > 1 or len(ceilings) > 1:
            raise PluginError("metrics offer more than one floor or ceiling oracle; keep one each.")

    def headroom_of(self, metrics: dict[str, dict[str, Any]]) -> dict[str, float]:
        """``(value - floor) / (ceiling - floor)`` per output that both oracle rows score."""
        floor = next((r for r in self.oracles.values() if r["role"] == "floor"), None)
        ceiling = next((r for r in self.oracles.values() if r["role"] == "ceiling"), None)
        if floor is None or ceiling is None:
            return {}
        out = {}
        for key, row in metrics.items():
            lo, hi = floor["metrics"].get(key), ceiling["metrics"].get(key)
            if lo is None or hi is None or hi["value"] == lo["value"]:
                continue
            out[key] = (row["value"] - lo["value"]) / (hi["value"] - lo["value"])
        return out

    def run(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metrics of the real run, {control: {"description", "metrics", "delta"}}).

        Oracle rows and the headroom are left in ``self.oracles`` and ``self.headroom``.
        """
        has_caps = self.test.data.captions is not None
        if has_caps:
            self.generate(self.real, "generating captions")
        kinds = {CAPTIONS, LOGITS, EMBEDDINGS} if has_caps else {LOGITS, EMBEDDINGS}
        if self.has_attributes:
            kinds.add(ATTRIBUTES)
        with task("scoring the run (metrics, bootstrap CIs, oracles)", total=1) as advance:
            metrics = self.score(self.real, kinds)
            if has_caps:
                self.score_oracles(kinds)
                self.headroom = self.headroom_of(metrics)
            advance()
        controls: dict[str, Any] = {}
        rng = np.random.default_rng(self.seed)
        for name in control_names(self.cfg.controls):
            fn, description = CONTROLS[name]
            with torch.no_grad():
                cond = fn(self, rng)
            if cond.logits is None and not has_caps:
                continue  # without captions this control changes nothing that is scored
            ckinds = {LOGITS, EMBEDDINGS} if cond.logits is not None else set()
            if has_caps:
                self.generate(cond, f"control {name}")
                ckinds.add(CAPTIONS)
            if self.has_attributes:
                ckinds.add(ATTRIBUTES)
            with task(f"scoring control {name}", total=1) as advance:
                scored = self.score(cond, ckinds)
                controls[name] = {"description": description, "metrics": scored}
                if self.cfg.bootstrap > 0:
                    controls[name]["delta"] = self.delta(cond)
                advance()
            headroom = self.headroom_of(scored)
            if headroom:
                controls[name]["headroom"] = headroom
            cond.material.clear()
            self.conditions[name] = cond
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
        return out
