"""The phases of ``eegbench run``: setup, train (every rank), evaluate, record, commit.

Each phase is a short function with typed inputs and outputs; ``eegbench.runner._run`` calls
them in order. The pipeline's parts are built through ``train.pipeline.Builder``, the same
steps in the same order as ``load_run``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from eegbench import __version__
from eegbench.api.data import EEGData
from eegbench.api.errors import ConfigError
from eegbench.api.hub import ModelFiles
from eegbench.api.llm import CausalLM
from eegbench.config import RunConfig, Stage1Config, Stage2Config, dump
from eegbench.data.splits import check_leakage
from eegbench.evaluation.harness import Evaluation, TestSet
from eegbench.evaluation.predictions import Predictions, write_predictions
from eegbench.io import atomic_write
from eegbench.progress import log, silence_library_progress
from eegbench.results.record import (
    DatasetInfo,
    ModelIdentity,
    ModelInfo,
    RunRecord,
    Stage1Record,
    Stage2Record,
    Timer,
    Training,
    environment,
    peak_memory_mb,
)
from eegbench.results.rundir import RunDir, StagedRun
from eegbench.results.tracking import Tracker
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.device import Precision, encoder_precision, set_threads
from eegbench.train.device import describe as describe_device
from eegbench.train.device import setup as device_setup
from eegbench.train.distributed import World, init_process_group
from eegbench.train.encoder_passes import train_mode_passes
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.pipeline import Builder, Pipeline, probe_encoder
from eegbench.train.seeding import seed_everything
from eegbench.train.stage1 import EpochCallback, Stage1Result, train_stage1
from eegbench.train.stage2 import train_stage2

DATASET_INFO = ("split", "subjects", "seed_from_run", "preprocessing")
"""Entries of ``EEGData.info`` that results.json's dataset section carries."""


@dataclass
class Setup:
    """Everything the training needs: placement, seeded generator, data, targets, the LLM."""

    cfg: RunConfig
    world: World
    precision: Precision
    steps: Builder
    timer: Timer
    environment: dict[str, Any]
    generator: torch.Generator
    data: EEGData
    leakage: list[str]
    targets: np.ndarray  # per image [n_images, D]
    dim: int
    llm: CausalLM | None
    stage1: Stage1Config  # the config's, one epoch under fast_dev_run
    stage2: Stage2Config
    encoder_precision: Precision  # stage 1 and every encoder forward (stage1.precision)
    target_sources: tuple[ModelFiles, ...] = ()  # the target model's files
    run: RunDir | None = None  # the (partial) run folder; None on ranks other than 0
    checkpoint: Checkpoint | None = None


@dataclass
class Trained:
    model: EEGClassifier
    projector: Projector | None
    stage1: Stage1Result
    stage2: Stage2Record = field(default_factory=Stage2Record)


@dataclass
class Evaluated:
    evaluation: Evaluation
    metrics: dict[str, Any]
    controls: dict[str, Any]


def setup(cfg: RunConfig, world: World, staged: StagedRun | None) -> Setup:
    """Place the run (device, precision, threads), seed it, load and check the data, write
    ``config.yaml``, embed the targets and load the LLM (none without captions)."""
    precision = init_process_group(world, device_setup(cfg), cfg.device)
    threads = set_threads(cfg.threads, world.size)
    timer = Timer()
    silence_library_progress()
    env = environment()
    generator = seed_everything(cfg.seed)
    steps = Builder(cfg)
    s1, s2 = cfg.stage1, cfg.stage2
    with timer.stage("data"), world.main_first():
        data = steps.data()
        leakage = _describe(data)
        probe_encoder(cfg, data)
        if cfg.fast_dev_run:  # the Builder's data kept one batch and a few test trials
            s1, s2 = replace(s1, epochs=1), replace(s2, epochs=1)
            log(
                f"fast-dev-run: one epoch of one batch per stage ({len(data.splits['train'])} "
                f"training trials), {len(data.splits['test'])} test trials, every metric and "
                "control; results.json marks the run as a rehearsal"
            )
    if not cfg.threads:  # after the data: a bad input stays one line of output
        log(f"torch CPU threads: {threads} (threads=null: the cores other processes leave free)")
    run = checkpoint = None
    if staged is not None:
        run = RunDir(staged.path)
        atomic_write(run.config, dump(cfg))
        checkpoint = Checkpoint(run.checkpoint) if world.size == 1 else None
        log(f"run directory: {staged.root / staged.name} (in {run.path.name} until complete)")
    if world.size > 1:
        log(f"data-parallel over {world.size} processes ({precision.device.type})")
    with timer.stage("targets"), world.main_first():
        targets, dim, target_sources = steps.targets(data)
    llm = _llm(steps, data, cfg, timer, world, precision)
    return Setup(
        cfg, world, precision, steps, timer, env, generator, data, leakage, targets, dim, llm,
        s1, s2, encoder_precision(cfg, precision), target_sources, run, checkpoint,
    )  # fmt: skip


