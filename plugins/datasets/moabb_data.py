"""Any MOABB dataset through a MOABB paradigm: ``paradigm.get_data(dataset)`` into EEGData.

MOABB (Aristimunho et al.; Jayaram & Barachant 2018) downloads its datasets into ``MNE_DATA``
on first use; on a machine without internet only datasets already there (and MOABB's
simulated ``FakeDataset``) load. The paradigm filters the continuous recordings and epochs them
(``paradigm_args``: ``fmin``, ``fmax``, ``tmin``, ``tmax``, ``resample``, ...). MOABB datasets
have no stimulus images or captions: every trial is its own unit, the target embeds the class
names, and a run trains and scores the encoder (stage 2 and the caption metrics are skipped).
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eegbench.api import ConfigError, DataError, DatasetParams, EEGData, finalize

PARADIGMS = {"imagery": "MotorImagery", "p300": "P300", "ssvep": "SSVEP", "cvep": "CVEP"}
"""A dataset's ``paradigm`` attribute -> the MOABB paradigm used when none is given."""
EXTRA = "pip install -c constraints.txt 'eegbench[moabb]'"


@dataclass
class _MOABBFields:
    moabb_dataset: str = field(
        default="",
        metadata={
            "help": "a class of moabb.datasets, e.g. BNCI2014_001 (FakeDataset: simulated, "
            "offline); required"
        },
    )
    dataset_args: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "keyword arguments of the dataset class, e.g. {n_subjects: 2}"},
    )
    paradigm: str = field(
        default="",
        metadata={
            "help": "a class of moabb.paradigms (MotorImagery, P300, SSVEP, ...); empty = the "
            "dataset's own"
        },
    )
    paradigm_args: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "keyword arguments of the paradigm, e.g. {fmin: 8, fmax: 30}"},
    )
    subjects: list[int] = field(
        default_factory=list, metadata={"help": "subject ids to load, e.g. [1, 2]; [] = all"}
    )


@dataclass(frozen=True)
class MOABBParams(DatasetParams, _MOABBFields):
    """Parameters of ``moabb``: its own fields, then preprocessing and split."""


def moabb_preflight(params: Any) -> list[str]:
    """The ``moabb`` package is installed."""
    if importlib.util.find_spec("moabb") is None:
        return [f"dataset moabb needs the 'moabb' package: {EXTRA}"]
    return []


def _make(module: Any, name: str, kwargs: dict[str, Any], what: str) -> Any:
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ConfigError(
            f"moabb: {what} {name!r} is not a class of {module.__name__}; see "
            f"`python -c 'import {module.__name__} as m; print(dir(m))'`."
        )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"moabb: {name}({kwargs}) failed: {e}") from None


def load_moabb(p: MOABBParams) -> EEGData:
    """The epochs a MOABB paradigm cuts from a MOABB dataset, as EEGData."""
    if not p.moabb_dataset:
        raise ConfigError(
            "dataset moabb needs dataset.moabb_dataset=<class of moabb.datasets> "
            "(e.g. BNCI2014_001, or FakeDataset for simulated data)."
        )
    problems = moabb_preflight({})
    if problems:
        raise ConfigError(problems[0] + ".")
    import mne
    import moabb.datasets
    import moabb.paradigms

    with mne.utils.use_log_level("ERROR"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = _make(moabb.datasets, p.moabb_dataset, p.dataset_args, "dataset")
        name = p.paradigm or PARADIGMS.get(str(getattr(dataset, "paradigm", "")), "")
        if not name:
            raise ConfigError(
                f"moabb: dataset {p.moabb_dataset} has paradigm "
                f"{getattr(dataset, 'paradigm', None)!r}; set dataset.paradigm=<class of "
                "moabb.paradigms>."
            )
        paradigm = _make(moabb.paradigms, name, p.paradigm_args, "paradigm")
        subjects = list(p.subjects) or list(dataset.subject_list)
        unknown = sorted(set(subjects) - set(dataset.subject_list))
        if unknown:
            raise ConfigError(
                f"moabb: subject(s) {unknown} are not in {p.moabb_dataset} "
                f"(subjects: {list(dataset.subject_list)})."
            )
        if not paradigm.is_valid(dataset):
            raise ConfigError(f"moabb: paradigm {name} does not fit dataset {p.moabb_dataset}.")
        try:
            epochs, labels, meta = paradigm.get_data(dataset, subjects=subjects, return_epochs=True)
        except (OSError, ValueError, RuntimeError) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(
                f"moabb: cannot load {p.moabb_dataset} ({msg}); MOABB downloads its datasets "
                "into MNE_DATA on a machine with internet."
            ) from e
    return from_moabb(epochs, labels, meta, paradigm.used_events(dataset), p, name)


def from_moabb(
    epochs: Any, labels: Any, meta: Any, events: dict[str, int], p: MOABBParams, paradigm: str
) -> EEGData:
    """EEGData from ``paradigm.get_data(..., return_epochs=True)``."""
    labels = np.asarray(labels).astype(str)
    if labels.size == 0:
        raise DataError(f"moabb: {p.moabb_dataset} with {paradigm} gave no epochs.")
    class_names = [c for c in events if c in set(labels.tolist())]
    class_names += sorted(set(labels.tolist()) - set(class_names))
    n = len(labels)
    X = epochs.get_data(units="uV").astype(np.float32)
    data = EEGData(
        X=X,
        y=np.array([class_names.index(c) for c in labels]),
        image=np.arange(n),
        subject=np.asarray(meta["subject"]).astype(np.int64),
        splits={k: np.arange(n) for k in ("train", "val", "test")},
        class_names=class_names,
        image_names=[f"trial_{i:05d}" for i in range(n)],
        sfreq=float(epochs.info["sfreq"]),
        ch_names=list(epochs.ch_names),
        name="moabb",
        info={
            "tmin": float(epochs.tmin),
            "source": f"moabb {p.moabb_dataset} via {paradigm}",
            "units": "uV",
            "sessions": sorted(set(map(str, meta["session"]))) if "session" in meta else [],
            "zero_shot_test": False,
            "images": "one per trial (MOABB has no stimulus images)",
        },
    )
    return finalize(data, p, has_published=False)
