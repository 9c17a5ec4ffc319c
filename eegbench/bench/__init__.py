"""Benchmark suites: datasets x encoders x targets x llms x seeds, each run once, then ranked.

A suite is a YAML file (``eegbench/bench/suites/NAME.yaml``)::

    description: two encoders, two seeds on the synthetic dataset
    base: null                  # a config file to start from (default: eegbench's defaults)
    datasets: [synthetic]       # each entry a name or {name: ..., param: value, ...}
    encoders: [eegnet, {name: dilated, width: 0.25}]
    targets: [minilm]           # optional: an axis left out keeps the base config's choice
    llms: [tiny-gpt2]
    seeds: [0, 1]
    overrides: [stage1.epochs=8, eval.controls=all]   # shared by every configuration
    leaderboard: {metrics: [top1_accuracy, bleu_4], delta: [only_obj]}

A configuration's key is a digest of its resolved config without ``output_dir``, ``run_name``,
``cache_dir`` and ``threads`` (as MOABB keys results by pipeline); a finished run with the same
key in the output directory is not run again, and an interrupted one is resumed. The local
backend runs the rest one after another in this process, or ``processes`` at a time in
processes of their own that share the cores (``run_threads``); ``ray_backend`` runs each as a
Ray task, ``slurm_backend`` as a task of one Slurm job array. All run exactly the tasks
``pending`` lists, each through ``run_job``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from eegbench.contract.errors import ConfigError, EegbenchError
from eegbench.contract.registry import GROUPS, did_you_mean
from eegbench.io import file_problem
from eegbench.results.record import WHERE_KEYS, run_name

if TYPE_CHECKING:
    from eegbench.bench.ray_backend import RayOptions
    from eegbench.bench.slurm_backend import SlurmOptions
    from eegbench.config import RunConfig

SUITES_DIR = Path(__file__).resolve().parent / "suites"  # shipped as package data
AXES = {kind: group for group, kind in GROUPS.items()}  # suite key (plural) -> config group
SUITE_KEYS = ("description", "base", *AXES, "seeds", "overrides", "leaderboard")
LEADERBOARD_KEYS = (
    "metrics",
    "group_by",
    "controls",
    "delta",
    "sort_by",
    "digits",
    "pairs",
    "pair_metrics",
    "correction",
)


@dataclass
class Suite:
    """A parsed suite file."""

    name: str
    path: Path
    description: str = ""
    base: Path | None = None
    axes: dict[str, list[list[str]]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [42])
    overrides: list[str] = field(default_factory=list)
    leaderboard: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One configuration of a suite."""

    overrides: list[str]
    config: RunConfig
    key: str
    name: str
    done: Path | None = None


def list_suites() -> list[str]:
    """Names of the suites shipped in ``eegbench/bench/suites``."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(name_or_path: str | Path) -> Path:
    """The file of a shipped suite name, or the given path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        problem = file_problem(p)
        if problem:
            raise ConfigError(f"suite file {str(p)!r} {problem}.")
        return p
    shipped = SUITES_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError(
            f"unknown suite {str(name_or_path)!r}." + did_you_mean(str(p), list_suites())
        )
    return shipped


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _axis_entry(group: str, entry: Any, where: str) -> list[str]:
    if isinstance(entry, str):
        return [f"{group}={entry}"]
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        params = [f"{group}.{k}={_value(v)}" for k, v in entry.items() if k != "name"]
        return [f"{group}={entry['name']}", *params]
    raise ConfigError(f"{where}: each entry is a name or a mapping with 'name', got {entry!r}.")


def load_suite(name_or_path: str | Path) -> Suite:
    """Parse and check a suite file (unknown keys and malformed entries are errors)."""
    path = suite_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"suite {str(path)!r} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"suite {str(path)!r} must be a mapping (datasets, encoders, ...).")
    for key in data:
        if key not in SUITE_KEYS:
            raise ConfigError(
                f"suite {path.name}: unknown key {key!r}." + did_you_mean(key, list(SUITE_KEYS))
            )
    suite = Suite(name=path.stem, path=path, description=str(data.get("description", "")))
    if data.get("base"):
        base = Path(data["base"])
        suite.base = base if base.is_absolute() else path.parent / base
    for axis, group in AXES.items():
        entries = data.get(axis)
        if entries is None:
            continue
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"suite {path.name}: {axis} must be a non-empty list.")
        suite.axes[group] = [_axis_entry(group, e, f"suite {path.name}, {axis}") for e in entries]
    seeds = data.get("seeds", [42])
    if not isinstance(seeds, list) or not seeds or not all(type(s) is int for s in seeds):
        raise ConfigError(f"suite {path.name}: seeds must be a non-empty list of integers.")
    suite.seeds = seeds
    overrides = data.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"suite {path.name}: overrides must be a list of 'key=value' strings.")
    suite.overrides = overrides
    board = data.get("leaderboard") or {}
    for key in board:
        if key not in LEADERBOARD_KEYS:
            raise ConfigError(
                f"suite {path.name}: unknown leaderboard option {key!r}."
                + did_you_mean(key, list(LEADERBOARD_KEYS))
            )
    suite.leaderboard = dict(board)
    return suite


