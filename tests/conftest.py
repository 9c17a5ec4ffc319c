"""Shared fixtures: offline environment, tiny configs, a fake third-party plugin distribution."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

import eegbench  # noqa: F401 - first: makes torchvision/torchaudio safe to import

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


def tiny_overrides(tmp_path: Path) -> list[str]:
    """A run that takes seconds: a small synthetic set, few epochs, a very small LM."""
    return [
        f"output_dir={tmp_path / 'runs'}",
        f"cache_dir={tmp_path / 'cache'}",
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
