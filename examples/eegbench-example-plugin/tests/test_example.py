"""The plugin's own tests: run them with `python -m pytest tests` after `pip install -e .`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eegbench_example.metric import distinct_n

import eegbench
from eegbench.api import BuildContext, ConfigError, Metric


def test_every_kind_registered_by_name():
    entry = eegbench.get("encoders", "example-tcn")
    assert entry.defaults() == {"hidden": 32, "kernel": 7, "levels": 3, "dropout": 0.1}
    assert "Bai" in entry.citation
    for kind, name in (
        ("datasets", "example-shapes"),
        ("targets", "example-bow"),
        ("llms", "example-wordlm"),
        ("metrics", "distinct"),
    ):
        assert name in eegbench.registry(kind).names()
        assert eegbench.get(kind, name).citation


def test_encoder_shape_and_features():
    enc = eegbench.get("encoders", "example-tcn").build(8, 64, hidden=16)
    assert enc(torch.randn(4, 8, 64)).shape == (4, enc.n_features) == (4, 16)
    with pytest.raises(ConfigError):
        eegbench.get("encoders", "example-tcn").build(8, 64, hidden="many")
    with pytest.raises(ConfigError, match="must be odd"):
        eegbench.get("encoders", "example-tcn").build(8, 64, kernel=4)


def test_dataset_captions_attributes_and_splits():
    data = eegbench.get("datasets", "example-shapes").build(n_classes=2, images_per_class=4)
    assert data.X.shape == (2 * 4 * 4, 8, 64) and data.class_names == ["circle", "square"]
    colours = data.info["ground_truth"]["attributes"]["colour"]
    assert len(colours) == len(data.captions) == 8
    for caption, colour, k in zip(data.captions, colours, [0] * 4 + [1] * 4):
        assert caption == f"a {colour} {data.class_names[k]}."
    split_images = {k: set(data.image[v]) for k, v in data.splits.items()}
    assert not split_images["train"] & split_images["test"]
    assert len(split_images["test"]) == 2 and len(split_images["val"]) == 2


def test_target_is_a_normalised_hashed_bag_of_words():
    target = eegbench.get("targets", "example-bow").build(dim=16)
    emb = target.embed(["a red circle.", "A RED circle", "a blue square."])
    assert emb.shape == (3, 16) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)
    assert np.allclose(emb[0], emb[1])  # case and punctuation do not matter
    assert target.cache_key != eegbench.get("targets", "example-bow").build(dim=32).cache_key


def test_llm_is_built_from_the_training_captions_and_cached(tmp_path):
    data = eegbench.get("datasets", "example-shapes").build()
    llm = eegbench.get("llms", "example-wordlm").build(BuildContext(data, tmp_path, 0), steps=5)
    assert llm.d_model == 32
    ids = llm.encode("a red circle .")
    assert llm.decode(ids) == "a red circle ."
    assert llm.encode("a purple circle")[1] == llm.tokenizer.unk_token_id  # not a training word
    again = eegbench.get("llms", "example-wordlm").build(BuildContext(data, tmp_path, 0), steps=5)
    assert len(list((tmp_path / "llms").iterdir())) == 1  # cached, not retrained
    assert again.encode("a red circle .") == ids


def test_distinct_by_hand():
    caps = ["a red dog", "a red cat"]
    assert distinct_n(caps, 1) == 4 / 6  # a, red, dog, cat
    assert distinct_n(caps, 2) == 3 / 4  # (a red), (red dog), (red cat)
    metric = eegbench.get("metrics", "distinct").build()
    assert isinstance(metric, Metric) and metric.per_item(caps, caps) is None
    assert metric.compute(caps, ["", ""]) == {"distinct_1": 4 / 6, "distinct_2": 3 / 4}
    upper = eegbench.get("metrics", "distinct").build(lowercase=False)
    assert upper.compute(["A dog", "a dog"], ["", ""])["distinct_1"] == 3 / 4
