"""BIDS: recordings matched across subjects and sessions, filtered before epoching; the
per-epoch filter-length warning."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import eegbench

mne_bids = pytest.importorskip("mne_bids", reason="the bids extra is not installed")
pytest.importorskip("pybv", reason="mne-bids writes BrainVision with pybv")

SF = 100.0
CH = ["O1", "Oz", "O2"]


def _recording(seed: int):
    import mne

    x = np.random.default_rng(seed).normal(size=(3, 1500)) * 1e-6
    x[0] += np.linspace(0, 5e-6, 1500)  # a slow drift the high-pass removes
    raw = mne.io.RawArray(x, mne.create_info(CH, SF, "eeg"), verbose="error")
    onsets = np.arange(1.0, 13.0, 1.0)
    raw.set_annotations(mne.Annotations(onsets, 0.0, ["face", "house", "car"] * 4))
    return raw


@pytest.fixture(scope="module")
def bids_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bids")
    for sub in ("01", "02"):
        for ses in ("a", "b"):
            raw = _recording(int(sub) * 10 + (ses == "b"))
            bp = mne_bids.BIDSPath(subject=sub, session=ses, task="view", root=root, datatype="eeg")
            mne_bids.write_raw_bids(
                raw, bp, allow_preload=True, format="BrainVision", verbose="error"
            )
    return root


def build(**params):
    return eegbench.get("datasets", "bids").build(**params)


def test_all_subjects_and_sessions_are_concatenated(bids_root):
    d = build(bids_root=str(bids_root), bids_subject="all", task="view", tmin=-0.1, tmax=0.4)
    assert d.n_trials == 4 * 12 and d.X.shape[1:] == (3, 51)
    assert sorted(d.class_names) == ["car", "face", "house"]
    assert np.bincount(d.subject).tolist()[1:] == [24, 24]
    assert len(d.info["recordings"]) == 4 and d.info["bids_subjects"] == {"01": 1, "02": 2}
    one = build(bids_root=str(bids_root), bids_subject=[2], session="b", task="view")
    assert one.n_trials == 12 and set(one.subject.tolist()) == {2}
    assert one.info["recordings"] == ["sub-02_ses-b_task-view_eeg.vhdr"]


def test_the_continuous_recording_is_filtered_before_epoching(bids_root):
    import mne

    d = build(
        bids_root=str(bids_root),
        bids_subject=1,
        session="a",
        task="view",
        tmin=-0.1,
        tmax=0.4,
        l_freq=1.0,
        h_freq=30.0,
    )
    assert d.info["preprocessing"][0] == "band-pass 1.0-30.0 Hz (iir) on the continuous recording"
    raw = mne_bids.read_raw_bids(
        mne_bids.BIDSPath(subject="01", session="a", task="view", root=bids_root, datatype="eeg"),
        verbose="error",
    )
    raw.load_data(verbose="error")
    raw.filter(1.0, 30.0, method="iir", iir_params={"ftype": "butter", "order": 4}, verbose="error")
    events, ids = mne.events_from_annotations(raw, verbose="error")
    epochs = mne.Epochs(raw, events, ids, tmin=-0.1, tmax=0.4, baseline=None, verbose="error")
    expected = epochs.get_data(units="uV")
    order = np.argsort(events[:, 0])
    np.testing.assert_allclose(d.X[np.argsort(order)], expected, rtol=1e-4, atol=1e-4)
    # filtering each short epoch instead gives other numbers (edge effects): not what happened
    per_epoch = mne.filter.filter_data(
        mne.Epochs(
            mne_bids.read_raw_bids(
                mne_bids.BIDSPath(
                    subject="01", session="a", task="view", root=bids_root, datatype="eeg"
                ),
                verbose="error",
            ),
            events,
            ids,
            tmin=-0.1,
            tmax=0.4,
            baseline=None,
            verbose="error",
        ).get_data(units="uV"),
        SF,
        1.0,
        30.0,
        method="iir",
        iir_params={"ftype": "butter", "order": 4},
        verbose="error",
    )
    assert not np.allclose(per_epoch, expected, atol=1e-2)


def test_bids_bad_input_is_one_line(bids_root):
    from eegbench.api import ConfigError, DataError

    with pytest.raises(DataError, match="no eeg recording .* matches subject"):
        build(bids_root=str(bids_root), bids_subject="all", task="rest")
    with pytest.raises(ConfigError, match="bids_subject=7: no single sub-<label>"):
        build(bids_root=str(bids_root), bids_subject=7, task="view")
    with pytest.raises(ConfigError, match="h_freq=80.0 Hz must lie in"):
        build(bids_root=str(bids_root), bids_subject="all", task="view", h_freq=80.0)


def test_a_filter_longer_than_the_epoch_is_one_eegbench_warning(caplog):
    from eegbench.data.preprocessing import Preprocess, plan

    with caplog.at_level(logging.WARNING, logger="eegbench"):
        plan(
            Preprocess(l_freq=1.0, h_freq=40.0, filter_method="fir"),
            sfreq=128.0,
            ch_names=["Oz"],
            n_times=64,
            tmin=0.0,
        )
        plan(
            Preprocess(l_freq=1.0, h_freq=40.0), sfreq=128.0, ch_names=["Oz"], n_times=64, tmin=0.0
        )
    (record,) = [r for r in caplog.records if r.name == "eegbench"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "the band-pass 1.0-40.0 Hz (fir) is a 423-sample filter (3.30 s), longer than the "
        "64-sample epoch (0.50 s): distortion is likely"
    )


@pytest.mark.slow
def test_multi_subject_bids_runs_end_to_end(bids_root, tmp_path):
    from click.testing import CliRunner

    from eegbench.cli import cli
    from eegbench.results.record import RunRecord
    from tests.conftest import tiny_overrides

    common = [o for o in tiny_overrides(tmp_path) if not o.startswith("dataset.")]
    args = [
        *common,
        "dataset=bids",
        f"dataset.bids_root={bids_root}",
        "dataset.bids_subject=all",
        "dataset.task=view",
        "dataset.l_freq=1",
        "encoder=linear",
        "threads=1",
        "eval.metrics=[accuracy]",
        "run_name=b",
    ]
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output
    record = RunRecord.read(tmp_path / "runs" / "b")
    assert record.dataset.n_trials == 48
    assert record.dataset.preprocessing[0].endswith("on the continuous recording")
