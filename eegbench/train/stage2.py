"""Stage 2: the LLM stays frozen; only the projector learns to speak for the EEG embedding."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from eegbench.config import PromptConfig, Stage2Config
from eegbench.contract.errors import EegbenchError
from eegbench.contract.llm import CausalLM
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.device import FP32, Precision, module_device
from eegbench.train.distributed import SINGLE, World
from eegbench.train.loop import EpochCallback, Loop, TrainState
from eegbench.train.model import Projector
from eegbench.train.optim import apply_step, make_optimizer, make_schedule
from eegbench.train.prompting import DEFAULT_PROMPT, build_batch


@dataclass
class Stage2Result:
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Phase:
    """One stage-2 phase: its name (``target`` or ``eeg``), the inputs ``[N, D]`` of every
    training row, and the rows it trains on (None: all of them)."""

    name: str
    inputs: np.ndarray
    rows: np.ndarray | None = None


@dataclass
class _Phase:
    """One phase's training rows: inputs on the host, the true labels and the captions."""

    name: str
    x: torch.Tensor
    labels: list[str]
    captions: list[str]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class _Step:
    """Everything one optimiser step over a group of micro-batches needs."""

    llm: CausalLM
    net: torch.nn.Module
    projector: Projector
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    cfg: Stage2Config
    precision: Precision
    prompt: PromptConfig
    world: World


@dataclass
class _Stage2:
    """One stage-2 phase in the loop: an epoch over its rows; its index goes in checkpoints."""

    step: _Step
    data: _Phase
    generator: torch.Generator
    index: int

    @property
    def label(self) -> str:
        return f"stage 2: projector on {self.data.name}"

    @property
    def tracked_as(self) -> str:
        return f"stage2/{self.data.name}"

    def epoch(self, state: TrainState, epoch: int) -> dict[str, Any]:
        loss = _epoch(self.step, self.data, self.generator, epoch)
        return {"phase": self.data.name, "epoch": epoch + 1, "loss": loss, "n": len(self.data)}

    def tracked(self, row: dict[str, Any]) -> dict[str, float]:
        return {"loss": row["loss"]}

    def after_epoch(self, state: TrainState, row: dict[str, Any]) -> None:
        pass

    def extra(self) -> dict[str, Any]:
        return {"phase": self.index}


def train_stage2(
    llm: CausalLM,
    projector: Projector,
    phases: list[Phase],
    labels: list[str],
    captions: list[str],
    cfg: Stage2Config,
    generator: torch.Generator,
    checkpoint: Checkpoint | None = None,
    precision: Precision = FP32,
    prompt: PromptConfig = DEFAULT_PROMPT,
    world: World = SINGLE,
    on_epoch: EpochCallback | None = None,
) -> Stage2Result:
    """Train ``projector`` on each phase in turn, ``cfg.epochs`` each.

    ``labels`` are the TRUE object strings and ``captions`` the references, one per training
    row. With ``checkpoint``, the state is saved after every epoch and training continues from
    it. Inputs stay on the host; each batch moves to the projector's device. With ``world`` of
    several processes, each trains on its shard of every batch, weighted by its share of the
    batch's caption tokens (see ``train/distributed.py``); pass no ``checkpoint`` then.
    ``on_epoch`` receives each epoch's loss and the learning rate at its end, as stage
    ``stage2/<phase>``.
    """
    result = Stage2Result()
    scaler = precision.scaler()
    net = world.wrap(projector)
    loop = Loop(generator, "stage2", checkpoint, on_epoch)
    saved = loop.saved()
    for p, phase in enumerate(phases):
        if saved is not None and p < saved["phase"]:
            continue
        data = _phase_rows(phase, labels, captions)
        micro_batches = math.ceil(len(data) / cfg.batch_size)
        steps = cfg.epochs * max(1, math.ceil(micro_batches / cfg.grad_accum))
        opt = make_optimizer(projector.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)
        sched = make_schedule(opt, steps, cfg.warmup_ratio, cfg.schedule)
        step = _Step(llm, net, projector, opt, sched, scaler, cfg, precision, prompt, world)
        state = TrainState(projector, opt, sched, scaler, result.history)
        start = 0
        if saved is not None and p == saved["phase"]:
            start = loop.resume(state, saved)
        projector.train()
        loop.run(_Stage2(step, data, generator, p), state, cfg.epochs, start)
    projector.eval()
    return result


def _phase_rows(phase: Phase, labels: list[str], captions: list[str]) -> _Phase:
    rows = np.arange(len(labels)) if phase.rows is None else np.asarray(phase.rows)
    if len(rows) == 0:
        raise EegbenchError(f"stage 2 phase {phase.name!r} has no training rows.")
    x = torch.as_tensor(np.asarray(phase.inputs)[rows], dtype=torch.float32)
    return _Phase(phase.name, x, [labels[j] for j in rows], [captions[j] for j in rows])


def _epoch(step: _Step, data: _Phase, generator: torch.Generator, epoch: int) -> float:
    """One epoch over the phase's rows in a new random order, ``grad_accum`` micro-batches per
    optimiser step; returns the mean loss."""
    cfg, world, n = step.cfg, step.world, len(data)
    order = torch.randperm(n, generator=generator).tolist()
    batches = [order[i : i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
    batches = [b for b in batches if len(b) >= world.size]  # a row for each process
    total = 0.0
    for g in range(0, len(batches), cfg.grad_accum):
        group = batches[g : g + cfg.grad_accum]
        step.opt.zero_grad(set_to_none=True)
        for idx in group:
            total += _backward(step, data, idx, len(group), epoch)
        apply_step(step.opt, step.sched, step.scaler, step.projector.parameters(), cfg.grad_clip)
    return world.sum(total)[0] / n


def _backward(step: _Step, data: _Phase, idx: list[int], group: int, epoch: int) -> float:
    """Backward pass of one micro-batch (this process's shard of it), scaled to its share of
    the group; returns its loss times its rows (for the epoch's mean)."""
    world, device = step.world, module_device(step.projector)
    n_batch, idx = len(idx), world.shard(idx)
    with step.precision.autocast():
        batch = build_batch(
            step.llm,
            step.net(data.x[idx].to(device, non_blocking=True)),
            [data.labels[j] for j in idx],
            [data.captions[j] for j in idx],
            mask_prompt=step.cfg.mask_prompt,
            prompt=step.prompt,
        )
        loss = step.llm.loss(batch.inputs_embeds, batch.attention_mask, batch.labels)
    if not torch.isfinite(loss):
        raise EegbenchError(
            f"stage 2 loss became {loss.item()} in phase {data.name!r}, epoch {epoch + 1}; "
            "lower stage2.lr or use precision=fp32."
        )
    # llm.loss is the mean over next-token targets: labels[:, 1:] != -100
    tokens = 0 if world.size == 1 else int((batch.labels[:, 1:] != -100).sum())
    share = world.share(tokens)
    step_loss = world.scale(loss, share)
    if group > 1:  # the mean over the accumulated micro-batches
        step_loss = step_loss / group
    step.scaler.scale(step_loss).backward()
    return loss.item() * share * n_batch
