"""A braindecode windows dataset (``BaseConcatDataset`` of windows) as EEGData.

The windows come from a folder written by braindecode's ``BaseConcatDataset.save`` (read with
``braindecode.datautil.load_concat_dataset``; its files include pickles, so load only folders
you trust), or from a function ``module:attr`` returning the dataset (e.g. one that calls
``create_windows_from_events`` on a ``MOABBDataset``). Each window is a trial; windows cut from
the same trial share its unit, so splits keep them together and the statistics resample them
together. Class names come from the windowing's ``mapping`` (or ``class_names``); subjects from
each recording's ``description``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.api import (
    ConfigError,
    DataError,
    DatasetParams,
    EEGData,
    finalize,
    folder_problem,
    module_spec,
)

EXTRA = "pip install -c constraints.txt 'eegbench[braindecode]'"


@dataclass
class _WindowsFields:
    path: str = field(
        default="", metadata={"help": "folder written by BaseConcatDataset.save (windows)"}
    )
    factory: str = field(
        default="",
        metadata={"help": "'module:function' returning a BaseConcatDataset of windows"},
    )
    class_names: list[str] = field(
        default_factory=list,
        metadata={"help": "names of targets 0..K-1; [] = the windowing's mapping"},
    )


@dataclass(frozen=True)
class BraindecodeParams(DatasetParams, _WindowsFields):
    """Parameters of ``braindecode``: its own fields, then preprocessing and split."""


def braindecode_preflight(params: Any) -> list[str]:
    """The ``braindecode`` package is installed."""
    if module_spec("braindecode") is None:
        return [f"dataset braindecode needs the 'braindecode' package: {EXTRA}"]
    return []


def load_braindecode(p: BraindecodeParams) -> EEGData:
    """The windows of a saved (``path``) or built (``factory``) braindecode dataset."""
    if bool(p.path) == bool(p.factory):
        raise ConfigError(
            "dataset braindecode needs one of dataset.path=<folder saved by "
            "BaseConcatDataset.save> or dataset.factory=<module:function>."
        )
    problems = braindecode_preflight({})
    if problems:
        raise ConfigError(problems[0] + ".")
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()  # braindecode imports torchaudio
    if p.path:
        folder = Path(p.path).expanduser()
        problem = folder_problem(folder)
        if problem:
            raise DataError(f"braindecode: {str(folder)!r} {problem}.")
        from braindecode.datautil import load_concat_dataset

        try:
            windows = load_concat_dataset(str(folder), preload=True)
        except Exception as e:  # any reader failure is a damaged-folder error
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(
                f"braindecode: {str(folder)!r} is not a saved braindecode dataset ({msg})."
            ) from e
        source = str(folder)
    else:
        windows = _call_factory(p.factory)
        source = p.factory
    return from_windows(windows, p, source=source)


def _call_factory(spec: str) -> Any:
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"dataset.factory={spec!r}: write it as 'module:function'.")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"dataset.factory={spec!r} cannot be imported ({e}).") from None
    return fn()


def _info(ds: Any) -> Any:
    holder = getattr(ds, "raw", None)
    if holder is None:
        holder = getattr(ds, "windows", None)
    if holder is None:
        raise DataError(
            "braindecode: the dataset holds no windows (cut them first, e.g. with "
            "create_windows_from_events)."
        )
    return holder.info


def _mapping(ds: Any) -> dict[str, int]:
    for step in getattr(ds, "window_kwargs", None) or []:
        if isinstance(step, (list, tuple)) and len(step) == 2 and isinstance(step[1], dict):
            mapping = step[1].get("mapping")
            if isinstance(mapping, dict):
                return {str(k): int(v) for k, v in mapping.items()}
    return {}


def from_windows(windows: Any, p: BraindecodeParams, *, source: str) -> EEGData:
    """EEGData from a braindecode ``BaseConcatDataset`` of windows."""
    parts = list(getattr(windows, "datasets", []))
    if not parts or sum(len(d) for d in parts) == 0:
        raise DataError(f"braindecode: {source!r} holds no windows.")
    sfreq, ch_names = _layout(parts, source)
    X, targets, trial, subjects = _read_windows(parts)
    shapes = {x.shape for x in X}
    if len(shapes) != 1:
        raise DataError(
            f"braindecode: windows of {source!r} have different shapes {sorted(shapes)[:3]}; "
            "use one window size."
        )
    y_raw = np.asarray(targets)
    if y_raw.dtype.kind not in "iu":
        raise DataError(
            f"braindecode: targets of {source!r} are {y_raw.dtype} ({y_raw[:3].tolist()}...), "
            "not class indices; window with a mapping to integers."
        )
    class_names = _class_names(p, parts[0], int(y_raw.max()) + 1)
    image_names = list(dict.fromkeys(trial))
    unit = {name: i for i, name in enumerate(image_names)}
    data = EEGData(
        X=(np.stack(X) * 1e6).astype(np.float32),  # braindecode keeps MNE's volts; here uV
        y=y_raw.astype(np.int64),
        image=np.array([unit[t] for t in trial]),
        subject=np.asarray(subjects, dtype=np.int64),
        splits={k: np.arange(len(X)) for k in ("train", "val", "test")},
        class_names=class_names,
        image_names=image_names,
        sfreq=sfreq,
        ch_names=ch_names,
        name="braindecode",
        info={
            "tmin": 0.0,
            "source": source,
            "units": "uV",
            "zero_shot_test": False,
            "images": "one unit per trial (its windows share it); no stimulus images",
        },
    )
    return finalize(data, p, has_published=False)


def _layout(parts: list[Any], source: str) -> tuple[float, list[str]]:
    """The sampling rate and channels every recording shares."""
    infos = [_info(d) for d in parts]
    sfreq, ch_names = float(infos[0]["sfreq"]), list(infos[0].ch_names)
    for info in infos[1:]:
        if float(info["sfreq"]) != sfreq or list(info.ch_names) != ch_names:
            raise DataError(
                f"braindecode: the recordings of {source!r} differ in sampling rate or "
                "channels; resample and pick channels before windowing."
            )
    return sfreq, ch_names


def _read_windows(parts: list[Any]) -> tuple[list[np.ndarray], list[Any], list[str], list[int]]:
    """Every window's data, target, trial (windows of one trial share it) and subject id."""
    X, targets, trial, subjects = [], [], [], []
    subject_ids: dict[str, int] = {}
    for k, d in enumerate(parts):
        raw_subject = d.description.get("subject", k) if hasattr(d, "description") else k
        try:
            sid = int(raw_subject)
        except (TypeError, ValueError):
            sid = subject_ids.setdefault(str(raw_subject), len(subject_ids) + 1)
        meta = d.metadata if hasattr(d, "metadata") else None
        for i in range(len(d)):
            x, y, _ = d[i]
            X.append(np.asarray(x, dtype=np.float32))
            targets.append(y)
            t = int(meta["i_trial_in_dataset"].iloc[i]) if meta is not None else i
            trial.append(f"rec{k}_trial{t}")
            subjects.append(sid)
    return X, targets, trial, subjects


def _class_names(p: BraindecodeParams, first: Any, n_classes: int) -> list[str]:
    """Names of targets 0..n_classes-1: ``class_names``, else the windowing's mapping."""
    names = list(p.class_names)
    if not names:
        inverse = {v: k for k, v in _mapping(first).items()}
        names = [inverse.get(c, f"class_{c}") for c in range(n_classes)]
    if len(names) < n_classes:
        raise ConfigError(
            f"braindecode: class_names has {len(names)} names for targets 0..{n_classes - 1}."
        )
    return names
