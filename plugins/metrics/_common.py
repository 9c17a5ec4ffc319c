"""Input checks shared by the metric plugins."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.api import ConfigError, DataError, file_problem


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


def _no_java(what: str) -> str | None:
    if shutil.which("java") is None:
        return (
            f"{what} runs Java (pycocoevalcap) and no 'java' is on PATH: "
            "install a JRE (e.g. apt-get install default-jre-headless)"
        )
    return None


def need_java(metric: str) -> None:
    problem = _no_java(metric)
    if problem:
        raise ConfigError(f"{problem}.")


def _module_missing(module: str, extra: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return f"needs the {module!r} package: pip install -c constraints.txt 'eegbench[{extra}]'"
    return None


def cider_preflight(params: dict[str, Any]) -> list[str]:
    """Java when ``tokenizer=java``."""
    if params.get("tokenize") == "ptb" and params.get("tokenizer") == "java":
        return [p for p in [_no_java("tokenizer=java")] if p]
    return []


def coco_preflight(params: dict[str, Any]) -> list[str]:
    """METEOR 1.5 is always pycocoevalcap's Java jar."""
    return [p for p in [_no_java("METEOR 1.5")] if p]


def bertscore_preflight(params: dict[str, Any]) -> list[str]:
    """The bert-score package and a local model folder."""
    found = [p for p in [_module_missing("bert_score", "bertscore")] if p]
    path = params.get("model_path") or ""
    if not path:
        found.append("needs a local model: set its model_path=/path/to/dir")
    elif not (Path(path).expanduser() / "config.json").is_file():
        found.append(f"model_path={path!r} is not a Hugging Face model folder (no config.json)")
    base = params.get("baseline_path") or ""
    problem = file_problem(Path(base).expanduser()) if base else None
    if problem:
        found.append(f"baseline_path={base!r} {problem}")
    return found