def _describe(data: EEGData) -> list[str]:
    """Log the dataset's shape and its leakage warnings; returns the warnings."""
    leakage = check_leakage(data)
    for warning in leakage:
        log(f"[yellow]warning:[/yellow] {warning}")
    log(
        f"dataset {data.name}: {data.n_trials} trials, {data.n_chans} channels x "
        f"{data.n_times} samples, {data.n_classes} classes"
    )
    return leakage


def _llm(
    steps: Builder, data: EEGData, cfg: RunConfig, timer: Timer, world: World, precision: Precision
) -> CausalLM | None:
    """The LLM on the run's device, its context checked; None for a dataset without captions."""
    if data.captions is None:
        steps.llm(data)  # the step is taken (and gives None) as in load_run
        log(
            f"[yellow]dataset {data.name!r} has no captions: the LLM, stage 2 and the caption "
            "metrics are skipped[/yellow]"
        )
        return None
    with timer.stage("llm"), world.main_first():
        llm = steps.llm(data).to(precision.device)
    n_ctx, n_new = llm.context_length, cfg.eval.max_new_tokens
    if n_ctx is not None and n_new + cfg.stage2.n_soft_tokens >= n_ctx:
        raise ConfigError(
            f"eval.max_new_tokens={n_new} does not fit the LLM's context of {n_ctx} tokens with "
            f"the prompt; use eval.max_new_tokens={max(1, n_ctx // 2)} or less."
        )
    return llm


def train(s: Setup, on_epoch: EpochCallback | None = None) -> Trained:
    """Stage 1 (encoder and heads), then stage 2 (the projector), on every rank; rank 0 saves
    the weights into the run folder."""
    data, tr, va = s.data, s.data.splits["train"], s.data.splits["val"]
    with s.timer.stage("stage1"):
        model = s.steps.model(data, s.dim).to(s.precision.device)
        result = train_stage1(
            model,
            data.X[tr],
            data.y[tr],
            s.targets[data.image[tr]],
            data.X[va],
            data.y[va],
            s.stage1,
            s.generator,
            s.checkpoint,
            precision=s.encoder_precision,
            world=s.world,
            on_epoch=on_epoch,
        )
    if s.run is not None:
        _save(model, s.run.encoder)
    projector = s.steps.projector(s.dim, s.llm)
    if projector is None:
        return Trained(model, None, result, Stage2Record(skipped="the dataset has no captions"))
    with s.timer.stage("stage2"):
        projector = projector.to(s.precision.device)
        stage2 = train_projector(s, model, projector, on_epoch)
    if s.run is not None:
        _save(projector, s.run.projector)
    return Trained(model, projector, result, stage2)


def _save(module: torch.nn.Module, path: Any) -> None:
    save_file({k: v.contiguous().cpu() for k, v in module.state_dict().items()}, str(path))


def train_projector(
    s: Setup, model: EEGClassifier, projector: Projector, on_epoch: EpochCallback | None = None
) -> Stage2Record:
    """Train ``projector`` on each configured phase (``stage2.phases``); returns its record."""
    data, tr = s.data, s.data.splits["train"]
    filtered = None
    phases: list[tuple[str, np.ndarray] | tuple[str, np.ndarray, np.ndarray]] = []
    for phase in s.stage2.phases:
        if phase == "target":
            if s.dim != s.targets.shape[1]:
                raise ConfigError("stage2 phase 'target' needs stage1.embed_dim = target size.")
            phases.append(("target", s.targets[data.image[tr]]))
            continue
        emb, logits = _phase_eeg_inputs(s, model)
        if not s.stage2.filter_correct:
            phases.append(("eeg", emb))
            continue
        rows = _correct_rows(logits, data.y[tr], s.cfg.fast_dev_run)
        filtered = {"kept": int(len(rows)), "of": int(len(tr))}
        phases.append(("eeg", emb, rows))
    result = train_stage2(
        s.llm,
        projector,
        phases,
        [data.class_names[k] for k in data.y[tr]],
        [data.captions[i] for i in data.image[tr]],
        s.stage2,
        s.generator,
        s.checkpoint,
        precision=s.precision,
        prompt=s.cfg.prompt,
        world=s.world,
        on_epoch=on_epoch,
    )
    kept = {} if filtered is None else {"filter_correct": filtered}  # only when the filter ran
    return Stage2Record(history=result.history, **kept)


def _phase_eeg_inputs(s: Setup, model: EEGClassifier) -> tuple[np.ndarray, np.ndarray]:
    """The training trials' EEG embeddings and logits for phase eeg: in eval mode, or in train
    mode after Thought2Text's passes over train, val and test (``stage2.encoder_mode=train``),
    whose BatchNorm statistics the evaluated encoder then carries; the run folder's encoder
    file is written again with them."""
    data = s.data
    if s.stage2.encoder_mode == "eval":
        return model.predict(data.X[data.splits["train"]], precision=s.encoder_precision)
    log(
        "[yellow]stage2.encoder_mode=train (Thought2Text): the encoder's BatchNorm statistics "
        "are updated over train, val and test; test-split statistics reach the test "
        "predictions[/yellow]"
    )
    X = [data.X[data.splits[name]] for name in ("train", "val", "test")]
    emb, logits = train_mode_passes(model, X, s.encoder_precision, seed=s.cfg.seed)[0]
    if s.run is not None:
        _save(model, s.run.encoder)
    return emb, logits


