"""Benchmark suites: parsing, planning, config-digest keys, skipping finished runs, leaderboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import eegbench.runner as runner
from eegbench import bench
from eegbench.cli import cli
from eegbench.config import dump
from eegbench.contract.errors import ConfigError, DataError
from eegbench.results.record import (
    Control,
    DatasetInfo,
    MetricValue,
    RunRecord,
    new_run_dir,
)
from tests.conftest import run_record, tiny_overrides


def fake_record(cfg: dict) -> RunRecord:
    acc = {"linear": 0.2, "eegnet": 0.6}.get(cfg["encoder"]["name"], 0.4) + 0.1 * cfg["seed"]
    return run_record(
        cfg,
        {
            "top1_accuracy": MetricValue(value=acc, ci=(0.0, 1.0)),
            "cosine": MetricValue(value=0.5, ci=(0.4, 0.6)),
            "bleu_4": MetricValue(value=acc / 10, ci=(0.0, 0.1)),
            "rouge_l": MetricValue(value=acc / 2, ci=(0.0, 0.5)),
        },
        dataset=DatasetInfo(name="synthetic", hashes={"data": "0123456789abcdef"}),
        controls={
            "only_obj": Control(
                metrics={"bleu_4": MetricValue(value=0.01), "rouge_l": MetricValue(value=0.1)}
            )
        },
    )


@pytest.fixture
def fake_runner(monkeypatch):
    """Replace the pipeline by one that writes a run directory instantly; records calls."""
    calls: list[dict] = []

    def run(cfg):
        if cfg.encoder.name == "broken":
            raise DataError("broken on purpose")
        calls.append(cfg)
        d = new_run_dir(cfg.output_dir, cfg.run_name)
        (d / "config.yaml").write_text(dump(cfg))
        record = fake_record(cfg.to_dict())
        record.write(d)
        return SimpleNamespace(run_dir=d, results=record)

    monkeypatch.setattr(runner, "run", run)
    return calls


def write_suite(tmp_path: Path, **data) -> Path:
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_shipped_suites_parse():
    assert {"default", "tiny"} <= set(bench.list_suites())
    tiny = bench.load_suite("tiny")
    assert tiny.seeds == [0, 1]
    assert tiny.axes["encoder"] == [["encoder=linear"], ["encoder=eegnet"]]
    assert tiny.axes["dataset"][0][:2] == ["dataset=synthetic", "dataset.n_classes=6"]
    default = bench.load_suite("default")
    assert len(default.seeds) == 2 and len(default.axes["encoder"]) == 2
    assert default.description


def test_plan_resolves_every_configuration_with_stable_keys(tmp_path):
    tiny = bench.load_suite("tiny")
    jobs = bench.plan(tiny, tmp_path / "a", [f"cache_dir={tmp_path}"])
    assert [(j.config.encoder.name, j.config.seed) for j in jobs] == [
        ("linear", 0),
        ("linear", 1),
        ("eegnet", 0),
        ("eegnet", 1),
    ]
    assert len({j.key for j in jobs}) == 4
    j = jobs[0]
    assert j.config.dataset.params.n_chans == 8 and j.config.stage1.epochs == 2
    assert j.config.llm.params.n_embd == 32
    assert j.name == f"synthetic-linear-tiny-gpt2-s0-{j.key[:8]}"
    assert j.config.run_name == j.name and j.done is None
    # the key ignores where runs are written and cached, not what they compute
    other = bench.plan(tiny, tmp_path / "b", ["cache_dir=/elsewhere"])
    assert [o.key for o in other] == [j.key for j in jobs]
    changed = bench.plan(tiny, tmp_path / "a", ["stage1.epochs=3"])
    assert not {c.key for c in changed} & {j.key for j in jobs}
    plain = j.config.to_dict()
    assert bench.config_key(plain) == bench.config_key({**plain, "output_dir": "x"})


def test_malformed_suites_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'encoder'.*Did you mean 'encoders'"):
        bench.load_suite(write_suite(tmp_path, encoder=["eegnet"]))
    with pytest.raises(ConfigError, match="seeds must be a non-empty list of integers"):
        bench.load_suite(write_suite(tmp_path, seeds=["a"]))
    with pytest.raises(ConfigError, match="mapping with 'name'"):
        bench.load_suite(write_suite(tmp_path, encoders=[{"width": 1}]))
    with pytest.raises(ConfigError, match="unknown leaderboard option 'metric'"):
        bench.load_suite(write_suite(tmp_path, leaderboard={"metric": ["x"]}))
    with pytest.raises(ConfigError, match="unknown suite 'tinny'.*Did you mean 'tiny'"):
        bench.load_suite("tinny")
    with pytest.raises(ConfigError, match="unknown encoder 'nope'"):
        bench.plan(bench.load_suite(write_suite(tmp_path, encoders=["nope"])), tmp_path)


def test_finished_runs_are_skipped_by_config_digest(tmp_path, fake_runner):
    out = tmp_path / "out"
    tiny = bench.load_suite("tiny")
    first = bench.run_suite(tiny, out)
    assert len(first.ran) == 4 and len(fake_runner) == 4 and not first.failed
    # a crashed run of the same configuration does not count as done
    (out / "crashed").mkdir()
    (out / "crashed" / "config.yaml").write_text(dump(fake_runner[0]))
    again = bench.run_suite(tiny, out)
    assert again.ran == [] and len(fake_runner) == 4
    assert all(j.done is not None for j in again.jobs)
    # one more seed: only the new configurations run
    bigger = bench.load_suite(
        write_suite(
            tmp_path,
            datasets=[
                {"name": "synthetic", "n_classes": 6, "n_subjects": 1, "n_chans": 8, "n_times": 64}
            ],
            encoders=["linear", "eegnet"],
            targets=["minilm"],
            llms=[
                {
                    "name": "tiny-gpt2",
                    "n_layer": 1,
                    "n_embd": 32,
                    "n_head": 2,
                    "vocab_size": 300,
                    "steps": 10,
                }
            ],
            seeds=[0, 1, 2],
            overrides=tiny.overrides,
        )
    )
    third = bench.run_suite(bigger, out)
    assert [c.seed for c in fake_runner[4:]] == [2, 2]
    assert len(third.ran) == 2


def test_bench_cli_runs_then_renders_the_leaderboard(tmp_path, fake_runner):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["--quiet", "bench", "tiny", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "ran 4 of 4 configurations" in res.output
    md = (out / "leaderboard.md").read_text()
    assert md.splitlines()[0].startswith("| dataset | encoder | target | llm | condition | n |")
    assert "bleu_4 Δ only_obj ↑" in md.splitlines()[0]
    df = pd.read_csv(out / "leaderboard.csv")
    acc = df[(df.metric == "top1_accuracy") & (df.condition == "EEG")].set_index("encoder")
    assert acc.loc["eegnet", "mean"] == pytest.approx(0.65)  # seeds 0, 1: 0.6 and 0.7
    assert acc.loc["linear", "mean"] == pytest.approx(0.25)
    assert (acc["n"] == 2).all()
    assert (out / "leaderboard.png").stat().st_size > 1000
    dry = CliRunner().invoke(cli, ["bench", "tiny", "--out", str(out), "--dry-run"])
    assert dry.exit_code == 0 and dry.output.count("done (") == 4


def test_failed_configuration_is_reported_and_others_still_run(tmp_path, fake_runner, monkeypatch):
    def run(cfg, _inner=runner.run):
        if cfg.seed == 1:
            raise DataError("seed 1 broke")
        return _inner(cfg)

    monkeypatch.setattr(runner, "run", run)
    res = CliRunner().invoke(cli, ["--quiet", "bench", "tiny", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "2 configuration(s) failed; first: synthetic-linear-tiny-gpt2-s1" in res.output
    assert "seed 1 broke" in res.output
    assert len(fake_runner) == 2


def test_bench_under_a_launcher_is_refused(tmp_path, fake_runner, monkeypatch):
    """torchrun/accelerate would start the whole sweep once per process."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    res = CliRunner().invoke(cli, ["--quiet", "bench", "tiny", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert res.output.startswith("error: bench was started by a launcher (WORLD_SIZE=2)")
    assert len(fake_runner) == 0 and not (tmp_path / "o").exists()


