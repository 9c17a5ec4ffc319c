"""eegbench: benchmarking EEG-to-language decoding.

Public API: the names below, loaded lazily (``import eegbench`` imports no torch and changes
no global state). The plugin contract is ``eegbench.api``; modules not re-exported here or there
are private.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("eegbench")  # the one source: pyproject.toml's version
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_EXPORTS: dict[str, str] = {
    "run": "eegbench.facade",
    "batch_inference_and_visualize": "eegbench.tools.inference",
    "load_run": "eegbench.tools.inference",
    "build_parts": "eegbench.train.parts",
    "LoadedRun": "eegbench.tools.inference",
    "RunRecord": "eegbench.results.record",
    "generate_caption": "eegbench.train.generation",
    "generate_captions": "eegbench.train.generation",
    "get": "eegbench.plugins",
    "registry": "eegbench.plugins",
    "embed_cached": "eegbench.contract.target",
    **{name: "eegbench.api" for name in importlib.import_module("eegbench.api").__all__},
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eegbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from eegbench.api import *  # noqa: F403
    from eegbench.contract.target import embed_cached
    from eegbench.facade import run
    from eegbench.plugins import get, registry
    from eegbench.results.record import RunRecord
    from eegbench.tools.inference import LoadedRun, batch_inference_and_visualize, load_run
    from eegbench.train.generation import generate_caption, generate_captions
    from eegbench.train.parts import build_parts
