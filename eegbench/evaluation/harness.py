"""The evaluation harness: metrics on the test split, and the control rows beside them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eegbench.api.data import EEGData
from eegbench.api.errors import PluginError
from eegbench.api.llm import CausalLM
from eegbench.api.metric import CAPTIONS, EMBEDDINGS, LOGITS, output_key
from eegbench.config import EvalConfig
from eegbench.evaluation.controls import CONTROLS, Condition, control_names
from eegbench.evaluation.scoring import build_metric
from eegbench.evaluation.stats import bootstrap_cis
from eegbench.train.generation import generate_captions
from eegbench.train.model import EEGClassifier, Projector


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
    """Runs the real condition and the controls, and scores them with the metric plugins.

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
    ) -> None:
        self.model, self.projector, self.llm, self.test, self.cfg = model, projector, llm, test, cfg
        self.seed = seed
        self.metrics = {name: build_metric(name, params) for name, params in metric_params.items()}
        emb, logits = self.predict(test.data.X[test.index])
        self.real = Condition(emb, logits, self.label_names(logits))
        self.conditions: dict[str, Condition] = {}

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EEG embeddings and class logits of trials ``X``."""
        return self.model.predict(X)

    def label_names(self, logits: np.ndarray) -> list[str | None]:
        names = self.test.data.class_names
        return [names[k] for k in logits.argmax(1)]

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
        )

    def context(self, cond: Condition) -> dict[str, Any]:
        t = self.test
        test_images, target_index = np.unique(t.image, return_inverse=True)
        return {
            "y_true": t.y,
            "logits": cond.logits if cond.logits is not None else self.real.logits,
            "embeddings": cond.embeddings if cond.embeddings is not None else self.real.embeddings,
            "targets": t.targets[t.image],
            "target_bank": t.targets[test_images],
            "target_index": target_index,
            "class_names": t.data.class_names,
        }

    def score(self, cond: Condition, kinds: set[str]) -> dict[str, dict[str, Any]]:
        """``{output: {"value", "higher_is_better", "metric", "ci"}}`` for metrics of ``kinds``.

        Outputs of a protocol (``protocol:NAME``) are named ``NAME/output`` so that they never
        collide with the plain metrics of the same name.
        """
        refs = self.test.references
        ctx = self.context(cond)
        out: dict[str, dict[str, Any]] = {}
        for name, metric in self.metrics.items():
            if not set(metric.requires) <= kinds:
                continue
            if CAPTIONS in metric.requires and not refs:
                continue
            values = metric.compute(cond.captions, refs, **ctx)
            cis = {}
            if self.cfg.bootstrap > 0:
                fn = metric.resampler(cond.captions, refs, **ctx)
                cis = bootstrap_cis(
                    fn, n=len(self.test.index), n_boot=self.cfg.bootstrap, seed=self.seed
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
                    "higher_is_better": bool(metric.outputs.get(key, True)),
                    "metric": name,
                }
                if key in cis:
                    row["ci"] = [cis[key].low, cis[key].high]
                out[result] = row
        return out

    def run(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metrics of the real run, {control: {"description", "metrics"}})."""
        has_caps = self.test.data.captions is not None
        if has_caps:
            self.generate(self.real, "generating captions")
        metrics = self.score(
            self.real, {CAPTIONS, LOGITS, EMBEDDINGS} if has_caps else {LOGITS, EMBEDDINGS}
        )
        controls: dict[str, Any] = {}
        rng = np.random.default_rng(self.seed)
        for name in control_names(self.cfg.controls):
            fn, description = CONTROLS[name]
            with torch.no_grad():
                cond = fn(self, rng)
            if cond.logits is None and not has_caps:
                continue  # without captions this control changes nothing that is scored
            kinds = {LOGITS, EMBEDDINGS} if cond.logits is not None else set()
            if has_caps:
                self.generate(cond, f"control {name}")
                kinds.add(CAPTIONS)
            controls[name] = {"description": description, "metrics": self.score(cond, kinds)}
            self.conditions[name] = cond
        return metrics, controls
