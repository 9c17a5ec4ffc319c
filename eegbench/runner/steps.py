"""The steps of ``eegbench run`` between its typed values: start (a ``Session``), build
(``Parts``), fit (``Trained``, every rank), evaluate (``Evaluated``), record (``RunRecord``),
commit.

``eegbench.runner._run`` calls them in order. The parts are built by ``build_parts``, as
``load_run`` builds them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eegbench import __version__
from eegbench.config import RunConfig, dump
from eegbench.contract.data import EEGData
from eegbench.data.splits import check_leakage
from eegbench.evaluation.harness import Evaluated
from eegbench.evaluation.predictions import Predictions, write_predictions
from eegbench.io import atomic_write
from eegbench.progress import log, silence_library_progress
from eegbench.results.record import (
    DatasetInfo,
    ModelIdentity,
    ModelInfo,
    RunRecord,
    Timer,
    Training,
    environment,
    peak_memory_mb,
)
from eegbench.results.rundir import RunDir, StagedRun
from eegbench.results.tracking import Tracker
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.device import Precision, set_threads
from eegbench.train.device import describe as describe_device
from eegbench.train.device import setup as device_setup
from eegbench.train.distributed import World, init_process_group
from eegbench.train.fit import Fitting, Trained
from eegbench.train.loop import EpochCallback
from eegbench.train.parts import Parts, build_parts
from eegbench.train.seeding import seed_everything

DATASET_INFO = ("split", "subjects", "seed_from_run", "preprocessing")
"""Entries of ``EEGData.info`` that results.json's dataset section carries."""


@dataclass(frozen=True)
class Session:
    """Where and how a run runs, before any of its parts exist: the process group, the device
    and precision, the CPU threads, the seeded data-order generator, the clock, the software
    environment and the (partial) run folder (None on ranks other than 0)."""

    world: World
    precision: Precision
    threads: int
    generator: torch.Generator
    timer: Timer
    environment: dict[str, Any]
    run: RunDir | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A timed step that rank 0 takes first (downloads and caches are written once)."""
        with self.timer.stage(name), self.world.main_first():
            yield

    def fitting(self, on_epoch: EpochCallback | None) -> Fitting:
        """How ``fit`` trains in this session: checkpoints and weights in the run folder."""
        run = self.run
        checkpoint = (
            Checkpoint(run.checkpoint) if run is not None and self.world.size == 1 else None
        )
        return Fitting(
            self.generator, self.world, checkpoint, on_epoch,
            None if run is None else run.encoder, None if run is None else run.projector,
            self.timer.stage,
        )  # fmt: skip


def start(cfg: RunConfig, world: World, staged: StagedRun | None) -> Session:
    """Place the run (device, precision, threads), seed it and write ``config.yaml``."""
    precision = init_process_group(world, device_setup(cfg), cfg.device)
    threads = set_threads(cfg.threads, world.size)
    timer = Timer()
    silence_library_progress()
    env = environment()
    generator = seed_everything(cfg.seed)
    run = None
    if staged is not None:
        run = RunDir(staged.path)
        atomic_write(run.config, dump(cfg))
    return Session(world, precision, threads, generator, timer, env, run)


def build(cfg: RunConfig, session: Session, staged: StagedRun | None) -> Parts:
    """The run's parts (dataset, targets, LLM, encoder, projector) on its device, with what the
    user should know about them logged."""
    parts = build_parts(cfg, precision=session.precision, step=session.step)
    data = parts.data
    _describe(data)
    if cfg.fast_dev_run:
        log(
            f"fast-dev-run: {cfg.stage1.epochs} epoch of one batch per stage "
            f"({len(data.splits['train'])} training trials), {len(data.splits['test'])} test "
            "trials, every metric and control; results.json marks the run as a rehearsal"
        )
    if not cfg.threads:  # after the data: a bad input stays one line of output
        log(
            f"torch CPU threads: {session.threads} (threads=null: the cores other processes "
            "leave free)"
        )
    if staged is not None:
        log(f"run directory: {staged.root / staged.name} (in {staged.path.name} until complete)")
    if session.world.size > 1:
        log(f"data-parallel over {session.world.size} processes ({session.precision.device.type})")
    if parts.llm is None:
        log(
            f"[yellow]dataset {data.name!r} has no captions: the LLM, stage 2 and the caption "
            "metrics are skipped[/yellow]"
        )
    return parts


def _describe(data: EEGData) -> None:
    """Log the dataset's shape and its leakage warnings."""
    for warning in check_leakage(data):
        log(f"[yellow]warning:[/yellow] {warning}")
    log(
        f"dataset {data.name}: {data.n_trials} trials, {data.n_chans} channels x "
        f"{data.n_times} samples, {data.n_classes} classes"
    )


