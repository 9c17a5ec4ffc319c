"""EEGData out to MNE (EpochsArray with montage, events, metadata) and to a torch Dataset."""

from __future__ import annotations

import dataclasses

import mne
import numpy as np
import pytest
import torch

from eegbench.contract.errors import DataError

CHANNELS = ["Fz", "Cz", "Pz", "O1", "O2", "Oz"]


def _epochs(n: int = 24) -> mne.EpochsArray:
    """Epochs as a lab has them: volts, a 10-20 montage, its own event codes, metadata."""
    rng = np.random.default_rng(3)
    info = mne.create_info(CHANNELS, 128.0, "eeg")
    codes = np.array([4, 9] * (n // 2))
    events = np.c_[np.arange(n) * 200, np.zeros(n, int), codes]
    images = [f"img_{i % 12}.jpg" for i in range(n)]
    meta = {
        "image": images,
        "caption": [f"a photo of thing {i % 12}" for i in range(n)],
        "trial": np.arange(n),
    }
    epochs = mne.EpochsArray(
        rng.normal(size=(n, len(CHANNELS), 64)) * 2e-5,
        info,
        events,
        tmin=-0.125,
        event_id={"cat": 4, "dog": 9},
        metadata=__import__("pandas").DataFrame(meta),
        verbose="error",
    )
    builtin = mne.channels.get_builtin_montages()
    return epochs.set_montage(next(m for m in ("colin27_1020", "standard_1020") if m in builtin))


def _positions(epochs: mne.BaseEpochs) -> np.ndarray:
    pos = epochs.get_montage().get_positions()["ch_pos"]
    return np.array([pos[c] for c in epochs.ch_names])


def test_mne_to_eegbench_to_mne_keeps_data_labels_and_montage(tmp_path):
    from eegbench_plugins.datasets.mne_epochs import MNEEpochsParams, load_mne_epochs

    original = _epochs()
    path = tmp_path / "lab-epo.fif"
    original.save(path, verbose="error")
    data = load_mne_epochs(MNEEpochsParams(path=str(path), cache=False))
    back = data.to_mne()
    assert isinstance(back, mne.EpochsArray)
    assert back.ch_names == original.ch_names
    assert back.get_channel_types() == ["eeg"] * len(CHANNELS)
    assert back.info["sfreq"] == original.info["sfreq"] and back.tmin == pytest.approx(-0.125)
    np.testing.assert_allclose(back.get_data(), original.get_data(), rtol=1e-6, atol=1e-12)
    assert back.event_id == original.event_id  # the lab's own codes
    np.testing.assert_array_equal(back.events[:, 2], original.events[:, 2])
    np.testing.assert_allclose(_positions(back), _positions(original), atol=1e-9)
    assert back.metadata["image"].tolist() == original.metadata["image"].tolist()
    assert back.metadata["caption"].tolist() == original.metadata["caption"].tolist()
    assert back.metadata["class"].tolist() == [
        {4: "cat", 9: "dog"}[c] for c in original.events[:, 2]
    ]
    assert set(back.metadata["split"]) <= {"train", "val", "test"}
    assert (back.metadata["subject"] == 1).all()
    # and once more through eegbench: the same trials, classes and images
    again_path = tmp_path / "again-epo.fif"
    back.save(again_path, verbose="error")
    again = load_mne_epochs(MNEEpochsParams(path=str(again_path), cache=False))
    np.testing.assert_allclose(again.X, data.X, rtol=1e-6)
    np.testing.assert_array_equal(again.y, data.y)
    assert [again.image_names[i] for i in again.image] == [data.image_names[i] for i in data.image]


def test_split_export_unknown_channels_and_unitless_data():
    from eegbench_plugins.datasets.synthetic import SyntheticParams, make_synthetic

    data = make_synthetic(
        SyntheticParams(
            n_classes=4, images_per_class=4, n_subjects=1, repetitions=1, n_chans=8, seed=0
        )
    )
    test = data.to_mne("test")
    assert len(test) == len(data.splits["test"])
    assert test.metadata["split"].eq("test").all()
    assert list(test.metadata.columns[:4]) == ["image", "class", "subject", "split"]
    for attribute in data.attributes or {}:
        assert attribute in test.metadata.columns
    codes = {name: code for name, code in test.event_id.items()}
    assert [codes[c] for c in test.metadata["class"]] == test.events[:, 2].tolist()
    positions = test.get_montage().get_positions()["ch_pos"]  # 10-20 names: positions
    assert not np.isnan(np.array([positions[c] for c in test.ch_names])).any()
    unnamed = dataclasses.replace(data, ch_names=[f"ch{i}" for i in range(data.n_chans)])
    assert unnamed.to_mne().get_montage() is None  # names no montage knows: no positions
    with pytest.raises(DataError, match="no split 'holdout'"):
        data.to_mne("holdout")


def test_torch_dataset_view():
    from eegbench_plugins.datasets.synthetic import SyntheticParams, make_synthetic

    data = make_synthetic(
        SyntheticParams(
            n_classes=4, images_per_class=4, n_subjects=1, repetitions=1, n_chans=8, seed=0
        )
    )
    view = data.torch_dataset("train")
    assert isinstance(view, torch.utils.data.Dataset)
    idx = data.splits["train"]
    assert len(view) == idx.size
    x, y = view[2]
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(data.X[idx[2]]))
    assert y == int(data.y[idx[2]]) and view.image[2] == data.image[idx[2]]
    batch_x, batch_y = next(iter(torch.utils.data.DataLoader(view, batch_size=5)))
    assert batch_x.shape == (5, data.n_chans, data.n_times)
    assert batch_y.tolist() == data.y[idx[:5]].tolist()
    assert len(data.torch_dataset()) == data.n_trials
