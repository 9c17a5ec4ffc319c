"""A run killed with SIGKILL, or stopped by SIGTERM or SIGINT, in stage 1 or stage 2 and resumed
ends with the same bytes as an uninterrupted run at the same seed (CPU, one thread).

The signals come from inside the run's process at a chosen point (a wrapper installed before
the command line starts, see ``SIGNALLER``), so each test stops the run exactly there.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.train.checkpoint import Checkpoint
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


# Runs the command line with a wrapper around ``Checkpoint.save``: right after checkpoint NAME
# of epoch EPOCH is saved the process is SIGKILLed, as an out-of-memory killer or a power cut
# would end it.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import eegbench.train.checkpoint as ckpt

    save = ckpt.Checkpoint.save

    def saving(self, name, state):
        save(self, name, state)
        if f"{{name}}:{{state.get('done', -1)}}" == "{kill_after}":
            os.kill(os.getpid(), signal.SIGKILL)

    ckpt.Checkpoint.save = saving
    from eegbench.cli import main
    main(sys.argv[1:])
    """
)


def _killed_run(tmp: Path, out: Path, kill_after: str) -> Path:
    script = KILLER.format(kill_after=kill_after)
    proc = subprocess.run(
        [sys.executable, "-c", script, "-q", "run", *_overrides(tmp, out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    (partial,) = out.glob(".partial-r.*")
    assert not (out / "r").exists()
    return partial


def _assert_same_as(ref: Path, resumed: Path) -> None:
    for name in SAME:
        assert (resumed / name).read_bytes() == (ref / name).read_bytes(), name
    a = json.loads((ref / "results.json").read_text())
    b = json.loads((resumed / "results.json").read_text())
    for key in ("metrics", "controls", "training", "model", "dataset"):
        assert json.dumps(a[key], sort_keys=True) == json.dumps(b[key], sort_keys=True), key


def _resume(partial: Path, out: Path, ref: Path) -> None:
    result = CliRunner().invoke(cli, ["-q", "run", "--resume", str(partial)])
    assert result.exit_code == 0, result.output
    assert not partial.exists() and sorted(p.name for p in out.iterdir()) == ["r"]
    _assert_same_as(ref, out / "r")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["stage1:2", "stage2:1"])
def test_resume_after_kill_gives_the_same_bytes(reference, kill_after):
    tmp, ref = reference
    out = tmp / kill_after.replace(":", "-")
    partial = _killed_run(tmp, out, kill_after)
    _resume(partial, out, ref)


# Runs the command line with a wrapper around ``optimizer_step`` of the stage module: once the
# stage's first checkpoint (1 epoch) is saved, the next training step sends the signal to the
# process itself, so it arrives in the middle of epoch 2's first step.
SIGNALLER = textwrap.dedent(
    """
    import os, signal, sys
    import eegbench.train.checkpoint as ckpt
    import eegbench.train.{stage} as stage

    armed = False
    STEP = "optimizer_step" if hasattr(stage, "optimizer_step") else "apply_step"
    save, step = ckpt.Checkpoint.save, getattr(stage, STEP)

    def saving(self, name, state):
        global armed
        save(self, name, state)
        armed = armed or name == "{stage}"

    def stepping(*args, **kwargs):
        if armed:
            os.kill(os.getpid(), signal.{signal})
        return step(*args, **kwargs)

    ckpt.Checkpoint.save = saving
    setattr(stage, STEP, stepping)
    from eegbench.cli import main
    main(sys.argv[1:])
    """
)


def _default_sigint() -> None:
    """The child starts with SIGINT at its default, as a command typed at a terminal, also when
    pytest runs in a background job or under nohup (which ignore SIGINT, and a run then keeps
    ignoring it: tested in test_preemption.py)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signalled_run(tmp: Path, out: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script, "-q", "run", *_overrides(tmp, out)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_default_sigint,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "signum"),
    [("stage1", signal.SIGTERM), ("stage2", signal.SIGTERM), ("stage1", signal.SIGINT)],
    ids=["stage1-SIGTERM", "stage2-SIGTERM", "stage1-SIGINT"],
)
def test_a_signal_stops_the_run_with_one_line_naming_the_resume_command(reference, stage, signum):
    tmp, ref = reference
    out = tmp / f"{stage}-{signum.name}"
    script = SIGNALLER.format(stage=stage, signal=signum.name)
    proc = _signalled_run(tmp, out, script)
    assert proc.returncode == 128 + signum, proc.stderr[-2000:]
    assert {signal.SIGTERM: 143, signal.SIGINT: 130}[signum] == proc.returncode
    (partial,) = out.glob(".partial-r.*")
    assert not (out / "r").exists()
    line = f"interrupted by {signum.name}; resume with: eegbench run --resume {partial}"
    assert proc.stderr.splitlines() == [line]
    assert Checkpoint(partial / "checkpoint").load(stage)["done"] == 1  # epoch 2's step dropped
    argv = shlex.split(line.split("resume with: ", 1)[1])
    assert argv[:3] == ["eegbench", "run", "--resume"]
    _resume(Path(argv[3]), out, ref)


# Two SIGINTs while epoch 2's checkpoint is being written: the first waits for the write to end,
# the second ends the process at once, so the write never completes and epoch 1's stays.
TWICE = textwrap.dedent(
    """
    import os, signal, sys
    import eegbench.train.checkpoint as ckpt

    writes, write = [], ckpt.atomic_writer

    def writing(path, fn):
        writes.append(path)
        if len(writes) == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return write(path, fn)

    ckpt.atomic_writer = writing
    from eegbench.cli import main
    main(sys.argv[1:])
    """
)


@pytest.mark.slow
def test_a_second_sigint_exits_at_once_leaving_a_resumable_folder(reference):
    tmp, ref = reference
    out = tmp / "twice"
    proc = _signalled_run(tmp, out, TWICE)
    assert proc.returncode == -signal.SIGINT, proc.stderr[-2000:]  # killed by the signal itself
    assert proc.stderr == ""
    (partial,) = out.glob(".partial-r.*")
    assert Checkpoint(partial / "checkpoint").load("stage1")["done"] == 1
    _resume(partial, out, ref)


def test_bench_resumes_an_interrupted_configuration(tmp_path, monkeypatch):
    """``bench`` hands a killed configuration's partial folder to ``resume``, not ``run``."""
    import eegbench.runner as runner
    from eegbench import bench

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


BENCH_SIGNALLER = textwrap.dedent(
    """
    import os, signal, sys, time
    from eegbench import bench

    def run_job(config, resume=None):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)

    bench.run_job = run_job
    from eegbench.cli import main
    main(sys.argv[1:])
    """
)


def test_bench_names_the_command_that_resumes_the_suite(tmp_path):
    """SIGTERM during a configuration of ``bench``: one line naming the bench command, which
    skips the finished runs and resumes the interrupted one."""
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text("encoders: [linear]\nseeds: [1]\n")
    out = tmp_path / "out dir"
    argv = ["bench", str(suite_file), "stage1.epochs=1", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", BENCH_SIGNALLER, "-q", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 143, proc.stderr[-2000:]
    line = f"interrupted by SIGTERM; resume with: eegbench {shlex.join(argv)}"
    assert proc.stderr.splitlines() == [line]
    assert shlex.split(line.split("resume with: ", 1)[1])[1:] == argv