def config_key(cfg: dict[str, Any]) -> str:
    """A digest of a resolved config, ignoring where the run is written and cached."""
    ident = {k: v for k, v in cfg.items() if k not in WHERE_KEYS}
    text = json.dumps(ident, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def finished_runs(out_dir: Path) -> dict[str, Path]:
    """``{config key: run directory}`` of the complete runs under ``out_dir``."""
    from eegbench.report.leaderboard import Run, find_run_dirs, read_run

    if not out_dir.is_dir():
        return {}
    found: dict[str, Path] = {}
    for d in find_run_dirs([out_dir]):
        r = read_run(d)
        if isinstance(r, Run):
            found.setdefault(config_key(r.config), d)
    return found


def plan(suite: Suite, out_dir: Path, extra: list[str] = ()) -> list[Job]:
    """Every configuration of the suite, resolved (config errors surface before any run)."""
    from eegbench.config import build_config

    done = finished_runs(out_dir)
    jobs: list[Job] = []
    axes = list(suite.axes.values())
    for combo in itertools.product(*axes, suite.seeds):
        *choices, seed = combo
        overrides = [*suite.overrides, *itertools.chain(*choices), f"seed={seed}", *extra]
        cfg = build_config([*overrides, f"output_dir={out_dir}"], base=suite.base)
        key = config_key(cfg.to_dict())
        if any(j.key == key for j in jobs):
            continue
        name = run_name(cfg, key[:8])
        cfg = cfg.replace(run_name=name)
        jobs.append(Job(overrides, cfg, key, name, done.get(key)))
    return jobs


@dataclass
class BenchResult:
    jobs: list[Job]
    ran: list[Path]
    failed: list[tuple[Job, str]]
    seconds: float


@dataclass
class Task:
    """A configuration to run now: ``resume`` is its interrupted run's partial folder, if any."""

    job: Job
    resume: Path | None = None


BACKENDS = ("local", "ray", "slurm")


def pending(jobs: list[Job], out_dir: Path) -> list[Task]:
    """The jobs without a finished run, each with its interrupted run to resume (if one is left
    in ``out_dir``); every backend runs exactly these."""
    from eegbench.results.rundir import interrupted_runs, partial_name

    interrupted = {partial_name(p): p for p in interrupted_runs(out_dir)}
    return [Task(j, interrupted.get(j.name)) for j in jobs if j.done is None]


def run_job(config: RunConfig, resume: Path | None = None) -> Path:
    """Run one configuration into its run directory (continuing ``resume``, its interrupted
    run, when given); the local backend and every Ray task call this."""
    import eegbench.runner as runner

    record = runner.resume(resume) if resume is not None else runner.run(config)
    return record.run_dir


def run_suite(
    suite: Suite,
    out_dir: Path,
    extra: list[str] = (),
    backend: str = "local",
    ray: RayOptions | None = None,
    processes: int = 1,
    slurm: SlurmOptions | None = None,
) -> BenchResult:
    """Run the configurations that have no finished run in ``out_dir`` yet: here, one after
    another (``backend="local"``) or ``processes`` side by side, as Ray tasks (``"ray"``,
    with ``ray``'s options) or as a Slurm job array (``"slurm"``, with ``slurm``'s)."""
    import time

    from eegbench.progress import log

    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; use local, ray or slurm.")
    if processes < 1:
        raise ConfigError(f"--processes {processes}: use 1 or more.")
    if processes > 1 and backend != "local":
        raise ConfigError(
            "--processes runs configurations side by side on the local backend; with --backend "
            "ray use --num-cpus and --cpus-per-run, with --backend slurm --array-parallelism."
        )
    world = os.environ.get("WORLD_SIZE", "1")
    if world != "1":
        raise ConfigError(
            f"bench was started by a launcher (WORLD_SIZE={world}); start it as one process "
            "(without torchrun or accelerate launch): it runs the configurations itself."
        )
    jobs = plan(suite, out_dir, list(extra))
    todo = pending(jobs, out_dir)
    log(f"suite {suite.name}: {len(jobs)} configurations, {len(jobs) - len(todo)} already done")
    ran: list[Path] = []
    failed: list[tuple[Job, str]] = []
    t0 = time.perf_counter()
    if backend == "ray":
        from eegbench.bench.ray_backend import RayOptions, run_on_ray

        outcomes = run_on_ray(todo, ray or RayOptions())
    elif backend == "slurm":
        from eegbench.bench.slurm_backend import SlurmOptions, run_on_slurm

        outcomes = run_on_slurm(todo, out_dir, slurm or SlurmOptions())
    elif processes > 1 and len(todo) > 1:
        outcomes = _run_side_by_side(todo, processes)
    else:
        outcomes = _run_here(todo)
    for job, run_dir, error in outcomes:
        if run_dir is None:
            failed.append((job, str(error)))
        else:
            ran.append(run_dir)
            job.done = run_dir
    return BenchResult(jobs, ran, failed, time.perf_counter() - t0)


def _run_here(todo: list[Task]) -> Iterator[tuple[Job, Path | None, str | None]]:
    """The local backend: each task in this process, in order; a failed one is logged."""
    from eegbench.progress import log

    for i, task in enumerate(todo, 1):
        log(f"[bold]\\[{i}/{len(todo)}] {task.job.name}[/bold]")
        try:
            run_dir = run_job(task.job.config, task.resume)
        except EegbenchError as e:
            log(f"[red]failed:[/red] {task.job.name}: {e}")
            yield task.job, None, str(e)
            continue
        yield task.job, run_dir, None


def run_threads(processes: int) -> int:
    """Torch threads of each of ``processes`` runs side by side whose config leaves ``threads``
    unset: the cores other processes leave free now (as one ``eegbench run`` would take them),
    divided among the runs, at least one."""
    from eegbench.train.device import choose_threads

    return max(1, choose_threads(None) // processes)


def _run_side_by_side(
    todo: list[Task], processes: int
) -> Iterator[tuple[Job, Path | None, str | None]]:
    """The local backend with ``processes`` workers (spawned processes, each running tasks one
    after another as the sequential backend does), ``run_threads`` threads per run unless its
    config sets ``threads``; yields each outcome as it finishes. Stopping the bench stops the
    workers, whose interrupted runs a rerun resumes."""
    import multiprocessing as mp

    from eegbench.progress import is_quiet, log, log_format

    threads = run_threads(processes)
    n = min(processes, len(todo))
    log(f"{len(todo)} configurations, {n} at a time, {threads} thread(s) each")
    quiet = is_quiet() or log_format() != "json"  # progress bars of several runs would mix
    args = [
        (t.job.name, t.job.config.replace(threads=t.job.config.threads or threads), t.resume)
        for t in todo
    ]
    jobs = {t.job.name: t.job for t in todo}
    pool = mp.get_context("spawn").Pool(n, _start_worker, (quiet, log_format()))
    try:
        for i, (name, run_dir, error) in enumerate(pool.imap_unordered(_worker, args), 1):
            if error is None:
                log(f"[bold]\\[{i}/{len(todo)}] {name}[/bold] done")
                yield jobs[name], Path(run_dir), None
            else:
                log(f"[red]failed:[/red] {name}: {error}")
                yield jobs[name], None, error
        pool.close()
    except BaseException:
        pool.terminate()  # SIGTERM: the runs stop where they are, resumable from a checkpoint
        raise
    finally:
        pool.join()


def _start_worker(quiet: bool, fmt: str) -> None:
    """A side-by-side worker logs as the bench was told to (no progress bars on a terminal) and
    leaves Ctrl-C to the bench, which stops it."""
    import signal

    from eegbench.progress import set_log_format, set_quiet

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_quiet(quiet)
    set_log_format(fmt)  # type: ignore[arg-type]


def _worker(
    arg: tuple[str, RunConfig, Path | None],
) -> tuple[str, str | None, str | None]:
    """One configuration in a side-by-side worker: ``(run name, run directory, None)`` or
    ``(run name, None, error line)``."""
    name, config, resume = arg
    try:
        return name, str(run_job(config, resume)), None
    except EegbenchError as e:
        return name, None, str(e)


def leaderboard_options(suite: Suite) -> dict[str, Any]:
    """The suite's ``leaderboard`` section as ``eegbench.report.leaderboard.build`` options."""
    opts = dict(suite.leaderboard)
    for key in ("metrics", "group_by", "delta", "pair_metrics"):
        if isinstance(opts.get(key), str):
            opts[key] = [s.strip() for s in opts[key].split(",")]
    return opts
