"""`eegbench compare`: paired permutation tests on shared test trials."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.contract.errors import ConfigError, DataError
from eegbench.evaluation.compare import compare_runs
from eegbench.evaluation.predictions import Predictions, read_predictions, write_predictions
from eegbench.evaluation.stats import paired_delta
from eegbench.results.record import DatasetInfo, RunRecord
from tests.conftest import run_record

OBJECTS = ["dog", "cat", "horse", "boat", "piano"]
COLORS = ["red", "blue", "green", "yellow", "white", "black", "brown", "grey"]
PLACES = ["in a kitchen", "on a street", "by the sea", "in a garden", "in a room"]


def _good(n: int) -> Predictions:
    rng = np.random.default_rng(0)
    obj = [OBJECTS[i % len(OBJECTS)] for i in range(n)]
    refs = [f"A {COLORS[rng.integers(8)]} {o} {PLACES[rng.integers(5)]} at noon." for o in obj]
    gen = [r.replace(" at noon.", ".") for r in refs]
    return Predictions(
        image=[f"img_{i:03d}" for i in range(n)],
        expected_object=obj,
        predicted_object=list(obj),
        reference=refs,
        generated=gen,
    )


def _degraded(p: Predictions) -> Predictions:
    n = len(p)
    names = sorted(set(p.expected_object))
    wrong = [names[(names.index(o) + 1) % len(names)] for o in p.expected_object]
    return Predictions(
        image=list(p.image),
        expected_object=list(p.expected_object),
        predicted_object=[
            w if i % 5 else o for i, (w, o) in enumerate(zip(wrong, p.expected_object))
        ],
        reference=list(p.reference),
        generated=[f"Something {wrong[i]} somewhere." for i in range(n)],
    )


def _run_dir(root, name: str, preds: Predictions, split: str = "abcd") -> str:
    d = root / name
    d.mkdir()
    write_predictions(preds, d / "predictions.csv")
    config = {
        "seed": 0,
        "dataset": {"name": "synthetic"},
        "eval": {"metrics": ["accuracy", "cosine", "bleu", "rouge"]},
    }
    hashes = {"data": "d" * 16, "split_test": split}
    run_record(config, {}, dataset=DatasetInfo(name="synthetic", hashes=hashes)).write(d)
    return str(d)


@pytest.fixture(scope="module")
def run_dir(tiny_run_dir):
    return tiny_run_dir


def test_a_run_against_itself_has_p_equal_one(run_dir):
    out = compare_runs(run_dir, run_dir, n_perm=2000)
    outputs = [r["output"] for r in out["rows"]]
    assert outputs == [
        "object_match",
        "bleu_1",
        "bleu_2",
        "bleu_3",
        "bleu_4",
        "rouge_1",
        "rouge_2",
        "rouge_l",
        "meteor",
        "cider",
    ]
    assert all(r["p"] == 1.0 and r["diff"] == 0.0 for r in out["rows"])
    assert set(out["skipped"]) == {"accuracy", "cosine", "retrieval", "attributes", "probe"}
    assert out["n_trials"] == 12
    results = RunRecord.read(run_dir)
    by = {r["output"]: r for r in out["rows"]}
    for key in ("bleu_4", "rouge_l", "rouge_1"):
        assert by[key]["a"] == pytest.approx(results.metrics[key].value, abs=1e-9)
    assert by["object_match"]["a"] == pytest.approx(results.metrics["top1_accuracy"].value)


def test_a_run_against_a_degraded_copy_is_significant(run_dir, tmp_path):
    preds = read_predictions(run_dir / "predictions.csv")
    oracle = tmp_path / "oracle"
    shutil.copytree(run_dir, oracle)
    good = Predictions(
        image=preds.image,
        expected_object=preds.expected_object,
        predicted_object=preds.expected_object,
        reference=preds.reference,
        generated=preds.reference,
    )
    write_predictions(good, oracle / "predictions.csv")
    degraded = tmp_path / "degraded"
    shutil.copytree(oracle, degraded)
    write_predictions(_degraded(good), degraded / "predictions.csv")
    out = compare_runs(oracle, degraded, ["object_match", "rouge", "bleu"], n_perm=5000)
    by = {r["output"]: r for r in out["rows"]}
    # 12 trials in 6 images (clusters), all differences positive: the smallest two-sided
    # cluster sign-flip p is 2 / 2**6 (2 / 2**12 if trials were wrongly taken as independent)
    assert out["n_clusters"] == 6 and out["cluster_unit"] == "image"
    for key in ("rouge_1", "rouge_l"):
        assert by[key]["a"] == 1.0 and by[key]["diff"] < -0.5
        assert by[key]["p"] == pytest.approx(2 / 64, abs=0.01)
        assert by[key]["ci"][0] <= by[key]["diff"] <= by[key]["ci"][1] < 0
    assert by["object_match"]["a"] == 1.0 and by["object_match"]["b"] == pytest.approx(3 / 12)
    assert by["bleu_1"]["p"] == pytest.approx(2 / 64, abs=0.01)
    assert by["bleu_1"]["test"] == "cluster approximate randomization"


def test_synthetic_runs_p_values_and_json_output(tmp_path):
    good = _good(40)
    a = _run_dir(tmp_path, "a", good)
    b = _run_dir(tmp_path, "b", _degraded(good))
    res = CliRunner().invoke(
        cli,
        [
            "compare",
            a,
            b,
            "--metrics",
            "object_match,rouge",
            "--metrics",
            "meteor",
            "--metrics",
            "protocol:thought2text",
            "--n-perm",
            "3000",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    by = {r["output"]: r for r in out["rows"]}
    assert set(by) >= {
        "object_match",
        "rouge_1",
        "meteor",
        "thought2text/bleu_4",
        "thought2text/accuracy",
    }
    assert all(r["p"] < 0.001 for r in out["rows"]), [(r["output"], r["p"]) for r in out["rows"]]
    assert by["object_match"]["b"] == pytest.approx(8 / 40)
    assert by["thought2text/accuracy"]["b"] == by["object_match"]["b"]
    assert by["rouge_1"]["diff"] == pytest.approx(by["rouge_1"]["b"] - by["rouge_1"]["a"])
    # the table names the runs and prints one row per output
    res = CliRunner().invoke(cli, ["compare", a, b, "--n-perm", "500"])
    assert res.exit_code == 0, res.output
    assert "A = a, B = b" in res.output and "rouge_l" in res.output and "bleu_4" in res.output


def test_different_test_sets_are_refused(tmp_path):
    good = _good(20)
    a = _run_dir(tmp_path, "a", good)
    b = _run_dir(tmp_path, "b", good, split="wxyz")
    with pytest.raises(DataError, match="different test sets .*split_test hash abcd vs wxyz"):
        compare_runs(a, b)
    other = _good(20)
    other.image[4] = "img_999"
    c = _run_dir(tmp_path, "c", other)
    with pytest.raises(DataError, match="row 4 has image 'img_004' vs 'img_999'"):
        compare_runs(a, c)
    d = _run_dir(tmp_path, "d", _good(19))
    res = CliRunner().invoke(cli, ["compare", a, d])
    assert res.exit_code == 1
    assert "a has 20 test trials and d 19" in res.output and "Traceback" not in res.output


def test_untestable_metrics_are_config_errors(tmp_path):
    a = _run_dir(tmp_path, "a", _good(10))
    with pytest.raises(ConfigError, match="'cosine' needs embeddings"):
        compare_runs(a, a, ["cosine"])
    with pytest.raises(ConfigError, match="unknown metrics 'rougee'|'rougee'"):
        compare_runs(a, a, ["rougee"])


def test_prediction_csvs_compare_without_a_run_dir(tmp_path):
    good = _good(16)
    write_predictions(good, tmp_path / "a.csv")
    write_predictions(_degraded(good), tmp_path / "b.csv")
    out = compare_runs(tmp_path / "a.csv", tmp_path / "b.csv", ["rouge"], n_perm=2000)
    assert all(r["p"] < 0.01 for r in out["rows"])


def test_cluster_swap_matches_exact_enumeration():
    # 4 trials in 2 clusters; corpus statistic = sum of column 0 / sum of column 1
    a = np.array([[3.0, 2.0], [1.0, 2.0], [2.0, 1.0], [0.0, 1.0]])
    b = np.array([[0.0, 2.0], [1.0, 2.0], [0.0, 1.0], [1.0, 1.0]])
    clusters = np.array([0, 0, 1, 1])
    joint = np.concatenate([a, b])

    def score(idx):
        t = joint[idx].sum(axis=0)
        return {"s": float(t[0] / t[1])}

    base = np.arange(4)
    obs = abs(score(base)["s"] - score(base + 4)["s"])
    count = 0
    for mask in range(4):  # every subset of swapped clusters
        sw = np.array([(mask >> g) & 1 for g in range(2)], dtype=bool)[clusters]
        ia, ib = np.where(sw, base + 4, base), np.where(sw, base, base + 4)
        count += abs(score(ia)["s"] - score(ib)["s"]) >= obs - 1e-12
    exact = count / 4
    d = paired_delta(score, 4, clusters=clusters, n_perm=20000, n_boot=200, seed=1)["s"]
    assert d.p == pytest.approx(exact, abs=0.02)
    assert d.estimate == pytest.approx(score(base)["s"] - score(base + 4)["s"])


def test_compare_a_run_with_its_control(tmp_path):
    good = _good(30)
    d = tmp_path / "run"
    _run_dir(tmp_path, "run", good)
    write_predictions(_degraded(good), d / "predictions_only_obj.csv")
    res = CliRunner().invoke(
        cli, ["compare", str(d), "--control", "only_obj", "--n-perm", "500", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["run_a"] == "run:only_obj" and out["run_b"] == "run"
    by = {r["output"]: r for r in out["rows"]}
    assert by["rouge_1"]["diff"] > 0.3 and by["rouge_1"]["p"] < 0.01  # full - control
    res = CliRunner().invoke(cli, ["compare", str(d), "--control", "noise"])
    assert res.exit_code == 1
    assert "no predictions_noise.csv; its controls on disk: only_obj" in res.output


def test_metrics_are_rebuilt_with_run_a_parameters(tmp_path):
    from rouge_score import rouge_scorer

    good = _good(30)
    a = _run_dir(tmp_path, "a", good)
    b = _run_dir(tmp_path, "b", _degraded(good))
    record = RunRecord.read(a)
    record.config["metrics"] = {"rouge": {"use_stemmer": True}}
    record.write(a)
    out = compare_runs(a, b, ["rouge"], n_perm=200)
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    expected = np.mean(
        [scorer.score(r, g)["rouge1"].fmeasure for g, r in zip(good.generated, good.reference)]
    )
    by = {r["output"]: r for r in out["rows"]}
    assert by["rouge_1"]["a"] == pytest.approx(expected)


def test_a_metric_without_per_trial_scores_is_skipped_or_refused(tmp_path, fresh_plugins):
    import eegbench
    from eegbench.api import CAPTIONS, Metric

    class Longest(Metric):  # a corpus statistic with no per-trial decomposition
        outputs = {"longest": True}
        requires = (CAPTIONS,)

        def compute(self, predictions, references, **ctx):
            return {"longest": float(max(len(p) for p in predictions))}

    class Plugin:
        @eegbench.hookimpl
        def register_metrics(self, register):
            register("longest", Longest, description="test metric")

    fresh_plugins.register_plugin(Plugin(), "longest-plugin")
    good = _good(10)
    a = _run_dir(tmp_path, "a", good)
    b = _run_dir(tmp_path, "b", _degraded(good))
    record = RunRecord.read(a)
    record.config["eval"]["metrics"] = ["accuracy", "longest", "rouge"]
    record.write(a)
    out = compare_runs(a, b, n_perm=100)
    assert "cannot be permutation-tested" in out["skipped"]["longest"]
    assert {r["metric"] for r in out["rows"]} == {"object_match", "rouge"}
    with pytest.raises(ConfigError, match="'longest' has no per-trial scores"):
        compare_runs(a, b, ["longest"], n_perm=100)
