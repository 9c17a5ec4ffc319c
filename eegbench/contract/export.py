"""EEGData handed back out to MNE: an ``EpochsArray`` (``EEGData.to_mne()``); MNE is imported
on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eegbench.contract.errors import DataError

if TYPE_CHECKING:
    from eegbench.contract.data import EEGData

TO_VOLTS = {"V": 1.0, "SI": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "nV": 1e-9}
"""The factor from each ``info["units"]`` a dataset may declare to MNE's volts."""

MONTAGES = ("colin27_1005", "standard_1005")
"""The standard 10-05 montage whose positions channels with its names get: MNE's name for it
(``standard_1005`` until MNE 1.13 renamed it)."""


def trial_indices(data: EEGData, split: str | None) -> np.ndarray:
    """Every trial (``split=None``) or the trials of one split, in order."""
    if split is None:
        return np.arange(data.n_trials)
    if split not in data.splits:
        raise DataError(f"no split {split!r}; the data has {', '.join(sorted(data.splits))}.")
    return np.asarray(data.splits[split], dtype=np.int64)


def to_volts(data: EEGData) -> float:
    """The factor that turns ``data.X`` into volts (1 for z-scored or unitless data)."""
    if "zscore" in data.info:
        return 1.0
    return TO_VOLTS.get(str(data.info.get("units", "V")), 1.0)


def event_codes(data: EEGData) -> list[int]:
    """Each class's event code: the source's own where it had exactly one per class
    (``info["event_codes"]``), else ``class index + 1``."""
    source = data.info.get("event_codes") or {}
    own = [source.get(name) for name in data.class_names]
    if all(isinstance(c, list) and len(c) == 1 for c in own):
        codes = [int(c[0]) for c in own]  # type: ignore[index]
        if len(set(codes)) == len(codes):
            return codes
    return list(range(1, data.n_classes + 1))


def metadata(data: EEGData, idx: np.ndarray) -> Any:
    """One row per trial: image, class, subject, split, caption, image path, attributes."""
    import pandas as pd

    images = data.image[idx]
    split_of = np.full(data.n_trials, "", dtype=object)
    for name, members in data.splits.items():
        split_of[np.asarray(members)] = name
    table = {
        "image": [data.image_names[i] for i in images],
        "class": [data.class_names[k] for k in data.y[idx]],
        "subject": data.subject[idx],
        "split": split_of[idx],
    }
    if data.captions is not None:
        table["caption"] = [data.captions[i] for i in images]
    if data.image_paths is not None:
        table["image_path"] = [data.image_paths[i] for i in images]
    for name, values in data.trial_attributes(idx).items():
        table[name] = values
    return pd.DataFrame(table)


def to_epochs(data: EEGData, split: str | None = None) -> Any:
    """``data`` (or one split of it) as an ``mne.EpochsArray``; see ``EEGData.to_mne``."""
    import mne

    idx = trial_indices(data, split)
    info = mne.create_info(list(data.ch_names), data.sfreq, ch_types="eeg", verbose="error")
    codes = np.asarray(event_codes(data))
    events = np.column_stack(
        [np.arange(idx.size) * data.n_times, np.zeros(idx.size, int), codes[data.y[idx]]]
    )
    present = sorted(set(data.y[idx].tolist()))
    epochs = mne.EpochsArray(
        np.asarray(data.X[idx], dtype=np.float64) * to_volts(data),
        info,
        events=events.astype(int),
        tmin=float(data.info.get("tmin", 0.0)),
        event_id={data.class_names[k]: int(codes[k]) for k in present},
        metadata=metadata(data, idx),
        verbose="error",
    )
    _set_montage(epochs)
    return epochs


def _set_montage(epochs: Any) -> None:
    """Positions from the 10-05 montage (``MONTAGES``) for the channels it names
    (case-insensitive); none when it names none."""
    import mne

    builtin = mne.channels.get_builtin_montages()
    montage = mne.channels.make_standard_montage(next(m for m in MONTAGES if m in builtin))
    known = {name.lower() for name in montage.ch_names}
    if any(name.lower() in known for name in epochs.ch_names):
        epochs.set_montage(montage, match_case=False, on_missing="ignore", verbose="error")
