"""Data-parallel runs (``eegbench run --processes N``, gloo on the CPU) match one process, and
checkpoints keep the fp16 gradient scaler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from eegbench.cli import cli
from eegbench.config import Stage1Config
from eegbench.contract.errors import ConfigError, EegbenchError
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.device import Precision
from eegbench.train.distributed import World, from_env, launch
from eegbench.train.model import EEGClassifier
from eegbench.train.stage1 import train_stage1
from tests.conftest import tiny_overrides

# Measured with this config: weights differ by <= 3.2e-6, metric values by <= 1.5e-9 (float
# summation order of the gradient all-reduce); the tolerances leave a margin of ~30x.
WEIGHT_TOL = 1e-4
METRIC_TOL = 1e-6


def _overrides(tmp: Path, out: Path) -> list[str]:
    """A tiny run without batch norm or dropout (whose statistics and masks are per process)."""
    cfg = [o for o in tiny_overrides(tmp) if not o.startswith(("output_dir=", "eval.", "stage"))]
    return [
        *cfg,
        f"output_dir={out}",
        "threads=1",
        "run_name=r",
        "encoder=linear",
        "encoder.out_features=32",
        "stage1.epochs=2",
        "stage1.batch_size=16",
        "stage2.epochs=1",
        "stage2.phases=[target,eeg]",
        "eval.max_new_tokens=4",
        "eval.bootstrap=20",
        "eval.metrics=[accuracy,cosine,bleu,rouge]",
        "eval.controls=[]",
    ]


def _max_weight_diff(a: Path, b: Path) -> float:
    diffs = []
    for name in ("eeg_classifier.safetensors", "projector.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys()
        diffs += [(x[k] - y[k]).abs().max().item() for k in x]
    return max(diffs)


@pytest.mark.slow  # ~40-80 s here: two spawned processes import torch; one run builds caches
def test_two_gloo_processes_match_one(tmp_path):
    one = CliRunner().invoke(cli, ["-q", "run", *_overrides(tmp_path, tmp_path / "one")])
    assert one.exit_code == 0, one.output
    two = CliRunner().invoke(
        cli, ["-q", "run", "--processes", "2", *_overrides(tmp_path, tmp_path / "two")]
    )
    assert two.exit_code == 0, two.output
    assert [p.name for p in (tmp_path / "two").iterdir()] == ["r"]  # one run directory
    a, b = tmp_path / "one" / "r", tmp_path / "two" / "r"
    ra = json.loads((a / "results.json").read_text())
    rb = json.loads((b / "results.json").read_text())
    assert (ra["world_size"], rb["world_size"]) == (1, 2)
    assert _max_weight_diff(a, b) < WEIGHT_TOL
    assert ra["metrics"].keys() == rb["metrics"].keys()
    for key, m in ra["metrics"].items():
        assert rb["metrics"][key]["value"] == pytest.approx(m["value"], abs=METRIC_TOL), key
    for x, y in zip(ra["training"]["stage1"]["history"], rb["training"]["stage1"]["history"]):
        assert y["loss"] == pytest.approx(x["loss"], abs=1e-5)
        assert y["val_accuracy"] == x["val_accuracy"]
    assert (a / "predictions.csv").read_text() == (b / "predictions.csv").read_text()


def test_processes_refuses_resume(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path), "--processes", "2"])
    assert result.exit_code == 2
    assert "error: --resume continues a run in one process" in result.output


def test_world_from_launcher_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert from_env() == World(rank=2, size=4, local_rank=0)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ConfigError, match="need 0 <= RANK < WORLD_SIZE"):
        from_env()


def test_shards_cover_the_global_batch_once():
    idx = list(range(7))
    shards = [World(rank=r, size=3).shard(idx) for r in range(3)]
    assert shards == [[0, 1], [2, 3], [4, 5, 6]]
    assert World().shard(idx) is idx


class _Tiny(torch.nn.Module):
    n_features = 8

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 16, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_checkpoint_keeps_the_fp16_grad_scaler(tmp_path):
    """A resumed fp16 run continues with the saved scaler (scale and growth tracker), not a new
    one: after 1 + 1 epochs the tracker counts the steps of both."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 4, 16)).astype(np.float32)
    y = np.arange(24) % 3
    t = rng.standard_normal((24, 5)).astype(np.float32)
    fp16 = Precision(torch.device("cpu"), "fp16")
    ckpt = Checkpoint(tmp_path / "ckpt")
    for epochs in (1, 2):
        torch.manual_seed(0)
        model = EEGClassifier(_Tiny(), 5, 3)
        cfg = Stage1Config(epochs=epochs, batch_size=8, lr=1e-3)
        train_stage1(model, X, y, t, X, y, cfg, torch.Generator().manual_seed(0), ckpt, fp16)
    scaler = ckpt.load("stage1")["scaler"]
    assert scaler["_growth_tracker"] == 2 * 3  # 3 steps per epoch, 2 epochs
    assert scaler["scale"] == 65536.0
    restored = fp16.scaler()
    restored.load_state_dict(scaler)
    assert restored.get_scale() == 65536.0 and restored._get_growth_tracker() == 6


@pytest.mark.slow  # ~10 s: four spawned processes import torch
def test_launch_returns_rank_0s_value_and_reports_a_failure_in_one_line():
    assert launch(2, int, "7") == 7
    with pytest.raises(EegbenchError) as e:
        launch(2, int, "x")
    assert str(e.value) == (
        "a process of the run failed: ValueError: invalid literal for int() with base 10: 'x'"
    )
