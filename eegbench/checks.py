"""Contract checks: a plugin item's output is checked when it is built, on a tiny batch.

A violation raises ``PluginError`` as one line naming the item, its plugin and distribution,
and the mismatch, instead of a traceback deep inside training.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from eegbench import plugins
from eegbench.contract.errors import PluginError
from eegbench.contract.metric import output_direction
from eegbench.contract.registry import Entry


def who(entry: Entry) -> str:
    """``"encoder 'x' (plugin 'p', distribution d 1.0)"``."""
    return (
        f"{entry.kind[:-1]} {entry.name!r} (plugin {entry.plugin!r}, "
        f"distribution {plugins.distribution(entry.plugin)})"
    )


def check_dataset(entry: Entry, data: Any) -> None:
    """A dataset returns an ``EEGData`` that passes ``validate()``."""
    from eegbench.contract.data import EEGData
    from eegbench.contract.errors import DataError

    if not isinstance(data, EEGData):
        raise PluginError(f"{who(entry)} returned {type(data).__name__}, not EEGData.")
    try:
        data.validate()
    except DataError as e:
        raise DataError(f"{who(entry)}: {re.sub(r'^dataset( .*?)?: ', '', str(e))}") from None


def check_encoder(entry: Entry, encoder: Any, X: np.ndarray) -> None:
    """The encoder maps a batch ``[2, C, T]`` of real trials to ``[2, n_features]``."""
    import torch

    n_features = getattr(encoder, "n_features", None)
    if not isinstance(n_features, int) or n_features <= 0:
        raise PluginError(
            f"{who(entry)} has n_features={n_features!r}; the contract needs a positive int "
            "(the size of its output features)."
        )
    batch = torch.as_tensor(np.asarray(X[:2]))
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            out = encoder(batch)
    except Exception as e:
        raise PluginError(
            f"{who(entry)} fails on a batch of shape {list(batch.shape)} [B, C, T]: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    finally:
        encoder.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise PluginError(f"{who(entry)} returned {type(out).__name__}, not a tensor [B, F].")
    expected = [len(batch), n_features]
    if list(out.shape) != expected:
        raise PluginError(
            f"{who(entry)} returns features of shape {list(out.shape)} for input "
            f"{list(batch.shape)}; the contract is [B, n_features] = {expected}: "
            "fix its n_features or its output."
        )


def check_targets(entry: Entry, target: Any, embeddings: np.ndarray, n_items: int) -> None:
    """A target returns ``[n_items, dim]`` finite embeddings."""
    shape = tuple(np.shape(embeddings))
    dim = getattr(target, "dim", None)
    if shape != (n_items, dim):
        raise PluginError(
            f"{who(entry)} returned embeddings of shape {list(shape)} for {n_items} items; "
            f"the contract is [n_items, dim] = [{n_items}, {dim}]."
        )
    if not np.isfinite(embeddings).all():
        raise PluginError(f"{who(entry)} returned non-finite embeddings (NaN or inf).")


def check_metric_values(entry: Entry, metric: Any, values: Any) -> None:
    """A metric returns ``{output: number}`` with only the outputs it declares."""
    if not isinstance(values, dict):
        raise PluginError(f"{who(entry)} returned {type(values).__name__}, not a dict.")
    undeclared = sorted(k for k in values if output_direction(metric.outputs, k) is None)
    if undeclared:
        raise PluginError(
            f"{who(entry)} returned outputs {undeclared} that its `outputs` does not declare "
            f"(declared: {sorted(metric.outputs)})."
        )
    for key, value in values.items():
        if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
            raise PluginError(f"{who(entry)} returned {key}={value!r}; outputs must be numbers.")
        if math.isinf(float(value)):
            raise PluginError(f"{who(entry)} returned {key}={value}; outputs must be finite.")
