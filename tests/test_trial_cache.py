"""Preprocessing as one matrix on float32 chunks matches MNE's step-by-step output; trials
cached on disk are memory-mapped on the next load; a damaged entry is reported and rebuilt."""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
import torch

import eegbench
from eegbench.contract.data import EEGData
from eegbench.data.preprocessing import Preprocess, apply_preprocessing
from eegbench.data.trialcache import trial_cache
from tests.conftest import N_CH, WNIDS, cvpr_trials

# The new path rounds to float32 once; MNE's chain rounded to float32 after every step.
TOL = 2e-6


def reference(X: np.ndarray, cfg: Preprocess, sfreq: float, tmin: float) -> np.ndarray:
    """eegbench's preprocessing before the matrix form: MNE's steps one after another on
    float64 copies of the data, float32 between steps."""
    iir = {"ftype": "butter", "order": 4} if cfg.filter_method == "iir" else None

    def step(x: np.ndarray, fn) -> np.ndarray:
        return fn(x.astype(np.float64)).astype(np.float32)

    if cfg.notch is not None:
        top = min(sfreq / 2, cfg.h_freq + 5.0) if cfg.h_freq is not None else sfreq / 2
        freqs = np.arange(cfg.notch, top, cfg.notch)

        def notch(x):
            if cfg.filter_method == "fir":
                return mne.filter.notch_filter(x, sfreq, freqs, method="fir", verbose="error")
            for f in freqs:
                x = mne.filter.notch_filter(
                    x, sfreq, f, notch_widths=2.0, method="iir", verbose="error"
                )
            return x

        X = step(X, notch)
    if cfg.l_freq is not None or cfg.h_freq is not None:
        X = step(
            X,
            lambda x: mne.filter.filter_data(
                x, sfreq, cfg.l_freq, cfg.h_freq, method=cfg.filter_method,
                iir_params=iir, verbose="error",
            ),
        )  # fmt: skip
    if cfg.resample is not None:
        X = step(
            X,
            lambda x: mne.filter.resample(
                x, up=cfg.resample, down=sfreq, axis=-1, method="polyphase", verbose="error"
            ),
        )
        sfreq = cfg.resample
    if cfg.baseline is not None:
        times = tmin + np.arange(X.shape[2]) / sfreq
        X = step(X, lambda x: mne.baseline.rescale(x, times, cfg.baseline, verbose="error"))
    return X


def make(X: np.ndarray, sfreq: float, tmin: float) -> EEGData:
    n = X.shape[0]
    return EEGData(
        X=X,
        y=np.arange(n) % 2,
        image=np.arange(n),
        subject=np.ones(n, int),
        splits={"train": np.arange(n - 4), "val": np.arange(n - 4, n - 2), "test": [n - 2, n - 1]},
        class_names=["a", "b"],
        image_names=[f"i{i}" for i in range(n)],
        sfreq=sfreq,
        ch_names=[f"C{i}" for i in range(X.shape[1])],
        info={"tmin": tmin},
    ).validate()


@pytest.mark.parametrize(
    "cfg",
    [
        Preprocess(l_freq=5.0, h_freq=95.0, notch=50.0),  # CVPR40's 5-95 Hz + notch
        Preprocess(l_freq=1.0, h_freq=40.0, filter_method="fir"),
        Preprocess(notch=50.0, filter_method="fir", h_freq=200.0),
        Preprocess(h_freq=100.0, resample=250.0, baseline=(None, 0.0)),
        Preprocess(baseline=(0.0, 0.05)),
    ],
    ids=["iir-notch-band", "fir-band", "fir-notch", "resample-baseline", "baseline"],
)
def test_matrix_form_matches_mne_step_by_step(cfg):
    rng = np.random.default_rng(0)
    # Large DC offsets, as in raw EEG: the error bound is relative to the input's size.
    X = (rng.normal(size=(70, 3, 440)) * 20 + rng.normal(size=(70, 3, 1)) * 500).astype(np.float32)
    new = apply_preprocessing(make(X.copy(), 1000.0, -0.1), cfg).X
    old = reference(X, cfg, 1000.0, -0.1)
    assert new.dtype == np.float32 and new.shape == old.shape
    assert np.abs(new - old).max() <= TOL * np.abs(X).max()
    # The bound is tight enough to see a wrong filter: a 5 Hz shift of the band is far outside.
    other = reference(X, dataclasses.replace(cfg, h_freq=(cfg.h_freq or 100.0) - 5), 1000.0, -0.1)
    assert np.abs(new - other).max() > 100 * TOL * np.abs(X).max()


