"""Several references per image: the EEGData contract, every caption metric against the
libraries with several references, prediction files with several reference columns, and
``eegbench score`` on them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import eegbench
from eegbench.contract.errors import DataError

HYPS = ["a big dog runs on the grass.", "the auto is red", "two cats sleep on a sofa", "a bird"]
REFS = [
    ["a large dog is running on grass.", "a dog runs across a lawn.", "the brown dog plays."],
    ["the car is red.", "a red automobile parked outside.", "a shiny red car."],
    ["a cat sleeps on a couch.", "two kittens sleeping on a sofa.", "cats resting indoors."],
    ["a small bird on a branch.", "a bird sits in a tree.", "a sparrow."],
]


def build(name: str, **params):
    return eegbench.get("metrics", name).build(**params)


def test_bleu_equals_sacrebleu_with_every_reference():
    from sacrebleu.metrics import BLEU

    streams = [[refs[j] for refs in REFS] for j in range(3)]
    for n in (1, 4):
        expected = BLEU(max_ngram_order=n).corpus_score(HYPS, streams).score / 100
        assert build("bleu").compute(HYPS, REFS)[f"bleu_{n}"] == pytest.approx(expected, abs=1e-12)
    assert build("bleu").compute(HYPS, REFS) != build("bleu").compute(HYPS, [r[0] for r in REFS])


def test_rouge_equals_rouge_score_multi():
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    rows = [scorer.score_multi(refs, hyp) for hyp, refs in zip(HYPS, REFS)]
    out = build("rouge").compute(HYPS, REFS)
    for key, lib in (("rouge_1", "rouge1"), ("rouge_2", "rouge2"), ("rouge_l", "rougeL")):
        assert out[key] == pytest.approx(np.mean([r[lib].fmeasure for r in rows]), abs=1e-12)


def test_meteor_equals_nltk_meteor_score():
    from eegbench_plugins.metrics.nltk_data import wordnet_reader
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import meteor_score

    metric = build("meteor")
    per = metric.per_item(HYPS, REFS)["meteor"]
    wordnet = wordnet_reader()
    expected = [
        meteor_score([word_tokenize(r) for r in refs], word_tokenize(hyp), wordnet=wordnet)
        for hyp, refs in zip(HYPS, REFS)
    ]
    assert per.tolist() == expected  # exact


def test_cider_equals_pycocoevalcap_with_every_reference():
    from pycocoevalcap.cider.cider import Cider

    def tok(text: str) -> str:
        return " ".join(text.lower().split())

    gts = {i: [tok(r) for r in refs] for i, refs in enumerate(REFS)}
    res = {i: [tok(h)] for i, h in enumerate(HYPS)}
    expected, _ = Cider().compute_score(gts, res)
    got = build("cider", tokenize="lower").compute(HYPS, REFS)["cider"]
    assert got == pytest.approx(expected, abs=1e-12)


def test_thought2text_protocol_with_several_references():
    from eegbench_plugins.metrics.nltk_data import wordnet_reader
    from nltk.tokenize import word_tokenize
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    from nltk.translate.meteor_score import meteor_score
    from rouge import Rouge

    refs = [REFS[0], REFS[1][:1], *REFS[2:]]  # one trial with a single reference
    per = build("protocol:thought2text").per_item(HYPS, refs)
    smooth = SmoothingFunction().method4
    for i, (hyp, rs) in enumerate(zip(HYPS, refs)):
        split = [[r.split() for r in rs]]
        assert per["bleu_4"][i] == corpus_bleu(split, [hyp.split()], smoothing_function=smooth)
        bleu_1 = corpus_bleu(split, [hyp.split()], weights=(1, 0, 0, 0), smoothing_function=smooth)
        assert per["bleu_1"][i] == bleu_1
        rouge = [Rouge().get_scores(hyp, r, avg=True) for r in rs]
        for key in ("1", "2", "l"):
            assert per[f"rouge_{key}"][i] == max(x[f"rouge-{key}"]["f"] for x in rouge)
        tokens = [word_tokenize(r) for r in rs]
        expected = meteor_score(tokens, word_tokenize(hyp), wordnet=wordnet_reader())
        assert per["meteor"][i] == expected


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="pycocoevalcap's METEOR 1.5 needs Java")
def test_coco_protocol_with_several_references():
    from eegbench_plugins.metrics.text import ptb_tokenize
    from pycocoevalcap.cider.cider import Cider

    flat = ptb_tokenize([*HYPS, *(r for refs in REFS for r in refs)])
    res = {i: [h] for i, h in enumerate(flat[: len(HYPS)])}
    gts = {i: flat[len(HYPS) + 3 * i : len(HYPS) + 3 * i + 3] for i in range(len(REFS))}
    out = build("protocol:coco").compute(HYPS, REFS)
    assert out["cider"] == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-12)


def test_eegdata_references_contract():
    from eegbench_plugins.datasets.synthetic import SyntheticParams, make_synthetic

    data = make_synthetic(
        SyntheticParams(n_classes=4, images_per_class=4, n_subjects=1, repetitions=1, seed=0)
    )
    assert data.image_references() == [[c] for c in data.captions]
    data.references = [[c, f"another caption of {c}"] for c in data.captions]
    assert data.validate().image_references()[0][1].startswith("another caption")
    for bad, says in [
        (data.references[:-1], "reference lists for"),
        ([[]] + data.references[1:], r"references\[0\] must be a non-empty list"),
        (["a caption"] + data.references[1:], r"references\[0\] must be a non-empty list"),
    ]:
        data.references = bad
        with pytest.raises(DataError, match=says):
            data.validate()


def test_the_evaluation_gives_every_reference_to_metrics_that_take_them():
    from eegbench_plugins.datasets.synthetic import SyntheticParams, make_synthetic

    from eegbench.evaluation.harness import TestSet

    data = make_synthetic(
        SyntheticParams(n_classes=4, images_per_class=4, n_subjects=1, repetitions=1, seed=0)
    )
    test = data.splits["test"]
    single = TestSet(data, test, np.zeros((len(data.image_names), 2)))
    assert single.references_for(build("bleu")) == single.references  # no references: captions
    data.references = [[c, c.upper()] for c in data.captions]
    several = TestSet(data, test, np.zeros((len(data.image_names), 2)))
    bleu = several.references_for(build("bleu"))
    assert bleu == [[data.captions[i], data.captions[i].upper()] for i in data.image[test]]
    assert several.references_for(build("accuracy")) == several.references  # one caption


def test_prediction_files_keep_several_references_and_score_reads_them(tmp_path):
    from eegbench.evaluation.predictions import Predictions, read_predictions, write_predictions
    from eegbench.evaluation.scoring import score_file

    n = len(HYPS)
    preds = Predictions(
        image=[f"img{i}" for i in range(n)],
        expected_object=["dog", "car", "cat", "bird"],
        predicted_object=["dog", "car", "dog", "bird"],
        reference=[r[0] for r in REFS],
        generated=HYPS,
        more_references=[REFS[0][1:], REFS[1][1:2], [], REFS[3][1:]],  # 3, 2, 1, 3 references
    )
    path = write_predictions(preds, tmp_path / "predictions.csv")
    header = path.read_text().splitlines()[0]
    assert header.endswith("Generated Caption,Expected Caption 2,Expected Caption 3")
    back = read_predictions(path)
    assert back.references == [REFS[0], REFS[1][:2], REFS[2][:1], REFS[3]]
    scores = score_file(path, "thought2text")
    expected = build("protocol:thought2text").compute(
        HYPS,
        back.references,
        expected_objects=preds.expected_object,
        predicted_objects=preds.predicted_object,
    )
    assert scores == expected and scores["accuracy"] == 0.75
    one_ref = build("protocol:thought2text").compute(HYPS, preds.reference)
    assert scores["bleu_1"] != one_ref["bleu_1"]
    from eegbench.cli import cli

    res = CliRunner().invoke(cli, ["score", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1]) == pytest.approx(scores)


def test_mne_epochs_reads_further_caption_columns(tmp_path):
    import mne
    import pandas as pd
    from eegbench_plugins.datasets.mne_epochs import MNEEpochsParams, load_mne_epochs

    n = 24
    rng = np.random.default_rng(0)
    images = [f"img{i % 12}" for i in range(n)]
    table = pd.DataFrame(
        {
            "image": images,
            "caption": [f"first of {im}" for im in images],
            "caption_2": [f"second of {im}" for im in images],
            "caption_3": ["" if im == "img0" else f"third of {im}" for im in images],
        }
    )
    events = np.c_[np.arange(n) * 100, np.zeros(n, int), [1, 2] * (n // 2)]
    epochs = mne.EpochsArray(
        rng.normal(size=(n, 2, 32)) * 1e-6,
        mne.create_info(["O1", "O2"], 100.0, "eeg"),
        events,
        event_id={"cat": 1, "dog": 2},
        metadata=table,
        verbose="error",
    )
    path = tmp_path / "x-epo.fif"
    epochs.save(path, verbose="error")
    data = load_mne_epochs(MNEEpochsParams(path=str(path), cache=False))
    first = data.image_names.index("img0"), data.image_names.index("img5")
    assert data.references[first[0]] == ["first of img0", "second of img0"]
    assert data.references[first[1]] == ["first of img5", "second of img5", "third of img5"]
    assert data.captions[first[1]] == "first of img5"  # the caption trained on