def test_bench_without_suite_lists_shipped_suites():
    res = CliRunner().invoke(cli, ["bench"])
    assert res.exit_code == 0
    assert "tiny: two encoders x two seeds" in res.output


@pytest.mark.slow
def test_tiny_suite_end_to_end(tmp_path):
    """The real pipeline: 4 tiny runs, a leaderboard from them, a rerun that runs nothing, and
    ``--processes 2`` and ``--backend ray`` giving the same leaderboard."""
    cache = next(o for o in tiny_overrides(tmp_path) if o.startswith("cache_dir="))
    # one thread everywhere: a Ray task runs with the CPUs it asks for (1), and the numbers
    # are identical across backends at the same thread count
    cache = [cache, "threads=1"]
    out = tmp_path / "bench"
    res = CliRunner().invoke(cli, ["--quiet", "bench", "tiny", "--out", str(out), *cache])
    assert res.exit_code == 0, res.output + repr(res.exception)
    results = sorted(out.glob("*/results.json"))
    assert len(results) == 4
    seeds = sorted(RunRecord.read(p.parent).seed for p in results)
    assert seeds == [0, 0, 1, 1]
    df = pd.read_csv(out / "leaderboard.csv")
    eeg = df[(df.condition == "EEG") & (df.metric == "top1_accuracy")]
    assert sorted(eeg.encoder) == ["eegnet", "linear"] and (eeg.n == 2).all()
    for _, line in eeg.iterrows():
        values = [float(v) for v in line["values"].split(";")]
        assert line["mean"] == pytest.approx(sum(values) / 2)
    again = CliRunner().invoke(cli, ["--quiet", "bench", "tiny", "--out", str(out), *cache])
    assert again.exit_code == 0 and "ran 0 of 4 configurations" in again.output

    # two configurations at a time, each in its own process: the same leaderboard
    side = tmp_path / "bench-side"
    args = ["--quiet", "bench", "tiny", "--out", str(side), "--processes", "2", *cache]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "ran 4 of 4 configurations" in res.output
    assert [RunRecord.read(p.parent).hardware["threads"] for p in side.glob("*/results.json")] == [
        1
    ] * 4
    a, b = (pd.read_csv(d / "leaderboard.csv").drop(columns="runs") for d in (out, side))
    pd.testing.assert_frame_equal(a, b)
    assert (side / "leaderboard.md").read_text() == (out / "leaderboard.md").read_text()

    # the same suite as Ray tasks on a local Ray of 2 CPUs: the same leaderboard
    pytest.importorskip("ray", reason="the ray extra is not installed")
    on_ray = tmp_path / "bench-ray"
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's sockets need a short path
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("RAY_TMPDIR", ray_tmp)
            res = CliRunner().invoke(
                cli,
                ["--quiet", "bench", "tiny", "--out", str(on_ray), *cache]
                + ["--backend", "ray", "--num-cpus", "2"],
            )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "ran 4 of 4 configurations" in res.output
    a, b = (pd.read_csv(d / "leaderboard.csv").drop(columns="runs") for d in (out, on_ray))
    pd.testing.assert_frame_equal(a, b)
    assert (on_ray / "leaderboard.md").read_text() == (out / "leaderboard.md").read_text()


