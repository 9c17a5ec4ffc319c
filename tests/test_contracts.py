"""Contract checks: a plugin item that breaks its contract is named in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegbench.api import DataError, EEGData, PluginError, hookimpl


class WrongWidth(torch.nn.Module):
    """Declares 7 features, returns 5."""

    def __init__(self, n_chans: int, n_times: int) -> None:
        super().__init__()
        self.n_features = 7
        self.lin = torch.nn.Linear(n_chans * n_times, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x.flatten(1))


class Liar:
    """A metric that returns an output it does not declare."""

    outputs = {"score": True}
    requires = ("captions",)

    def compute(self, predictions, references, **ctx):
        return {"score": 1.0, "extra": 2.0}


def empty_dataset() -> EEGData:
    none = np.zeros(0, np.int64)
    return EEGData(
        X=np.zeros((0, 2, 4), np.float32),
        y=none,
        image=none,
        subject=none,
        splits={"train": none, "val": none, "test": none},
        class_names=["a"],
        image_names=["i"],
        sfreq=100.0,
        ch_names=["C3", "C4"],
    )


class BadPlugin:
    @hookimpl
    def register_encoders(self, register):
        register("wrong-width", WrongWidth)

    @hookimpl
    def register_datasets(self, register):
        register("empty", empty_dataset)

    @hookimpl
    def register_metrics(self, register):
        register("liar", Liar)


@pytest.fixture
def bad(fresh_plugins):
    fresh_plugins.register_plugin(BadPlugin(), "bad", ("eegbench-bad", "0.1"))
    return fresh_plugins


def test_encoder_output_width_is_checked_on_a_tiny_batch(bad):
    from eegbench.checks import check_encoder

    entry = bad.get("encoders", "wrong-width")
    X = np.zeros((10, 3, 4), np.float32)
    with pytest.raises(PluginError) as e:
        check_encoder(entry, entry.build(3, 4), X)
    assert str(e.value) == (
        "encoder 'wrong-width' (plugin 'bad', distribution eegbench-bad 0.1) returns features "
        "of shape [2, 5] for input [2, 3, 4]; the contract is [B, n_features] = [2, 7]: fix its "
        "n_features or its output."
    )
    good = bad.get("encoders", "linear")
    check_encoder(good, good.build(3, 4), X)


def test_encoder_that_crashes_on_the_batch_is_one_line(bad):
    from eegbench.checks import check_encoder

    entry = bad.get("encoders", "wrong-width")
    with pytest.raises(PluginError, match=r"fails on a batch of shape \[2, 3, 5\] \[B, C, T\]"):
        check_encoder(entry, entry.build(3, 4), np.zeros((4, 3, 5), np.float32))


def test_dataset_contract_names_the_plugin(bad):
    from eegbench.checks import check_dataset

    entry = bad.get("datasets", "empty")
    with pytest.raises(DataError) as e:
        check_dataset(entry, entry.build())
    assert str(e.value) == (
        "dataset 'empty' (plugin 'bad', distribution eegbench-bad 0.1): no trials."
    )
    with pytest.raises(PluginError, match="returned list, not EEGData"):
        check_dataset(entry, [])


def test_metric_outputs_declared_vs_returned(bad):
    from eegbench.checks import check_metric_values

    entry = bad.get("metrics", "liar")
    metric = entry.build()
    with pytest.raises(PluginError) as e:
        check_metric_values(entry, metric, metric.compute(["a"], ["a"]))
    assert "returned outputs ['extra'] that its `outputs` does not declare" in str(e.value)
    with pytest.raises(PluginError, match="returned score='high'; outputs must be numbers"):
        check_metric_values(entry, metric, {"score": "high"})
    check_metric_values(entry, metric, {"score": 0.5})


def test_target_shape(bad):
    from eegbench.checks import check_targets

    entry = bad.get("targets", "minilm")

    class T:
        dim = 4

    with pytest.raises(PluginError, match=r"shape \[3, 5\] for 3 items; .* \[3, 4\]"):
        check_targets(entry, T(), np.zeros((3, 5)), 3)
    check_targets(entry, T(), np.zeros((3, 4)), 3)


def test_run_stops_at_the_encoder_with_one_line(bad, tiny, tmp_path):
    from click.testing import CliRunner

    from eegbench.cli import cli

    res = CliRunner().invoke(cli, ["run", *tiny, "encoder=wrong-width"])
    assert res.exit_code == 1
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("error: encoder 'wrong-width' (plugin 'bad', distribution eegbench-")
    assert "Traceback" not in res.output
    assert not list((tmp_path / "runs").glob("*"))  # stopped before any run folder, targets, LLM
