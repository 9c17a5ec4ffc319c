"""The plugin's own tests: run them with `python -m pytest tests` after `pip install -e .`."""

from __future__ import annotations

import pytest
import torch
from eegbench_example.metric import distinct_n

import eegbench


def test_registered_by_name():
    entry = eegbench.get("encoders", "example-tcn")
    assert entry.defaults() == {"hidden": 32, "kernel": 7, "levels": 3, "dropout": 0.1}
    assert "Bai" in entry.citation
    assert "distinct" in eegbench.registry("metrics").names()


def test_encoder_shape_and_features():
    enc = eegbench.get("encoders", "example-tcn").build(8, 64, hidden=16)
    assert enc(torch.randn(4, 8, 64)).shape == (4, enc.n_features) == (4, 16)
    with pytest.raises(eegbench.ConfigError):
        eegbench.get("encoders", "example-tcn").build(8, 64, hidden="many")


def test_distinct_by_hand():
    caps = ["a red dog", "a red cat"]
    assert distinct_n(caps, 1) == 4 / 6  # a, red, dog, cat
    assert distinct_n(caps, 2) == 3 / 4  # (a red), (red dog), (red cat)
    metric = eegbench.get("metrics", "distinct").build()
    assert metric.compute(caps, ["", ""]) == {"distinct_1": 4 / 6, "distinct_2": 3 / 4}
