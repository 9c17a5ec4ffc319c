"""eegbench: benchmarking EEG-to-language decoding.

Public API: everything importable from here. Modules not re-exported are private.
"""

from __future__ import annotations

from eegbench._compat import ensure_torchvision_importable

ensure_torchvision_importable()

from eegbench.data import SPLITS, EEGData
from eegbench.errors import (
    ConfigError,
    DataError,
    EegbenchError,
    MissingWeightsError,
    PluginError,
    UnknownNameError,
)
from eegbench.hookspecs import hookimpl
from eegbench.metrics import CAPTIONS, EMBEDDINGS, LOGITS, Metric
from eegbench.plugins import get, registry
from eegbench.registry import Entry, Param
from eegbench.targets import Target, embed_cached

__version__ = "0.1.0"

__all__ = [
    "CAPTIONS",
    "EMBEDDINGS",
    "LOGITS",
    "SPLITS",
    "ConfigError",
    "DataError",
    "EEGData",
    "EegbenchError",
    "Entry",
    "Metric",
    "MissingWeightsError",
    "Param",
    "PluginError",
    "Target",
    "UnknownNameError",
    "embed_cached",
    "get",
    "hookimpl",
    "registry",
    "__version__",
]
