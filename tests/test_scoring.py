"""Prediction CSVs, the Thought2Text / COCO protocols and the ``score`` command."""

from __future__ import annotations

import json
import math
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from eegbench_plugins.metrics.protocols import clean_caption

import eegbench
from eegbench import ConfigError, DataError
from eegbench.cli.results import score
from eegbench.evaluation.predictions import Predictions, read_predictions, write_predictions
from eegbench.evaluation.scoring import score_file

HEADER = ",Ground Truth Image,Expected object,Predicted object,Expected Caption,Generated Caption\n"
# Written as Thought2Text's inference scripts write it (pandas to_csv with the index).
T2T_CSV = HEADER + (
    "0,n02124075_1.JPEG,cat,cat,the cat sat on the mat,the cat sat on the mat\n"
    "1,n02124075_2.JPEG,dog,cat,the cat sat on the mat,\n"
    '2,n03100240_3.JPEG,car,car,a red car,"A red car. A red car."\n'
    "3,n02106662_4.JPEG,dog,dog,a dog,?\n"
)


@pytest.fixture
def t2t_csv(tmp_path):
    path = tmp_path / "results_model_all.csv"
    path.write_text(T2T_CSV, encoding="utf-8")
    return path


# --- clean-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", "No response."),
        ("   \n", "No response."),
        (None, "No response."),
        (float("nan"), "No response."),
        ("@@@ ###", "No response."),  # nothing left after the character filter
        ("?", "No response"),  # a one-character result
        ("Hello world! Hello world! Bye.", "Hello world!"),
        ("A  dog\n runs.   It barks.", "A dog runs."),
        ("Caf\u00e9 \u2615 time.", "Caf time."),
        ("Wait... what? ok", "Wait..."),
        ('<s>A [red] car (fast); "yes" - ok.</s> More.', 'sA [red] car (fast); "yes" - ok.s More.'),
    ],
)
def test_thought2text_clean_up(raw, clean):
    assert clean_caption(raw) == clean


# --- prediction files -------------------------------------------------------------------------


def test_read_thought2text_csv(t2t_csv):
    p = read_predictions(t2t_csv)
    assert len(p) == 4
    assert p.image[0] == "n02124075_1.JPEG"
    assert p.expected_object == ["cat", "dog", "car", "dog"]
    assert p.predicted_object == ["cat", "cat", "car", "dog"]
    assert p.generated[1] == ""  # an empty cell is an empty caption, not NaN
    assert p.generated[2] == "A red car. A red car."


def test_csv_round_trip(tmp_path):
    preds = Predictions(
        image=["a.JPEG", "b.JPEG"],
        expected_object=["dog", "fruits and vegetables"],
        predicted_object=["cat", "fruits and vegetables"],
        reference=['A dog, "running".', "Apples\nand pears."],
        generated=["", "Caf\u00e9, 3 pears; ok"],
    )
    path = write_predictions(preds, tmp_path / "sub" / "preds.csv")
    assert path.read_text(encoding="utf-8").startswith(HEADER.strip())
    assert read_predictions(path) == preds
    assert [f.name for f in path.parent.iterdir()] == ["preds.csv"]  # no temp file left


def test_predictions_length_mismatch():
    with pytest.raises(DataError, match="differ in length"):
        Predictions(
            image=["a"], expected_object=[], predicted_object=[], reference=[], generated=[]
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (HEADER.encode(), "no rows"),
        (
            b",Ground Truth Image,Expected object,Expected Caption,Generated Caption\n0,a,b,c,d\n",
            "lacks column(s) 'Predicted object'",
        ),
        (HEADER.encode() + b"0,a,b,c,d,e\n1,a,b,c,d,e,f,g,h\n", "not a valid CSV"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\xfa", "not UTF-8"),
    ],
)
def test_bad_csv_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(message)) as err:
        read_predictions(path)
    assert "\n" not in str(err.value)


def test_missing_file_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_predictions(tmp_path / "nope.csv")


# --- the thought2text protocol ----------------------------------------------------------------


def test_thought2text_protocol_known_values(t2t_csv):
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    from rouge import Rouge

    out = score_file(t2t_csv, "thought2text")
    assert set(out) == {"bleu_1", "bleu_4", "rouge_1", "rouge_2", "rouge_l", "meteor", "accuracy"}
    # row 0 identical; rows 1 ("No response.") and 3 ("No response") share no word with the
    # reference; row 2 is "A red car." vs "a red car": split() matches only "red" (1/3, BP 1)
    assert out["bleu_1"] == pytest.approx((1 + 0 + 1 / 3 + 0) / 4)
    # METEOR: row 0 one chunk of 6 -> 1 - .5/216; row 2: tokens a red car . vs a red car,
    # P = 3/4, R = 1, Fmean = 10PR/(R+9P), one chunk of 3 -> penalty .5/27
    fmean = 10 * 0.75 / (1 + 9 * 0.75)
    assert out["meteor"] == pytest.approx((1 - 0.5 / 216 + fmean * (1 - 0.5 / 27)) / 4)
    assert out["accuracy"] == pytest.approx(0.75)
    # against the reference libraries called directly, as the notebook does
    smooth = SmoothingFunction().method4
    cands = ["the cat sat on the mat", "No response.", "A red car.", "No response"]
    refs = ["the cat sat on the mat", "the cat sat on the mat", "a red car", "a dog"]
    b4 = [
        corpus_bleu([[r.split()]], [c.split()], smoothing_function=smooth)
        for c, r in zip(cands, refs)
    ]
    assert out["bleu_4"] == pytest.approx(np.mean(b4))
    rs = [Rouge().get_scores(c, r, avg=True) for c, r in zip(cands, refs)]
    for key, name in (("rouge_1", "rouge-1"), ("rouge_2", "rouge-2"), ("rouge_l", "rouge-l")):
        assert out[key] == pytest.approx(np.mean([s[name]["f"] for s in rs]))
    # `rouge` drops punctuation but keeps case: row 2 matches "red", "car" of 3 words each
    assert out["rouge_1"] == pytest.approx((1 + 0 + 2 / 3 + 0) / 4, abs=1e-6)


