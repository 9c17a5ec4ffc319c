"""Metrics on the EEG encoder's outputs: class logits and embeddings (fractions in [0, 1])."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from eegbench_plugins.metrics._common import need

from eegbench.api import EMBEDDINGS, LOGITS, DataError, Metric


def _labels_logits(ctx: dict[str, Any], metric: str) -> tuple[np.ndarray, np.ndarray]:
    y = need(ctx, "y_true", metric).astype(np.int64).reshape(-1)
    logits = need(ctx, "logits", metric).astype(np.float64)
    if logits.ndim != 2 or logits.shape[0] != y.shape[0]:
        raise DataError(f"{metric}: logits {logits.shape} do not match y_true ({y.shape[0]},).")
    if y.size == 0:
        raise DataError(f"{metric}: no trials to score.")
    if y.min() < 0 or y.max() >= logits.shape[1]:
        raise DataError(f"{metric}: y_true holds labels outside 0..{logits.shape[1] - 1}.")
    if not np.isfinite(logits).all():
        raise DataError(f"{metric}: logits contain NaN or inf.")
    return y, logits


def _rank_of_true(scores: np.ndarray, true_idx: np.ndarray) -> np.ndarray:
    """0-based rank of the true column in each row: the count of strictly higher scores."""
    own = scores[np.arange(scores.shape[0]), true_idx]
    return (scores > own[:, None]).sum(axis=1)


class Accuracy(Metric):
    """Top-1, top-5 and balanced (mean per-class recall) accuracy of the class logits."""

    outputs = {"top1_accuracy": True, "top5_accuracy": True, "balanced_accuracy": True}
    requires = (LOGITS,)

    def per_item(self, predictions: Any = None, references: Any = None, **ctx: Any) -> dict:
        y, logits = _labels_logits(ctx, "accuracy")
        # the same ordering (and tie order) as sklearn's top_k_accuracy_score
        top5 = np.argsort(logits, axis=1, kind="mergesort")[:, ::-1][:, :5]
        return {
            "top1_accuracy": (logits.argmax(axis=1) == y).astype(float),
            "top5_accuracy": (top5 == y[:, None]).any(axis=1).astype(float),
        }

    def resampler(
        self, predictions: Any = None, references: Any = None, **ctx: Any
    ) -> Callable[[np.ndarray], dict[str, float]]:
        """``fn(indices) -> outputs`` on resampled trials (balanced accuracy recomputed exactly)."""
        y, logits = _labels_logits(ctx, "accuracy")
        per = self.per_item(**ctx)
        k = logits.shape[1]

        def fn(idx: np.ndarray) -> dict[str, float]:
            idx = np.asarray(idx)
            hit, yi = per["top1_accuracy"][idx], y[idx]
            counts = np.bincount(yi, minlength=k)
            recall = np.bincount(yi, weights=hit, minlength=k)[counts > 0] / counts[counts > 0]
            return {
                "top1_accuracy": float(hit.mean()),
                "top5_accuracy": float(per["top5_accuracy"][idx].mean()),
                "balanced_accuracy": float(recall.mean()),
            }

        return fn

    def compute(
        self, predictions: list[str] | None = None, references: list[str] | None = None, **ctx: Any
    ) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, balanced_accuracy_score, top_k_accuracy_score

        y, logits = _labels_logits(ctx, "accuracy")
        k = logits.shape[1]
        pred = logits.argmax(axis=1)
        top5 = 1.0 if k <= 5 else top_k_accuracy_score(y, logits, k=5, labels=np.arange(k))
        return {
            "top1_accuracy": float(accuracy_score(y, pred)),
            "top5_accuracy": float(top5),
            "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        }


def _unit(x: np.ndarray, what: str, metric: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"{metric}: {what} must be 2-D [n, D], got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise DataError(f"{metric}: {what} contain NaN or inf.")
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    if (norm == 0).any():
        raise DataError(f"{metric}: {what} contain an all-zero row; cosine is undefined.")
    return x / norm


class Cosine(Metric):
    """Mean cosine similarity between each trial's EEG embedding and its own target."""

    outputs = {"cosine": True}
    requires = (EMBEDDINGS,)

    def per_item(self, predictions: Any = None, references: Any = None, **ctx: Any) -> dict:
        emb = _unit(need(ctx, "embeddings", "cosine"), "embeddings", "cosine")
        tgt = _unit(need(ctx, "targets", "cosine"), "targets", "cosine")
        if emb.shape != tgt.shape:
            raise DataError(f"cosine: embeddings {emb.shape} and targets {tgt.shape} differ.")
        return {"cosine": (emb * tgt).sum(axis=1)}

    def compute(
        self, predictions: list[str] | None = None, references: list[str] | None = None, **ctx: Any
    ) -> dict[str, float]:
        return {"cosine": float(self.per_item(**ctx)["cosine"].mean())}


class Retrieval(Metric):
    """Top-1/top-5 retrieval of each trial's own target among ``target_bank`` rows by cosine.

    Ties count in the trial's favour (rank = number of strictly more similar candidates).
    """

    outputs = {"retrieval_top1": True, "retrieval_top5": True}
    requires = (EMBEDDINGS,)

    def per_item(self, predictions: Any = None, references: Any = None, **ctx: Any) -> dict:
        emb = _unit(need(ctx, "embeddings", "retrieval"), "embeddings", "retrieval")
        bank = _unit(need(ctx, "target_bank", "retrieval"), "target_bank", "retrieval")
        idx = need(ctx, "target_index", "retrieval").astype(np.int64).reshape(-1)
        if emb.shape[1] != bank.shape[1]:
            raise DataError(
                f"retrieval: embeddings dim {emb.shape[1]} != bank dim {bank.shape[1]}."
            )
        if idx.shape[0] != emb.shape[0]:
            raise DataError(
                f"retrieval: {idx.shape[0]} target_index entries for {emb.shape[0]} trials."
            )
        if idx.size and (idx.min() < 0 or idx.max() >= bank.shape[0]):
            raise DataError(f"retrieval: target_index outside 0..{bank.shape[0] - 1}.")
        rank = _rank_of_true(emb @ bank.T, idx)
        return {
            "retrieval_top1": (rank < 1).astype(float),
            "retrieval_top5": (rank < 5).astype(float),
        }

    def compute(
        self, predictions: list[str] | None = None, references: list[str] | None = None, **ctx: Any
    ) -> dict[str, float]:
        return {k: float(v.mean()) for k, v in self.per_item(**ctx).items()}