def write_predictions_files(parts: Parts, evaluated: Evaluated, run: RunDir) -> None:
    """One predictions file per condition with captions (the run, each control, the ceiling)."""
    data, test = parts.data, evaluated.inference.test
    split = test.index
    for row, cond in evaluated.inference.rows().items():
        if not cond.captions:
            continue
        predictions = Predictions(
            image=[data.image_names[i] for i in data.image[split]],
            expected_object=[data.class_names[k] for k in data.y[split]],
            predicted_object=["" if lbl is None else str(lbl) for lbl in cond.labels],
            reference=test.references,
            generated=cond.captions,
            more_references=[data.references[i][1:] for i in data.image[split]]
            if data.references
            else [],
        )
        write_predictions(predictions, run.predictions(row))


def record(parts: Parts, session: Session, trained: Trained, evaluated: Evaluated) -> RunRecord:
    """The run record (``results.json``) from its typed parts."""
    cfg, data, encoder = parts.config, parts.data, parts.model.encoder
    dataset = DatasetInfo(
        name=data.name,
        n_trials=data.n_trials,
        n_chans=data.n_chans,
        n_times=data.n_times,
        sfreq=data.sfreq,
        n_classes=data.n_classes,
        class_names=data.class_names,
        splits={k: int(len(v)) for k, v in data.splits.items()},
        hashes=data.fingerprint(),
        leakage=check_leakage(data),
        **{k: data.info[k] for k in DATASET_INFO if k in data.info},
    )
    model = ModelInfo(
        encoder_parameters=sum(p.numel() for p in encoder.parameters()),
        encoder_features=encoder.n_features,
        embed_dim=parts.dim,
        d_model=parts.llm.d_model if parts.llm is not None else None,
    )
    sources = [
        *(parts.llm.sources if parts.llm is not None else ()),
        *parts.target_sources,
        *evaluated.result.sources,
    ]
    memo = Path(cfg.cache_dir).expanduser()
    models = {f.role: ModelIdentity.of(f, memo) for f in sources}
    return RunRecord(
        eegbench_version=__version__,
        **session.environment,
        seed=cfg.seed,
        hardware=describe_device(session.precision),
        world_size=session.world.size,
        config=cfg.to_dict(),
        dataset=dataset,
        model=model,
        models=models,
        **evaluated.result.record_fields(),
        training=Training(stage1=trained.stage1, stage2=trained.stage2),
        timings={**session.timer.seconds, "total": round(session.timer.total(), 3)},
        peak_memory_mb=round(peak_memory_mb(), 1),
        rehearsal=cfg.rehearsal(),
        leaks=cfg.leaks() or None,
        complete=True,
    )


def commit(rec: RunRecord, staged: StagedRun, tracker: Tracker | None) -> RunRecord:
    """Write ``results.json``, drop the checkpoint, publish the run folder (it appears complete
    or not at all) and tell the tracker; returns the record, which knows its folder."""
    rec.write(staged.path)
    shutil.rmtree(RunDir(staged.path).checkpoint, ignore_errors=True)
    RunDir(staged.path).tracker.unlink(missing_ok=True)
    run_dir = staged.publish()
    rec._run_dir = run_dir
    if tracker is not None:
        results = rec.model_dump(mode="json", exclude_unset=True)
        log(f"{tracker.name}: {tracker.finish(results, run_dir)}")
    return rec
