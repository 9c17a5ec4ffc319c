"""eegbench: benchmarking EEG-to-language decoding.

Public API: everything importable from here. Modules not re-exported are private.
"""

from __future__ import annotations

from eegbench._compat import ensure_torchvision_importable

ensure_torchvision_importable()

__version__ = "0.1.0"

from eegbench.data import SPLITS, EEGData, read_caption_files
from eegbench.errors import (
    ConfigError,
    DataError,
    EegbenchError,
    MissingWeightsError,
    PluginError,
    UnknownNameError,
)
from eegbench.generation import generate_caption, generate_captions
from eegbench.hookspecs import hookimpl
from eegbench.inference import batch_inference_and_visualize, load_run
from eegbench.metrics import CAPTIONS, EMBEDDINGS, LOGITS, Metric
from eegbench.plugins import get, registry
from eegbench.registry import Entry, Param
from eegbench.targets import Target, embed_cached

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
    "batch_inference_and_visualize",
    "embed_cached",
    "generate_caption",
    "generate_captions",
    "get",
    "hookimpl",
    "load_run",
    "read_caption_files",
    "registry",
    "__version__",
]
