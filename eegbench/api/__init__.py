"""What a plugin imports: the plugin contract and the helpers plugins share, in one module.

Built-in plugins (``plugins/``) and third-party ones import only from ``eegbench.api``; a test
fails when a built-in plugin imports any other ``eegbench`` module. Names load lazily, so a
plugin's registering module can ``from eegbench.api import hookimpl`` without importing torch.

This module is a façade at the top of eegbench's layers (``[tool.importlinter]``): the contract
itself lives in ``eegbench.contract`` (the bottom layer the core imports), the dataset helpers in
``eegbench.data``, the progress and file helpers below them; no module of eegbench imports this
one.

- Hooks: ``hookimpl`` (decorate ``register_datasets``/``encoders``/``targets``/``llms``/
  ``metrics``/``commands``), ``Register``.
- Registration: ``Spec`` (one table row per item: name, lazy factory, params, citation,
  description) and ``register_all``; ``Entry``, ``Param``, ``did_you_mean``; a factory gets
  its validated params dataclass instance when it declares a parameter of that class, and
  ``RunSeeded``/``RandomWeights`` are the protocols the core asks of params; ranges of numeric
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
- Hub models: ``hub`` (``eegbench.contract.hub``: ``offline``, ``cached_snapshot``,
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
    "hookimpl": "eegbench.contract.hooks",
    "hookspec": "eegbench.contract.hooks",
    "Register": "eegbench.contract.hooks",
    "Entry": "eegbench.contract.registry",
    "Spec": "eegbench.contract.registry",
    "register_all": "eegbench.contract.registry",
    "Param": "eegbench.contract.registry",
    "did_you_mean": "eegbench.contract.registry",
    "RunSeeded": "eegbench.contract.registry",
    "RandomWeights": "eegbench.contract.registry",
    "values_of": "eegbench.contract.registry",
    "Ge": "annotated_types",
    "Gt": "annotated_types",
    "Le": "annotated_types",
    "Lt": "annotated_types",
    "Interval": "annotated_types",
    "EegbenchError": "eegbench.contract.errors",
    "ConfigError": "eegbench.contract.errors",
    "UnknownNameError": "eegbench.contract.errors",
    "DataError": "eegbench.contract.errors",
    "PluginError": "eegbench.contract.errors",
    "MissingWeightsError": "eegbench.contract.errors",
    "EEGData": "eegbench.contract.data",
    "SPLITS": "eegbench.contract.data",
    "read_caption_files": "eegbench.contract.data",
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
    "Target": "eegbench.contract.target",
    "target_items": "eegbench.contract.target",
    "EEGEncoder": "eegbench.contract.encoder",
    "EncoderContext": "eegbench.contract.encoder",
    "build_encoder": "eegbench.contract.encoder",
    "CausalLM": "eegbench.contract.llm",
    "BuildContext": "eegbench.contract.llm",
    "ModelFiles": "eegbench.contract.hub",
    "prompt_text": "eegbench.contract.llm",
    "make_schedule": "eegbench.contract.training",
    "Metric": "eegbench.contract.metric",
    "CAPTIONS": "eegbench.contract.metric",
    "LOGITS": "eegbench.contract.metric",
    "EMBEDDINGS": "eegbench.contract.metric",
    "ATTRIBUTES": "eegbench.contract.metric",
    "Oracle": "eegbench.contract.metric",
    "PROTOCOL_PREFIX": "eegbench.contract.metric",
    "protocol_name": "eegbench.contract.metric",
    "output_key": "eegbench.contract.metric",
    "atomic_write": "eegbench.io",
    "atomic_writer": "eegbench.io",
    "atomic_dir": "eegbench.io",
    "file_digest": "eegbench.io",
    "check_manifest": "eegbench.io",
    "path_kind": "eegbench.io",
    "file_problem": "eegbench.io",
    "folder_problem": "eegbench.io",
    "load_npy": "eegbench.contract.npy",
    "restricted_loads": "eegbench.contract.npy",
    "task": "eegbench.progress",
    "log": "eegbench.progress",
    "warn": "eegbench.progress",
    "is_quiet": "eegbench.progress",
    "ensure_torchvision_importable": "eegbench._compat",
    "module_spec": "eegbench._compat",
}

_MODULES = {"hub": "eegbench.contract.hub"}
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
    from eegbench.contract import hub
    from eegbench.contract.data import SPLITS, EEGData, read_caption_files
    from eegbench.contract.encoder import EEGEncoder, EncoderContext, build_encoder
    from eegbench.contract.errors import (
        ConfigError,
        DataError,
        EegbenchError,
        MissingWeightsError,
        PluginError,
        UnknownNameError,
    )
    from eegbench.contract.hooks import Register, hookimpl, hookspec
    from eegbench.contract.hub import ModelFiles
    from eegbench.contract.llm import (
        BuildContext,
        CausalLM,
        prompt_text,
    )
    from eegbench.contract.metric import (
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
    from eegbench.contract.npy import load_npy, restricted_loads
    from eegbench.contract.registry import (
        Entry,
        Param,
        RandomWeights,
        RunSeeded,
        Spec,
        did_you_mean,
        register_all,
        values_of,
    )
    from eegbench.contract.target import Target, target_items
    from eegbench.contract.training import make_schedule
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
