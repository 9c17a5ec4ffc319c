"""End to end through `eegbench run`: records, predictions, reproducibility, LLM loading."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import yaml
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.contract.errors import MissingWeightsError
from eegbench.results.record import SCHEMA_VERSION
from tests.conftest import FAKE_PLUGIN, install_fake_distribution, tiny_overrides


def run_cli(*args: str):
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One tiny run with an encoder from a third-party distribution, through the CLI."""
    from eegbench import plugins

    tmp_path = tmp_path_factory.mktemp("pipeline")
    root = install_fake_distribution(
        tmp_path / "site", "eegbench-thirdparty", FAKE_PLUGIN, "thirdparty"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        plugins.reset()
        overrides = [
            *tiny_overrides(tmp_path),
            "encoder=thirdparty-mlp",
            "run_name=first",
            "metrics.rouge.use_stemmer=true",
            "metrics.cider.tokenize=lower",
        ]
        run_cli(*overrides, "eval.controls=all")
        yield tmp_path / "runs" / "first", overrides
    plugins.reset()


def test_third_party_encoder_runs_by_name_and_writes_a_record(finished_run):
    run_dir, _ = finished_run
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] is True and results["schema_version"] == SCHEMA_VERSION
    assert results["config"]["encoder"] == {"name": "thirdparty-mlp", "hidden": 32}
    assert results["seed"] == 42
    hw = results["hardware"]
    assert hw["device"] == "cpu" and hw["precision"] == "fp32" and hw["device_name"]
    assert {"torch", "transformers", "eegbench", "python"} <= set(results["versions"])
    assert results["dataset"]["splits"] == {"train": 36, "val": 12, "test": 12}
    assert len(results["dataset"]["hashes"]["data"]) == 16
    m = results["metrics"]
    for key in ("top1_accuracy", "top5_accuracy", "cosine", "bleu_4", "rouge_l"):
        assert key in m, sorted(m)
        assert m[key]["ci"][0] <= m[key]["value"] <= m[key]["ci"][1]
    assert m["top1_accuracy"]["higher_is_better"] is True
    assert set(results["controls"]) == {
        "only_obj",
        "obj_random_eeg",
        "only_eeg",
        "shuffled_eeg",
        "mean_eeg",
        "noise",
        "t2t_only_obj",
        "t2t_random_eeg",
    }
    assert "bleu_4" in results["controls"]["only_obj"]["metrics"]
    assert (
        "top1_accuracy" in results["controls"]["noise"]["metrics"]
    )  # noise changes the classifier input
    assert {"data", "targets", "stage1", "llm", "stage2", "evaluation", "total"} <= set(
        results["timings"]
    )
    assert results["peak_memory_mb"] > 0
    assert len(results["training"]["stage1"]["history"]) == 2


def test_predictions_csv_has_thought2text_layout(finished_run):
    run_dir, _ = finished_run
    df = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    assert list(df.columns) == [
        "Ground Truth Image",
        "Expected object",
        "Predicted object",
        "Expected Caption",
        "Generated Caption",
    ]
    assert len(df) == 12
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert cfg["dataset"]["n_classes"] == 6
    # references are the dataset's captions of each trial's image
    assert all(
        obj in cap.lower() for obj, cap in zip(df["Expected object"], df["Expected Caption"])
    )


def test_metric_parameters_from_the_config_reach_the_metrics(finished_run):
    from pycocoevalcap.cider.cider import Cider
    from rouge_score import rouge_scorer

    run_dir, _ = finished_run
    results = json.loads((run_dir / "results.json").read_text())
    assert results["config"]["metrics"]["rouge"] == {"use_stemmer": True}
    assert results["config"]["metrics"]["cider"] == {"tokenize": "lower", "tokenizer": "python"}
    df = pd.read_csv(run_dir / "predictions.csv", keep_default_na=False)
    gen, ref = df["Generated Caption"].tolist(), df["Expected Caption"].tolist()
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    rouge_1 = sum(scorer.score(r, g)["rouge1"].fmeasure for g, r in zip(gen, ref)) / len(gen)
    assert results["metrics"]["rouge_1"]["value"] == pytest.approx(rouge_1)
    res = {i: [" ".join(g.lower().split())] for i, g in enumerate(gen)}
    gts = {i: [" ".join(r.lower().split())] for i, r in enumerate(ref)}
    cider = Cider().compute_score(gts, res)[0]
    assert results["metrics"]["cider"]["value"] == pytest.approx(cider)


