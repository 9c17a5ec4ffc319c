"""A run killed with SIGKILL in stage 1 or stage 2 and resumed ends with the same bytes as an
uninterrupted run at the same seed (CPU, one thread)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from tests.conftest import tiny_overrides

SAME = ("predictions.csv", "eeg_classifier.safetensors", "projector.safetensors")


def _overrides(tmp: Path, out: Path) -> list[str]:
    cfg = [o for o in tiny_overrides(tmp) if not o.startswith(("output_dir=", "stage"))]
    return [
        *cfg,
        f"output_dir={out}",
        "threads=1",
        "run_name=r",
        "stage1.epochs=3",
        "stage1.batch_size=16",
        "stage2.epochs=2",
        "stage2.phases=[target,eeg]",
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("resume")
    result = CliRunner().invoke(cli, ["-q", "run", *_overrides(tmp, tmp / "ref")])
    assert result.exit_code == 0, result.output
    return tmp, tmp / "ref" / "r"


def _killed_run(tmp: Path, out: Path, kill_after: str) -> Path:
    env = {**os.environ, "EEGBENCH_KILL_AFTER": kill_after}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from eegbench.cli import main; main()",
            "-q",
            "run",
            *_overrides(tmp, out),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    (partial,) = out.glob(".partial-r.*")
    assert not (out / "r").exists()
    return partial


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["stage1:2", "stage2:1"])
def test_resume_after_kill_gives_the_same_bytes(reference, kill_after):
    tmp, ref = reference
    out = tmp / kill_after.replace(":", "-")
    partial = _killed_run(tmp, out, kill_after)
    result = CliRunner().invoke(cli, ["-q", "run", "--resume", str(partial)])
    assert result.exit_code == 0, result.output
    resumed = out / "r"
    assert not partial.exists() and sorted(p.name for p in out.iterdir()) == ["r"]
    for name in SAME:
        assert (resumed / name).read_bytes() == (ref / name).read_bytes(), name
    a = json.loads((ref / "results.json").read_text())
    b = json.loads((resumed / "results.json").read_text())
    for key in ("metrics", "controls", "training", "model", "dataset"):
        assert json.dumps(a[key], sort_keys=True) == json.dumps(b[key], sort_keys=True), key


def test_bench_resumes_an_interrupted_configuration(tmp_path, monkeypatch):
    """``bench`` hands a killed configuration's partial folder to ``resume``, not ``run``."""
    from eegbench.report import bench
    from eegbench.train import runner

    suite_file = tmp_path / "s.yaml"
    suite_file.write_text("encoders: [linear]\nseeds: [1]\n")
    suite = bench.load_suite(suite_file)
    out = tmp_path / "out"
    (job,) = bench.plan(suite, out)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    partial = out / f".partial-{job.name}.{dead}.abc"
    (partial / "checkpoint").mkdir(parents=True)
    (partial / "checkpoint" / "state.json").write_text("{}")
    (partial / "config.yaml").write_text("seed: 1\n")
    calls = []

    class Done:
        run_dir = out / job.name

    monkeypatch.setattr(runner, "resume", lambda path: calls.append(("resume", path)) or Done)
    monkeypatch.setattr(runner, "run", lambda cfg: calls.append(("run", cfg)) or Done)
    bench.run_suite(suite, out)
    assert calls == [("resume", partial)]
