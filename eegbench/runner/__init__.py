"""``eegbench run``: one config end to end, between typed values (``steps.py``): a ``Session``,
the ``Parts`` (``build_parts``), their training (``fit``), the evaluation (``evaluate``) and the
``RunRecord``. The run folder appears complete or not at all; an interrupted run resumes from its
last checkpoint through the same path (``resume``); ``execute`` is what the command line calls."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

from eegbench.config import RunConfig, build_config
from eegbench.config.preflight import preflight
from eegbench.contract.errors import ConfigError
from eegbench.evaluation.harness import evaluate
from eegbench.io import folder_problem
from eegbench.progress import is_quiet, log, log_format, set_log_format, set_quiet
from eegbench.results.record import RunRecord
from eegbench.results.record import run_name as default_run_name
from eegbench.results.rundir import (
    RunDir,
    StagedRun,
    clean_orphans,
    has_checkpoint,
    is_orphan,
    output_root,
    partial_name,
    staged_run,
)
from eegbench.results.tracking import Tracker, tracking
from eegbench.runner import steps
from eegbench.train.distributed import SINGLE, World, destroy_process_group, from_env, launch
from eegbench.train.fit import fit
from eegbench.train.preemption import Interrupted, stop_politely


def run(cfg: RunConfig, keep_failed: bool = False, name: str | None = None) -> RunRecord | None:
    """Run one resolved config end to end; writes the run directory and returns its record
    (``record.run_dir``).

    The run directory appears only complete; on failure it is removed (``keep_failed``: kept as
    ``NAME.failed`` with ``error.txt``). Under a launcher of several processes (``WORLD_SIZE``
    set, e.g. ``accelerate launch``) the processes train data-parallel; rank 0 evaluates, writes
    the run directory and returns the record, the other ranks return None. ``name``: the run's
    name (default ``run_name(cfg)``).
    """
    writable_cache(cfg.cache_dir)
    preflight(cfg)
    world = from_env()
    try:
        if not world.main:
            set_quiet(True)
            _run(cfg, None, world)
            return None
        return _in_run_folder(cfg, cfg.output_dir, name or run_name(cfg), keep_failed, world)
    finally:
        destroy_process_group(world)


def execute(
    cfg: RunConfig | None,
    *,
    resume_from: str | Path | None = None,
    processes: int = 1,
    keep_failed: bool = False,
) -> RunRecord | None:
    """What ``eegbench run`` does with its parsed arguments: continue the interrupted run
    ``resume_from``, or run ``cfg`` in ``processes`` processes started here, or here (under a
    launcher: as one of its ranks). SIGTERM and SIGINT stop a run of one process resumably
    (``stop_politely``); a data-parallel run keeps no checkpoint, and signals end it as usual.
    Returns the record; None on the ranks other than 0 of a launcher."""
    if resume_from is not None:
        with stop_politely():
            return resume(resume_from, keep_failed=keep_failed)
    assert cfg is not None
    if processes > 1:
        return RunRecord.read(run_processes(cfg, processes, keep_failed=keep_failed))
    polite = stop_politely() if from_env().size == 1 else nullcontext()
    with polite:
        return run(cfg, keep_failed=keep_failed)


def run_processes(cfg: RunConfig, processes: int, keep_failed: bool = False) -> Path:
    """``run`` in ``processes`` data-parallel processes started here; returns the run directory.

    A failed run leaves no partial folder behind (one whose process was stopped is removed)."""
    existed = Path(cfg.output_dir).expanduser().is_dir()
    try:
        settings = (run_name(cfg), is_quiet(), log_format())  # one name, not one per clock
        out = launch(processes, _run_in_process, cfg, keep_failed, *settings)
        return Path(out)
    except BaseException:
        root = output_root(cfg.output_dir)
        clean_orphans(root)
        if not existed and not any(root.iterdir()):
            root.rmdir()
        raise


def _run_in_process(
    cfg: RunConfig, keep_failed: bool, name: str, quiet: bool, fmt: str
) -> str | None:
    """One process of ``run_processes``: logs as the parent was told to, then ``run``."""
    set_quiet(quiet)
    set_log_format(fmt)  # type: ignore[arg-type]
    record = run(cfg, keep_failed, name)
    return None if record is None else str(record.run_dir)


def writable_cache(cache_dir: str) -> Path:
    """Check that ``cache_dir`` is (or can be created as) a writable folder, creating nothing."""
    path = Path(cache_dir).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = folder_problem(existing)
    if problem:
        raise ConfigError(
            f"cache_dir {str(path)!r} cannot be a folder: {str(existing)!r} {problem}; set "
            "cache_dir=PATH."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cache_dir {str(path)!r} is not writable; set cache_dir=PATH.")
    return path


def resume(run_dir: str | Path, keep_failed: bool = False) -> RunRecord:
    """Continue an interrupted run (a ``.partial-*`` folder left by a killed process)."""
    folder = Path(run_dir).expanduser()
    name = partial_name(folder)
    if name is None or not RunDir(folder).checkpoint.is_dir():
        raise ConfigError(
            f"{str(folder)!r} is not an interrupted run (a .partial-NAME.PID.* folder with a "
            "checkpoint); start a new run instead."
        )
    if not is_orphan(folder):
        raise ConfigError(f"{str(folder)!r} belongs to a run that is still going.")
    if from_env().size > 1:
        raise ConfigError("--resume continues a run in one process; start it without a launcher.")
    cfg = build_config(base=RunDir(folder).config)
    preflight(cfg)
    log(f"resuming {name} from {folder}")
    return _in_run_folder(cfg, folder.parent, name, keep_failed, SINGLE, resume=folder)


def _in_run_folder(
    cfg: RunConfig,
    root: str | Path,
    name: str,
    keep_failed: bool,
    world: World,
    resume: Path | None = None,
) -> RunRecord:
    """The one path of a new and a resumed run: ``_run`` in its staged folder (``resume``: the
    interrupted run's), with interruption handling and tracking."""
    with (
        staged_run(root, name, keep_failed, resume=resume) as staged,
        _resumable(staged),
        tracking(cfg, staged.name, staged.path) as tracker,
    ):
        record = _run(cfg, staged, world, tracker)
    assert record is not None  # rank 0 writes the run
    return record


@contextmanager
def _resumable(staged: StagedRun) -> Iterator[None]:
    """A run stopped by SIGTERM/SIGINT names the command that continues it: its partial folder
    is kept when it holds a checkpoint (``staged_run``), else there is nothing to resume."""
    try:
        yield
    except Interrupted as e:
        if staged.final is not None:
            e.finished = str(staged.final)
        elif has_checkpoint(staged.path):
            e.resume = ["eegbench", "run", "--resume", str(staged.path)]
        raise


def run_name(cfg: RunConfig) -> str:
    """``run_name``, or dataset-encoder-llm-seed-time."""
    if cfg.run_name:
        return cfg.run_name
    return default_run_name(cfg, datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S"))


def _run(
    cfg: RunConfig, staged: StagedRun | None, world: World, tracker: Tracker | None = None
) -> RunRecord | None:
    """The run between its typed values: a session, the parts, their training, the evaluation
    and the record. ``staged`` (the run folder) is None on the ranks other than 0, which stop
    after training and write nothing; ``tracker`` receives every epoch and the finished run."""
    session = steps.start(cfg, world, staged)
    parts = steps.build(cfg, session, staged)
    trained = fit(parts, session.fitting(tracker.on_epoch if tracker is not None else None))
    if staged is None or session.run is None:
        return None
    with session.timer.stage("evaluation"):
        evaluated = evaluate(parts)
    steps.write_predictions_files(parts, evaluated, session.run)
    return steps.commit(steps.record(parts, session, trained, evaluated), staged, tracker)
