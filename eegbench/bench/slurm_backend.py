"""``eegbench bench --backend slurm``: the configurations of a suite as one Slurm job array.

The driver decides what runs and what resumes (``bench.pending``, as for the other backends),
writes the pending configurations to ``OUT/.slurm/<batch>/tasks.json`` and an ``sbatch`` script
beside it, submits it as one array (``%N`` caps how many run at once), waits until the array
has left the queue, and reads each task's outcome file; the leaderboard is then built from the
run folders as for any backend. Each array task runs ``python -m eegbench.bench.slurm_backend
TASKS INDEX`` in the folder the bench was started in: its configuration through
``bench.run_job``, continuing its interrupted run when one is left in the output folder.

Pre-emption: with ``requeue`` the script asks Slurm for ``--requeue`` and a SIGTERM
``grace`` seconds before the time limit; a task stopped by SIGTERM (pre-emption, the time
limit, ``scancel --signal=TERM``) ends its run at the next safe point, resumable from its
checkpoint, and requeues itself (``scontrol requeue``); the restarted task resumes it.

``sbatch`` is called directly (not through submitit): the script is plain text that
``--dry-run`` prints and a user can submit by hand, tasks carry configurations as JSON (no
pickled functions, so a node with another Python build runs them), and Slurm's own requeue
meets eegbench's existing resume; nothing beyond Slurm's client commands is needed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eegbench.bench import Job, Task, run_job
from eegbench.contract.errors import ConfigError, EegbenchError

COMMANDS = ("sbatch", "squeue", "scontrol")
ENDED = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REVOKED",
    "SPECIAL_EXIT",
    "TIMEOUT",
}
"""Job states after which a task does not run again (a requeued one is REQUEUED, then PENDING)."""
REQUEUE_GRACE = 120.0  # seconds a requeued task waits for Slurm to stop it
SQUEUE_RETRIES = 10  # consecutive squeue failures (a controller restarting) before giving up
FOLDER = ".slurm"


@dataclass(frozen=True)
class SlurmOptions:
    """What the array asks Slurm for.

    ``cpus_per_run``: None takes the largest ``threads`` of the configurations, else 1;
    ``gpus_per_run``: None asks for 1 GPU when a configuration's device is ``cuda``, else
    none; ``parallelism``: at most this many tasks at once (None: Slurm decides);
    ``sbatch_lines``: further ``#SBATCH`` options, e.g. ``--account=lab`` or ``--mem=16G``;
    ``poll_seconds``: how often the driver asks ``squeue`` whether the array is done.
    """

    partition: str | None = None
    time: str | None = None
    cpus_per_run: int | None = None
    gpus_per_run: int | None = None
    parallelism: int | None = None
    sbatch_lines: tuple[str, ...] = ()
    requeue: bool = False
    grace: int = 120
    poll_seconds: float = 10.0


@dataclass
class Batch:
    """One submission: its folder, task list and script."""

    folder: Path
    tasks: list[Task]
    script: str = ""
    job_id: str = ""
    log_pattern: str = field(default="")


def resources(jobs: list[Job], options: SlurmOptions) -> tuple[int, int]:
    """The (CPUs, GPUs) every task of the array asks for."""
    cpus = options.cpus_per_run or max((j.config.threads or 1 for j in jobs), default=1)
    if options.gpus_per_run is not None:
        return cpus, options.gpus_per_run
    return cpus, int(any(j.config.device.startswith("cuda") for j in jobs))


def check(jobs: list[Job], options: SlurmOptions) -> None:
    """What only the Slurm backend refuses, before anything is submitted."""
    for line in options.sbatch_lines:
        if not line.startswith("--") or "\n" in line:
            raise ConfigError(
                f"--sbatch {line!r}: give one sbatch option per flag, e.g. --sbatch=--mem=16G."
            )
    cpus, gpus = resources(jobs, options)
    for job in jobs:
        if job.config.device.startswith("cuda:"):
            raise ConfigError(
                f"{job.name}: device={job.config.device!r} picks a GPU by index, but Slurm "
                "hands each task its own GPU; use device=cuda."
            )
        if job.config.device == "cuda" and gpus == 0:
            raise ConfigError(
                f"{job.name}: device=cuda with --gpus-per-run 0 would see no GPU; ask for one "
                "or use device=cpu."
            )


def require_slurm() -> None:
    """Slurm's client commands are on PATH; one line naming the first missing one otherwise."""
    for command in COMMANDS:
        if shutil.which(command) is None:
            raise ConfigError(
                f"--backend slurm needs Slurm's {command!r} on PATH; run the bench on a "
                "Slurm login node (or install slurm-client)."
            )


