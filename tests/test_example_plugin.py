"""The example plugin package installs with pip, and each of its five items works by name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from eegbench import plugins
from eegbench.cli import cli
from eegbench.config import build_config
from eegbench.contract.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eegbench-example-plugin"


def distinct(captions: list[str], n: int) -> float:
    """Distinct-n, case-sensitive (metrics.distinct.lowercase=false)."""
    grams = []
    for c in captions:
        tokens = c.split()
        grams += [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install --no-deps --target`` of a copy of the example (offline, no venv change)."""
    tmp = tmp_path_factory.mktemp("example")
    src = tmp / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp / "site"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(target))
        plugins.reset()
        yield tmp
    plugins.reset()
    for name in [m for m in sys.modules if m.startswith("eegbench_example")]:
        del sys.modules[name]


def test_entry_point_registers_one_item_of_every_kind(installed):
    info = {p.name: p for p in plugins.plugins()}
    assert info["example"].dist == "eegbench-example-plugin"
    assert info["example"].version == "0.1.0"
    assert info["example"].hooks == (
        "register_datasets",
        "register_encoders",
        "register_llms",
        "register_metrics",
        "register_targets",
    )
    assert plugins.failures() == []
    owned = {
        kind: [e.name for e in plugins.registry(kind) if e.plugin == "example"]
        for kind in ("datasets", "encoders", "targets", "llms", "metrics")
    }
    assert owned == {
        "datasets": ["example-shapes"],
        "encoders": ["example-tcn"],
        "targets": ["example-bow"],
        "llms": ["example-wordlm"],
        "metrics": ["distinct"],
    }
    loaded = [m for m in sys.modules if m.startswith("eegbench_example.")]
    assert loaded == ["eegbench_example.plugin"]  # lazy: the items load on use
    enc = plugins.get("encoders", "example-tcn")
    assert enc.defaults() == {"hidden": 32, "kernel": 7, "levels": 3, "dropout": 0.1}
    assert enc.citation.startswith("Bai, Kolter, Koltun (2018)")
    assert enc.build(8, 64, hidden=12).n_features == 12
    data = plugins.get("datasets", "example-shapes").build(n_classes=2)
    assert data.info["ground_truth"]["attributes"]["colour"][0] in data.captions[0]
    target = plugins.get("targets", "example-bow").build(dim=8)
    assert target.embed(data.captions[:2]).shape == (2, 8)
    metric = plugins.get("metrics", "distinct").build()
    assert metric.compute(["a red dog", "a red cat"], ["x", "y"]) == pytest.approx(
        {"distinct_1": 4 / 6, "distinct_2": 3 / 4}
    )


def test_example_items_resolve_and_check_their_parameters(installed):
    cfg = build_config(
        [
            "dataset=example-shapes",
            "encoder=example-tcn",
            "target=example-bow",
            "llm=example-wordlm",
            "eval.metrics=[accuracy,distinct]",
            "metrics.distinct.lowercase=false",
        ]
    )
    plain = cfg.to_dict()
    assert plain["metrics"] == {"accuracy": {}, "distinct": {"lowercase": False}}
    assert plain["llm"] == {
        "name": "example-wordlm",
        "n_embd": 32,
        "n_head": 2,
        "steps": 30,
        "lr": 0.01,
    }
    with pytest.raises(ConfigError, match="must be odd"):
        build_config(["encoder=example-tcn", "encoder.kernel=4"])
    with pytest.raises(ConfigError, match="must divide"):
        build_config(["llm=example-wordlm", "llm.n_head=3"])


@pytest.mark.slow
def test_tiny_run_with_every_example_item(installed):
    out = installed / "run"
    args = [
        f"output_dir={out / 'runs'}",
        f"cache_dir={out / 'cache'}",
        "dataset=example-shapes",
        "encoder=example-tcn",
        "encoder.hidden=16",
        "target=example-bow",
        "llm=example-wordlm",
        "llm.steps=10",
        "stage1.epochs=2",
        "stage2.epochs=1",
        "eval.max_new_tokens=6",
        "eval.bootstrap=50",
        "eval.metrics=[accuracy,cosine,bleu,distinct]",
        "metrics.distinct.lowercase=false",
        "run_name=example",
        "threads=1",
    ]
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    run_dir = out / "runs" / "example"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["config"]["encoder"] == {
        "name": "example-tcn",
        "hidden": 16,
        "kernel": 7,
        "levels": 3,
        "dropout": 0.1,
    }
    assert results["config"]["metrics"]["distinct"] == {"lowercase": False}
    assert results["model"]["encoder_features"] == 16
    assert results["dataset"]["class_names"] == ["circle", "square", "triangle"]
    m = results["metrics"]
    assert m["distinct_1"]["metric"] == "distinct" and m["distinct_1"]["higher_is_better"]
    generated = pd.read_csv(run_dir / "predictions.csv", keep_default_na=False)[
        "Generated Caption"
    ].tolist()
    assert m["distinct_1"]["value"] == pytest.approx(distinct(generated, 1))
    assert m["distinct_2"]["value"] == pytest.approx(distinct(generated, 2))
    assert "distinct_1" in results["controls"]["only_obj"]["metrics"]
