"""Preprocessing (filters, resampling, baseline, z-score on train only) and split strategies."""

from __future__ import annotations

import numpy as np
import pytest

from eegbench import ConfigError, DataError, EEGData
from eegbench.data.preprocessing import Preprocess, apply_preprocessing, select_channels
from eegbench.data.splits import (
    SplitParams,
    apply_split,
    check_leakage,
    leave_one_subject_out,
    per_subject,
    random_image_split,
)

SF = 250.0
T = 500  # 2 s


def make(
    X: np.ndarray,
    *,
    image: np.ndarray | None = None,
    subject: np.ndarray | None = None,
    ch_names: list[str] | None = None,
    tmin: float = 0.0,
) -> EEGData:
    n = X.shape[0]
    third = n // 3
    return EEGData(
        X=X.astype(np.float32),
        y=np.arange(n) % 2,
        image=np.arange(n) if image is None else image,
        subject=np.ones(n, int) if subject is None else subject,
        splits={
            "train": np.arange(0, n - 2 * third),
            "val": np.arange(n - 2 * third, n - third),
            "test": np.arange(n - third, n),
        },
        class_names=["a", "b"],
        image_names=[f"img{i}" for i in range(n)],
        sfreq=SF,
        ch_names=ch_names or [f"C{i}" for i in range(X.shape[1])],
        name="fixture",
        info={"tmin": tmin},
    ).validate()


def sines(*freqs: float, n: int = 6, amp: float = 1.0) -> np.ndarray:
    t = np.arange(T) / SF
    x = sum(amp * np.sin(2 * np.pi * f * t) for f in freqs)
    return np.broadcast_to(x, (n, 1, T)).copy()


def amplitude(x: np.ndarray, f: float) -> float:
    """Amplitude of frequency f in the middle second (away from the trial edges)."""
    mid = x[..., T // 4 : 3 * T // 4]
    t = np.arange(mid.shape[-1]) / SF
    return float(2 * np.abs((mid * np.exp(-2j * np.pi * f * t)).mean(axis=-1)).mean())


@pytest.mark.parametrize("method", ["iir", "fir"])
def test_band_pass_removes_out_of_band_sine(method):
    d = make(sines(6.0, 60.0))
    assert amplitude(d.X, 60.0) == pytest.approx(1.0, abs=0.02)
    out = apply_preprocessing(d, Preprocess(l_freq=2.0, h_freq=20.0, filter_method=method))
    assert amplitude(out.X, 60.0) < 0.02  # stop band: > 34 dB down
    assert amplitude(out.X, 6.0) == pytest.approx(1.0, abs=0.1)  # pass band kept
    assert out.X.dtype == np.float32 and out.info["preprocessing"][0].startswith("band-pass")
    assert np.array_equal(d.X, make(sines(6.0, 60.0)).X)  # input untouched


@pytest.mark.parametrize("method", ["iir", "fir"])
def test_notch_removes_line_noise_and_harmonic(method):
    d = make(sines(10.0, 50.0, 100.0))
    out = apply_preprocessing(d, Preprocess(notch=50.0, filter_method=method))
    assert amplitude(out.X, 50.0) < 0.05 and amplitude(out.X, 100.0) < 0.05
    assert amplitude(out.X, 10.0) == pytest.approx(1.0, abs=0.05)


def test_resample_changes_rate_and_keeps_signal():
    out = apply_preprocessing(make(sines(5.0)), Preprocess(resample=125.0))
    assert out.sfreq == 125.0 and out.n_times == T // 2
    t = np.arange(T // 2) / 125.0
    assert np.allclose(out.X[0, 0, 20:-20], np.sin(2 * np.pi * 5 * t)[20:-20], atol=0.02)


def test_baseline_uses_times_from_stimulus_onset():
    X = np.random.default_rng(0).normal(size=(6, 2, T)) * 0.1 + np.array([3.0, -7.0])[:, None]
    X[:, :, 50:] += 10.0  # response after onset (tmin = -0.2 s -> onset at sample 50)
    out = apply_preprocessing(make(X, tmin=-0.2), Preprocess(baseline=(None, -0.002)))
    assert np.allclose(out.X[:, :, :50].mean(axis=2), 0, atol=0.05)
    assert np.allclose(out.X[:, :, 60:].mean(), 10.0, atol=0.1)
    with pytest.raises(ConfigError, match="holds no samples"):
        apply_preprocessing(make(X, tmin=-0.2), Preprocess(baseline=(5.0, 6.0)))


def test_zscore_statistics_come_from_train_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 2, T))
    X[:3] = X[:3] * 2.0 + 10.0  # train (first third): mean 10, std 2
    X[3:] = 100.0 + X[3:]  # val and test far away: would shift stats if used
    d = make(X)
    out = apply_preprocessing(d, Preprocess(zscore=True))
    tr = out.X[out.splits["train"]]
    assert np.allclose(tr.mean(axis=(0, 2)), 0, atol=1e-5)
    assert np.allclose(tr.std(axis=(0, 2)), 1, atol=1e-5)
    assert np.allclose(out.info["zscore"]["mean"], X[:3].mean(axis=(0, 2)))
    assert out.X[out.splits["test"]].mean() == pytest.approx((100 - 10) / 2, rel=0.02)
    X[:3, 1] = 4.0
    with pytest.raises(DataError, match="C1 are flat in the train split"):
        apply_preprocessing(make(X), Preprocess(zscore=True))