def script(batch: Batch, jobs: list[Job], options: SlurmOptions, cwd: Path) -> str:
    """The ``sbatch`` script of ``batch``: one array task per configuration."""
    cpus, gpus = resources(jobs, options)
    n = len(batch.tasks)
    array = f"0-{n - 1}" + (f"%{options.parallelism}" if options.parallelism else "")
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name=eegbench-{batch.folder.name}",
        f"#SBATCH --array={array}",
        f"#SBATCH --output={batch.folder / '%A_%a.log'}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={cpus}",
    ]
    if gpus:
        lines.append(f"#SBATCH --gres=gpu:{gpus}")
    if options.partition:
        lines.append(f"#SBATCH --partition={options.partition}")
    if options.time:
        lines.append(f"#SBATCH --time={options.time}")
    if options.requeue:
        lines += ["#SBATCH --requeue", f"#SBATCH --signal=B:TERM@{options.grace}"]
    lines += [f"#SBATCH {line}" for line in options.sbatch_lines]
    command = [sys.executable, "-m", "eegbench.bench.slurm_backend", str(batch.folder)]
    lines += [
        f"cd {shlex.quote(str(cwd))}",
        f'exec {shlex.join(command)} "$SLURM_ARRAY_TASK_ID"',
        "",
    ]
    return "\n".join(lines)