def _cvpr_file(tmp_path, legacy: bool = False):
    trials, images = cvpr_trials()
    path = tmp_path / "eeg_5_95_std.pth"
    obj = {"dataset": trials, "labels": WNIDS, "images": images}
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return str(path)


def load(path: str, **params) -> EEGData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eegbench.get("datasets", "cvpr40").build(path=path, **params)


FILTERS = {"l_freq": 5.0, "h_freq": 95.0, "notch": 50.0}


def test_cvpr40_loads_preprocessed_chunks_like_the_reference(tmp_path):
    path = _cvpr_file(tmp_path)
    raw = load(path)
    got = load(path, **FILTERS)
    want = reference(np.asarray(raw.X), Preprocess(**FILTERS), 1000.0, 0.02)
    assert got.X.shape == (34, N_CH, 440)
    assert np.abs(got.X - want).max() <= TOL * np.abs(raw.X).max()
    assert got.info["preprocessing"] == ["notch 50 Hz (+harmonics)", "band-pass 5.0-95.0 Hz (iir)"]
    assert "trial_cache" not in got.info  # no cache outside trial_cache()


def test_second_load_memory_maps_the_cached_trials(tmp_path):
    path = _cvpr_file(tmp_path)
    with trial_cache(tmp_path / "cache"):
        first = load(path, **FILTERS)
        second = load(path, **FILTERS)
        other = load(path, l_freq=5.0, h_freq=90.0, notch=50.0)
        raw = load(path)
    assert first.info["trial_cache"]["hit"] is False
    assert second.info["trial_cache"] == {**first.info["trial_cache"], "hit": True}
    assert isinstance(second.X, np.memmap) and not second.X.flags.writeable
    assert np.array_equal(first.X, second.X)
    assert second.info["preprocessing"] == first.info["preprocessing"]
    assert other.info["trial_cache"]["hit"] is False  # other parameters, other entry
    assert "trial_cache" not in raw.info  # nothing to cache without preprocessing
    entries = sorted(p.name for p in (tmp_path / "cache" / "trials").iterdir())
    assert len(entries) == 3 and "digests" in entries  # two entries and the digest memo


def test_read_only_cached_trials_go_through_split_and_zscore(tmp_path):
    path = _cvpr_file(tmp_path)
    params = {**FILTERS, "split": "per_subject", "split_subject": 2, "zscore": True}
    params["channels"] = "EEG003,EEG005,EEG004"  # channels 1 and 2 are constant
    with trial_cache(tmp_path / "cache"):
        first = load(path, **params)
        second = load(path, **params)
    assert second.info["trial_cache"]["hit"] is True
    assert np.array_equal(first.X, second.X) and set(second.subject.tolist()) == {2}
    train = second.X[second.splits["train"]]
    assert np.allclose(train.mean(axis=(0, 2)), 0, atol=1e-4)
    assert np.allclose(train.std(axis=(0, 2)), 1, atol=1e-3)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "X.npy").write_bytes((d / "X.npy").read_bytes()[:-100]),
        lambda d: (d / ".eegbench-complete.json").unlink(),
        lambda d: (d / "meta.json").write_text("{}"),
    ],
    ids=["truncated", "no-marker", "meta"],
)
def test_damaged_cache_entry_is_reported_and_rebuilt(tmp_path, capsys, damage):
    path = _cvpr_file(tmp_path)
    with trial_cache(tmp_path / "cache"):
        first = load(path, **FILTERS)
        entry = first.info["trial_cache"]["path"]
        damage(Path(entry))
        again = load(path, **FILTERS)
        third = load(path, **FILTERS)
    err = capsys.readouterr().err
    assert f"trial cache entry {entry!r} is damaged" in err and "rebuilding" in err
    assert again.info["trial_cache"]["hit"] is False and third.info["trial_cache"]["hit"] is True
    assert np.array_equal(first.X, again.X) and np.array_equal(first.X, third.X)


