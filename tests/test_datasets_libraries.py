"""Data from the libraries EEG people use: MOABB paradigms and braindecode windows datasets."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from tests.conftest import tiny_overrides

needs_moabb = pytest.mark.skipif(
    importlib.util.find_spec("moabb") is None, reason="the moabb extra is not installed"
)
needs_braindecode = pytest.mark.skipif(
    importlib.util.find_spec("braindecode") is None, reason="the braindecode extra is not installed"
)

FAKE = {
    "n_subjects": 2,
    "n_sessions": 1,
    "n_runs": 1,
    "duration": 40,
    "n_events": 20,
    "seed": 0,
    "sfreq": 64,
    "event_list": ["left_hand", "right_hand", "feet"],
}
PARADIGM = {"fmin": 8, "fmax": 30, "tmin": 0, "tmax": 1}


def _common(tmp_path) -> list[str]:
    keep = [o for o in tiny_overrides(tmp_path) if not o.startswith("dataset.")]
    return [*keep, "encoder=linear", "threads=1", "eval.metrics=[accuracy,retrieval]"]


def _run(tmp_path, *args: str) -> dict:
    res = CliRunner().invoke(cli, ["--quiet", "run", *_common(tmp_path), *args, "run_name=r"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return json.loads((tmp_path / "runs" / "r" / "results.json").read_text())


@needs_moabb
def test_moabb_fake_dataset_matches_moabbs_own_arrays():
    import moabb.datasets
    import moabb.paradigms
    from eegbench_plugins.datasets.moabb_data import MOABBParams, load_moabb

    data = load_moabb(
        MOABBParams(
            moabb_dataset="FakeDataset", dataset_args=FAKE, paradigm_args=PARADIGM, subjects=[2]
        )
    )
    X, labels, meta = moabb.paradigms.MotorImagery(**PARADIGM).get_data(
        moabb.datasets.FakeDataset(**FAKE), subjects=[2]
    )
    np.testing.assert_allclose(data.X, X.astype(np.float32), rtol=1e-5)  # both in uV
    assert [data.class_names[k] for k in data.y] == list(labels)
    assert set(data.subject.tolist()) == {2} and data.ch_names == ["C3", "Cz", "C4"]
    assert data.sfreq == 64.0 and data.captions is None
    assert sorted(np.concatenate(list(data.splits.values())).tolist()) == list(range(len(X)))


@needs_moabb
@pytest.mark.slow
def test_moabb_runs_end_to_end(tmp_path):
    record = _run(
        tmp_path,
        "dataset=moabb",
        "dataset.moabb_dataset=FakeDataset",
        f"dataset.dataset_args={json.dumps(FAKE)}",
        f"dataset.paradigm_args={json.dumps(PARADIGM)}",
    )
    ds = record["dataset"]
    assert ds["name"] == "moabb" and ds["class_names"] == FAKE["event_list"]
    assert ds["n_chans"] == 3 and ds["sfreq"] == 64.0
    assert ds["n_trials"] == 40 and sum(ds["splits"].values()) == 40
    assert "top1_accuracy" in record["metrics"] and "bleu_4" not in record["metrics"]


@needs_moabb
@pytest.mark.parametrize(
    "args,message",
    [
        (["dataset.moabb_dataset=NoSuchSet"], "'NoSuchSet' is not a class of moabb.datasets"),
        (["dataset.moabb_dataset=FakeDataset", "dataset.subjects=[99]"], "subject(s) [99]"),
        ([], "dataset moabb needs dataset.moabb_dataset="),
    ],
)
def test_moabb_bad_input_is_one_line(tmp_path, args, message):
    res = CliRunner().invoke(cli, ["run", *_common(tmp_path), "dataset=moabb", *args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and message in lines[0], res.output


def _windows(n_subjects: int = 2):
    """A braindecode windows dataset cut from annotated recordings (3 classes, 4 channels)."""
    import mne
    import pandas as pd
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import create_windows_from_events

    info = mne.create_info(["C3", "Cz", "C4", "Pz"], 64.0, "eeg")
    parts = []
    for s in range(1, n_subjects + 1):
        x = np.random.default_rng(s).normal(size=(4, 64 * 60)) * 1e-5
        raw = mne.io.RawArray(x, info, verbose="error")
        onsets = np.arange(2, 56, 3.0)
        names = np.array(["left", "right", "feet"])[np.arange(len(onsets)) % 3]
        raw.set_annotations(mne.Annotations(onsets, 1.0, names))
        parts.append(RawDataset(raw, pd.Series({"subject": s, "session": "0"})))
    return create_windows_from_events(
        BaseConcatDataset(parts),
        trial_start_offset_samples=0,
        trial_stop_offset_samples=0,
        window_size_samples=32,
        window_stride_samples=32,  # two windows per 1-s trial: they share the trial's unit
        mapping={"left": 0, "right": 1, "feet": 2},
        preload=True,
    )


@needs_braindecode
def test_braindecode_windows_become_eegdata(tmp_path):
    from eegbench_plugins.datasets.braindecode_windows import from_windows

    windows = _windows()
    from eegbench_plugins.datasets.braindecode_windows import BraindecodeParams

    data = from_windows(windows, BraindecodeParams(), source="test")
    assert data.n_trials == len(windows) == 72
    np.testing.assert_allclose(data.X[5], windows[5][0] * 1e6, rtol=1e-5)
    assert data.class_names == ["left", "right", "feet"]
    assert data.y.tolist() == [int(windows[i][1]) for i in range(len(windows))]
    assert sorted(set(data.subject.tolist())) == [1, 2]
    # the two windows of a trial share their unit, and so land in the same split
    assert len(np.unique(data.image)) == 36
    units = {name: set(data.image[idx].tolist()) for name, idx in data.splits.items()}
    assert not units["train"] & units["test"] and not units["train"] & units["val"]


@needs_braindecode
@pytest.mark.slow
def test_braindecode_saved_windows_run_end_to_end(tmp_path):
    saved = tmp_path / "windows"
    _windows().save(str(saved), overwrite=True)
    record = _run(tmp_path, "dataset=braindecode", f"dataset.path={saved}")
    ds = record["dataset"]
    assert ds["name"] == "braindecode" and ds["n_trials"] == 72
    assert ds["class_names"] == ["left", "right", "feet"] and ds["n_times"] == 32


@needs_braindecode
def test_braindecode_factory_and_bad_input(tmp_path, monkeypatch):
    from eegbench_plugins.datasets.braindecode_windows import BraindecodeParams, load_braindecode

    from eegbench.api import ConfigError, DataError

    module = tmp_path / "my_windows.py"
    module.write_text(
        textwrap.dedent(
            """
            from tests.test_datasets_libraries import _windows

            def make():
                return _windows(n_subjects=1)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    data = load_braindecode(
        BraindecodeParams(factory="my_windows:make", class_names=["L", "R", "F"])
    )
    assert data.n_trials == 36 and data.class_names == ["L", "R", "F"]
    sys.modules.pop("my_windows", None)
    with pytest.raises(ConfigError, match="needs one of dataset.path"):
        load_braindecode(BraindecodeParams())
    with pytest.raises(ConfigError, match="'module:function'"):
        load_braindecode(BraindecodeParams(factory="nocolon"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is not a saved braindecode dataset"):
        load_braindecode(BraindecodeParams(path=str(tmp_path / "empty")))
