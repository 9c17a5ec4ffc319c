"""`eegbench inspect`: shape report, prompt-token table, similarity, captions, files written."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.tools.diagnostics import markdown_table, shape_report, token_table
from eegbench.tools.inference import load_run
from tests.conftest import N_SOFT

BATCH = 5


@pytest.fixture(scope="module")
def run_dir(tiny_run_dir):
    return tiny_run_dir


@pytest.fixture(scope="module")
def pipe(run_dir):
    return load_run(run_dir)


@pytest.fixture(scope="module")
def inspected(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("inspect")
    res = CliRunner().invoke(
        cli, ["--quiet", "inspect", str(run_dir), "--out", str(out), "--batch", str(BATCH)]
    )
    assert res.exit_code == 0, res.output + repr(res.exception)
    return out, res.output


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_shape_report_has_each_module_output_and_parameters(pipe):
    x = torch.as_tensor(pipe.data.X[:3])
    rows = {r["module"]: r for r in shape_report(pipe.model, pipe.projector, x)}
    F = pipe.model.encoder.n_features
    D = pipe.model.embed.out_features
    K = pipe.data.n_classes
    d_model = pipe.llm.d_model
    assert F == 16 and K == 6
    assert rows["eeg_classifier.encoder"]["output_shape"] == f"3x{F}"
    assert rows["eeg_classifier.encoder.proj"]["type"] == "Linear"
    assert rows["eeg_classifier.embed"]["output_shape"] == f"3x{D}"
    assert rows["eeg_classifier.embed"]["parameters"] == F * D + D
    assert rows["eeg_classifier.classifier"]["output_shape"] == f"3x{K}"
    assert rows["eeg_classifier.classifier"]["parameters"] == D * K + K
    assert rows["eeg_classifier"]["output_shape"] == f"(3x{D}, 3x{K})"
    n_chans_times = pipe.data.n_chans * pipe.data.n_times
    assert rows["eeg_classifier.encoder"]["parameters"] == n_chans_times * F + F
    assert rows["projector.proj"]["output_shape"] == f"3x{N_SOFT * d_model}"
    assert rows["projector"]["output_shape"] == f"3x{N_SOFT}x{d_model}"
    assert rows["projector"]["parameters"] == D * N_SOFT * d_model + N_SOFT * d_model
    assert list(rows)[0] == "eeg_classifier" and list(rows)[-1] == "projector.proj"
    # hooks are removed afterwards: a second report is identical
    again = shape_report(pipe.model, pipe.projector, x)
    assert [r["output_shape"] for r in again] == [r["output_shape"] for r in rows.values()]
    assert not pipe.model.embed._forward_hooks


def test_token_table_marks_exactly_the_eeg_slots_and_label_tokens(pipe):
    emb, _ = pipe.model.predict(pipe.data.X[:1])
    with torch.no_grad():
        soft = pipe.projector(torch.as_tensor(emb))
    label = "butterfly"
    rows = token_table(pipe.llm, soft, label)
    n_label = len(pipe.llm.encode(f" {label}"))
    replaced = [r["position"] for r in rows if r["replaced"] == "yes"]
    assert replaced == list(range(1, 1 + N_SOFT + n_label))
    assert [r["segment"] for r in rows[: 1 + N_SOFT + n_label]] == (
        ["bos"] + ["eeg"] * N_SOFT + ["label"] * n_label
    )
    assert "".join(r["token"] for r in rows if r["segment"] == "label") == f" {label}"
    instruction = "".join(r["token"] for r in rows if r["segment"] == "instruction")
    assert instruction == " Describe this in one sentence:"
    for j in range(N_SOFT):
        row = rows[1 + j]
        assert row["norm_after"] == pytest.approx(float(soft[0, j].norm()), rel=1e-5)
        assert row["norm_before"] != pytest.approx(row["norm_after"])
    for r in rows:
        if r["segment"] != "eeg":
            assert r["norm_before"] == pytest.approx(r["norm_after"])
    # without a label only the EEG slots are replaced
    rows = token_table(pipe.llm, soft, None)
    assert [r["position"] for r in rows if r["replaced"] == "yes"] == list(range(1, 1 + N_SOFT))


def test_inspect_writes_tables_and_pngs(inspected):
    out, output = inspected
    for name in ("shapes", "tokens", "similarity", "captions"):
        assert (out / f"{name}.csv").stat().st_size > 0
        assert (out / f"{name}.md").read_text().startswith("| ")
    for name in ("embeddings", "similarity", "tokens"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "![similarity](similarity.png)" in report and "## Captions" in report
    assert "replaced by EEG/label: [1, 2," in output


def test_inspect_similarity_and_captions_match_the_run(inspected, pipe, run_dir):
    out, _ = inspected
    test = pipe.data.splits["test"][:BATCH]
    emb, logits = pipe.model.predict(pipe.data.X[test])
    targets = pipe.targets[pipe.data.image[test]]
    sim = np.array(
        [
            [float(v) for k, v in r.items() if k != "eeg_trial"]
            for r in _rows(out / "similarity.csv")
        ]
    )
    assert sim.shape == (BATCH, BATCH)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(sim, unit(emb) @ unit(targets).T, atol=1e-5)
    np.testing.assert_allclose(np.diag(sim), (unit(emb) * unit(targets)).sum(1), atol=1e-5)
    caps = _rows(out / "captions.csv")
    predictions = _rows(run_dir / "predictions.csv")[:BATCH]
    assert [c["expected"] for c in caps] == [p["Expected object"] for p in predictions]
    assert [c["predicted"] for c in caps] == [p["Predicted object"] for p in predictions]
    assert [c["generated"] for c in caps] == [p["Generated Caption"] for p in predictions]
    assert [c["reference"] for c in caps] == [p["Expected Caption"] for p in predictions]
    np.testing.assert_allclose(
        [float(c["eeg_norm"]) for c in caps], np.linalg.norm(emb, axis=1), rtol=1e-5
    )
    tokens = _rows(out / "tokens.csv")
    assert [t["position"] for t in tokens if t["replaced"] == "yes"][:N_SOFT] == ["1", "2"]


def test_markdown_table_escapes_pipes():
    text = markdown_table([{"a": "x|y", "b": 0.5}])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 0.5000 |"]


def test_inspect_refuses_a_bad_batch(run_dir):
    res = CliRunner().invoke(cli, ["inspect", str(run_dir), "--batch", "0"])
    assert res.exit_code == 1 and "--batch must be at least 1" in res.output
