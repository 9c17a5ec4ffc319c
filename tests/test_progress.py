"""Progress: plain lines at a steady interval off a terminal, JSON events, --quiet."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from eegbench import progress


@pytest.fixture
def fast_ticks(monkeypatch):
    monkeypatch.setenv("EEGBENCH_PROGRESS_INTERVAL", "0.05")
    yield
    progress.set_log_format("text")
    progress.set_quiet(False)


def test_plain_lines_arrive_while_one_step_is_slow(fast_ticks, capsys):
    with progress.task("phase", total=4) as advance:
        advance(1, loss=0.5)
        time.sleep(0.4)  # one long step: lines must keep coming
        advance(3)
    lines = capsys.readouterr().err.splitlines()
    ticks = [ln for ln in lines if ln.startswith("phase: 1/4 (25%)")]
    assert len(ticks) >= 3, lines
    assert "ETA" in ticks[0] and "loss=0.5" in ticks[0] and "/s" in ticks[0]
    assert lines[-1].startswith("phase: 4/4 (100%)") and "done" in lines[-1]


def test_stage1_prints_periodic_lines_off_a_terminal(fast_ticks, capsys, monkeypatch):
    from eegbench.config import Stage1Config
    from eegbench.train import stage1
    from eegbench.train.model import EEGClassifier

    class SlowEncoder(torch.nn.Module):
        n_features = 4

        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(8 * 16, 4)

        def forward(self, x):
            time.sleep(0.03)
            return self.lin(x.flatten(1))

    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8, 16)).astype(np.float32)
    y = np.arange(16) % 2
    t = rng.standard_normal((16, 3)).astype(np.float32)
    model = EEGClassifier(SlowEncoder(), 3, 2)
    cfg = Stage1Config(epochs=2, batch_size=4)
    stage1.train_stage1(model, X, y, t, X, y, cfg, torch.Generator().manual_seed(0))
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("stage 1")]
    assert len(lines) >= 4, lines  # periodic lines during the epochs, then the final one
    assert lines[-1].startswith("stage 1: encoder: 2/2 (100%)")


def test_json_events(fast_ticks, capsys):
    progress.set_log_format("json")
    progress.log("[bold]hello[/bold]")
    with progress.task("phase", total=2) as advance:
        time.sleep(0.12)
        advance(2, loss=1.0)
    events = [json.loads(ln) for ln in capsys.readouterr().err.splitlines()]
    assert events[0]["event"] == "log" and events[0]["message"] == "hello"
    assert events[1] == {**events[1], "event": "start", "phase": "phase", "total": 2}
    assert any(e["event"] == "progress" and e["step"] == 0 for e in events)
    end = events[-1]
    assert end["event"] == "end" and end["step"] == 2 and end["loss"] == 1.0


def test_quiet_prints_nothing(fast_ticks, capsys):
    progress.set_quiet(True)
    progress.log("hello")
    with progress.task("phase", total=1) as advance:
        time.sleep(0.1)
        advance()
    assert capsys.readouterr().err == ""


def test_bad_interval_is_one_line_error(monkeypatch):
    from click.testing import CliRunner

    from eegbench.cli import cli

    monkeypatch.setenv("EEGBENCH_PROGRESS_INTERVAL", "soon")
    res = CliRunner().invoke(cli, ["ls", "llms"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: EEGBENCH_PROGRESS_INTERVAL='soon': expected a positive number of seconds."
    ]
