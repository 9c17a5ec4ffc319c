"""CITATION.cff: valid CFF 1.2.0 for eegbench, citing Thought2Text and EEG-ChannelNet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import eegbench

CFF = Path(__file__).resolve().parents[1] / "CITATION.cff"


@pytest.fixture(scope="module")
def cff() -> dict:
    return yaml.safe_load(CFF.read_text())


def test_required_keys_and_identity(cff):
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):  # required by the 1.2.0 schema
        assert cff[key]
    assert cff["authors"] == [{"name": "eegbench contributors"}]
    assert cff["version"] == eegbench.__version__ == "0.1.0"
    assert cff["license"] == "MIT"
    assert cff["type"] == "software"


def test_references_cite_thought2text_and_channelnet(cff):
    refs = {r["title"].split(":")[0].strip(): r for r in cff["references"]}
    t2t = refs["Thought2Text"]
    assert t2t["type"] == "conference-paper" and t2t["year"] == 2025
    assert t2t["authors"][0] == {"family-names": "Mishra", "given-names": "Abhijit"}
    assert "2410.07507" in t2t["url"]
    cnet = next(r for r in cff["references"] if r["title"].startswith("Decoding Brain"))
    assert cnet["doi"] == "10.1109/TPAMI.2020.2995909"
    assert cnet["authors"][0]["family-names"] == "Palazzo"
    for ref in cff["references"]:  # required keys of a reference
        assert ref["type"] and ref["title"] and ref["authors"]
        for a in ref["authors"]:
            assert set(a) <= {"family-names", "given-names", "name"}
        if "doi" in ref:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", ref["doi"])


def test_valid_against_the_cff_schema():
    create_citation = pytest.importorskip("cffconvert.cli.create_citation").create_citation
    citation = create_citation(str(CFF), None)
    citation.validate()  # raises on any schema violation
    assert "eegbench" in citation.cffobj["title"]
