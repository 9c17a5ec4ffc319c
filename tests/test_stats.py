"""Bootstrap confidence intervals and paired permutation tests."""

from __future__ import annotations

import numpy as np
import pytest

import eegbench
from eegbench import DataError
from eegbench.contract.metric import Metric, subset_context
from eegbench.evaluation.stats import (
    SIGN_FLIP,
    SWAP,
    CorpusScores,
    SentenceStats,
    TrialValues,
    as_trial_scores,
    bootstrap_ci,
    bootstrap_cis,
    bootstrap_indices,
    cluster_bootstrap_indices,
    joint_trial_scores,
    paired_delta,
    paired_permutation_test,
    trial_scores,
)


def test_bootstrap_ci_of_a_mean_covers_estimate_and_is_reproducible():
    values = np.random.default_rng(0).normal(0.3, 0.1, size=500)
    ci = bootstrap_ci(values, n_boot=2000, alpha=0.05, seed=3)
    assert ci.estimate == pytest.approx(values.mean())
    assert ci.low < ci.estimate < ci.high
    # the percentile interval of a mean is close to +-1.96 standard errors
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_ci(values, n_boot=2000, seed=3) == ci
    assert bootstrap_ci(values, n_boot=2000, seed=4) != ci
    narrow = bootstrap_ci(values, n_boot=2000, alpha=0.5, seed=3)
    assert ci.low < narrow.low < narrow.high < ci.high


def test_bootstrap_ci_of_a_constant_is_a_point():
    ci = bootstrap_ci([0.5] * 20)
    assert (ci.low, ci.estimate, ci.high) == (0.5, 0.5, 0.5)


def test_bootstrap_ci_with_a_corpus_level_callable():
    rng = np.random.default_rng(1)
    hits, lengths = rng.integers(0, 5, 300), rng.integers(5, 10, 300)

    def ratio(idx):  # a corpus statistic: sum of hits / sum of lengths
        return hits[idx].sum() / lengths[idx].sum()

    ci = bootstrap_ci(ratio, n=300, n_boot=500, seed=0)
    assert ci.estimate == pytest.approx(hits.sum() / lengths.sum())
    assert ci.low < ci.estimate < ci.high
    assert bootstrap_ci(ratio, n=300, n_boot=500, seed=0) == ci
    with pytest.raises(DataError, match="needs n"):
        bootstrap_ci(ratio)


def test_bootstrap_cis_share_resamples():
    a = np.arange(50, dtype=float)
    cis = bootstrap_cis({"a": a, "twice_a": 2 * a}, n_boot=300, seed=0)
    assert cis["twice_a"].low == pytest.approx(2 * cis["a"].low)
    assert cis["twice_a"].high == pytest.approx(2 * cis["a"].high)
    with pytest.raises(DataError, match="differ in length"):
        bootstrap_cis({"a": a, "b": a[:10]})


def test_bootstrap_input_errors():
    with pytest.raises(DataError, match="NaN"):
        bootstrap_ci([0.1, float("nan")])
    with pytest.raises(DataError, match="at least one"):
        bootstrap_ci([])
    with pytest.raises(DataError, match="alpha"):
        bootstrap_ci([1.0, 2.0], alpha=1.5)
    assert bootstrap_indices(5, 7, seed=0).shape == (7, 5)


def test_permutation_test_detects_a_clear_difference():
    rng = np.random.default_rng(0)
    a = rng.normal(0.5, 0.1, 100)
    b = a - 0.1 + rng.normal(0, 0.02, 100)
    p = paired_permutation_test(a, b, n_perm=2000, seed=0)
    assert p == pytest.approx(1 / 2001)  # no permutation reaches the observed difference


def test_permutation_test_identical_and_null_inputs():
    a = np.random.default_rng(0).normal(size=60)
    assert paired_permutation_test(a, a, n_perm=500) == 1.0
    b = a + np.random.default_rng(1).normal(0, 1, 60)  # same mean in expectation
    p = paired_permutation_test(a, b, n_perm=2000, seed=0)
    assert p > 0.05
    assert paired_permutation_test(a, b, n_perm=2000, seed=0) == p
    with pytest.raises(DataError, match="equal-length"):
        paired_permutation_test(a, b[:10])


