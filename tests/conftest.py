"""Shared fixtures: offline environment, tiny configs, a fake third-party plugin distribution."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import eegbench
from eegbench._compat import install_import_guard

install_import_guard()  # tests import transformers/torchvision themselves: opt in, as the CLI does

if TYPE_CHECKING:
    from eegbench.results.record import RunRecord

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FAKE_PLUGIN = '''
"""A third-party eegbench plugin, installed by the tests as its own distribution."""
from dataclasses import dataclass

import torch
from torch import nn

import eegbench


class TinyMLP(nn.Module):
    def __init__(self, n_chans, n_times, hidden=32):
        super().__init__()
        self.n_features = hidden
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n_chans * n_times, hidden), nn.ReLU())

    def forward(self, x):
        return self.net(x)


@dataclass
class TinyMLPParams:
    hidden: int = 32


@eegbench.hookimpl
def register_encoders(register):
    register("thirdparty-mlp", TinyMLP, params=TinyMLPParams, citation="Tests 2026.",
             description="a third-party encoder")
'''


def install_fake_distribution(root: Path, name: str, module_source: str, entry: str) -> Path:
    """Write ``module`` and a ``.dist-info`` with an ``eegbench`` entry point under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{module}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[eegbench]\n{entry} = {module}\n")
    return root


@pytest.fixture
def fresh_plugins():
    """Reload entry points before and after the test."""
    from eegbench import plugins

    plugins.reset()
    yield plugins
    plugins.reset()


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch, fresh_plugins):
    """A third-party distribution ``eegbench-thirdparty`` providing encoder ``thirdparty-mlp``."""
    root = install_fake_distribution(
        tmp_path / "site", "eegbench-thirdparty", FAKE_PLUGIN, "thirdparty"
    )
    monkeypatch.syspath_prepend(str(root))
    fresh_plugins.reset()
    yield root
    sys.modules.pop("eegbench_thirdparty", None)


OFFLINE = ["target=minilm", "llm=tiny-gpt2"]
"""Offline target and LLM: what a run on a real-format test file uses instead of the reference
(CLIP ViT-B/32 and Mistral-7B, whose weights are not on this machine)."""


def tiny_overrides(tmp_path: Path) -> list[str]:
    """A run that takes seconds: a small synthetic set, few epochs, a very small LM."""
    return [
        f"output_dir={tmp_path / 'runs'}",
        f"cache_dir={tmp_path / 'cache'}",
        *OFFLINE,
        "dataset.n_classes=6",
        "dataset.n_subjects=1",
        "dataset.n_chans=8",
        "dataset.n_times=64",
        "dataset.images_per_class=5",
        "dataset.repetitions=2",
        "dataset.test_images=1",
        "stage1.epochs=2",
        "stage1.batch_size=16",
        "llm.n_layer=1",
        "llm.n_embd=32",
        "llm.n_head=2",
        "llm.vocab_size=300",
        "llm.steps=10",
        "stage2.epochs=1",
        "eval.max_new_tokens=6",
        "eval.bootstrap=50",
    ]


@pytest.fixture
def tiny(tmp_path) -> list[str]:
    return tiny_overrides(tmp_path)


N_SOFT = 2


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny finished run (linear encoder, ``N_SOFT`` soft tokens) shared by the tests."""
    from click.testing import CliRunner

    from eegbench.cli import cli

    root = tmp_path_factory.mktemp("inference")
    args = [
        *tiny_overrides(root),
        "encoder=linear",
        "encoder.out_features=16",
        f"stage2.n_soft_tokens={N_SOFT}",
        "run_name=tiny",
    ]
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return root / "runs" / "tiny"


# ------------------------------------------------------- data files in the real formats

# Label i means WNIDS[i]; deliberately NOT sorted (sorted: dog, piano, mushroom).
WNIDS = ["n03452741", "n02106662", "n13054560"]  # piano, dog, mushroom
N_CH, LEN = 8, 500
IMAGES_PER_CLASS = 6


def cvpr_trials() -> tuple[list[dict], list[str]]:
    """2 subjects x 18 images; channel 0 carries the label, channel 1 the trial's list index."""
    import torch

    images = [f"{w}_{k}" for w in WNIDS for k in range(IMAGES_PER_CLASS)]
    rng = np.random.default_rng(0)
    trials = []
    for subject in (1, 2):
        for img, name in enumerate(images):
            label = WNIDS.index(name.split("_")[0])
            length = LEN
            if img == 0 and subject == 1:
                length = 440  # fails 450 <= L
            if img == 7 and subject == 2:
                length = 620  # fails L <= 600
            eeg = rng.normal(size=(N_CH, length)).astype(np.float32) * 0.01
            eeg[0] = label
            eeg[1] = len(trials)
            trials.append(
                {"eeg": torch.from_numpy(eeg), "image": img, "label": label, "subject": subject}
            )
    return trials, images


CH = ["Fp1", "O1", "Oz", "PO3", "Cz"]
N_TRAIN, N_TEST, R_TRAIN, R_TEST, T = 6, 3, 4, 5, 20
TRAIN_CONCEPTS = ["00001_aardvark"] * 2 + ["00002_air_conditioner"] * 2 + ["00003_bat"] * 2
TEST_CONCEPTS = ["00010_cat", "00011_dog", "00012_egg"]


def things_eeg(n_img: int, n_rep: int, offset: int, subject: int) -> dict:
    x = np.zeros((n_img, n_rep, len(CH), T))
    x[:, :, 0, :] = (offset + np.arange(n_img))[:, None, None]  # Fp1 = image index
    x[:, :, 1, :] = np.arange(n_rep)[None, :, None]  # O1 = repeat index
    x[:, :, 2, :] = subject
    x[:, :, 3:, :] = np.random.default_rng(subject).normal(size=(n_img, n_rep, 2, T))
    return {"preprocessed_eeg_data": x, "ch_names": CH, "times": np.arange(T) / 100 - 0.2}


def epochs(n: int = 24):
    import mne

    info = mne.create_info(["Fz", "O1", "O2", "EOG"], 100.0, ["eeg", "eeg", "eeg", "eog"])
    rng = np.random.default_rng(0)
    codes = np.array([1, 2, 3] * (n // 3))
    x = rng.normal(size=(n, 4, 60)) * 1e-6
    x[:, 0, :] = (codes * 1e-6)[:, None]  # Fz carries the event code (in volts)
    events = np.c_[np.arange(n) * 100, np.zeros(n, int), codes]
    return mne.EpochsArray(
        x, info, events, tmin=-0.1, event_id={"face": 1, "house": 2, "car": 3}, verbose="error"
    )


# ------------------------------------------------------------------- run records


def run_record(config: dict[str, Any], metrics: dict[str, Any], **fields: Any) -> RunRecord:
    """A complete run record built through ``RunRecord`` (``fields`` override the defaults).

    ``metrics`` maps names to a ``MetricValue`` or a bare value (higher is better, no CI).
    """
    from eegbench.results.record import DatasetInfo, MetricValue, RunRecord

    base = {
        "eegbench_version": eegbench.__version__,
        "seed": config["seed"],
        "config": config,
        "dataset": DatasetInfo(name=config["dataset"]["name"]),
        "metrics": {
            k: v if isinstance(v, MetricValue) else MetricValue(value=v) for k, v in metrics.items()
        },
        "complete": True,
    }
    return RunRecord(**{**base, **fields})


def write_run_dir(path: Path, record: RunRecord) -> Path:
    """A run directory holding ``config.yaml`` and ``results.json`` of ``record``."""
    import yaml

    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump(record.config))
    record.write(path)
    return path
