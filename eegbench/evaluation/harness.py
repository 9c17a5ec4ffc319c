"""The evaluation harness: metrics on the test split, and the control rows beside them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from eegbench import plugins
from eegbench.api.data import EEGData
from eegbench.api.errors import ConfigError, PluginError
from eegbench.api.llm import CausalLM
from eegbench.api.metric import CAPTIONS, EMBEDDINGS, LOGITS
from eegbench.config import EvalConfig
from eegbench.evaluation.stats import bootstrap_cis, metric_resampler
from eegbench.train.generation import generate_captions
from eegbench.train.model import EEGClassifier, Projector


@dataclass
class Condition:
    """What the pipeline saw and said under one condition (the real run or a control)."""

    embeddings: np.ndarray | None  # EEG embeddings [n, D] fed to the projector (None: no slot)
    logits: np.ndarray | None  # classifier outputs [n, K] (None: unchanged from the real run)
    labels: list[str | None]  # object strings in the prompt (None: no label)
    captions: list[str] = field(default_factory=list)


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


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation with no fixed point (every trial gets another trial's EEG)."""
    perm = rng.permutation(n)
    return np.where(perm == np.arange(n), np.roll(perm, 1), perm) if n > 1 else perm


def _noise_like(data: EEGData, n: int, rng: np.random.Generator) -> np.ndarray:
    train = data.X[data.splits["train"]]
    mean = train.mean(axis=(0, 2), keepdims=True)
    std = train.std(axis=(0, 2), keepdims=True)
    return (mean + std * rng.standard_normal((n, data.n_chans, data.n_times))).astype(np.float32)


ControlFn = Callable[["Evaluation", np.random.Generator], Condition]


def _only_obj(ev: Evaluation, rng: np.random.Generator) -> Condition:
    return Condition(None, None, ev.real.labels)


def _random_eeg(ev: Evaluation, rng: np.random.Generator) -> Condition:
    emb = ev.real.embeddings
    noise = rng.standard_normal(emb.shape).astype(np.float32)
    noise *= np.linalg.norm(emb, axis=1, keepdims=True) / np.linalg.norm(
        noise, axis=1, keepdims=True
    )
    return Condition(noise, None, ev.real.labels)


def _only_eeg(ev: Evaluation, rng: np.random.Generator) -> Condition:
    return Condition(ev.real.embeddings, None, [None] * len(ev.real.labels))


def _shuffled_eeg(ev: Evaluation, rng: np.random.Generator) -> Condition:
    perm = _derangement(len(ev.real.labels), rng)
    return Condition(ev.real.embeddings[perm], None, ev.real.labels)


def _noise(ev: Evaluation, rng: np.random.Generator) -> Condition:
    X = _noise_like(ev.test.data, len(ev.test.index), rng)
    emb, logits = ev.model.predict(X)
    return Condition(emb, logits, ev.label_names(logits))


CONTROLS: dict[str, tuple[ControlFn, str]] = {
    "only_obj": (_only_obj, "ONLY_OBJ: predicted label, no EEG slot"),
    "obj_random_eeg": (_random_eeg, "OBJ+RANDOM_EEG: random vector of the EEG embedding's norm"),
    "only_eeg": (_only_eeg, "ONLY_EEG: EEG slot, no label"),
    "shuffled_eeg": (_shuffled_eeg, "SHUFFLED_EEG: another test trial's EEG, own label"),
    "noise": (_noise, "NOISE: encoder fed with noise of the training data's statistics"),
}


def control_names(requested: list[str] | str) -> list[str]:
    """Expand ``all`` and check names."""
    requested = [requested] if isinstance(requested, str) else requested
    names = list(CONTROLS) if "all" in requested else list(requested)
    for n in names:
        if n not in CONTROLS:
            from eegbench.api.registry import did_you_mean

            raise ConfigError(f"unknown control {n!r}." + did_you_mean(n, [*CONTROLS, "all"]))
    return names


class Evaluation:
    """Runs the real condition and the controls, and scores them with the metric plugins."""

    def __init__(
        self,
        model: EEGClassifier,
        projector: Projector | None,
        llm: CausalLM | None,
        test: TestSet,
        cfg: EvalConfig,
        seed: int,
    ) -> None:
        self.model, self.projector, self.llm, self.test, self.cfg = model, projector, llm, test, cfg
        self.seed = seed
        self.metrics = {name: plugins.get("metrics", name).build() for name in cfg.metrics}
        emb, logits = model.predict(test.data.X[test.index])
        self.real = Condition(emb, logits, self.label_names(logits))
        self.conditions: dict[str, Condition] = {}

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
                fn = metric_resampler(metric, cond.captions, refs, **ctx)
                cis = bootstrap_cis(
                    fn, n=len(self.test.index), n_boot=self.cfg.bootstrap, seed=self.seed
                )
            prefix = name.split(":", 1)[1] + "/" if name.startswith("protocol:") else ""
            for key, value in values.items():
                if prefix + key in out:
                    raise PluginError(
                        f"metrics {out[prefix + key]['metric']!r} and {name!r} both report "
                        f"{key!r}; list only one of them in eval.metrics."
                    )
                row = {
                    "value": float(value),
                    "higher_is_better": bool(metric.outputs.get(key, True)),
                    "metric": name,
                }
                if key in cis:
                    row["ci"] = [cis[key].low, cis[key].high]
                out[prefix + key] = row
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