@pytest.mark.slow
def test_suites_and_the_record_schema_ship_with_a_non_editable_install(tmp_path):
    """Installed from a built wheel (no source tree on the path), `eegbench bench` lists suites."""
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(
        root,
        src,
        ignore=shutil.ignore_patterns(
            ".*", "build", "dist", "runs", "*.egg-info", "__pycache__", "tests", "docs"
        ),
    )
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    res = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert (site / "eegbench" / "results" / "results.schema.json").is_file()
    assert (site / "eegbench" / "config" / "benchmarks" / "synthetic.yaml").is_file()
    code = (
        "import sys, eegbench\n"
        f"assert eegbench.__file__.startswith({str(site)!r}), eegbench.__file__\n"
        "from eegbench.cli import main\n"
        "sys.argv = ['eegbench', 'bench']\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    listed = [line.split(":", 1)[0] for line in res.stdout.splitlines()]
    assert {"default", "tiny"} <= set(listed), res.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("metrics.bleu.smooth_method=plus", "metrics.bleu.smooth_method='plus'"),
        ("metrics.rouge.use_stemmer=maybe", "metrics.rouge.use_stemmer='maybe'"),
        ("eval.controls=[only_obj,nosie]", "unknown control 'nosie'"),
        ("device=gpu", "device='gpu': use auto, cpu, cuda, cuda:N or mps"),
    ],
)
def test_bench_dry_run_catches_config_errors(tmp_path, override, message):
    suite = write_suite(
        tmp_path,
        encoders=["linear"],
        seeds=[0],
        overrides=["eval.metrics=[accuracy,bleu,rouge]", override],
    )
    res = CliRunner().invoke(cli, ["bench", str(suite), "--out", str(tmp_path), "--dry-run"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code != 0 and len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and message in lines[0], res.output


@pytest.mark.parametrize(("free", "processes", "expected"), [(2, 2, 1), (8, 3, 2), (1, 4, 1)])
def test_side_by_side_runs_share_the_free_cores(monkeypatch, free, processes, expected):
    from eegbench.train import device

    monkeypatch.setattr(device, "choose_threads", lambda requested: free)
    assert bench.run_threads(processes) == expected


def test_processes_is_a_local_backend_option(tmp_path):
    res = CliRunner().invoke(
        cli, ["bench", "tiny", "--out", str(tmp_path), "--backend", "ray", "--processes", "2"]
    )
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: --processes is an option of the local backend; with --backend ray use "
        "--num-cpus and --cpus-per-run, with --backend slurm --array-parallelism."
    ]
