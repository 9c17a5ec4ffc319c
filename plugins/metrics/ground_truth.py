"""Metrics for datasets with per-image ground truth (``EEGData.attributes``).

- ``attributes``: per attribute, the fraction of trials whose caption names the true value (one
  of its words appears) and no other value; it also offers three template rows: the dataset's
  own caption writer (``describe``) fed the label and attributes (what template sentences score;
  not the headroom's floor or ceiling, which the harness builds from the same pipeline).
- ``probe``: per attribute, the test accuracy of a logistic-regression probe fitted on the
  training trials' EEG embeddings: how much of the attribute the embedding carries.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
from eegbench_plugins.metrics._common import need

from eegbench.api import ATTRIBUTES, CAPTIONS, EMBEDDINGS, DataError, Metric, Oracle

HITS, PROBE = "attributes", "probe"  # the registered names, for messages


def _attributes(ctx: Mapping[str, Any], key: str, metric: str) -> dict[str, np.ndarray]:
    value = ctx.get(key)
    if not value:
        raise DataError(f"{metric} needs {key!r} (per-trial ground truth) in its context.")
    return {k: np.asarray(v, dtype=object) for k, v in value.items()}


def _pattern(words: list[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w.strip()) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


class AttributeHits(Metric):
    """Hit rate of each ground-truth attribute in the captions, and the oracle captions.

    A trial is a hit for an attribute when its caption contains a word of the true value and no
    word of another value (whole words, case-insensitive).
    """

    outputs: dict[str, bool] = {"hit_*": True}  # hit_<attribute>, one per declared attribute
    requires = (CAPTIONS, ATTRIBUTES)

    def per_item(
        self, predictions: list[str], references: list[str] | None = None, **ctx: Any
    ) -> dict[str, np.ndarray]:
        attrs = _attributes(ctx, "attributes", HITS)
        words = ctx.get("attribute_words") or {}
        out = {}
        for attr, truth in attrs.items():
            if attr not in words:
                raise DataError(f"{HITS}: no attribute_words for {attr!r}.")
            if len(truth) != len(predictions):
                raise DataError(
                    f"{HITS}: {len(truth)} {attr!r} values for {len(predictions)} captions."
                )
            said = {
                v: [bool(_pattern(w).search(c)) for c in predictions]
                for v, w in words[attr].items()
            }
            said_any = np.array(list(said.values()), dtype=int).sum(axis=0)
            own = np.array([said[v][i] for i, v in enumerate(truth)], dtype=bool)
            out[f"hit_{attr}"] = (own & (said_any == 1)).astype(float)
        return out

    def compute(
        self, predictions: list[str], references: list[str] | None = None, **ctx: Any
    ) -> dict[str, float]:
        return {
            k: float(v.mean()) for k, v in self.per_item(predictions, references, **ctx).items()
        }

    def oracles(self, references: list[str], **ctx: Any) -> dict[str, Oracle]:
        """``template_prior``, ``template_attributes_at_accuracy`` and ``template_truth``.

        Needs the dataset's caption writer (``describe``); without it there are no oracle rows.
        """
        describe = ctx.get("describe")
        if describe is None:
            return {}
        truth = _attributes(ctx, "attributes", HITS)
        train = _attributes(ctx, "train_attributes", HITS)
        train_y = need(ctx, "train_y", HITS).astype(np.int64)
        y = need(ctx, "y_true", HITS).astype(np.int64)
        pred = need(ctx, "logits", HITS).argmax(axis=1)
        priors = {attr: _class_modes(train[attr], train_y) for attr in truth}
        n = len(y)

        def own(i: int) -> dict[str, str]:
            return {a: str(v[i]) for a, v in truth.items()}

        def prior(k: int) -> dict[str, str]:
            return {a: p(int(k)) for a, p in priors.items()}

        return {
            "template_prior": Oracle(
                [describe(int(pred[i]), prior(pred[i])) for i in range(n)],
                "TEMPLATE: the predicted object with its class's most common training attributes",
            ),
            "template_attributes_at_accuracy": Oracle(
                [describe(int(pred[i]), own(i)) for i in range(n)],
                "TEMPLATE: the predicted object with the true attributes",
            ),
            "template_truth": Oracle(
                [describe(int(y[i]), own(i)) for i in range(n)],
                "TEMPLATE: the true object with the true attributes",
            ),
        }


def _class_modes(values: np.ndarray, y: np.ndarray) -> Any:
    """``k -> the most common value among class k's training trials``.

    Ties (and classes without training trials) go to the value most common over all training
    trials, then to the first in sorted order.
    """
    overall = Counter(values.tolist())
    rank = {v: (-c, str(v)) for v, c in overall.items()}
    per_class: dict[int, str] = {}
    for k in np.unique(y):
        counts = Counter(values[y == k].tolist())
        per_class[int(k)] = str(min(counts, key=lambda v: (-counts[v], *rank[v])))
    default = str(min(overall, key=lambda v: rank[v]))
    return lambda k: per_class.get(k, default)


class Probe(Metric):
    """Accuracy of a linear probe decoding each attribute from the EEG embeddings.

    A standardised multinomial logistic regression (scikit-learn) is fitted on the training
    trials' embeddings and attributes, and scored on the evaluated embeddings.
    """

    outputs: dict[str, bool] = {"probe_*": True}  # probe_<attribute>, one per attribute
    requires = (EMBEDDINGS, ATTRIBUTES)

    def __init__(self, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C, self.max_iter = float(C), int(max_iter)
        self._fitted: dict[str, tuple[Any, Any]] = {}

    def _probe(self, attr: str, emb: np.ndarray, labels: np.ndarray) -> Any:
        cached = self._fitted.get(attr)
        if cached is not None and cached[0] is emb:
            return cached[1]
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if len(set(labels.tolist())) < 2:
            raise DataError(f"{PROBE}: attribute {attr!r} has one value in training.")
        from threadpoolctl import threadpool_limits

        # One BLAS thread: the fit is small, so OpenBLAS's default (a thread per core) only
        # spins (1.5-10x slower here), and its sums then depend on the machine's core count.
        with threadpool_limits(1, user_api="blas"):
            model = make_pipeline(
                StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)
            ).fit(emb, labels.astype(str))
        self._fitted[attr] = (emb, model)
        return model

    def per_item(
        self, predictions: Any = None, references: Any = None, **ctx: Any
    ) -> dict[str, np.ndarray]:
        emb = need(ctx, "embeddings", PROBE).astype(np.float64)
        train_emb = ctx.get("train_embeddings")
        if train_emb is None:
            raise DataError(f"{PROBE} needs 'train_embeddings' in its context.")
        from threadpoolctl import threadpool_limits

        truth = _attributes(ctx, "attributes", PROBE)
        train = _attributes(ctx, "train_attributes", PROBE)
        out = {}
        for attr, values in truth.items():
            if len(train[attr]) != len(train_emb):
                raise DataError(
                    f"{PROBE}: {len(train[attr])} training {attr!r} values for "
                    f"{len(train_emb)} training embeddings."
                )
            model = self._probe(attr, train_emb, train[attr])
            with threadpool_limits(1, user_api="blas"):
                hit = model.predict(emb) == values.astype(str)
            out[f"probe_{attr}"] = hit.astype(float)
        return out

    def compute(
        self, predictions: Any = None, references: Any = None, **ctx: Any
    ) -> dict[str, float]:
        return {k: float(v.mean()) for k, v in self.per_item(**ctx).items()}
