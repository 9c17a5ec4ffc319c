"""``eegbench bench --backend ray``: every configuration of a suite as one Ray task.

The driver decides what runs and what resumes (``bench.pending``, as for the local backend);
each Ray task calls ``bench.run_job``, the function the local backend calls, in the folder the
bench was started in, with the CPUs (``threads``) and GPUs it asked for. ``address`` joins a
running cluster; without it a local Ray starts and stops again at the end. Run directories land
in the output directory, which on a cluster must be a file system every node shares.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.bench import Job, Task, run_job
from eegbench.contract.errors import ConfigError, EegbenchError

if TYPE_CHECKING:
    from eegbench.config import RunConfig

INSTALL = "pip install -c constraints.txt 'eegbench[ray]'"
OBJECT_STORE_BYTES = 100 * 1024**2  # tasks exchange configs and paths only


@dataclass(frozen=True)
class RayOptions:
    """Where the tasks run and what each asks for.

    ``num_cpus``: CPUs of a local Ray (None: all of this machine's); ``cpus_per_run``: None
    takes the config's ``threads``, else 1; ``gpus_per_run``: None asks for 1 GPU when the
    config's device is ``cuda``, else none.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_run: int | None = None
    gpus_per_run: float | None = None


def require_ray() -> Any:
    """The ``ray`` module; ConfigError naming the extra when it is not installed."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def resources(job: Job, options: RayOptions) -> tuple[int, float]:
    """The (CPUs, GPUs) the task of ``job`` asks Ray for."""
    cpus = options.cpus_per_run or job.config.threads or 1
    if options.gpus_per_run is not None:
        gpus = options.gpus_per_run
    else:
        gpus = 1.0 if job.config.device == "cuda" else 0.0
    return int(cpus), float(gpus)


def check(jobs: list[Job], options: RayOptions) -> None:
    """What only the Ray backend refuses, checked before Ray starts (and by ``--dry-run``)."""
    require_ray()
    if options.address is not None and options.num_cpus is not None:
        raise ConfigError(
            "--num-cpus sizes a local Ray; a cluster joined with --address has its own CPUs."
        )
    for job in jobs:
        device = job.config.device
        if device.startswith("cuda:"):
            raise ConfigError(
                f"{job.name}: device={device!r} picks a GPU by index, but Ray hands each run "
                "its own GPU; use device=cuda."
            )
        if device == "cuda" and resources(job, options)[1] == 0:
            raise ConfigError(
                f"{job.name}: device=cuda with --gpus-per-run 0 would see no GPU; ask for one "
                "(--gpus-per-run 1, or a fraction to share it) or use device=cpu."
            )


def run_on_ray(
    todo: list[Task], options: RayOptions
) -> Iterator[tuple[Job, Path | None, str | None]]:
    """Run ``todo`` as Ray tasks; yields ``(job, run directory or None, error or None)`` as
    each one finishes. A failed task does not stop the others."""
    from eegbench.progress import is_quiet, log, log_format

    check([t.job for t in todo], options)
    if not todo:
        return
    ray = require_ray()
    started = _connect(ray, options, quiet=is_quiet() or log_format() == "json")
    waiting: list[Any] = []
    try:
        _check_capacity(ray, todo, options)
        remote = ray.remote(_task)
        jobs: dict[Any, Job] = {}
        cwd = os.getcwd()
        for task in todo:
            cpus, gpus = resources(task.job, options)
            ref = remote.options(
                num_cpus=cpus, num_gpus=gpus, max_retries=0, name=task.job.name
            ).remote(
                task.job.config.replace(threads=cpus),
                None if task.resume is None else str(task.resume),
                cwd,
                is_quiet(),
                log_format(),
            )
            jobs[ref] = task.job
        waiting = list(jobs)
        where = f"the Ray cluster at {options.address}" if options.address else "a local Ray"
        log(f"{len(todo)} configurations submitted to {where}")
        for n in range(1, len(todo) + 1):
            ready, waiting = ray.wait(waiting, num_returns=1)
            job = jobs[ready[0]]
            run_dir, error = _outcome(ray, ready[0])
            if error is None:
                log(f"[bold]\\[{n}/{len(todo)}] {job.name}[/bold] done")
            else:
                log(f"[red]failed:[/red] {job.name}: {error}")
            yield job, run_dir, error
    except KeyboardInterrupt:
        for ref in waiting:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _connect(ray: Any, options: RayOptions, quiet: bool) -> bool:
    """Join ``options.address`` or start a local Ray; False when this process already was in
    one (then it is left running)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {
        "log_to_driver": not quiet,
        "logging_level": logging.ERROR if quiet else logging.WARNING,
    }
    if options.address is not None:
        kwargs["address"] = options.address
        what = f"join the Ray cluster at {options.address}"
    else:
        kwargs.update(
            address="local",
            num_cpus=options.num_cpus,
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
        )
        what = "start a local Ray"
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        raise EegbenchError(f"cannot {what}: {_first_line(e)}") from None
    return True


def _check_capacity(ray: Any, todo: list[Task], options: RayOptions) -> None:
    """A task that asks for more than the cluster has would wait forever: refuse it now."""
    total = ray.cluster_resources()
    for task in todo:
        cpus, gpus = resources(task.job, options)
        for name, want, flag in (("CPU", cpus, "--cpus-per-run"), ("GPU", gpus, "--gpus-per-run")):
            have = total.get(name, 0)
            if want > have:
                raise ConfigError(
                    f"{task.job.name} asks Ray for {want:g} {name}(s) but the cluster has "
                    f"{have:g}; lower {flag} or add nodes."
                )


def _outcome(ray: Any, ref: Any) -> tuple[Path | None, str | None]:
    """(run directory, None) of a finished task, or (None, one line saying why it failed)."""
    try:
        run_dir, error = ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = e.cause if e.cause is not None else e
        return None, f"{type(cause).__name__}: {_first_line(cause)}"
    except ray.exceptions.RayError as e:
        return None, f"{type(e).__name__}: {_first_line(e)}"
    if error is not None:
        return None, error
    path = Path(run_dir)
    if not path.is_dir():
        return None, (
            f"the run finished in {run_dir!r} on another node, which this machine cannot see; "
            "put --out on a file system every Ray node shares."
        )
    return path, None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _task(
    config: RunConfig, resume: str | None, cwd: str, quiet: bool, log_format: str
) -> tuple[str | None, str | None]:
    """One configuration in a Ray worker: ``(run directory, None)`` or ``(None, error line)``."""
    from eegbench.progress import set_log_format, set_quiet

    if not Path(cwd).is_dir():
        return None, (
            f"the folder the bench started in, {cwd!r}, does not exist on node "
            f"{socket.gethostname()}; start it from a folder every Ray node shares."
        )
    os.chdir(cwd)
    set_quiet(quiet)
    set_log_format(log_format)  # type: ignore[arg-type]
    try:
        return str(run_job(config, None if resume is None else Path(resume))), None
    except EegbenchError as e:
        return None, str(e)