def prepare(todo: list[Task], out_dir: Path, options: SlurmOptions) -> Batch:
    """The batch folder's name, tasks and script (nothing written yet: ``--dry-run``)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = (out_dir / FOLDER / stamp).absolute()
    batch = Batch(folder, todo)
    batch.script = script(batch, [t.job for t in todo], options, Path.cwd())
    return batch


def _write(batch: Batch, options: SlurmOptions) -> None:
    batch.folder.mkdir(parents=True, exist_ok=True)
    tasks = [
        {"name": t.job.name, "out": str(t.job.config.output_dir), "config": t.job.config.to_dict()}
        for t in batch.tasks
    ]
    doc = {"requeue": options.requeue, "tasks": tasks}
    (batch.folder / "tasks.json").write_text(json.dumps(doc, indent=1, default=str))
    (batch.folder / "job.sh").write_text(batch.script)


def submit(batch: Batch, options: SlurmOptions) -> str:
    """Write the batch and submit its script; returns the array's job id."""
    _write(batch, options)
    try:
        res = subprocess.run(
            ["sbatch", "--parsable", str(batch.folder / "job.sh")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EegbenchError(f"sbatch failed: {e}") from None
    if res.returncode != 0:
        raise EegbenchError(f"sbatch refused the array: {_first_line(res.stderr or res.stdout)}")
    batch.job_id = res.stdout.strip().split(";")[0]
    return batch.job_id


def wait(job_id: str, poll_seconds: float, settle_seconds: float = 3.0) -> None:
    """Until every task of the array has ended (a requeued task counts as queued);
    ``squeue`` is asked after 1 s, then at doubling intervals up to ``poll_seconds``. An end is
    confirmed by a second look ``settle_seconds`` later: a task that requeues itself passes
    through an ended state (its step is cancelled) before it is queued again."""
    delay, failures, ended_once = min(1.0, poll_seconds), 0, False
    while True:
        res = subprocess.run(
            ["squeue", "--noheader", "--array", "--states=all", "--jobs", job_id, "--format=%T"],
            capture_output=True,
            text=True,
        )
        gone = res.returncode != 0 and "Invalid job id" in res.stderr
        if gone or (res.returncode == 0 and set(res.stdout.split()) <= ENDED):
            if ended_once:
                return  # every task ended (or none is left in the controller's memory)
            ended_once = True
            time.sleep(settle_seconds)
            continue
        ended_once = False
        failures = failures + 1 if res.returncode != 0 else 0
        if failures > SQUEUE_RETRIES:
            raise EegbenchError(
                f"squeue failed {failures} times while waiting for array job {job_id}: "
                f"{_first_line(res.stderr)}; the array may still run (squeue -j {job_id})."
            )
        time.sleep(delay)
        delay = min(2 * delay, poll_seconds)


def outcome(batch: Batch, index: int) -> tuple[Path | None, str | None]:
    """(run directory, None) of a finished task, or (None, one line saying why it failed)."""
    path = batch.folder / f"result-{index}.json"
    log = batch.folder / f"{batch.job_id}_{index}.log"
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None, f"the Slurm task left no result; see {log}"
    if doc.get("error"):
        return None, str(doc["error"])
    run_dir = Path(doc["run_dir"])
    if not run_dir.is_dir():
        return None, (
            f"the run finished in {str(run_dir)!r} on another node, which this machine cannot "
            "see; put --out on a file system every node shares."
        )
    return run_dir, None


def run_on_slurm(
    todo: list[Task], out_dir: Path, options: SlurmOptions
) -> Iterator[tuple[Job, Path | None, str | None]]:
    """Submit ``todo`` as one array, wait for it, and yield each ``(job, run dir, error)``."""
    from eegbench.progress import log

    check([t.job for t in todo], options)
    if not todo:
        return
    require_slurm()
    batch = prepare(todo, out_dir, options)
    job_id = submit(batch, options)
    log(f"{len(todo)} configurations submitted to Slurm as array job {job_id} ({batch.folder})")
    try:
        wait(job_id, options.poll_seconds)
    except KeyboardInterrupt:
        subprocess.run(["scancel", job_id], capture_output=True)
        raise
    for i, task in enumerate(todo):
        run_dir, error = outcome(batch, i)
        if error is None:
            log(f"[bold]\\[{i + 1}/{len(todo)}] {task.job.name}[/bold] done")
        else:
            log(f"[red]failed:[/red] {task.job.name}: {error}")
        yield task.job, run_dir, error


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else "no message"


# ------------------------------------------------------------------------ inside a Slurm task


def run_task(folder: Path, index: int) -> int:
    """Array task ``index`` of the batch in ``folder``: its configuration, continuing its
    interrupted run if one is left; writes ``result-INDEX.json``. Returns the exit code."""
    from eegbench.config import RunConfig
    from eegbench.results.rundir import interrupted_runs, partial_name
    from eegbench.train.preemption import Interrupted, stop_politely

    doc = json.loads((folder / "tasks.json").read_text())
    task = doc["tasks"][index]
    config = RunConfig.from_dict(task["config"], where=f"{folder / 'tasks.json'} task {index}")
    left = [p for p in interrupted_runs(Path(task["out"])) if partial_name(p) == task["name"]]
    result: dict[str, Any]
    try:
        with stop_politely():
            result = {"run_dir": str(run_job(config, left[0] if left else None))}
    except Interrupted as e:
        if doc["requeue"] and os.environ.get("SLURM_JOB_ID"):
            _requeue()
        return e.exit_code
    except EegbenchError as e:
        result = {"error": str(e)}
    (folder / f"result-{index}.json").write_text(json.dumps(result))
    return 0 if "run_dir" in result else 1


def _requeue() -> None:
    """Put this array task back in the queue (it resumes its run when it starts again)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array}_{task}" if array and task else os.environ["SLURM_JOB_ID"]
    res = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    if res.returncode != 0:
        print(f"scontrol requeue {job} failed: {_first_line(res.stderr)}", flush=True)
        return
    # Slurm now ends this job to queue it again; a task that exited first would end FAILED,
    # and the requeue could be lost: wait to be stopped
    time.sleep(REQUEUE_GRACE)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m eegbench.bench.slurm_backend BATCH_FOLDER INDEX", file=sys.stderr)
        return 2
    return run_task(Path(args[0]), int(args[1]))


if __name__ == "__main__":
    sys.exit(main())