def _correct_rows(logits: np.ndarray, y: np.ndarray, rehearsal: bool) -> np.ndarray:
    """The training rows the encoder classifies right (Thought2Text's filter for phase eeg).

    In a rehearsal (``--fast-dev-run``) a filter that keeps no trial (one batch of stage 1
    rarely classifies any right) rehearses on every training trial, and says so."""
    rows = np.flatnonzero(logits.argmax(1) == y)
    log(f"stage 2: phase eeg on the {len(rows)}/{len(y)} correctly classified trials")
    if len(rows) == 0 and rehearsal:
        log(
            "fast-dev-run: no training trial is classified right after one batch; phase eeg "
            "rehearses on every training trial"
        )
        return np.arange(len(y))
    if len(rows) == 0:
        raise ConfigError(
            "stage2.filter_correct=true left no training trial: the encoder classifies none "
            "correctly."
        )
    return rows


def evaluate(s: Setup, trained: Trained) -> Evaluated:
    """The evaluated split (``eval.split``) under the full pipeline, the controls and the
    oracles; each row with captions is written as a predictions file."""
    split = s.data.splits[s.cfg.eval.split]
    with s.timer.stage("evaluation"):
        evaluation = Evaluation(
            trained.model,
            trained.projector,
            s.llm,
            TestSet(s.data, split, s.targets),
            s.cfg.eval,
            s.cfg.seed,
            metric_params=s.cfg.metrics,
            precision=s.precision,
            encoder_precision=s.encoder_precision,
            prompt=s.cfg.prompt,
        )
        metrics, controls = evaluation.run()
    data = s.data
    rows = {None: evaluation.real, **evaluation.conditions, **evaluation.oracle_conditions}
    for row, cond in rows.items():
        if cond.captions:
            predictions = Predictions(
                image=[data.image_names[i] for i in data.image[split]],
                expected_object=[data.class_names[k] for k in data.y[split]],
                predicted_object=["" if lbl is None else str(lbl) for lbl in cond.labels],
                reference=evaluation.test.references,
                generated=cond.captions,
                more_references=[data.references[i][1:] for i in data.image[split]]
                if data.references
                else [],
            )
            write_predictions(predictions, s.run.predictions(row))
    return Evaluated(evaluation, metrics, controls)


def record(s: Setup, trained: Trained, evaluated: Evaluated) -> RunRecord:
    """The run record (``results.json``) from its typed parts."""
    data, encoder = s.data, trained.model.encoder
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
        leakage=s.leakage,
        **{k: data.info[k] for k in DATASET_INFO if k in data.info},
    )
    model = ModelInfo(
        encoder_parameters=sum(p.numel() for p in encoder.parameters()),
        encoder_features=encoder.n_features,
        embed_dim=s.dim,
        d_model=s.llm.d_model if s.llm is not None else None,
    )
    sources = [
        *(s.llm.sources if s.llm is not None else ()),
        *s.target_sources,
        *(f for m in evaluated.evaluation.metrics.values() for f in m.sources()),
    ]
    memo = Path(s.cfg.cache_dir).expanduser()
    models = {f.role: ModelIdentity.of(f, memo) for f in sources}
    stage1 = Stage1Record(
        best_epoch=trained.stage1.best_epoch,
        best_val_accuracy=trained.stage1.best_val_accuracy,
        history=trained.stage1.history,
    )
    return RunRecord(
        eegbench_version=__version__,
        **s.environment,
        seed=s.cfg.seed,
        hardware=describe_device(s.precision),
        world_size=s.world.size,
        config=s.cfg.to_dict(),
        dataset=dataset,
        model=model,
        models=models,
        metrics=evaluated.metrics,
        controls=evaluated.controls,
        **evaluated.evaluation.record(),
        training=Training(stage1=stage1, stage2=trained.stage2),
        timings={**s.timer.seconds, "total": round(s.timer.total(), 3)},
        peak_memory_mb=round(peak_memory_mb(), 1),
        rehearsal=s.cfg.rehearsal(),
        leaks=s.cfg.leaks() or None,
        complete=True,
    )


def commit(
    s: Setup, trained: Trained, rec: RunRecord, staged: StagedRun, tracker: Tracker | None
) -> Pipeline:
    """Write ``results.json``, drop the checkpoint, publish the run folder (it appears complete
    or not at all) and tell the tracker; returns the finished pipeline."""
    rec.write(staged.path)
    shutil.rmtree(RunDir(staged.path).checkpoint, ignore_errors=True)
    RunDir(staged.path).tracker.unlink(missing_ok=True)
    run_dir = staged.publish()
    rec._run_dir = run_dir
    if tracker is not None:
        results = rec.model_dump(mode="json", exclude_unset=True)
        log(f"{tracker.name}: {tracker.finish(results, run_dir)}")
    return Pipeline(
        s.cfg, s.data, s.targets, trained.model, trained.projector, s.llm, run_dir, rec,
        s.precision,
    )  # fmt: skip
