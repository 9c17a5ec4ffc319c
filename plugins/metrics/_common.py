"""Input checks shared by the metric plugins."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.api import ConfigError, DataError, file_problem, hub


def reference_sets(references: Sequence[Any]) -> list[list[str]]:
    """Each trial's references as a list: a caption alone, or several (``EEGData.references``)."""
    return [[r] if isinstance(r, str) else list(r) for r in references]


def several(references: Sequence[Any]) -> bool:
    """Whether any trial has more than one reference."""
    return any(not isinstance(r, str) and len(r) > 1 for r in references)


def check_pairs(predictions: Sequence[str], references: Sequence[Any], metric: str) -> None:
    """Predictions and references: same non-zero length, all strings (a reference may be a
    non-empty list of strings: several references)."""
    if len(predictions) != len(references):
        raise DataError(
            f"{metric}: {len(predictions)} predictions but {len(references)} references; "
            "pass one reference per prediction."
        )
    if len(predictions) == 0:
        raise DataError(f"{metric}: no predictions to score; pass at least one caption pair.")
    for i, s in enumerate(predictions):
        if not isinstance(s, str):
            raise DataError(f"{metric}: prediction {i} is {type(s).__name__}, not a string.")
    for i, r in enumerate(references):
        if isinstance(r, str):
            continue
        if not isinstance(r, (list, tuple)) or not r or not all(isinstance(x, str) for x in r):
            raise DataError(
                f"{metric}: reference {i} is {type(r).__name__}, not a string or a non-empty "
                "list of strings."
            )


def check_nonempty_refs(references: Sequence[Any], metric: str) -> None:
    for i, refs in enumerate(reference_sets(references)):
        if any(not r.strip() for r in refs):
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


def bertscore_offline(name: str) -> str:
    """The line for a BERTScore hub model that is not cached and cannot be fetched now."""
    return (
        f"{name!r} is not in the Hugging Face cache; download it where there is internet "
        f"(`hf download {name} --local-dir DIR`) and pass metrics.bertscore.model_path=DIR"
    )


def cider_preflight(params: Any) -> list[str]:
    """Java when ``tokenizer=java``."""
    if params.tokenize == "ptb" and params.tokenizer == "java":
        return [p for p in [_no_java("tokenizer=java")] if p]
    return []


def coco_preflight(params: Any) -> list[str]:
    """METEOR 1.5 is always pycocoevalcap's Java jar."""
    return [p for p in [_no_java("METEOR 1.5")] if p]


def bertscore_preflight(params: Any) -> list[str]:
    """The bert-score package and a model folder, or a hub model cached or fetchable now."""
    found = [p for p in [_module_missing("bert_score", "bertscore")] if p]
    path = params.model_path or ""
    if params.random_weights:
        return found
    if not path:
        found.append("needs a model: set its model_path=/path/to/dir or a hub name")
    elif Path(path).expanduser().exists() or not hub.is_repo_id(path):
        if not (Path(path).expanduser() / "config.json").is_file():
            found.append(
                f"model_path={path!r} is not a Hugging Face model folder (no config.json); "
                "rehearse without it: --random-weights"
            )
    elif hub.cached_model(path, params.revision or None) is None:
        problem = None if not hub.offline() else "HF_HUB_OFFLINE=1"
        problem = problem or hub.probe(path, params.revision or None)
        if problem is not None:
            found.append(
                f"model_path={path!r}: {bertscore_offline(path)}, or rehearse without it: "
                f"--random-weights ({problem})"
            )
    base = params.baseline_path or ""
    problem = file_problem(Path(base).expanduser()) if base else None
    if problem:
        found.append(f"baseline_path={base!r} {problem}")
    return found