def test_subset_context_indexes_per_trial_entries_only():
    ctx = {
        "y_true": np.array([0, 1, 2]),
        "target_bank": np.eye(3),
        "expected_objects": ["a", "b", "c"],
        "class_names": ["x", "y", "z"],
    }
    sub = subset_context(ctx, np.array([2, 2, 0]))
    assert sub["y_true"].tolist() == [2, 2, 0]
    assert sub["expected_objects"] == ["c", "c", "a"]
    assert sub["target_bank"] is ctx["target_bank"] and sub["class_names"] is ctx["class_names"]


def test_default_resampler_routes_through_declared_capabilities():
    hyps = ["the cat sat on the mat", "a dog runs", "a red car", "two birds fly"]
    refs = ["the cat sat on a mat", "a dog is running", "a blue car", "birds fly high"]
    idx = np.array([1, 1, 3, 0])
    sub_h, sub_r = [hyps[i] for i in idx], [refs[i] for i in idx]
    # sentence statistics (BLEU's n-gram counts) and per-item means (ROUGE)
    for name in ("bleu", "rouge"):
        metric = eegbench.get("metrics", name).build()
        fn = metric.resampler(hyps, refs)
        assert fn(idx) == pytest.approx(metric.compute(sub_h, sub_r))
        assert fn(np.arange(4)) == pytest.approx(metric.compute(hyps, refs))

    class CorpusOnly(Metric):  # neither: the default recomputes on the subset
        outputs = {"n_long": True, "y": True}

        def compute(self, predictions, references, **ctx):
            n_long = float(sum(len(p) > 10 for p in predictions))
            return {"n_long": n_long, "y": ctx["y_true"].sum()}

    metric = CorpusOnly()
    assert metric.per_item(hyps, refs) is None and metric.sentence_stats(hyps, refs) is None
    with pytest.raises(NotImplementedError):
        metric.from_stats(np.zeros(3))
    fn = metric.resampler(hyps, refs, y_true=np.arange(4))
    assert fn(idx) == {"n_long": 2.0, "y": 5}


def test_bleu_bootstrap_end_to_end():
    rng = np.random.default_rng(0)
    words = "a the dog cat car red blue runs sits on in park grass".split()
    refs = [" ".join(rng.choice(words, 8)) for _ in range(60)]
    hyps = [" ".join(r.split()[:4] + list(rng.choice(words, 4))) for r in refs]
    bleu = eegbench.get("metrics", "bleu").build()
    cis = bootstrap_cis(bleu.resampler(hyps, refs), n=60, n_boot=300, seed=0)
    assert cis["bleu_4"].estimate == pytest.approx(bleu.compute(hyps, refs)["bleu_4"])
    for ci in cis.values():
        assert 0 <= ci.low <= ci.estimate <= ci.high <= 1


def test_cluster_bootstrap_covers_where_trial_bootstrap_does_not():
    """95% intervals on 60 images x 6 trials whose scores share an image effect (ICC 0.5).

    benchmarks/cluster_coverage.py measures the same for corpus BLEU and ROUGE-L of captions.
    """
    rng = np.random.default_rng(0)
    g, m, repeats, truth = 60, 6, 1000, 0.4
    clusters = np.repeat(np.arange(g), m)
    covered = {"trial": 0, "image": 0}
    for r in range(repeats):
        values = truth + 0.1 * rng.standard_normal(g)[clusters] + 0.1 * rng.standard_normal(g * m)
        for unit, cl in (("trial", None), ("image", clusters)):
            ci = bootstrap_ci(values, n_boot=500, seed=r, clusters=cl)
            covered[unit] += ci.low <= truth <= ci.high
    assert covered["image"] / repeats >= 0.93
    assert covered["trial"] / repeats < 0.80


def test_cluster_bootstrap_draws_whole_clusters():
    clusters = np.array([5, 5, 7, 9, 9, 9])
    rows = cluster_bootstrap_indices(clusters, n_boot=50, seed=0)
    for row in rows:
        drawn = clusters[row]
        for c in np.unique(drawn):  # each drawn cluster comes with all of its trials
            assert (drawn == c).sum() % (clusters == c).sum() == 0
    # a callable sees the same draws as the vectorised mean
    values = np.array([1.0, 1.0, 0.0, 0.5, 0.5, 0.5])
    a = bootstrap_ci(values, n_boot=200, seed=1, clusters=clusters)
    b = bootstrap_ci(lambda idx: values[idx].mean(), n=6, n_boot=200, seed=1, clusters=clusters)
    assert a.estimate == b.estimate
    assert (a.low, a.high) == pytest.approx((b.low, b.high))
    with pytest.raises(DataError, match="one id per trial"):
        bootstrap_ci(values, clusters=clusters[:3])


