"""Leaderboards from run directories: statistics, best marks, skipped runs, formats, plots."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.contract.errors import ConfigError
from eegbench.report.leaderboard import Column, build, collect, leaderboard, summarize
from eegbench.results.record import Control, DatasetInfo, MetricValue, Oracle, PairedDelta
from tests.conftest import run_record, write_run_dir

T_975_1 = 12.706204736174707  # scipy.stats.t.ppf(0.975, 1)
T_975_2 = 4.302652729749464  # scipy.stats.t.ppf(0.975, 2)
ACC, BLEU, PPL = Column("top1_accuracy"), Column("bleu_4"), Column("perplexity")
BLEU_DELTA = Column("bleu_4", "delta", "only_obj")
BLEU_HEADROOM = Column("bleu_4", "headroom")


def make_config(encoder: str = "dilated", seed: int = 0, epochs: int = 3) -> dict:
    return {
        "seed": seed,
        "output_dir": "runs",
        "run_name": None,
        "cache_dir": "~/.cache/eegbench",
        "device": "cpu",
        "dataset": {"name": "synthetic", "n_chans": 8},
        "encoder": {"name": encoder, "dropout": 0.2},
        "target": {"name": "minilm"},
        "llm": {"name": "tiny-gpt2"},
        "stage1": {"epochs": epochs},
        "stage2": {"epochs": 1},
        "eval": {"controls": ["only_obj"]},
    }


def write_run(
    root: Path,
    name: str,
    *,
    encoder: str = "dilated",
    seed: int = 0,
    acc: float = 0.5,
    bleu: float = 0.1,
    loss: float | None = None,
    ctl_bleu: float | None = 0.05,
    data_hash: str = "aaaa1111bbbb2222",
    epochs: int = 3,
    started: str = "2026-01-01T00:00:00+00:00",
    edit=None,
    **fields: Any,
) -> Path:
    """A run directory written through ``RunRecord``; ``fields`` (e.g. ``training``) are record
    fields, and ``edit(record)`` may change the record before it is written."""
    metrics = {
        "top1_accuracy": MetricValue(
            value=acc, higher_is_better=True, metric="accuracy", ci=(acc - 0.1, acc + 0.1)
        ),
        "bleu_4": MetricValue(value=bleu, higher_is_better=True, metric="bleu", ci=(0.0, 0.3)),
    }
    if loss is not None:
        metrics["perplexity"] = MetricValue(value=loss, higher_is_better=False, metric="ppl")
    controls = {}
    if ctl_bleu is not None:
        controls["only_obj"] = Control(
            description="ONLY_OBJ",
            metrics={
                "bleu_4": MetricValue(
                    value=ctl_bleu, higher_is_better=True, metric="bleu", ci=(0.0, 0.1)
                )
            },
        )
    record = run_record(
        make_config(encoder, seed, epochs),
        metrics,
        started=started,
        dataset=DatasetInfo(name="synthetic", hashes={"data": data_hash, "split_test": "cc"}),
        controls=controls,
        **fields,
    )
    if edit is not None:
        edit(record)
    return write_run_dir(root / name, record)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_run(root, "dil-s0", seed=0, acc=0.5, bleu=0.10, ctl_bleu=0.04)
    write_run(root, "dil-s1", seed=1, acc=0.7, bleu=0.20, ctl_bleu=0.06)
    write_run(root, "nested/eeg-s0", encoder="eegnet", seed=0, acc=0.6, bleu=0.30, ctl_bleu=0.1)
    return root


def row(board, encoder, condition="EEG"):
    return next(
        r for r in board.rows if r.labels["encoder"] == encoder and r.condition == condition
    )


def test_summarize_t_interval_by_hand():
    s = summarize([0.5, 0.7])
    assert s.estimate == pytest.approx(0.6)
    sd = np.std([0.5, 0.7], ddof=1)
    half = T_975_1 * sd / np.sqrt(2)
    assert (s.low, s.high) == pytest.approx((0.6 - half, 0.6 + half))
    assert s.method == "t" and s.n == 2
    s3 = summarize([1.0, 2.0, 4.0])
    half3 = T_975_2 * np.std([1, 2, 4], ddof=1) / np.sqrt(3)
    assert s3.high - s3.estimate == pytest.approx(half3)
    one = summarize([0.3], [0.2, 0.45])
    assert (one.estimate, one.low, one.high, one.method) == (0.3, 0.2, 0.45, "bootstrap")
    assert summarize([0.3]).method == "none"


def test_rows_are_configurations_with_mean_ci_and_seed_count(runs):
    board = leaderboard([runs])
    assert board.label_columns == ["dataset", "encoder", "target", "llm"]
    dil = row(board, "dilated")
    assert len(dil.runs) == 2
    acc = dil.stats[ACC]
    half = T_975_1 * np.std([0.5, 0.7], ddof=1) / np.sqrt(2)
    assert acc.estimate == pytest.approx(0.6)
    assert acc.high - acc.estimate == pytest.approx(half)
    assert acc.seeds == (0, 1)
    # one seed: the run's own bootstrap interval from results.json
    eeg = row(board, "eegnet").stats[ACC]
    assert (eeg.estimate, eeg.method, eeg.n) == (0.6, "bootstrap", 1)
    assert (eeg.low, eeg.high) == pytest.approx((0.5, 0.7))
    # control rows follow their configuration
    assert [(r.labels["encoder"], r.condition) for r in board.rows] == [
        ("dilated", "EEG"),
        ("dilated", "only_obj"),
        ("eegnet", "EEG"),
        ("eegnet", "only_obj"),
    ]
    assert row(board, "dilated", "only_obj").stats[BLEU].estimate == pytest.approx(0.05)
    assert ACC not in row(board, "dilated", "only_obj").stats


def test_best_marks_and_markdown(runs):
    board = leaderboard([runs])
    best = board.best()
    rows = board.rows
    assert best[ACC] == set()  # both configurations tie at 0.6: nothing to mark
    assert {rows[i].labels["encoder"] for i in best[BLEU]} == {"eegnet"}
    md = board.to_markdown()
    lines = md.splitlines()
    assert lines[0] == (
        "| dataset | encoder | target | llm | condition | n | top1_accuracy ↑ | bleu_4 ↑ |"
    )
    assert lines[1] == "|---|---|---|---|---|---:|---:|---:|"
    half = T_975_1 * np.std([0.5, 0.7], ddof=1) / np.sqrt(2)
    assert lines[2] == (
        f"| synthetic | dilated | minilm | tiny-gpt2 | EEG | 2 | 0.600 ± {half:.3f} | "
        f"0.150 ± {T_975_1 * np.std([0.1, 0.2], ddof=1) / np.sqrt(2):.3f} |"
    )
    ctl_half = T_975_1 * np.std([0.04, 0.06], ddof=1) / np.sqrt(2)
    assert lines[3] == (
        f"| synthetic | dilated | minilm | tiny-gpt2 | only_obj | 2 | — | 0.050 ± {ctl_half:.3f} |"
    )
    assert lines[4] == (
        "| synthetic | eegnet | minilm | tiny-gpt2 | EEG | 1 | 0.600 [0.500, 0.700] | "
        "**0.300 [0.000, 0.300]** |"
    )
    assert "bootstrap interval over test trials" in md


def test_lower_is_better_and_sort(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "a", encoder="a", loss=3.0, acc=0.9)
    write_run(root, "b", encoder="b", loss=2.0, acc=0.1)
    board = leaderboard([root], controls="none", sort_by="perplexity")
    assert board.higher_is_better["perplexity"] is False
    assert [r.labels["encoder"] for r in board.rows] == ["b", "a"]
    assert board.best()[PPL] == {0}
    write_run(root, "c", encoder="c", loss=2.0, acc=0.5)
    tie = leaderboard([root], controls="none")
    assert [tie.rows[i].labels["encoder"] for i in sorted(tie.best()[PPL])] == ["b", "c"]
    assert tie.best()[ACC] == {0}
    assert board.header(PPL) == "perplexity ↓"
    assert (
        leaderboard([root], controls="none", sort_by="top1_accuracy").rows[0].labels["encoder"]
        == "a"
    )


def test_delta_columns_are_per_seed_differences(runs):
    board = leaderboard([runs], delta=["only_obj"], controls="none")
    assert board.columns == [ACC, BLEU, BLEU_DELTA]
    assert [c.label for c in board.columns] == ["top1_accuracy", "bleu_4", "bleu_4 Δ only_obj"]
    d = row(board, "dilated").stats[BLEU_DELTA]
    diffs = [0.10 - 0.04, 0.20 - 0.06]
    assert d.estimate == pytest.approx(np.mean(diffs))
    assert d.high - d.estimate == pytest.approx(T_975_1 * np.std(diffs, ddof=1) / np.sqrt(2))
    single = row(board, "eegnet").stats[BLEU_DELTA]
    assert single.estimate == pytest.approx(0.2) and single.method == "none"
    assert "bleu_4 Δ only_obj ↑" in board.to_markdown().splitlines()[0]
    with pytest.raises(ConfigError, match="noise"):
        leaderboard([runs], delta=["noise"])


def test_columns_are_data_with_their_labels():
    assert (BLEU.label, BLEU_DELTA.label, BLEU_HEADROOM.label) == (
        "bleu_4",
        "bleu_4 Δ only_obj",
        "bleu_4 headroom",
    )
    assert BLEU_HEADROOM.source == "bleu_4 headroom" and BLEU_DELTA.source == "bleu_4"
    with pytest.raises(ValueError, match="delta"):
        Column("bleu_4", "delta")
    with pytest.raises(ValueError, match="delta"):
        Column("bleu_4", "value", "only_obj")


def test_partial_and_malformed_runs_are_skipped_with_reasons(runs):
    (runs / "crashed").mkdir()
    (runs / "crashed" / "config.yaml").write_text("seed: 0\n")
    bad = runs / "badjson"
    bad.mkdir()
    (bad / "results.json").write_text("{not json")
    write_run(runs, "incomplete", seed=5, edit=lambda r: setattr(r, "complete", False))
    write_run(runs, "nometric", seed=7, edit=lambda r: r.metrics.pop("bleu_4"))
    write_run(runs, "nan", seed=8, edit=lambda r: setattr(r.metrics["bleu_4"], "value", math.nan))
    board = leaderboard([runs])
    reasons = {s.path.name: s.reason for s in board.skipped}
    assert reasons["crashed"] == "no results.json (unfinished or crashed run)"
    assert reasons["badjson"].startswith("results.json is not valid JSON")
    assert reasons["incomplete"] == "results.json is not marked complete"
    assert reasons["nometric"] == "missing metric(s): bleu_4"
    assert reasons["nan"] == "metric 'bleu_4' has no finite value"
    assert len(row(board, "dilated").runs) == 2  # none of them mixed in
    md = board.to_markdown()
    assert "Skipped run directories (5):" in md
    assert f"- `{runs / 'crashed'}`: no results.json (unfinished or crashed run)" in md


def test_explicit_metrics_skip_runs_without_them(runs):
    write_run(runs, "ppl", encoder="eegnet", seed=3, loss=1.0)
    board = leaderboard([runs], metrics=["perplexity", "top1_accuracy"], controls="none")
    assert board.columns == [PPL, ACC]
    assert [len(r.runs) for r in board.rows] == [1]
    assert {s.path.name for s in board.skipped} == {"dil-s0", "dil-s1", "eeg-s0"}
    with pytest.raises(ConfigError, match="did you mean|Did you mean"):
        leaderboard([runs], metrics=["bleu4"])


def test_different_dataset_hashes_are_not_averaged(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "s0", seed=0, acc=0.5, data_hash="1111222233334444")
    write_run(root, "s1", seed=1, acc=0.7, data_hash="9999888877776666")
    board = leaderboard([root], controls="none")
    assert board.label_columns[-1] == "data"
    assert [(r.labels["data"], r.stats[ACC].estimate) for r in board.rows] == [
        ("11112222", 0.5),
        ("99998888", 0.7),
    ]
    assert "2 different dataset hashes (11112222, 99998888)" in board.notes[0]
    assert "not averaged" in board.to_markdown()


def test_repeated_seed_keeps_the_newest_run(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "old", seed=0, acc=0.1, started="2026-01-01T00:00:00+00:00")
    write_run(root, "new", seed=0, acc=0.9, started="2026-02-01T00:00:00+00:00")
    board = leaderboard([root], controls="none")
    assert board.rows[0].stats[ACC].estimate == 0.9
    assert [(s.path.name, "kept the newer run new" in s.reason) for s in board.skipped] == [
        ("old", True)
    ]


def test_varying_config_keys_become_columns_and_group_by_merges(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "e3", seed=0, acc=0.2, epochs=3)
    write_run(root, "e9", seed=0, acc=0.8, epochs=9)
    board = leaderboard([root], controls="none")
    assert board.label_columns == ["dataset", "encoder", "target", "llm", "stage1.epochs"]
    assert [r.labels["stage1.epochs"] for r in board.rows] == ["3", "9"]
    merged = leaderboard([root], controls="none", group_by=["encoder"])
    assert merged.label_columns == ["encoder"]
    # both seeds are 0: the grouping is the user's; the repeat rule still holds
    assert len(merged.rows) == 1
    with pytest.raises(ConfigError, match="unknown group-by key 'encoderr'"):
        leaderboard([root], group_by=["encoderr"])


def test_csv_holds_raw_numbers(runs, tmp_path):
    board = leaderboard([runs])
    out = tmp_path / "lb" / "leaderboard.md"
    res = CliRunner().invoke(
        cli, ["leaderboard", str(runs), "--out", str(out), "--plot", str(tmp_path / "lb.png")]
    )
    assert res.exit_code == 0, res.output
    assert out.read_text() == board.to_markdown()
    df = pd.read_csv(out.parent / "leaderboard.csv")
    line = df[(df.encoder == "dilated") & (df.condition == "EEG") & (df.metric == "top1_accuracy")]
    assert line["mean"].item() == pytest.approx(0.6)
    assert line["n"].item() == 2
    assert line["seeds"].item() == "0;1"
    assert [float(v) for v in line["values"].item().split(";")] == [0.5, 0.7]
    assert line["ci_method"].item() == "t"
    ctl = df[(df.condition == "only_obj") & (df.encoder == "eegnet")]
    assert ctl["mean"].item() == pytest.approx(0.1)
    assert ctl["ci_low"].item() == 0.0 and ctl["ci_high"].item() == pytest.approx(0.1)
    png = (tmp_path / "lb.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_cli_prints_skipped_and_errors_on_no_runs(tmp_path):
    (tmp_path / "r" / "crashed").mkdir(parents=True)
    (tmp_path / "r" / "crashed" / "config.yaml").write_text("seed: 0\n")
    res = CliRunner().invoke(cli, ["leaderboard", str(tmp_path / "r")])
    assert res.exit_code == 1
    assert "skipped" in res.output and "no results.json" in res.output
    assert "no finished runs to rank (1 run directories skipped)" in res.output


def test_html_and_latex_structure(runs):
    board = leaderboard([runs], delta=["only_obj"])
    page = board.to_html()
    assert page.count("<strong>") == 2  # bleu_4, bleu_4 Δ only_obj (accuracy: all tie)
    assert "<th>top1_accuracy ↑</th>" in page
    tex = board.to_latex()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\textbf{0.300 [0.000, 0.300]}" in tex
    assert "top1\\_accuracy $\\uparrow$" in tex
    assert "bleu\\_4 $\\Delta$ only\\_obj $\\uparrow$" in tex
    header = next(line for line in tex.splitlines() if line.startswith("\\begin{tabular}"))
    assert header == "\\begin{tabular}{lllllrrrr}"
    body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0].strip().splitlines()
    assert len(body) == 4 and all(line.count(" & ") == 8 for line in body)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_in_an_article(runs, tmp_path):
    doc = (
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        + leaderboard([runs], delta=["only_obj"]).to_latex()
        + "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc)
    res = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_collect_recurses_and_rejects_missing_dir(runs, tmp_path):
    found, skipped = collect([runs])
    assert sorted(r.path.name for r in found) == ["dil-s0", "dil-s1", "eeg-s0"]
    assert skipped == []
    with pytest.raises(ConfigError, match="is not a directory"):
        collect([tmp_path / "nope"])


def test_build_needs_runs():
    with pytest.raises(Exception, match="no finished runs"):
        build([], [])


def test_missing_key_equals_null_and_threads_do_not_split_rows(tmp_path):
    root = tmp_path / "runs"
    old = write_run(root, "old", seed=0, acc=0.4)

    def newer(record):
        record.config["threads"] = 1  # a key newer versions write; where it ran, not what
        record.config["encoder"]["extra"] = None  # a new parameter whose default is null

    new = write_run(root, "new", seed=1, acc=0.6, edit=newer)
    board = leaderboard([root], controls="none")
    assert len(board.rows) == 1 and len(board.rows[0].runs) == 2
    assert board.label_columns == ["dataset", "encoder", "target", "llm"]
    assert {r.path for r in board.rows[0].runs} == {old, new}


def test_recorded_deltas_oracle_rows_and_headroom(tmp_path):
    root = tmp_path / "runs"
    floor = {"bleu_4": MetricValue(value=0.05, higher_is_better=True, metric="bleu")}
    ceiling = {"bleu_4": MetricValue(value=0.45, higher_is_better=True, metric="bleu")}

    def with_oracles(record):
        record.oracles = {
            "target_embedding": Oracle(description="ceil", role="ceiling", metrics=ceiling),
            "template_prior": Oracle(description="template", metrics=floor),
        }
        record.headroom = {"bleu_4": 0.25}
        ctl = record.controls["only_obj"]
        ctl.delta = {"bleu_4": PairedDelta(value=0.1, ci=(0.04, 0.16), p=0.003)}
        ctl.headroom = {"bleu_4": 0.0}

    write_run(root, "one", bleu=0.15, ctl_bleu=0.05, edit=with_oracles)
    board = leaderboard([root], delta=["only_obj"], headroom=True)
    assert [r.condition for r in board.rows] == [
        "EEG",
        "only_obj",
        "oracle:target_embedding",
        "oracle:template_prior",
    ]
    eeg = board.rows[0].stats
    delta = eeg[BLEU_DELTA]
    assert (delta.estimate, delta.low, delta.high, delta.p) == pytest.approx(
        (0.1, 0.04, 0.16, 0.003)
    )
    assert eeg[BLEU_HEADROOM].estimate == 0.25
    assert board.rows[1].stats[BLEU_HEADROOM].estimate == 0.0
    assert board.rows[2].stats[BLEU].estimate == 0.45
    md = board.to_markdown()
    assert "0.100** [0.040, 0.160] (p 0.003, holm 0.003)" in md
    assert "* adjusted p < 0.05, ** adjusted p < 0.01" in md
    assert "oracle rows" in md and "headroom: (row - only_obj) / (target_embedding" in md
    assert "oracle" not in leaderboard([root], oracles=False).to_markdown().split("\n- ")[0]
    # several seeds: a one-sample t-test over the per-seed differences
    write_run(root, "two", seed=1, bleu=0.16, ctl_bleu=0.05)
    write_run(root, "three", seed=2, bleu=0.17, ctl_bleu=0.06)
    pooled = leaderboard([root], delta=["only_obj"]).rows[0].stats[BLEU_DELTA]
    assert pooled.n == 3 and pooled.p < 0.01
    res = CliRunner().invoke(cli, ["leaderboard", str(root), "--delta", "only_obj", "--headroom"])
    assert res.exit_code == 0, res.output
    assert "bleu_4 headroom" in res.output and "**" in res.output


def test_json_format_holds_the_numbers(runs):
    import json

    from click.testing import CliRunner

    from eegbench.cli import cli

    res = CliRunner().invoke(cli, ["leaderboard", str(runs), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {"name": "top1_accuracy", "higher_is_better": True} in doc["columns"]
    dil = next(r for r in doc["rows"] if r["encoder"] == "dilated" and r["condition"] == "EEG")
    acc = dil["values"]["top1_accuracy"]
    half = T_975_1 * np.std([0.5, 0.7], ddof=1) / np.sqrt(2)
    assert acc["mean"] == pytest.approx(0.6) and acc["ci_method"] == "t"
    assert acc["ci"] == pytest.approx([0.6 - half, 0.6 + half]) and acc["seeds"] == [0, 1]
    assert dil["n"] == 2 and len(dil["runs"]) == 2
    eegnet = next(r for r in doc["rows"] if r["encoder"] == "eegnet" and r["condition"] == "EEG")
    assert "bleu_4" in eegnet["best"]  # the best EEG row per column, as bold in the tables
    assert any("95% t-interval" in line for line in doc["legend"])


def test_rows_from_leaking_runs_are_marked_in_every_format(tmp_path):
    """A run whose test split reached its predictions (``leaks``: Thought2Text's stage-3
    encoder) is marked on its rows; a clean run's rows say no."""
    import json as _json

    leak = ["batchnorm_statistics: stage2.encoder_mode=train ..."]
    write_run(tmp_path, "faithful", encoder="dilated", leaks=leak)
    write_run(tmp_path, "clean", encoder="eegnet")
    runs, skipped = collect([tmp_path])
    board = build(runs, skipped)
    marks = {(r.labels["encoder"], r.condition): r.labels["leak"] for r in board.rows}
    assert marks[("dilated", "EEG")] == "yes" and marks[("dilated", "only_obj")] == "yes"
    assert marks[("eegnet", "EEG")] == "no"
    assert any("leak = yes" in n for n in board.notes)
    assert "| leak |" in board.to_markdown()
    assert "leak" in board.to_latex() and "leak" in board.to_html()
    assert "leak" in board.to_csv().splitlines()[0]
    rows = _json.loads(board.render("json"))["rows"]
    assert {r["leak"] for r in rows} == {"yes", "no"}
    clean_only = build([r for r in runs if not r.record.leaks])
    assert "leak" not in clean_only.label_columns
