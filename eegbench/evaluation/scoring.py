"""Score a prediction CSV with a named protocol; the ``eegbench score`` command."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eegbench import plugins
from eegbench.api.errors import ConfigError, UnknownNameError
from eegbench.evaluation.predictions import read_predictions
from eegbench.io import atomic_write

PROTOCOL_PREFIX = "protocol:"


def protocol_names() -> list[str]:
    """Registered protocol names without the ``protocol:`` prefix."""
    return [
        n[len(PROTOCOL_PREFIX) :] for n in plugins.registry("metrics").names(f"{PROTOCOL_PREFIX}*")
    ]


def score_file(path: str | os.PathLike[str], protocol: str = "thought2text") -> dict[str, float]:
    """Metric -> value for a Thought2Text-layout prediction CSV under ``protocol``."""
    name = protocol if protocol.startswith(PROTOCOL_PREFIX) else PROTOCOL_PREFIX + protocol
    try:
        entry = plugins.get("metrics", name)
    except UnknownNameError:
        raise ConfigError(
            f"unknown protocol {protocol!r}; valid: {', '.join(protocol_names()) or '(none)'}."
        ) from None
    preds = read_predictions(path)
    metric = entry.build()
    return metric.compute(
        preds.generated,
        preds.reference,
        expected_objects=preds.expected_object,
        predicted_objects=preds.predicted_object,
    )


def write_scores(obj: dict[str, float], path: Path) -> None:
    atomic_write(path, json.dumps(obj, indent=2) + "\n")
