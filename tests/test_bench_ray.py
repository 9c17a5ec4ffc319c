"""`eegbench bench --backend ray`: options, the tasks it is handed, and a local Ray of 2 workers
giving the same leaderboard as the local backend."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from eegbench import bench
from eegbench.bench import ray_backend
from eegbench.cli import cli
from eegbench.results.record import new_run_dir
from tests.test_bench import fake_record

TINY_DATASET = {"name": "synthetic", "n_classes": 6, "n_subjects": 1, "n_chans": 8, "n_times": 64}
TINY_LLM = {"name": "tiny-gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 300}


def _suite(tmp_path: Path, **data) -> Path:
    p = tmp_path / "suite.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.strip()]


@pytest.mark.parametrize(
    "flag", [["--address", "auto"], ["--num-cpus", "2"], ["--gpus-per-run", "1"]]
)
def test_ray_options_need_the_ray_backend(tmp_path, flag):
    res = CliRunner().invoke(cli, ["bench", "tiny", "--out", str(tmp_path), "--dry-run", *flag])
    assert res.exit_code == 2 and _lines(res.output) == [
        f"error: {flag[0]} is an option of --backend ray; add --backend ray."
    ], res.output


def test_dry_run_without_ray_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    res = CliRunner().invoke(
        cli, ["bench", "tiny", "--out", str(tmp_path), "--dry-run", "--backend", "ray"]
    )
    assert res.exit_code == 2 and _lines(res.output) == [
        "error: --backend ray needs Ray, which is not installed: pip install -c "
        "constraints.txt 'eegbench[ray]'"
    ], res.output


def test_dry_run_shows_each_task_s_resources_and_refuses_what_ray_cannot_place(tmp_path):
    args = ["bench", "tiny", "--out", str(tmp_path), "--dry-run", "--backend", "ray"]
    res = CliRunner().invoke(cli, [*args, "--cpus-per-run", "2", "threads=1"])
    assert res.exit_code == 0, res.output
    lines = _lines(res.output)
    assert len(lines) == 4 and all(ln.endswith("to run (Ray task: 2 CPU, 0 GPU)") for ln in lines)
    res = CliRunner().invoke(cli, [*args, "threads=3"])
    assert all(ln.endswith("(Ray task: 3 CPU, 0 GPU)") for ln in _lines(res.output)), res.output
    res = CliRunner().invoke(cli, [*args, "device=cuda", "--gpus-per-run", "0.5"])
    assert all(ln.endswith("(Ray task: 1 CPU, 0.5 GPU)") for ln in _lines(res.output)), res.output
    for extra, message in [
        (["device=cuda:1"], "device='cuda:1' picks a GPU by index"),
        (["device=cuda", "--gpus-per-run", "0"], "device=cuda with --gpus-per-run 0"),
        (["--address", "auto", "--num-cpus", "2"], "--num-cpus sizes a local Ray"),
    ]:
        res = CliRunner().invoke(cli, [*args, *extra])
        lines = _lines(res.output)
        assert res.exit_code == 2 and len(lines) == 1, res.output
        assert lines[0].startswith("error: ") and message in lines[0], res.output


def test_ray_backend_is_handed_what_the_local_backend_runs(tmp_path, monkeypatch):
    """Finished runs skipped by config digest, an interrupted run resumed: the same tasks."""
    suite = bench.load_suite(_suite(tmp_path, encoders=["linear"], seeds=[0, 1, 2]))
    out = tmp_path / "out"
    done, killed, fresh = bench.plan(suite, out)
    d = new_run_dir(out, done.name)
    (d / "config.yaml").write_text(yaml.safe_dump(done.config.to_dict()))
    fake_record(done.config.to_dict()).write(d)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    partial = out / f".partial-{killed.name}.{dead}.abc"
    (partial / "checkpoint").mkdir(parents=True)
    (partial / "checkpoint" / "state.json").write_text("{}")
    (partial / "config.yaml").write_text("seed: 1\n")
    handed = []

    def fake_run_on_ray(todo, options):
        handed.extend((t.job.name, t.resume) for t in todo)
        assert options == ray_backend.RayOptions(cpus_per_run=2)
        yield todo[0].job, None, "broke"
        yield todo[1].job, out / todo[1].job.name, None

    monkeypatch.setattr(ray_backend, "run_on_ray", fake_run_on_ray)
    result = bench.run_suite(suite, out, backend="ray", ray=ray_backend.RayOptions(cpus_per_run=2))
    assert handed == [(killed.name, partial), (fresh.name, None)]
    assert [j.name for j, _ in result.failed] == [killed.name] and result.failed[0][1] == "broke"
    assert result.ran == [out / fresh.name]
    assert [pending.job.name for pending in bench.pending(bench.plan(suite, out), out)] == [
        killed.name,
        fresh.name,
    ]


@pytest.mark.slow
def test_tiny_sweep_on_a_local_ray_gives_the_local_leaderboard(tmp_path, monkeypatch):
    """2 Ray workers: the same leaderboard as the local backend, a finished run skipped, a
    failed configuration reported by name while the others finish."""
    suite = _suite(
        tmp_path,
        datasets=[TINY_DATASET],
        encoders=["linear", {"name": "conformer", "heads": 3}],  # heads=3 fails in the run
        targets=["minilm"],
        llms=[{**TINY_LLM, "steps": 5}],
        seeds=[0, 1],
        overrides=[
            "stage1.epochs=1",
            "stage1.batch_size=16",
            "stage2.epochs=1",
            "eval.max_new_tokens=4",
            "eval.bootstrap=20",
            "eval.controls=[only_obj]",
            "eval.metrics=[accuracy,cosine,bleu]",
        ],
        leaderboard={"metrics": ["top1_accuracy", "cosine", "bleu_4"], "delta": ["only_obj"]},
    )
    common = ["--quiet", "bench", str(suite), f"cache_dir={tmp_path / 'cache'}", "threads=1"]
    local = CliRunner().invoke(cli, [*common, "--out", str(tmp_path / "local")])
    assert local.exit_code == 1, local.output
    # one finished run is already in the Ray bench's folder: it is skipped, not rerun
    seed0 = next((tmp_path / "local").glob("synthetic-linear-*-s0-*"))
    shutil.copytree(seed0, tmp_path / "ray" / seed0.name)
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's sockets need a short path
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    try:
        res = CliRunner().invoke(
            cli,
            [*common, "--out", str(tmp_path / "ray"), "--backend", "ray", "--num-cpus", "2"],
        )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert res.exit_code == 1, res.output
    assert "ran 1 of 4 configurations" in res.output and "(1 were done already)" in res.output
    assert "2 configuration(s) failed; first: synthetic-conformer-tiny-gpt2-s" in res.output
    assert "heads=3 must divide n_filters=40" in res.output
    assert sorted(p.name for p in (tmp_path / "ray").glob("synthetic-*")) == sorted(
        p.name for p in (tmp_path / "local").glob("synthetic-*")
    )
    assert not list((tmp_path / "ray").glob(".partial-*"))
    a, b = (
        pd.read_csv(tmp_path / d / "leaderboard.csv").drop(columns="runs") for d in ("local", "ray")
    )
    assert len(a) > 0 and (a[a.condition == "EEG"].n == 2).all()
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "ray" / "leaderboard.md").read_text() == (
        tmp_path / "local" / "leaderboard.md"
    ).read_text()