def test_thought2text_accuracy_from_logits():
    proto = eegbench.get("metrics", "protocol:thought2text").build()
    logits = np.array([[2.0, 1.0], [2.0, 1.0], [0.0, 1.0]])
    out = proto.compute(
        ["a cat", "a cat", "a dog"],
        ["a cat", "a dog", "a dog"],
        y_true=np.array([0, 1, 1]),
        logits=logits,
        class_names=["cat", "dog"],
    )
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert "accuracy" not in proto.compute(["a cat"], ["a cat"])


def test_unknown_protocol(t2t_csv):
    with pytest.raises(ConfigError, match="unknown protocol 'cocoa'.*thought2text"):
        score_file(t2t_csv, "cocoa")


# --- the CLI command --------------------------------------------------------------------------


def test_score_command_json_and_saved_file(t2t_csv):
    result = CliRunner().invoke(score, [str(t2t_csv), "--format", "json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == pytest.approx(score_file(t2t_csv))
    saved = t2t_csv.with_name("results_model_all.scores.json")
    assert json.loads(saved.read_text()) == printed


def test_score_command_table_and_out(t2t_csv, tmp_path):
    out = tmp_path / "o" / "s.json"
    result = CliRunner().invoke(score, [str(t2t_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "meteor" in result.stdout and "0.7500" in result.stdout  # accuracy row
    assert math.isclose(json.loads(out.read_text())["accuracy"], 0.75)
    assert not t2t_csv.with_name("results_model_all.scores.json").exists()


def test_score_command_bad_file_raises_eegbench_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(score, [str(bad)])
    assert isinstance(result.exception, DataError)


# --- the coco protocol (Java: PTB tokenizer + METEOR 1.5 jar) ---------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")
def test_coco_protocol_matches_pycocoevalcap(t2t_csv):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    out = score_file(t2t_csv, "coco")
    p = read_predictions(t2t_csv)
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r}] for i, r in enumerate(p.reference)})
    res = tok.tokenize({i: [{"caption": g}] for i, g in enumerate(p.generated)})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for n in range(4):
        assert out[f"bleu_{n + 1}"] == pytest.approx(bleu[n])
    assert out["meteor"] == pytest.approx(Meteor().compute_score(gts, res)[0])
    assert out["rouge_l"] == pytest.approx(Rouge().compute_score(gts, res)[0])
    assert out["cider"] == pytest.approx(Cider().compute_score(gts, res)[0])
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["bleu_1"] > 0.3


def test_score_gives_the_notebook_loop_s_numbers_on_distinct_pairs(tmp_path):
    """``score`` on a prediction CSV of distinct pairs (the benchmark's file, the released
    layout) equals the Thought2Text notebook's per-pair library calls, averaged."""
    from benchmarks.score_speed import notebook_loop, write_csv

    path = tmp_path / "predictions.csv"
    write_csv(path, rows=300, repeats=10, unique=True)
    preds = read_predictions(path)
    assert len(set(zip(preds.generated, preds.reference))) == 300
    ours, loop = score_file(path, "thought2text"), notebook_loop(path)
    for key, value in loop.items():
        assert ours[key] == pytest.approx(value, rel=0, abs=1e-12), key


def test_scoring_is_a_pure_function_of_the_condition(tiny_run_dir):
    """Scoring a condition twice, in any order, with paired differences in between, gives the
    same numbers: nothing downstream depends on state an earlier call left behind."""
    from eegbench.contract.metric import CAPTIONS, EMBEDDINGS, LOGITS
    from eegbench.evaluation.controls import IMPLEMENTATIONS, Encoded
    from eegbench.evaluation.harness import Captioner, Scorer, TestSet
    from eegbench.evaluation.scoring import build_metric
    from eegbench.tools.inference import load_run

    pipe = load_run(tiny_run_dir)
    data, cfg = pipe.data, pipe.config
    test = TestSet(data, data.splits["test"], pipe.targets)
    encoded = Encoded(pipe.model, data, test.index, pipe.encoder_precision)
    captioner = Captioner(pipe.parts, cfg.eval)
    real = captioner.caption(encoded.real(), "real")
    label_only = IMPLEMENTATIONS["only_obj"](encoded, real, np.random.default_rng(0))
    label_only = captioner.caption(label_only, "only_obj")
    metrics = {name: build_metric(name, params) for name, params in cfg.metrics.items()}
    ev = Scorer(metrics, test, real, test.shared_context(encoded), cfg.eval.bootstrap, cfg.seed)
    inputs = {CAPTIONS, LOGITS, EMBEDDINGS}

    real_1 = ev.score(real, inputs)
    control_1 = ev.score(label_only, inputs)
    delta_1 = ev.delta(real, real_1, label_only, control_1)
    control_2 = ev.score(label_only, inputs)  # the other order, after a delta
    real_2 = ev.score(real, inputs)
    delta_2 = ev.delta(real, real_2, label_only, control_2)
    assert real_1.outputs == real_2.outputs and control_1.outputs == control_2.outputs
    assert delta_1 == delta_2 and delta_1
    reversed_delta = ev.delta(label_only, control_2, real, real_2)
    assert {k: -v.value for k, v in reversed_delta.items()} == pytest.approx(
        {k: v.value for k, v in delta_1.items()}
    )
    assert not hasattr(real, "material")
