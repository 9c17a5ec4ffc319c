"""The documentation site builds strictly, documents the public API, and its tutorials run."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "examples" / "tutorials"


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra (in the test extra) is not installed")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    api = (tmp_path / "api" / "index.html").read_text()
    for name in (
        "eegbench.tools.inference.load_run",
        "eegbench.contract.data.EEGData",
        "eegbench.contract.hooks.hookimpl",
        "eegbench.contract.metric.Metric.signature",
        "eegbench.results.record.RunRecord",
    ):
        assert f'id="{name}"' in api, name
    tutorial = (tmp_path / "tutorials" / "mne-epochs" / "index.html").read_text()
    assert "make_epochs_file" in tutorial  # the script itself is on the page


def test_api_reference_names_every_public_name():
    import eegbench
    import eegbench.api

    text = (ROOT / "docs" / "api.md").read_text()
    documented = {
        line.split()[1].rsplit(".", 1)[1] for line in text.splitlines() if line.startswith("::: ")
    }
    external = {"Ge", "Gt", "Le", "Lt", "Interval"}  # annotated_types' own classes
    public = (set(eegbench.__all__) | set(eegbench.api.__all__)) - external - {"__version__"}
    assert public <= documented, sorted(public - documented)


def _tutorial(name: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    res = subprocess.run(
        [sys.executable, str(TUTORIALS / name), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=out.parent,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res


@pytest.mark.slow
def test_tutorial_mne_epochs(tmp_path):
    from eegbench.results.record import RunRecord

    out = tmp_path / "t"
    res = _tutorial("mne_epochs.py", out)
    for run in ("linear", "eegnet"):
        record = RunRecord.read(out / "runs" / run)
        assert record.dataset.name == "mne_epochs"
        assert record.dataset.class_names == ["face", "house", "car"]
        assert record.config["threads"] == 1
    page = (out / "report.html").read_text()
    assert page.count('data-figure="confusion"') == 2 and "Leaderboard (2 runs)" in page
    assert "A = linear, B = eegnet" in res.stdout  # compare's table


def test_tutorial_score_thought2text(tmp_path):
    out = tmp_path / "t"
    res = _tutorial("score_thought2text.py", out)
    scores = json.loads((out / "model_a.scores.json").read_text())
    with (out / "model_a.csv").open() as f:
        rows = list(csv.DictReader(f))
    hits = [r["Expected object"] == r["Predicted object"] for r in rows]
    assert scores["accuracy"] == pytest.approx(sum(hits) / len(hits))
    assert 0 < scores["bleu_4"] < scores["bleu_1"] <= 1
    assert "A = model_b.csv, B = model_a.csv" in res.stdout


@pytest.mark.slow
def test_tutorial_braindecode_encoder(tmp_path):
    if importlib.util.find_spec("braindecode") is None:
        pytest.skip("the braindecode extra is not installed")
    from eegbench.results.record import RunRecord

    out = tmp_path / "t"
    res = _tutorial("braindecode_encoder.py", out)
    record = RunRecord.read(out / "runs" / "eegnet-s1")
    assert record.config["encoder"] == {"name": "braindecode:EEGNet", "n_outputs": 32}
    assert "| braindecode:EEGNet |" in res.stdout and "| linear |" in res.stdout
    assert (out / "leaderboard.png").stat().st_size > 10_000