def test_a_hit_reads_the_digests_of_the_entry_from_the_memo_until_a_file_changes(
    tmp_path, monkeypatch
):
    """A later run does not re-read a multi-GB X.npy to check it: its digest was remembered
    (by path, size and mtime) when the entry was written; a file changed in place is hashed
    again and found damaged."""
    from eegbench import io
    from eegbench.data import trialcache

    path = _cvpr_file(tmp_path)
    hashed: list[str] = []
    real = io.file_digest

    def counting(p):
        hashed.append(Path(p).name)
        return real(p)

    with trial_cache(tmp_path / "cache"):
        first = load(path, **FILTERS)
        x = Path(first.info["trial_cache"]["path"]) / "X.npy"
        io._digest.cache_clear()  # as in a new process
        monkeypatch.setattr(io, "file_digest", counting)
        monkeypatch.setattr(trialcache, "file_digest", counting)
        second = load(path, **FILTERS)
        assert second.info["trial_cache"]["hit"] is True and hashed == []
        assert np.array_equal(first.X, second.X)  # before the change below: second maps X.npy
        raw = bytearray(x.read_bytes())
        raw[-1] ^= 0xFF  # same size; the write gives the file a new mtime
        st = x.stat()
        x.write_bytes(bytes(raw))
        os.utime(x, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse clocks
        third = load(path, **FILTERS)
    # hashed to check it (found damaged), then the rebuilt entry's files for its manifest
    assert hashed[0] == "X.npy" and sorted(hashed[1:]) == ["X.npy", "meta.json"]
    assert third.info["trial_cache"]["hit"] is False
    assert np.array_equal(first.X, third.X)


def test_legacy_format_file_is_loaded_whole_with_a_hint(tmp_path, capsys):
    (tmp_path / "legacy").mkdir()
    legacy = load(_cvpr_file(tmp_path / "legacy", legacy=True))
    current = load(_cvpr_file(tmp_path))
    assert np.array_equal(legacy.X, current.X)
    assert "legacy (non-zip) format" in capsys.readouterr().err


def test_changed_source_file_is_a_new_entry(tmp_path):
    path = _cvpr_file(tmp_path)
    with trial_cache(tmp_path / "cache"):
        first = load(path, **FILTERS)
        trials, images = cvpr_trials()
        trials[5]["eeg"] = trials[5]["eeg"] + 1.0
        torch.save({"dataset": trials, "labels": WNIDS, "images": images}, path)
        second = load(path, **FILTERS)
    assert second.info["trial_cache"]["hit"] is False
    assert second.info["trial_cache"]["path"] != first.info["trial_cache"]["path"]
    assert not np.array_equal(first.X, second.X)


def test_unwritable_cache_warns_and_the_load_goes_on(tmp_path, capsys, monkeypatch):
    from eegbench.data import trialcache

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trialcache, "store", full)
    path = _cvpr_file(tmp_path)
    with trial_cache(tmp_path / "cache"):
        data = load(path, **FILTERS)
    assert data.X.shape == (34, N_CH, 440) and "trial_cache" not in data.info
    err = capsys.readouterr().err
    assert "could not write trial cache entry" in err and "No space left" in err


def test_the_pipeline_caches_under_its_cache_dir(tmp_path):
    from eegbench.config import build_config
    from eegbench.train.parts import load_dataset

    args = ["dataset=cvpr40", f"dataset.path={_cvpr_file(tmp_path)}", f"cache_dir={tmp_path}/cache"]
    args += [f"dataset.{k}={v}" for k, v in FILTERS.items()]
    cfg = build_config(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, second = load_dataset(cfg), load_dataset(cfg)
        off = load_dataset(build_config([*args, "dataset.cache=false"]))
    assert Path(first.info["trial_cache"]["path"]).parent == tmp_path / "cache" / "trials"
    assert second.info["trial_cache"]["hit"] is True and "trial_cache" not in off.info
    assert np.array_equal(first.X, second.X) and np.array_equal(first.X, off.X)