def test_channel_selection():
    names = ["Fp1", "O1", "Oz", "PO7", "Cz", "P3", "T7"]
    assert select_channels(names, "posterior") == [1, 2, 3, 5]
    assert select_channels(names, "cz, fp1") == [4, 0]
    with pytest.raises(DataError, match="Pz not in the data"):
        select_channels(names, "O1,Pz")
    X = np.arange(7)[None, :, None] * np.ones((6, 7, T))
    out = apply_preprocessing(make(X, ch_names=names), Preprocess(channels="Oz,Fp1"))
    assert out.ch_names == ["Oz", "Fp1"] and np.allclose(out.X[0, :, 0], [2, 0])


def test_bad_filter_settings_are_config_errors():
    d = make(sines(5.0))
    with pytest.raises(ConfigError, match="Nyquist"):
        apply_preprocessing(d, Preprocess(h_freq=200.0))
    with pytest.raises(ConfigError, match="below h_freq"):
        apply_preprocessing(d, Preprocess(l_freq=30.0, h_freq=10.0))
    with pytest.raises(ConfigError, match="filter_method"):
        apply_preprocessing(d, Preprocess(l_freq=1.0, filter_method="cheby"))
    assert apply_preprocessing(d, Preprocess()) is d


# ---------------------------------------------------------------- splits


def test_random_image_split_is_disjoint_stratified_and_seeded():
    image = np.repeat(np.arange(40), 3)  # 40 images x 3 repeats
    y = image % 4
    s = random_image_split(image, y, val_fraction=0.2, test_fraction=0.2, seed=1)
    sets = {k: set(image[v].tolist()) for k, v in s.items()}
    assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["val"])
    assert sum(len(v) for v in s.values()) == len(image)
    assert [len(sets[k]) for k in ("train", "val", "test")] == [24, 8, 8]
    assert all(set(y[v].tolist()) == {0, 1, 2, 3} for v in s.values())
    again = random_image_split(image, y, val_fraction=0.2, test_fraction=0.2, seed=1)
    other = random_image_split(image, y, val_fraction=0.2, test_fraction=0.2, seed=2)
    assert np.array_equal(s["test"], again["test"]) and not np.array_equal(s["test"], other["test"])
    with pytest.raises(ConfigError, match="sum to less than 1"):
        random_image_split(image, y, val_fraction=0.5, test_fraction=0.6)


def test_per_subject_loso_and_strategy_dispatch():
    n = 12
    d = make(
        np.zeros((n, 1, T)) + np.arange(n)[:, None, None],
        image=np.arange(n) % 6,
        subject=np.repeat([1, 2], 6),
    )
    d.info["trial_info"] = {"block": np.arange(n) // 3}
    one = per_subject(d, 2)
    assert one.n_trials == 6 and set(one.subject.tolist()) == {2}
    assert np.array_equal(one.info["trial_info"]["block"], [2, 2, 2, 3, 3, 3])
    assert np.allclose(one.X[one.splits["test"], 0, 0], [8, 9, 10, 11])
    loso = leave_one_subject_out(d, 2)
    assert set(loso.subject[loso.splits["test"]].tolist()) == {2}
    assert set(loso.subject[loso.splits["train"]].tolist()) == {1}
    with pytest.raises(ConfigError, match="split_subject set to one of"):
        per_subject(d, 7)
    r = apply_split(d, SplitParams(split="random", split_seed=0), has_published=True)
    assert "random" in r.info["split"] and r.split_overlap("train", "test") == set()
    with pytest.raises(ConfigError, match="no published split"):
        apply_split(d, SplitParams(split="published"), has_published=False)
    with pytest.raises(ConfigError, match="unknown split 'kfold'"):
        apply_split(d, SplitParams(split="kfold"), has_published=True)


def test_check_leakage_images_and_blocks():
    n = 9
    clean = make(np.zeros((n, 1, T)))
    assert check_leakage(clean) == []
    shared = make(np.zeros((n, 1, T)), image=np.arange(n) % 3)
    warns = check_leakage(shared)
    assert any("3 image(s) appear in both train and test" in w for w in warns)
    clean.info["trial_info"] = {"block": np.array([0, 1, 2, 3, 4, 5, 0, 1, 9])}
    warns = check_leakage(clean)
    assert len(warns) == 1 and "2 of 3 recording block(s) in test also appear in train" in warns[0]
    assert "Li et al. 2020" in warns[0]
    unknown = make(np.zeros((n, 1, T)))
    unknown.info["block_design"] = True
    assert "carry no block ids" in check_leakage(unknown)[0]
