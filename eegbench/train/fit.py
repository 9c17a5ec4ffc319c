"""Training a run's parts: stage 1 (encoder and heads), then stage 2 (the projector), in place.

``fit`` is the one path of ``eegbench run`` and ``--resume`` (and of every rank of a
data-parallel run); each stage starts from the torch RNG state its module's seeded
initialisation left (``Parts.rng``), so the numbers do not depend on what was built in between.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from eegbench.contract.errors import ConfigError
from eegbench.progress import log
from eegbench.results.record import Stage1Record, Stage2Record
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.distributed import SINGLE, World
from eegbench.train.encoder_passes import train_mode_passes
from eegbench.train.loop import EpochCallback
from eegbench.train.parts import Parts
from eegbench.train.stage1 import train_stage1
from eegbench.train.stage2 import Phase, train_stage2


@dataclass(frozen=True)
class Trained:
    """What training recorded: stage 1's best epoch and history, stage 2's history (or why it
    was skipped). The weights are the parts' own, trained in place."""

    stage1: Stage1Record
    stage2: Stage2Record


@dataclass(frozen=True)
class Fitting:
    """How ``fit`` trains: the data-order generator, the process group, the checkpoint (None:
    none, as under several processes), the tracker's callback and where the weights are saved
    (``encoder``, ``projector``: files in the run folder; None on ranks other than 0);
    ``step(name)`` wraps each stage (``stage1``, ``stage2``), e.g. to time it."""

    generator: torch.Generator
    world: World = SINGLE
    checkpoint: Checkpoint | None = None
    on_epoch: EpochCallback | None = None
    encoder_file: Path | None = None
    projector_file: Path | None = None
    step: Callable[[str], AbstractContextManager[Any]] = lambda name: nullcontext()


def fit(parts: Parts, how: Fitting) -> Trained:
    """Stage 1, then stage 2 (skipped without captions); the weights are saved after each."""
    with how.step("stage1"):
        stage1 = fit_encoder(parts, how)
    _save(parts.model, how.encoder_file)
    if parts.projector is None:
        return Trained(stage1, Stage2Record(skipped="the dataset has no captions"))
    with how.step("stage2"):
        stage2 = fit_projector(parts, how)
    _save(parts.projector, how.projector_file)
    return Trained(stage1, stage2)


def fit_encoder(parts: Parts, how: Fitting) -> Stage1Record:
    """Stage 1 on the training split, validated on ``val``; the model keeps its best epoch."""
    data = parts.data
    tr, va = data.splits["train"], data.splits["val"]
    if parts.rng is not None:
        parts.rng.encoder.restore()
    result = train_stage1(
        parts.model, data.X[tr], data.y[tr], parts.targets[data.image[tr]], data.X[va],
        data.y[va], parts.config.stage1, how.generator, how.checkpoint,
        precision=parts.encoder_precision, world=how.world, on_epoch=how.on_epoch,
    )  # fmt: skip
    return Stage1Record(
        best_epoch=result.best_epoch,
        best_val_accuracy=result.best_val_accuracy,
        history=result.history,
    )


def fit_projector(parts: Parts, how: Fitting) -> Stage2Record:
    """Train the projector on each configured phase (``stage2.phases``); returns its record."""
    assert parts.llm is not None and parts.projector is not None
    if parts.rng is not None:
        parts.rng.projector.restore()
    data, s2 = parts.data, parts.config.stage2
    tr = data.splits["train"]
    phases, filtered = [], None
    for name in s2.phases:
        if name == "target":
            if parts.dim != parts.targets.shape[1]:
                raise ConfigError("stage2 phase 'target' needs stage1.embed_dim = target size.")
            phases.append(Phase("target", parts.targets[data.image[tr]]))
            continue
        emb, logits = _eeg_inputs(parts, how)
        rows = None
        if s2.filter_correct:
            rows = _correct_rows(logits, data.y[tr], parts.config.fast_dev_run)
            filtered = {"kept": int(len(rows)), "of": int(len(tr))}
        phases.append(Phase("eeg", emb, rows))
    result = train_stage2(
        parts.llm, parts.projector, phases, [data.class_names[k] for k in data.y[tr]],
        [data.captions[i] for i in data.image[tr]], s2, how.generator, how.checkpoint,
        precision=parts.precision, prompt=parts.prompt, world=how.world, on_epoch=how.on_epoch,
    )  # fmt: skip
    kept = {} if filtered is None else {"filter_correct": filtered}  # only when the filter ran
    return Stage2Record(history=result.history, **kept)


def _eeg_inputs(parts: Parts, how: Fitting) -> tuple[np.ndarray, np.ndarray]:
    """The training trials' EEG embeddings and logits for phase eeg: in eval mode, or in train
    mode after Thought2Text's passes over train, val and test (``stage2.encoder_mode=train``),
    whose BatchNorm statistics the evaluated encoder then carries; the run folder's encoder
    file is written again with them."""
    data, model = parts.data, parts.model
    if parts.config.stage2.encoder_mode == "eval":
        return model.predict(data.X[data.splits["train"]], precision=parts.encoder_precision)
    log(
        "[yellow]stage2.encoder_mode=train (Thought2Text): the encoder's BatchNorm statistics "
        "are updated over train, val and test; test-split statistics reach the test "
        "predictions[/yellow]"
    )
    X = [data.X[data.splits[name]] for name in ("train", "val", "test")]
    emb, logits = train_mode_passes(model, X, parts.encoder_precision, seed=parts.config.seed)[0]
    _save(model, how.encoder_file)
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


def _save(module: torch.nn.Module, path: Path | None) -> None:
    """The module's weights as safetensors at ``path`` (None: not saved)."""
    if path is not None:
        save_file({k: v.contiguous().cpu() for k, v in module.state_dict().items()}, str(path))
