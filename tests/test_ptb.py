"""The Python PTB tokenizer reproduces pycocoevalcap's Java PTBTokenizer; CIDEr needs no Java."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import eegbench
from eegbench import ConfigError
from tests.ptb_java import FIXTURE, java_ptb_tokenize

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")

DATA = json.loads(FIXTURE.read_text())
CASES = DATA["cases"]


def test_fixture_has_many_recorded_cases():
    assert len(CASES) >= 40
    assert all(isinstance(c["java"], str) for c in CASES)


def test_python_tokenizer_matches_recorded_java_outputs():
    from eegbench_plugins.metrics.ptb import ptb_tokenize_py

    # one call, as the Java outputs were recorded: a caption's last token can depend on how
    # the next caption starts
    got = ptb_tokenize_py([c["input"] for c in CASES])
    diffs = [(c["input"], c["java"], g) for c, g in zip(CASES, got, strict=True) if g != c["java"]]
    assert not diffs, f"{len(diffs)} of {len(CASES)} differ, e.g. {diffs[:5]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A man's dog isn't running.", "a man 's dog is n't running"),
        ("He cannot go, gonna wanna", "he can not go gon na wan na"),
        ("A (small) [cat] {x}", "a -lrb- small -rrb- -lsb- cat -rsb- -lcb- x -rcb-"),
        ("St. Mary's in the U.S. at 3 a.m.", "st. mary 's in the u.s. at 3 a.m."),
        ("1,000 people paid $3.50", "1,000 people paid $ 3.50"),
        ('The "big" dog... said \u201chi\u201d', "the big dog said hi"),
        ("A well-known 10-year-old", "a well-known 10-year-old"),
        ("Caf\u00e9 \u00bd  cup", "caf\u00e9 1/2 cup"),
        ("", ""),
    ],
)
def test_ptb_conventions(text, expected):
    from eegbench_plugins.metrics.ptb import ptb_tokenize_py

    assert ptb_tokenize_py([text]) == [expected]


def test_next_caption_can_change_a_line_end():
    from eegbench_plugins.metrics.ptb import ptb_tokenize_py

    # as in Java: "B." before a sentence opener is the letter plus a period
    assert ptb_tokenize_py(["Plan B.", "The end"]) == ["plan b", "the end"]
    assert ptb_tokenize_py(["Plan B.", "the end"]) == ["plan b.", "the end"]


def _synthetic_captions(n: int, seed: int) -> list[str]:
    from eegbench_plugins.datasets.synthetic import CLASSES, COLOURS, SETTINGS, make_caption

    rng = np.random.default_rng(seed)
    return [
        make_caption(
            rng,
            int(rng.integers(len(CLASSES))),
            COLOURS[rng.integers(len(COLOURS))],
            list(SETTINGS)[rng.integers(len(SETTINGS))],
        )
        for _ in range(n)
    ]


@needs_java
def test_python_tokenizer_matches_live_java_on_synthetic_captions():
    from eegbench_plugins.metrics.ptb import ptb_tokenize_py

    captions = _synthetic_captions(12, seed=int(np.random.SeedSequence().entropy % 2**32))
    captions += ["A dog's toy isn't here, Mr. Smith (U.S.)...", '"Quoted" 1,000.5 cannot']
    assert ptb_tokenize_py(captions) == java_ptb_tokenize(captions)


# --- CIDEr and the COCO protocol without Java ---------------------------------------------------


@pytest.fixture
def no_java_path(tmp_path, monkeypatch):
    """PATH of links to every program in /usr/bin (and /usr/local/bin) except ``java``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for src in (Path("/usr/local/bin"), Path("/usr/bin")):
        if not src.is_dir():
            continue
        for prog in src.iterdir():
            link = bin_dir / prog.name
            if prog.name != "java" and not link.exists():
                link.symlink_to(prog)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("java") is None
    return bin_dir


def _coco_cider(gts_tok, res_tok):
    from pycocoevalcap.cider.cider import Cider

    gts = {i: [r] for i, r in enumerate(gts_tok)}
    res = {i: [h] for i, h in enumerate(res_tok)}
    return Cider().compute_score(gts, res)


def test_cider_without_java_equals_cider_on_java_tokens(no_java_path):
    c = DATA["cider"]
    cider = eegbench.get("metrics", "cider").build()
    out = cider.compute(c["hyps"], c["refs"])
    expected, per_item = _coco_cider(c["refs_java"], c["hyps_java"])
    assert out["cider"] == pytest.approx(expected)
    assert 0 < out["cider"] < 10
    np.testing.assert_allclose(cider.per_item(c["hyps"], c["refs"])["cider"], per_item)


def test_java_tokenizer_is_opt_in_and_checked(no_java_path, monkeypatch):
    from eegbench_plugins.metrics import _common, protocols, text

    with pytest.raises(ConfigError, match="no 'java' is on PATH"):
        eegbench.get("metrics", "cider").build(tokenizer="java")
    with pytest.raises(ConfigError, match="tokenizer='jython'"):
        eegbench.get("metrics", "cider").build(tokenizer="jython")

    def boom(metric):
        raise AssertionError(f"need_java called for {metric}")

    for mod in (_common, text, protocols):
        monkeypatch.setattr(mod, "need_java", boom)
    cider = eegbench.get("metrics", "cider").build()
    assert text.ptb_tokenize(["A Dog, running!"]) == ["a dog running"]
    assert cider.compute(["a dog runs"], ["a dog is running"])["cider"] >= 0


@needs_java
def test_cider_python_and_java_tokenizers_agree():
    c = DATA["cider"]
    build = eegbench.get("metrics", "cider").build
    py = build().compute(c["hyps"], c["refs"])["cider"]
    java = build(tokenizer="java").compute(c["hyps"], c["refs"])["cider"]
    assert py == pytest.approx(java)


def test_coco_protocol_tokenizer_parameter():
    entry = eegbench.get("metrics", "protocol:coco")
    assert entry.defaults() == {"tokenizer": "python"}
    with pytest.raises(ConfigError, match="tokenizer='jython'"):
        entry.build(tokenizer="jython")