def test_saved_config_reproduces_the_run(finished_run):
    run_dir, _ = finished_run
    run_cli("--config", str(run_dir / "config.yaml"), "run_name=again")
    again = run_dir.parent / "again"
    a = json.loads((run_dir / "results.json").read_text())
    b = json.loads((again / "results.json").read_text())
    assert {k: v["value"] for k, v in a["metrics"].items()} == {
        k: v["value"] for k, v in b["metrics"].items()
    }
    pa = pd.read_csv(run_dir / "predictions.csv")
    pb = pd.read_csv(again / "predictions.csv")
    assert pa.equals(pb)


def test_a_second_run_never_overwrites_the_first(finished_run):
    run_dir, overrides = finished_run
    before = (run_dir / "results.json").read_bytes()
    run_cli(*overrides, "seed=1")
    assert (run_dir / "results.json").read_bytes() == before
    assert (run_dir.parent / "first-2" / "results.json").exists()


def test_gpt2_without_weights_fails_fast_with_how_to(tmp_path):
    overrides = [o for o in tiny_overrides(tmp_path) if not o.startswith("llm.")]
    res = CliRunner().invoke(cli, ["run", *overrides, "llm=gpt2", "llm.path=gpt2-missing-model"])
    assert res.exit_code == 2  # the preflight stops it before any training
    assert res.output.startswith("error: preflight failed before training: llm 'gpt2': ")
    assert "not available offline" in res.output and "llm.path=DIR" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "runs").exists()  # nothing written


def test_gpt2_backend_loads_a_local_model_folder_and_generates(tmp_path):
    """`llm=gpt2 llm.path=DIR` on a GPT-2 saved by the test (what `gpt2` weights look like)."""
    from eegbench_plugins.llms.hf_loading import load_pretrained
    from eegbench_plugins.llms.tiny import train_tiny

    folder = tmp_path / "gpt2-local"
    folder.mkdir()
    texts = [f" dog Describe this in one sentence: A {c} dog." for c in ("red", "blue", "green")]
    train_tiny(
        texts * 4,
        folder,
        seed=0,
        n_layer=1,
        n_embd=32,
        n_head=2,
        vocab_size=280,
        steps=30,
        batch_size=8,
        lr=1e-2,
    )
    llm = load_pretrained(str(folder))
    assert llm.d_model == 32
    assert all(not p.requires_grad for p in llm.model.parameters())
    with pytest.raises(MissingWeightsError, match="no config.json"):
        load_pretrained(str(tmp_path))

    from eegbench.train.generation import generate_caption
    from eegbench.train.model import EEGClassifier, Projector

    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 8, 6))
    enc.n_features = 6
    clf = EEGClassifier(enc, 5, 3)
    proj = Projector(5, 32)
    x = torch.randn(4, 8)
    caption = generate_caption(x, "dog", clf, proj, llm.model, llm.tokenizer, max_new_tokens=8)
    assert isinstance(caption, str) and caption
    # the raw transformers model + tokenizer and the CausalLM wrapper give the same caption
    assert caption == generate_caption(x, "dog", clf, proj, llm, max_new_tokens=8)


def test_center_targets_removes_the_training_mean_and_renormalises():
    import numpy as np

    from eegbench.train.parts import center_targets

    class _Data:
        image = np.array([0, 1, 2, 2])
        splits = {"train": np.array([0, 1])}

    t = np.array([[1.0, 1.0], [1.0, -1.0], [3.0, 1.0]], dtype=np.float32)
    out = center_targets(t, _Data())
    # training images 0 and 1 have mean (1, 0); every row is then scaled to unit length
    assert np.allclose(out, [[0, 1], [0, -1], [2 / 5**0.5, 1 / 5**0.5]])
