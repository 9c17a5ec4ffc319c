"""Input checks shared by the metric plugins."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np

from eegbench.api import ConfigError, DataError


def check_pairs(predictions: Sequence[str], references: Sequence[str], metric: str) -> None:
    """Predictions and references: same non-zero length, all strings."""
    if len(predictions) != len(references):
        raise DataError(
            f"{metric}: {len(predictions)} predictions but {len(references)} references; "
            "pass one reference per prediction."
        )
    if len(predictions) == 0:
        raise DataError(f"{metric}: no predictions to score; pass at least one caption pair.")
    for what, items in (("prediction", predictions), ("reference", references)):
        for i, s in enumerate(items):
            if not isinstance(s, str):
                raise DataError(f"{metric}: {what} {i} is {type(s).__name__}, not a string.")


def check_nonempty_refs(references: Sequence[str], metric: str) -> None:
    for i, r in enumerate(references):
        if not r.strip():
            raise DataError(f"{metric}: reference {i} is empty; every trial needs a caption.")


def need(ctx: dict[str, Any], key: str, metric: str) -> np.ndarray:
    """``ctx[key]`` as a numpy array, or a DataError naming the missing context."""
    if ctx.get(key) is None:
        raise DataError(
            f"{metric} needs {key!r} in its context; the evaluation did not provide it."
        )
    value = ctx[key]
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def need_java(metric: str) -> None:
    if shutil.which("java") is None:
        raise ConfigError(
            f"{metric} runs Java (pycocoevalcap) and no 'java' is on PATH: "
            "install a JRE (e.g. apt-get install default-jre-headless)."
        )
