"""`eegbench embed`: target embeddings computed once, cached where `eegbench run` finds them."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import eegbench
from eegbench.cli import cli
from eegbench.config import build_config
from eegbench.train.parts import build_targets, center_targets, load_dataset


def _no_model(*args, **kwargs):
    raise AssertionError("the target model was loaded although the cache holds the embeddings")


@pytest.mark.slow  # loads sentence-transformers and all-MiniLM-L6-v2 once: ~6-12 s
def test_embed_caches_and_a_second_call_loads_no_model(tmp_path, monkeypatch):
    from eegbench_plugins.targets.minilm import SentenceTarget

    args = [f"cache_dir={tmp_path / 'cache'}", "dataset.n_classes=4", "dataset.n_chans=4"]
    args.append("dataset.images_per_class=5")  # 4 classes x 5 images = 20 captions
    first = CliRunner().invoke(cli, ["--quiet", "embed", *args])
    assert first.exit_code == 0, first.output + repr(first.exception)
    assert "minilm embeddings of synthetic: 20 x 384, computed in" in first.output
    files = list((tmp_path / "cache" / "targets").glob("*.npy"))
    assert len(files) == 1 and f"cache: {files[0]}" in first.output
    emb = np.load(files[0])
    assert emb.shape == (20, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)

    # row i is the embedding of image i's caption
    cfg = build_config(args)
    data = load_dataset(cfg)
    target = eegbench.get("targets", "minilm").build()
    direct = target.embed([data.captions[5], data.captions[0]])
    np.testing.assert_allclose(direct, emb[[5, 0]], atol=1e-5)

    monkeypatch.setattr(SentenceTarget, "_load", _no_model)
    second = CliRunner().invoke(cli, ["--quiet", "embed", *args])
    assert second.exit_code == 0, second.output + repr(second.exception)
    assert "20 x 384, reused the cache" in second.output
    # `eegbench run` reads the same cache file (no model load either)
    targets = build_targets(cfg, data)  # centred (stage1.center_targets, the default)
    np.testing.assert_array_equal(targets, center_targets(emb, data))


def test_embed_reports_config_errors_in_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["embed", f"cache_dir={tmp_path}", "target=nonexistent"])
    assert res.exit_code == 2
    assert "nonexistent" in res.output and "Traceback" not in res.output
