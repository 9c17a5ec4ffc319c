"""``eegbench run``: dataset -> targets -> stage 1 -> LLM -> stage 2 -> evaluation -> record."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from eegbench import __version__
from eegbench.api.data import EEGData
from eegbench.api.errors import ConfigError
from eegbench.api.llm import CausalLM
from eegbench.config import PromptConfig, RunConfig, Stage2Config, build_config, dump
from eegbench.config.preflight import preflight
from eegbench.data.splits import check_leakage
from eegbench.evaluation.harness import Evaluation, TestSet
from eegbench.evaluation.predictions import Predictions, predictions_file, write_predictions
from eegbench.io import atomic_write
from eegbench.progress import (
    is_quiet,
    log,
    log_format,
    set_log_format,
    set_quiet,
    silence_library_progress,
)
from eegbench.report.record import RunRecord, Timer, environment, peak_memory_mb
from eegbench.report.record import run_name as default_run_name
from eegbench.report.rundir import (
    CHECKPOINT,
    StagedRun,
    clean_orphans,
    has_checkpoint,
    is_orphan,
    output_root,
    partial_name,
    staged_run,
)
from eegbench.report.tracking import Tracker, tracking
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.device import FP32, Precision, set_threads
from eegbench.train.device import describe as describe_device
from eegbench.train.device import setup as device_setup
from eegbench.train.distributed import SINGLE, World, from_env, join, launch, leave
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.pipeline import (
    Pipeline,
    build_llm,
    build_model,
    build_targets,
    embed_dim,
    load_dataset,
    new_projector,
    probe_encoder,
)
from eegbench.train.preemption import Interrupted
from eegbench.train.prompting import DEFAULT_PROMPT
from eegbench.train.seeding import seed_everything
from eegbench.train.stage1 import EpochCallback, train_stage1
from eegbench.train.stage2 import train_stage2


def run(cfg: RunConfig, keep_failed: bool = False, name: str | None = None) -> Pipeline | None:
    """Run one resolved config end to end; returns the pipeline and writes the run directory.

    The run directory appears only complete; on failure it is removed (``keep_failed``: kept as
    ``NAME.failed`` with ``error.txt``). Under a launcher of several processes (``WORLD_SIZE``
    set, e.g. ``accelerate launch``) the processes train data-parallel; rank 0 evaluates, writes
    the run directory and returns the pipeline, the other ranks return None. ``name``: the run's
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
        with (
            staged_run(cfg.output_dir, name or run_name(cfg), keep_failed) as staged,
            _resumable(staged),
            tracking(cfg, staged.name, staged.path) as tracker,
        ):
            return _run(cfg, staged, world, tracker)
    finally:
        leave(world)


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
    pipe = run(cfg, keep_failed, name)
    return None if pipe is None else str(pipe.run_dir)


def writable_cache(cache_dir: str) -> Path:
    """Check that ``cache_dir`` is (or can be created as) a writable folder, creating nothing."""
    path = Path(cache_dir).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"cache_dir {str(path)!r} cannot be a folder: {str(existing)!r} is a file; set "
            "cache_dir=PATH."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cache_dir {str(path)!r} is not writable; set cache_dir=PATH.")
    return path


