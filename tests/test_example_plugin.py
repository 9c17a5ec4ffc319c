"""The example plugin package installs with pip, and its encoder and metric work by name."""

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
from tests.conftest import tiny_overrides

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eegbench-example-plugin"


def distinct(captions: list[str], n: int) -> float:
    grams = []
    for c in captions:
        tokens = c.lower().split()
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


def test_entry_point_registers_encoder_and_metric(installed):
    info = {p.name: p for p in plugins.plugins()}
    assert info["example"].dist == "eegbench-example-plugin"
    assert info["example"].version == "0.1.0"
    assert info["example"].hooks == ("register_encoders", "register_metrics")
    assert plugins.failures() == []
    enc = plugins.get("encoders", "example-tcn")
    assert enc.defaults() == {"hidden": 32, "kernel": 7, "levels": 3, "dropout": 0.1}
    assert enc.citation.startswith("Bai, Kolter, Koltun (2018)")
    assert "eegbench_example.encoder" not in sys.modules  # lazy: torch code loads on use
    model = enc.build(8, 64, hidden=12)
    assert model.n_features == 12
    metric = plugins.get("metrics", "distinct").build()
    assert metric.compute(["a red dog", "a red cat"], ["x", "y"]) == pytest.approx(
        {"distinct_1": 4 / 6, "distinct_2": 3 / 4}
    )


@pytest.mark.slow
def test_example_encoder_runs_and_metric_lands_in_results(installed):
    out = installed / "run"
    args = [
        *tiny_overrides(out),
        "encoder=example-tcn",
        "encoder.hidden=16",
        "eval.metrics=[accuracy,bleu,distinct]",
        "run_name=example",
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
    assert results["model"]["encoder_features"] == 16
    m = results["metrics"]
    assert m["distinct_1"]["metric"] == "distinct" and m["distinct_1"]["higher_is_better"]
    generated = pd.read_csv(run_dir / "predictions.csv", keep_default_na=False)[
        "Generated Caption"
    ].tolist()
    assert m["distinct_1"]["value"] == pytest.approx(distinct(generated, 1))
    assert m["distinct_2"]["value"] == pytest.approx(distinct(generated, 2))
    assert "distinct_1" in results["controls"]["only_obj"]["metrics"]
