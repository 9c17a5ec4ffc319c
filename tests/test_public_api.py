"""The Python entry point: ``import eegbench; record = eegbench.run(...)``."""

from __future__ import annotations

import pytest

import eegbench
from eegbench.config import build_config
from tests.conftest import tiny_overrides


def test_run_from_a_notebook_returns_the_record_and_its_folder(tmp_path):
    overrides = [*tiny_overrides(tmp_path), "encoder=linear", "run_name=nb", "threads=1"]
    record = eegbench.run(overrides)
    assert isinstance(record, eegbench.RunRecord) and record.complete
    assert record.run_dir == tmp_path / "runs" / "nb"
    assert (record.run_dir / "predictions.csv").is_file()
    assert eegbench.RunRecord.read(record.run_dir).metrics == record.metrics
    assert record.config["encoder"]["name"] == "linear"
    # the same run from a resolved config plus overrides, and from config.yaml's mapping
    cfg = build_config(overrides)
    again = eegbench.run(cfg, ["run_name=nb2"])
    assert again.metrics == record.metrics and again.run_dir.name == "nb2"
    pipe = eegbench.load_run(again.run_dir)
    assert pipe.config.encoder.name == "linear"


def test_run_refuses_a_bad_config_in_one_line(tmp_path):
    with pytest.raises(eegbench.ConfigError, match="unknown encoder 'nope'"):
        eegbench.run(["encoder=nope", f"output_dir={tmp_path}"])
    with pytest.raises(eegbench.ConfigError, match="overrides must be a list"):
        eegbench.run(None, "encoder=linear")
    assert not any(tmp_path.iterdir())  # nothing written