def resume(run_dir: str | Path, keep_failed: bool = False) -> Pipeline:
    """Continue an interrupted run (a ``.partial-*`` folder left by a killed process)."""
    folder = Path(run_dir).expanduser()
    name = partial_name(folder)
    if name is None or not (folder / CHECKPOINT).is_dir():
        raise ConfigError(
            f"{str(folder)!r} is not an interrupted run (a .partial-NAME.PID.* folder with a "
            "checkpoint); start a new run instead."
        )
    if not is_orphan(folder):
        raise ConfigError(f"{str(folder)!r} belongs to a run that is still going.")
    if from_env().size > 1:
        raise ConfigError("--resume continues a run in one process; start it without a launcher.")
    cfg = build_config(base=folder / "config.yaml")
    preflight(cfg)
    log(f"resuming {name} from {folder}")
    with (
        staged_run(folder.parent, name, keep_failed, resume=folder) as staged,
        _resumable(staged),
        tracking(cfg, staged.name, staged.path) as tracker,
    ):
        return _run(cfg, staged, SINGLE, tracker)


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
) -> Pipeline | None:
    """The run; ``staged`` (the run folder) is None on the ranks other than 0, which stop after
    training and write nothing. ``tracker`` receives every epoch and the finished run."""
    on_epoch = tracker.log_epoch if tracker is not None else None
    s1, s2, ev = cfg.stage1, cfg.stage2, cfg.eval
    precision = join(world, device_setup(cfg), cfg.device)
    prompt = cfg.prompt
    device = precision.device
    threads = set_threads(cfg.threads, world.size)
    timer = Timer()
    silence_library_progress()
    env = environment()
    generator = seed_everything(cfg.seed)
    with timer.stage("data"), world.main_first():
        data = load_dataset(cfg)
        leakage = check_leakage(data)
        for warning in leakage:
            log(f"[yellow]warning:[/yellow] {warning}")
        log(
            f"dataset {data.name}: {data.n_trials} trials, {data.n_chans} channels x "
            f"{data.n_times} samples, {data.n_classes} classes"
        )
        probe_encoder(cfg, data)
        if cfg.fast_dev_run:  # load_dataset kept one batch and a few test trials
            s1, s2 = replace(s1, epochs=1), replace(s2, epochs=1)
            log(
                f"fast-dev-run: one epoch of one batch per stage ({len(data.splits['train'])} "
                f"training trials), {len(data.splits['test'])} test trials, every metric and "
                "control; results.json marks the run as a rehearsal"
            )
    if not cfg.threads:  # after the data: a bad input stays one line of output
        log(f"torch CPU threads: {threads} (threads=null: the cores other processes leave free)")
    checkpoint = None
    if staged is not None:
        run_dir = staged.path
        atomic_write(run_dir / "config.yaml", dump(cfg))
        if world.size == 1:
            checkpoint = Checkpoint(run_dir / CHECKPOINT)
        log(f"run directory: {staged.root / staged.name} (in {run_dir.name} until complete)")
    if world.size > 1:
        log(f"data-parallel over {world.size} processes ({precision.device.type})")

    with timer.stage("targets"), world.main_first():
        per_image = build_targets(cfg, data)
    tr, va, te = (data.splits[k] for k in ("train", "val", ev.split))  # te: the evaluated split
    dim = embed_dim(cfg, per_image)

    has_captions = data.captions is not None
    llm = projector = None
    if has_captions:
        with timer.stage("llm"), world.main_first():
            llm = build_llm(cfg, data).to(device)
        _check_context(llm, ev.max_new_tokens, s2.n_soft_tokens)
    else:
        log(
            f"[yellow]dataset {data.name!r} has no captions: the LLM, stage 2 and the caption "
            "metrics are skipped[/yellow]"
        )
    with timer.stage("stage1"):
        model = build_model(cfg, data, dim).to(device)
        s1_result = train_stage1(
            model,
            data.X[tr],
            data.y[tr],
            per_image[data.image[tr]],
            data.X[va],
            data.y[va],
            s1,
            generator,
            checkpoint,
            precision=precision,
            world=world,
            on_epoch=on_epoch,
        )
    if staged is None:
        if has_captions:
            _stage2(
                cfg.seed,
                s2,
                data,
                model,
                per_image,
                llm,
                generator,
                None,
                precision,
                prompt,
                world,
                rehearsal=cfg.fast_dev_run,
            )
        return None
    save_file(
        {k: v.contiguous().cpu() for k, v in model.state_dict().items()},
        str(run_dir / "eeg_classifier.safetensors"),
    )

    s2_record: dict[str, Any] = {"skipped": "the dataset has no captions"}
    if has_captions:
        with timer.stage("stage2"):
            projector, s2_record = _stage2(
                cfg.seed,
                s2,
                data,
                model,
                per_image,
                llm,
                generator,
                checkpoint,
                precision,
                prompt,
                world,
                on_epoch,
                rehearsal=cfg.fast_dev_run,
            )
        save_file(
            {k: v.cpu() for k, v in projector.state_dict().items()},
            str(run_dir / "projector.safetensors"),
        )

    with timer.stage("evaluation"):
        evaluation = Evaluation(
            model,
            projector,
            llm,
            TestSet(data, te, per_image),
            ev,
            cfg.seed,
            metric_params=cfg.metrics,
            precision=precision,
            prompt=prompt,
        )
        metrics, controls = evaluation.run()
    conditions = {None: evaluation.real, **evaluation.conditions, **evaluation.oracle_conditions}
    for control, cond in conditions.items():
        if not cond.captions:
            continue
        write_predictions(
            Predictions(
                image=[data.image_names[i] for i in data.image[te]],
                expected_object=[data.class_names[k] for k in data.y[te]],
                predicted_object=["" if lbl is None else str(lbl) for lbl in cond.labels],
                reference=evaluation.test.references,
                generated=cond.captions,
            ),
            run_dir / predictions_file(control),
        )

    encoder = model.encoder
    results = {
        "eegbench_version": __version__,
        **env,
        "seed": cfg.seed,
        "hardware": describe_device(precision),
        "world_size": world.size,
        "config": cfg.to_dict(),
        "dataset": {
            "name": data.name,
            "n_trials": data.n_trials,
            "n_chans": data.n_chans,
            "n_times": data.n_times,
            "sfreq": data.sfreq,
            "n_classes": data.n_classes,
            "class_names": data.class_names,
            "splits": {k: int(len(v)) for k, v in data.splits.items()},
            "hashes": data.fingerprint(),
            "leakage": leakage,
            **{
                k: data.info[k]
                for k in ("split", "subjects", "seed_from_run", "preprocessing")
                if k in data.info
            },
        },
        "model": {
            "encoder_parameters": sum(p.numel() for p in encoder.parameters()),
            "encoder_features": encoder.n_features,
            "embed_dim": dim,
            "d_model": llm.d_model if llm is not None else None,
        },
        "metrics": metrics,
        "controls": controls,
        **evaluation.record(),
        "training": {
            "stage1": {
                "best_epoch": s1_result.best_epoch,
                "best_val_accuracy": s1_result.best_val_accuracy,
                "history": s1_result.history,
            },
            "stage2": s2_record,
        },
        "timings": {**timer.seconds, "total": round(timer.total(), 3)},
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "rehearsal": cfg.rehearsal(),
        "complete": True,
    }
    record = RunRecord.model_validate(results)
    record.write(run_dir)
    shutil.rmtree(run_dir / CHECKPOINT, ignore_errors=True)
    run_dir = staged.publish()
    if tracker is not None:
        log(f"{tracker.name}: {tracker.finish(results, run_dir)}")
    return Pipeline(cfg, data, per_image, model, projector, llm, run_dir, record, precision)


