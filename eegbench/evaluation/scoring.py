"""Metric plugins by name: build one (checked against the ``Metric`` contract), and score a
prediction CSV with a named protocol (the ``eegbench score`` command)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eegbench import plugins
from eegbench.contract.errors import ConfigError, EegbenchError, PluginError, UnknownNameError
from eegbench.contract.metric import PROTOCOL_PREFIX, Metric, protocol_name
from eegbench.evaluation.predictions import read_predictions
from eegbench.io import atomic_write


def build_metric(name: str, params: Any = None) -> Metric:
    """The metric plugin ``name`` built with ``params``: its params instance, as a resolved
    config holds it, or a mapping of values as a saved run records them (validated here);
    None: its defaults."""
    entry = plugins.get("metrics", name)
    if params is None or isinstance(params, Mapping):
        params = entry.parse(dict(params or {}), where=f"metrics.{name}")
    metric = entry.make(params)
    if not isinstance(metric, Metric):
        raise PluginError(
            f"metric {name!r} (plugin {entry.plugin!r}) built a {type(metric).__name__}, not an "
            "eegbench.api.Metric; its factory must return a Metric subclass instance."
        )
    return metric


def protocol_names() -> list[str]:
    """Registered protocol names without the ``protocol:`` prefix."""
    return [protocol_name(n) for n in plugins.registry("metrics").names(f"{PROTOCOL_PREFIX}*")]


def score_file(path: str | os.PathLike[str], protocol: str = "thought2text") -> dict[str, float]:
    """Metric -> value for a Thought2Text-layout prediction CSV under ``protocol``."""
    name = protocol if protocol_name(protocol) is not None else PROTOCOL_PREFIX + protocol
    try:
        entry = plugins.get("metrics", name)
    except UnknownNameError:
        raise ConfigError(
            f"unknown protocol {protocol!r}; valid: {', '.join(protocol_names()) or '(none)'}."
        ) from None
    preds = read_predictions(path)
    metric = build_metric(entry.name)
    return metric.compute(
        preds.generated,
        preds.references if metric.multi_reference else preds.reference,
        expected_objects=preds.expected_object,
        predicted_objects=preds.predicted_object,
    )


def check_destination(path: Path) -> None:
    """Raise EegbenchError unless ``path`` can be written (checked before minutes of scoring)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if path.is_dir():
        raise EegbenchError(f"--out {str(path)!r} is a folder; give a file name.")
    if not folder.is_dir():
        raise EegbenchError(f"cannot write {str(path)!r}: {str(folder)!r} is a file; fix --out.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EegbenchError(
            f"cannot write {str(path)!r}: {str(folder)!r} is not writable; use --out."
        )


def write_scores(obj: dict[str, float], path: Path) -> None:
    atomic_write(path, json.dumps(obj, indent=2) + "\n")