def test_cluster_permutation_test_is_exact_over_cluster_flips():
    # 3 clusters of 2 trials: 2**3 sign patterns; the observed one is the most extreme
    a = np.array([1.0, 1.0, 0.5, 0.5, 0.8, 0.8])
    b = np.zeros(6)
    clusters = np.array([0, 0, 1, 1, 2, 2])
    p = paired_permutation_test(a, b, n_perm=20000, seed=0, clusters=clusters)
    assert p == pytest.approx(2 / 8, abs=0.01)
    assert paired_permutation_test(a, b, n_perm=2000, seed=0) < 0.05  # trials: overconfident


def test_paired_delta_per_trial_and_callable_agree():
    rng = np.random.default_rng(3)
    clusters = np.repeat(np.arange(20), 3)
    a = rng.normal(0.6, 0.1, 60)
    b = a - 0.05 + rng.normal(0, 0.05, 60)
    joint = np.concatenate([a, b])
    fast = paired_delta({"x": joint}, 60, clusters=clusters, n_boot=300, n_perm=300)["x"]
    slow = paired_delta(
        lambda idx: {"x": joint[idx].mean()}, 60, clusters=clusters, n_boot=300, n_perm=300
    )["x"]
    assert fast.estimate == pytest.approx(0.05, abs=0.02)
    assert slow.estimate == pytest.approx(fast.estimate)
    assert fast.low < fast.estimate < fast.high and slow.low < slow.estimate < slow.high
    assert fast.p < 0.01 and slow.p < 0.01
    assert fast.as_dict() == {"value": fast.estimate, "ci": [fast.low, fast.high], "p": fast.p}


def test_every_kind_of_trial_scores_goes_through_the_same_loops():
    """A mean over trials given as per-trial values, as sentence statistics and as a callable:
    the same estimates, and (same draws) the same intervals and p-values up to rounding."""
    rng = np.random.default_rng(4)
    n, clusters = 40, np.repeat(np.arange(10), 4)
    hits = rng.integers(0, 2, size=2 * n)
    kinds = [
        TrialValues({"m": hits}),
        SentenceStats(np.stack([hits, np.ones_like(hits)], axis=1), lambda t: {"m": t[0] / t[1]}),
        CorpusScores(lambda idx: {"m": hits[idx].mean()}),
    ]
    assert [k.test for k in kinds] == [SIGN_FLIP, SWAP, SWAP]
    for cl in (None, clusters):
        both = None if cl is None else np.concatenate([cl, cl + 10])
        cis = [bootstrap_cis(k, 2 * n, n_boot=200, seed=1, clusters=both)["m"] for k in kinds]
        assert cis[0].estimate == cis[1].estimate == cis[2].estimate == hits.mean()
        for ci in cis[1:]:
            assert (ci.low, ci.high) == pytest.approx((cis[0].low, cis[0].high))
        deltas = [paired_delta(k, n, clusters=cl, n_boot=100, n_perm=400)["m"] for k in kinds]
        assert deltas[1].p == deltas[2].p  # the same swaps
        for d in deltas:
            assert d.estimate == pytest.approx(hits[:n].mean() - hits[n:].mean())
            assert d.p == pytest.approx(deltas[0].p, abs=0.1)  # sign flips: other draws


def test_joint_trial_scores_concatenates_scores_of_one_kind():
    bleu = eegbench.get("metrics", "bleu").build()
    hyps, refs = ["a red car", "the dog runs"], ["a blue car", "a dog runs"]
    a, b = trial_scores(bleu, hyps, refs), trial_scores(bleu, hyps[::-1], refs)
    assert isinstance(a, SentenceStats) and isinstance(as_trial_scores(a), SentenceStats)
    joint = joint_trial_scores(bleu, hyps, hyps[::-1], refs, {}, {}, a, b)
    assert isinstance(joint, SentenceStats) and joint.n == 4
    assert joint.score(np.arange(2)) == pytest.approx(bleu.compute(hyps, refs))
    values = TrialValues({"x": [1.0, 0.0]})
    joint = joint_trial_scores(bleu, hyps, hyps, refs, {}, {}, values, TrialValues({"x": [1.0]}))
    assert isinstance(joint, TrialValues) and joint["x"].tolist() == [1.0, 0.0, 1.0]
    assert isinstance(as_trial_scores(lambda idx: {"x": 0.0}), CorpusScores)