def _check_context(llm: CausalLM, max_new_tokens: int, n_soft: int) -> None:
    """eval.max_new_tokens must leave room for the prompt within the LLM's context."""
    n_ctx = llm.context_length
    if n_ctx is not None and max_new_tokens + n_soft >= n_ctx:
        raise ConfigError(
            f"eval.max_new_tokens={max_new_tokens} does not fit the LLM's context of {n_ctx} "
            f"tokens with the prompt; use eval.max_new_tokens={max(1, n_ctx // 2)} or less."
        )


def _stage2(
    seed: int,
    s2: Stage2Config,
    data: EEGData,
    model: EEGClassifier,
    per_image: np.ndarray,
    llm: CausalLM,
    generator: torch.Generator,
    checkpoint: Checkpoint | None = None,
    precision: Precision = FP32,
    prompt: PromptConfig | None = None,
    world: World = SINGLE,
    on_epoch: EpochCallback | None = None,
    rehearsal: bool = False,
) -> tuple[Projector, dict[str, Any]]:
    """Train a new projector on each configured phase; returns it and its record (history).

    ``rehearsal`` (``--fast-dev-run``): a correct-only filter that keeps no trial (one batch
    of stage 1 rarely classifies any right) rehearses on every training trial, and says so."""
    tr = data.splits["train"]
    dim = model.embed.out_features
    projector = new_projector(seed, dim, llm, s2).to(precision.device)
    phases = []
    record: dict[str, Any] = {}
    for phase in s2.phases:
        if phase == "target":
            if dim != per_image.shape[1]:
                raise ConfigError("stage2 phase 'target' needs stage1.embed_dim = target size.")
            phases.append(("target", per_image[data.image[tr]]))
        else:
            emb, logits = model.predict(data.X[tr], precision=precision)
            if s2.filter_correct:
                rows = np.flatnonzero(logits.argmax(1) == data.y[tr])
                record["filter_correct"] = {"kept": int(len(rows)), "of": int(len(tr))}
                log(f"stage 2: phase eeg on the {len(rows)}/{len(tr)} correctly classified trials")
                if len(rows) == 0 and rehearsal:
                    log(
                        "fast-dev-run: no training trial is classified right after one batch; "
                        "phase eeg rehearses on every training trial"
                    )
                    rows = np.arange(len(tr))
                if len(rows) == 0:
                    raise ConfigError(
                        "stage2.filter_correct=true left no training trial: the encoder "
                        "classifies none correctly."
                    )
                phases.append(("eeg", emb, rows))
            else:
                phases.append(("eeg", emb))
    result = train_stage2(
        llm,
        projector,
        phases,
        [data.class_names[k] for k in data.y[tr]],
        [data.captions[i] for i in data.image[tr]],
        s2,
        generator,
        checkpoint,
        precision=precision,
        prompt=prompt or DEFAULT_PROMPT,
        world=world,
        on_epoch=on_epoch,
    )
    return projector, {**record, "history": result.history}
