"""Ground truth on EEGData (attributes, words, describe) and the attributes/probe metric plugins."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import eegbench
from eegbench.api import DataError, EEGData
from eegbench.cli import cli
from eegbench.evaluation.predictions import read_predictions

WORDS = {
    "colour": {"red": ["red"], "blue": ["blue", "navy"]},
    "setting": {"park": ["park"], "living room": ["living room"]},
}


def ctx(colours, settings, **extra):
    return {
        "attributes": {"colour": np.array(colours, object), "setting": np.array(settings, object)},
        "attribute_words": WORDS,
        **extra,
    }


def test_hit_needs_the_true_word_and_no_wrong_one():
    caps = [
        "A red dog in a park.",  # both right
        "A navy cat in the Living Room.",  # a synonym, case-insensitive phrase
        "A red and blue car in a park.",  # two colours: not a hit
        "A reddish bird near a parking lot.",  # no whole word
    ]
    metric = eegbench.get("metrics", "attributes").build()
    per = metric.per_item(
        caps,
        None,
        **ctx(["red", "blue", "red", "red"], ["park", "living room", "park", "park"]),
    )
    assert per["hit_colour"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert per["hit_setting"].tolist() == [1.0, 1.0, 1.0, 0.0]
    values = metric.compute(caps, None, **ctx(["red"] * 4, ["park"] * 4))
    assert values == {"hit_colour": 0.25, "hit_setting": 0.5}


def test_template_oracles_at_the_run_accuracy_and_from_the_truth():
    metric = eegbench.get("metrics", "attributes").build()

    def describe(k, values):
        return f"{['dog', 'cat'][k]} {values['colour']} {values['setting']}"

    c = ctx(
        ["blue", "red"],
        ["park", "living room"],
        describe=describe,
        y_true=np.array([0, 1]),
        logits=np.array([[0.0, 1.0], [0.0, 1.0]]),  # trial 0 misclassified as cat
        train_y=np.array([0, 0, 0, 1, 1]),
        train_attributes={
            "colour": np.array(["red", "red", "blue", "blue", "blue"], object),
            "setting": np.array(["park", "park", "living room", "park", "living room"], object),
        },
    )
    rows = metric.oracles(["r1", "r2"], **c)
    assert list(rows) == ["template_prior", "template_attributes_at_accuracy", "template_truth"]
    # cat's training trials: colour blue (2 of 2); setting tie 1:1 -> the overall mode (park)
    assert rows["template_prior"].captions == ["cat blue park", "cat blue park"]
    assert rows["template_attributes_at_accuracy"].captions == [
        "cat blue park",
        "cat red living room",
    ]
    assert rows["template_truth"].captions == ["dog blue park", "cat red living room"]
    assert metric.oracles(["r1", "r2"], **{**c, "describe": None}) == {}


def test_probe_decodes_what_the_embeddings_carry():
    rng = np.random.default_rng(0)
    n_train, n_test = 200, 60
    colour = rng.integers(0, 2, n_train + n_test)
    setting = rng.integers(0, 2, n_train + n_test)
    emb = rng.normal(size=(n_train + n_test, 8))
    emb[:, 0] += 3 * colour  # colour is linearly decodable, setting is not
    names_c, names_s = np.array(["red", "blue"], object), np.array(["park", "living room"], object)
    metric = eegbench.get("metrics", "probe").build()
    out = metric.compute(
        None,
        None,
        embeddings=emb[n_train:],
        train_embeddings=emb[:n_train],
        **ctx(names_c[colour[n_train:]], names_s[setting[n_train:]]),
        train_attributes={
            "colour": names_c[colour[:n_train]],
            "setting": names_s[setting[:n_train]],
        },
    )
    assert out["probe_colour"] > 0.85 and 0.25 < out["probe_setting"] < 0.75
    with pytest.raises(DataError, match="train_embeddings"):
        metric.compute(None, None, embeddings=emb, **ctx(["red"], ["park"]))


def test_eegdata_validates_ground_truth():
    def data(**kw):
        return EEGData(
            X=np.zeros((4, 2, 8), np.float32),
            y=np.array([0, 0, 1, 1]),
            image=np.array([0, 1, 2, 3]),
            subject=np.zeros(4, int),
            splits={"train": np.array([0, 1]), "val": np.array([2]), "test": np.array([3])},
            class_names=["a", "b"],
            image_names=["i0", "i1", "i2", "i3"],
            sfreq=100.0,
            ch_names=["C3", "C4"],
            **kw,
        ).validate()

    ok = data(attributes={"colour": ["red"] * 4}, attribute_words={"colour": {"red": ["red"]}})
    assert ok.trial_attributes(np.array([3, 0]))["colour"].tolist() == ["red", "red"]
    assert ok.clusters.tolist() == [0, 1, 2, 3]
    with pytest.raises(DataError, match="must list the words"):
        data(attributes={"colour": ["red"] * 4})
    with pytest.raises(DataError, match="have no entry"):
        data(attributes={"colour": ["red"] * 4}, attribute_words={"colour": {"blue": ["blue"]}})
    with pytest.raises(DataError, match="3 values for 4 images"):
        data(attributes={"colour": ["red"] * 3}, attribute_words={"colour": {"red": ["red"]}})
    with pytest.raises(DataError, match="need attributes"):
        data(describe=lambda k, v: "x")
    with pytest.raises(DataError, match="cluster must have shape"):
        data(cluster=np.zeros(3))
    assert data(cluster=np.array([0, 0, 1, 1]), cluster_unit="subject").clusters.tolist() == [
        0,
        0,
        1,
        1,
    ]


@pytest.mark.slow
def test_run_with_all_controls_records_deltas_ground_truth_and_oracles(tmp_path, tiny):
    res = CliRunner().invoke(
        cli,
        ["--quiet", "run", *tiny, "stage1.epochs=1", "threads=1", "eval.controls=all",
         "run_name=gt"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + repr(res.exception)
    run = tmp_path / "runs" / "gt"
    r = json.loads((run / "results.json").read_text())
    full = read_predictions(run / "predictions.csv")
    controls = ["only_obj", "obj_random_eeg", "only_eeg", "shuffled_eeg", "mean_eeg", "noise"]
    controls += ["t2t_only_obj", "t2t_random_eeg"]  # Thought2Text's own, as its code runs them
    assert list(r["controls"]) == controls
    for name in controls:
        preds = read_predictions(run / f"predictions_{name}.csv")
        assert preds.image == full.image and preds.reference == full.reference
        ctl = r["controls"][name]
        assert set(ctl["delta"]) == set(ctl["metrics"])
        for key, d in ctl["delta"].items():
            assert d["value"] == pytest.approx(
                r["metrics"][key]["value"] - ctl["metrics"][key]["value"], abs=1e-9
            )
            assert d["ci"][0] <= d["ci"][1] and 0 < d["p"] <= 1
        assert {"hit_colour", "hit_setting", "bleu_4"} <= set(ctl["metrics"])
    assert read_predictions(run / "predictions_only_eeg.csv").predicted_object[0] == ""
    assert {"probe_colour", "probe_setting"} <= set(r["controls"]["noise"]["metrics"])
    for key in ("hit_colour", "hit_setting", "probe_colour", "probe_setting"):
        assert 0 <= r["metrics"][key]["value"] <= 1 and "ci" in r["metrics"][key]
    oracles = r["oracles"]
    assert {o: oracles[o]["role"] for o in oracles} == {
        "target_embedding": "ceiling",
        "template_prior": "",
        "template_attributes_at_accuracy": "",
        "template_truth": "",
    }
    assert oracles["template_truth"]["metrics"]["hit_colour"]["value"] == 1.0
    ceiling = read_predictions(run / "predictions_target_embedding.csv")
    assert ceiling.predicted_object == full.predicted_object  # the run's labels, true targets
    # a 1-epoch encoder and a 10-step LM: the ceiling need not beat the floor; where it does,
    # the headroom runs from the label-only control (0) to the target-embedding oracle (1)
    for key, value in r.get("headroom", {}).items():
        hi = oracles["target_embedding"]["metrics"][key]["value"]
        lo = r["controls"]["only_obj"]["metrics"][key]["value"]
        assert hi > lo and value == pytest.approx((r["metrics"][key]["value"] - lo) / (hi - lo))
        assert r["controls"]["only_obj"]["headroom"][key] == 0.0
    stats = r["statistics"]
    assert stats["cluster_unit"] == "image" and stats["n_clusters"] == 6
    assert len(stats["clusters"]) == len(full)
    res = CliRunner().invoke(
        cli, ["compare", str(run), "--control", "only_obj", "--n-perm", "200", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["n_clusters"] == 6
