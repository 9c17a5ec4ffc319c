"""Encoder against encoder on a leaderboard: paired differences, Holm/BH, rank groups; and the
bootstrap and permutation test against scipy where scipy covers the case."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.contract.errors import ConfigError
from eegbench.evaluation.multiplicity import adjust, benjamini_hochberg, compact_letters, holm
from eegbench.evaluation.predictions import Predictions, write_predictions
from eegbench.evaluation.stats import bootstrap_ci, paired_permutation_test
from eegbench.report.leaderboard import leaderboard
from eegbench.results.record import DatasetInfo, MetricValue
from tests.conftest import run_record, write_run_dir

WORDS = "a red blue green dog cat car in on the park beach street photo of there is".split()
N_IMAGES = 24


def _references(seed: int) -> list[str]:
    rng = random.Random(1000 + seed)
    return [" ".join(rng.choice(WORDS) for _ in range(9)) for _ in range(N_IMAGES)]


def _generated(ref: str, keep: float, rng: random.Random) -> str:
    """``ref`` with each word kept with probability ``keep`` (else a random word)."""
    return " ".join(w if rng.random() < keep else rng.choice(WORDS) for w in ref.split())


def _write(root: Path, encoder: str, seed: int, keep: float) -> None:
    refs = _references(seed)
    rng = random.Random(f"{encoder}-{seed}")
    images = [f"img{i:02d}" for i in range(N_IMAGES) for _ in range(2)]
    refs2 = [refs[i] for i in range(N_IMAGES) for _ in range(2)]
    preds = Predictions(
        image=images,
        expected_object=["dog"] * len(images),
        predicted_object=["dog"] * len(images),
        reference=refs2,
        generated=[_generated(r, keep, rng) for r in refs2],
    )
    from eegbench.evaluation.scoring import build_metric

    values = {}
    for name in ("bleu", "rouge"):
        scores = build_metric(name, None).compute(preds.generated, preds.reference)
        key = "bleu_4" if name == "bleu" else "rouge_l"
        values[key] = MetricValue(value=float(scores[key]), metric=name, ci=(0.0, 1.0))
    config = {
        "seed": seed,
        "dataset": {"name": "synthetic"},
        "encoder": {"name": encoder},
        "eval": {"metrics": ["bleu", "rouge"]},
    }
    record = run_record(
        config,
        {**values, "top1_accuracy": MetricValue(value=1.0, metric="accuracy")},
        dataset=DatasetInfo(
            name="synthetic",
            hashes={"data": f"d{seed}", "split_test": f"s{seed}"},
            seed_from_run=True,
        ),
    )
    path = write_run_dir(root / f"{encoder}-s{seed}", record)
    write_predictions(preds, path / "predictions.csv")


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    for seed in (0, 1):
        _write(root, "good", seed, 0.95)
        _write(root, "weak", seed, 0.3)
        _write(root, "weak2", seed, 0.3)
    return root


def test_pooled_worlds_number_their_images_apart():
    from eegbench.evaluation.compare import RunPredictions, pool_runs

    def world(images: list[str]) -> RunPredictions:
        n = len(images)
        return RunPredictions("w", Predictions(images, ["o"] * n, ["o"] * n, ["r"] * n, ["g"] * n))

    pooled = pool_runs([world(["a", "b", "a"]), world(["a", "c"])], "both")
    assert pooled.clusters == [0, 1, 0, 2, 3]  # image "a" of world 2 is another cluster
    assert pooled.predictions.image == ["a", "b", "a", "a", "c"]
    assert pooled.cluster_unit == "world x image"


def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005 0.01 0.03 0.04 times 4 3 2 1 = 0.02 0.03 0.06 0.04 -> running max
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: sorted times 4/1 4/2 4/3 4/4 = 0.02 0.02 0.04 0.04 -> running min from the top
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust([0.9, 0.8], "holm") == [1.0, 1.0]
    with pytest.raises(ConfigError, match="unknown correction"):
        adjust(p, "bonferroni")


def test_compact_letters():
    assert compact_letters("ABC", []) == {"A": "a", "B": "a", "C": "a"}
    assert compact_letters("ABCD", [("A", "C"), ("A", "D"), ("B", "D")]) == {
        "A": "a",
        "B": "ab",
        "C": "bc",
        "D": "c",
    }
    full = [("A", "B"), ("A", "C"), ("B", "C")]
    assert compact_letters("ABC", full) == {"A": "a", "B": "b", "C": "c"}


def test_leaderboard_pairs_holm_and_rank_groups(suite):
    board = leaderboard([suite], metrics=["bleu_4", "rouge_l", "top1_accuracy"])
    pw = board.pairwise
    assert pw is not None and pw.correction == "holm"
    names = board.row_names()
    assert {p.metric for p in pw.pairs} == {"bleu_4", "rouge_l"}  # accuracy: not a caption metric
    assert len(pw.pairs) == 3 * 2
    assert holm([p.delta.p for p in pw.pairs]) == pytest.approx(
        [p.delta.p_adjusted for p in pw.pairs]
    )
    by = {(names[p.a], names[p.b], p.metric): p for p in pw.pairs}
    good_weak = by[("good", "weak", "bleu_4")]
    assert good_weak.worlds == (0, 1) and good_weak.n_clusters == 2 * N_IMAGES
    assert good_weak.n_trials == 2 * 2 * N_IMAGES
    assert good_weak.delta.estimate > 0.3 and good_weak.delta.low > 0
    assert good_weak.delta.p_adjusted < 0.01
    assert by[("weak", "weak2", "rouge_l")].delta.p_adjusted > 0.05
    for metric in ("bleu_4", "rouge_l"):
        letters = {names[i]: g for i, g in pw.groups[metric].items()}
        assert letters == {"good": "a", "weak": "b", "weak2": "b"}
    md = board.to_markdown()
    assert "Encoder against encoder:" in md and "| bleu_4 group |" in md
    bh = leaderboard([suite], metrics=["bleu_4"], correction="bh").pairwise
    assert benjamini_hochberg([p.delta.p for p in bh.pairs]) == pytest.approx(
        [p.delta.p_adjusted for p in bh.pairs]
    )


def test_pairs_in_every_format(suite, tmp_path):
    args = ["leaderboard", str(suite), "--metrics", "bleu_4", "--permutations", "2000"]
    res = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["correction"] == "holm" and len(doc["pairs"]) == 3
    pair = doc["pairs"][0]
    assert {"a", "b", "metric", "difference", "worlds", "n_clusters"} <= set(pair)
    assert pair["difference"]["p_adjusted"] >= pair["difference"]["p"]
    groups = {r["encoder"]: r["groups"].get("bleu_4") for r in doc["rows"]}
    assert groups == {"good": "a", "weak": "b", "weak2": "b"}
    markers = {"md": "Encoder against", "html": "eegbench-pairs", "latex": "Encoder against"}
    for fmt, marker in {**markers, "csv": "bleu_4 Δ pair"}.items():
        res = CliRunner().invoke(cli, [*args, "--format", fmt])
        assert res.exit_code == 0 and marker in res.stdout, (fmt, res.output)
    args[3] = "bleu_4,top1_accuracy"
    res = CliRunner().invoke(cli, [*args, "--pair-metrics", "top1_accuracy"])
    assert res.exit_code == 2 and "cannot be compared encoder against encoder" in res.output
    res = CliRunner().invoke(cli, [*args, "--pair-metrics", "bleu_5"])
    assert res.exit_code == 2 and "no run reports metric 'bleu_5' to pair" in res.output


def test_pairs_need_prediction_files_only_when_asked(suite, tmp_path):
    root = tmp_path / "copy"
    import shutil

    shutil.copytree(suite, root)
    (root / "weak-s0" / "predictions.csv").unlink()
    board = leaderboard([root], metrics=["bleu_4"])
    assert any("no encoder pairs" in n and "predictions.csv" in n for n in board.notes)
    res = CliRunner().invoke(cli, ["leaderboard", str(root), "--metrics", "bleu_4", "--pairs"])
    assert res.exit_code != 0 and "predictions.csv" in res.output
    assert leaderboard([root], metrics=["bleu_4"], pairs=False).pairwise is None


def test_unclustered_percentile_bootstrap_agrees_with_scipy():
    from scipy.stats import bootstrap

    x = np.random.default_rng(3).gamma(2.0, 1.0, size=12)
    ours = bootstrap_ci(x, n_boot=40000, seed=1)
    widen = np.sqrt(12 / 11)  # the documented narrowness-bias correction, undone
    low = x.mean() + (ours.low - x.mean()) / widen
    high = x.mean() + (ours.high - x.mean()) / widen
    ref = bootstrap(
        (x,), np.mean, n_resamples=40000, method="percentile", random_state=2
    ).confidence_interval
    sd = x.std() / np.sqrt(x.size)  # Monte Carlo error of each end: about 0.02 sd
    assert low == pytest.approx(ref.low, abs=0.05 * sd)
    assert high == pytest.approx(ref.high, abs=0.05 * sd)
    assert abs(ours.low - ref.low) > 0.05 * sd  # the widening itself is visible at 12 units


def test_permutation_p_agrees_with_scipy():
    from scipy.stats import permutation_test

    rng = np.random.default_rng(5)
    a = rng.normal(0.4, 1.0, 12)
    b = rng.normal(0.0, 1.0, 12)
    ref = permutation_test(
        (a, b),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        vectorized=False,
        n_resamples=np.inf,  # exact: all 2^12 sign patterns
        alternative="two-sided",
    ).pvalue
    ours = paired_permutation_test(a, b, n_perm=40000, seed=0)
    assert ours == pytest.approx(ref, abs=0.01)
    clustered = paired_permutation_test(a, b, n_perm=40000, seed=0, clusters=np.arange(12))
    assert clustered == pytest.approx(ref, abs=0.01)
