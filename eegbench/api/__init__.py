"""The plugin contract: everything a plugin may import, and nothing else.

Built-in plugins (``plugins/``) and third-party ones import only from ``eegbench.api``; a test
fails when a built-in plugin imports any other ``eegbench`` module. Names load lazily, so a
plugin's registering module can ``from eegbench.api import hookimpl`` without importing torch.

- Hooks: ``hookimpl`` (decorate ``register_datasets``/``encoders``/``targets``/``llms``/
  ``metrics``/``commands``), ``Register``.
- Registration: ``Spec`` (one table row per item: name, lazy factory, params, citation,
  description) and ``register_all``; ``Entry``, ``Param``, ``did_you_mean``; ranges of numeric
  parameters as ``Annotated[int, Ge(1)]``, ``Annotated[float, Interval(ge=0, lt=1)]`` (``Ge``,
  ``Gt``, ``Le``, ``Lt``, ``Interval``), checked when a config is resolved and listed by
  ``eegbench ls -v``.
- Errors shown to users as one line: ``EegbenchError``, ``ConfigError``, ``UnknownNameError``,
  ``DataError``, ``PluginError``, ``MissingWeightsError``.
- Datasets: ``EEGData``, ``SPLITS``, ``read_caption_files``, and the shared preprocessing and
  split parameters ``DatasetParams``, ``finalize``, ``select_channels``, ``trial_info``,
  ``subject_split`` (per-subject and leave-one-subject-out splits); ``filter_continuous`` (a
  dataset's notch and band-pass on a continuous ``mne.io.Raw``, before epoching);
  ``load_trials`` (trials read chunk by chunk, preprocessed into one array, cached on disk and
  memory-mapped on the next run) with its result ``Trials``, and ``release_pages`` (drop pages of
  a memory-mapped source already copied).
- Hub models: ``hub`` (``eegbench.api.hub``: ``offline``, ``cached_snapshot``,
  ``fetch_snapshot``, ``probe``, ``snapshot_commit``) and ``ModelFiles`` (what a run records of
  a model's files).
- Targets: ``Target``, ``target_items``. LLMs: ``CausalLM`` (what a factory returns),
  ``BuildContext`` (what it gets), ``prompt_text`` (the plain prompt's text), ``make_schedule``;
  loading a transformers model into a ``CausalLM`` is the built-in plugins' job
  (``eegbench_plugins.llms.hf_loading``), not contract.
- Metrics: ``Metric`` (every optional capability declared), ``Oracle``, ``CAPTIONS``,
  ``LOGITS``, ``EMBEDDINGS``, ``ATTRIBUTES``, ``PROTOCOL_PREFIX``, ``protocol_name``,
  ``output_key``.
- Helpers: ``atomic_write``, ``atomic_writer``, ``atomic_dir``, ``check_manifest``,
  ``file_digest``, ``file_problem``/``folder_problem``/``path_kind`` (what a path that is
  not the file or folder asked for is instead: a directory, a FIFO, a device), ``load_npy``
  and ``restricted_loads`` (no code runs from a pickle), ``task``, ``log``,
  ``warn``, ``is_quiet``, ``ensure_torchvision_importable``, ``module_spec`` (whether a
  package is installed, importing nothing).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "hookimpl": "eegbench.api.hooks",
    "hookspec": "eegbench.api.hooks",
    "Register": "eegbench.api.hooks",
    "Entry": "eegbench.api.registry",
    "Spec": "eegbench.api.registry",
    "register_all": "eegbench.api.registry",
    "Param": "eegbench.api.registry",
    "did_you_mean": "eegbench.api.registry",
    "Ge": "annotated_types",
    "Gt": "annotated_types",
    "Le": "annotated_types",
    "Lt": "annotated_types",
    "Interval": "annotated_types",
    "EegbenchError": "eegbench.api.errors",
    "ConfigError": "eegbench.api.errors",
    "UnknownNameError": "eegbench.api.errors",
    "DataError": "eegbench.api.errors",
    "PluginError": "eegbench.api.errors",
    "MissingWeightsError": "eegbench.api.errors",
    "EEGData": "eegbench.api.data",
    "SPLITS": "eegbench.api.data",
    "read_caption_files": "eegbench.api.data",
    "DatasetParams": "eegbench.data.preprocessing",
    "Preprocess": "eegbench.data.preprocessing",
    "apply_preprocessing": "eegbench.data.preprocessing",
    "finalize": "eegbench.data.preprocessing",
    "filter_continuous": "eegbench.data.preprocessing",
    "load_trials": "eegbench.data.preprocessing",
    "Trials": "eegbench.data.preprocessing",
    "release_pages": "eegbench.data.trialcache",
    "select_channels": "eegbench.data.preprocessing",
    "trial_info": "eegbench.data.splits",
    "subject_split": "eegbench.data.splits",
    "Target": "eegbench.api.target",
    "target_items": "eegbench.api.target",
    "EEGEncoder": "eegbench.api.encoder",
    "EncoderContext": "eegbench.api.encoder",
    "build_encoder": "eegbench.api.encoder",
    "CausalLM": "eegbench.api.llm",
    "BuildContext": "eegbench.api.llm",
    "ModelFiles": "eegbench.api.hub",
    "prompt_text": "eegbench.api.llm",
    "make_schedule": "eegbench.api.training",
    "Metric": "eegbench.api.metric",
    "CAPTIONS": "eegbench.api.metric",
    "LOGITS": "eegbench.api.metric",
    "EMBEDDINGS": "eegbench.api.metric",
    "ATTRIBUTES": "eegbench.api.metric",
    "Oracle": "eegbench.api.metric",
    "PROTOCOL_PREFIX": "eegbench.api.metric",
    "protocol_name": "eegbench.api.metric",
    "output_key": "eegbench.api.metric",
    "atomic_write": "eegbench.io",
    "atomic_writer": "eegbench.io",
    "atomic_dir": "eegbench.io",
    "file_digest": "eegbench.io",
    "check_manifest": "eegbench.io",
    "path_kind": "eegbench.io",
    "file_problem": "eegbench.io",
    "folder_problem": "eegbench.io",
    "load_npy": "eegbench.api.npy",
    "restricted_loads": "eegbench.api.npy",
    "task": "eegbench.progress",
    "log": "eegbench.progress",
    "warn": "eegbench.progress",
    "is_quiet": "eegbench.progress",
    "ensure_torchvision_importable": "eegbench._compat",
    "module_spec": "eegbench._compat",
}

_MODULES = {"hub": "eegbench.api.hub"}
"""Submodules exported as a namespace (``from eegbench.api import hub``)."""

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'eegbench.api' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from annotated_types import Ge, Gt, Interval, Le, Lt

    from eegbench._compat import ensure_torchvision_importable, module_spec
    from eegbench.api import hub
    from eegbench.api.data import SPLITS, EEGData, read_caption_files
    from eegbench.api.encoder import EEGEncoder, EncoderContext, build_encoder
    from eegbench.api.errors import (
        ConfigError,
        DataError,
        EegbenchError,
        MissingWeightsError,
        PluginError,
        UnknownNameError,
    )
    from eegbench.api.hooks import Register, hookimpl, hookspec
    from eegbench.api.hub import ModelFiles
    from eegbench.api.llm import (
        BuildContext,
        CausalLM,
        prompt_text,
    )
    from eegbench.api.metric import (
        ATTRIBUTES,
        CAPTIONS,
        EMBEDDINGS,
        LOGITS,
        PROTOCOL_PREFIX,
        Metric,
        Oracle,
        output_key,
        protocol_name,
    )
    from eegbench.api.npy import load_npy, restricted_loads
    from eegbench.api.registry import Entry, Param, Spec, did_you_mean, register_all
    from eegbench.api.target import Target, target_items
    from eegbench.api.training import make_schedule
    from eegbench.data.preprocessing import (
        DatasetParams,
        Preprocess,
        Trials,
        apply_preprocessing,
        filter_continuous,
        finalize,
        load_trials,
        select_channels,
    )
    from eegbench.data.splits import subject_split, trial_info
    from eegbench.data.trialcache import release_pages
    from eegbench.io import (
        atomic_dir,
        atomic_write,
        atomic_writer,
        check_manifest,
        file_digest,
        file_problem,
        folder_problem,
        path_kind,
    )
    from eegbench.progress import is_quiet, log, task, warn
