"""Stage 2: the LLM stays frozen; only the projector learns to speak for the EEG embedding."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from eegbench.api.errors import EegbenchError
from eegbench.api.llm import CausalLM
from eegbench.config import PromptConfig, Stage2Config
from eegbench.progress import task
from eegbench.train.checkpoint import Checkpoint, rng_state, set_rng_state
from eegbench.train.device import FP32, Precision, module_device
from eegbench.train.distributed import SINGLE, World
from eegbench.train.model import Projector
from eegbench.train.optim import apply_step, make_optimizer, make_schedule
from eegbench.train.prompting import DEFAULT_PROMPT, build_batch
from eegbench.train.stage1 import EpochCallback


@dataclass
class Stage2Result:
    history: list[dict[str, float]] = field(default_factory=list)


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


def train_stage2(
    llm: CausalLM,
    projector: Projector,
    phases: list[tuple[str, np.ndarray] | tuple[str, np.ndarray, np.ndarray]],
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
    """Train ``projector`` on each ``(phase_name, inputs [N, D])`` in turn, ``cfg.epochs`` each.

    ``labels`` are the TRUE object strings and ``captions`` the references, one per row. A phase
    may carry a third item, ``rows`` ``[n]``: it then trains on those rows only (``inputs`` has
    all ``N`` rows). With ``checkpoint``, the state is saved after every epoch and training
    continues from it. Inputs stay on the host; each batch moves to the projector's device.
    With ``world`` of several processes, each trains on its shard of every batch, weighted by
    its share of the batch's caption tokens (see ``train/distributed.py``); pass no
    ``checkpoint`` then. ``on_epoch`` receives each epoch's loss and the learning rate at its
    end, as stage ``stage2/<phase>``.
    """
    result = Stage2Result()
    scaler = precision.scaler()
    net = world.wrap(projector)
    saved = checkpoint.load("stage2") if checkpoint is not None else None
    for p, (phase, inputs, *rest) in enumerate(phases):
        if saved is not None and p < saved["phase"]:
            continue
        data = _phase_rows(phase, inputs, rest, labels, captions)
        micro_batches = math.ceil(len(data) / cfg.batch_size)
        steps = cfg.epochs * max(1, math.ceil(micro_batches / cfg.grad_accum))
        opt = make_optimizer(projector.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)
        sched = make_schedule(opt, steps, cfg.warmup_ratio, cfg.schedule)
        step = _Step(llm, net, projector, opt, sched, scaler, cfg, precision, prompt, world)
        start = 0
        if saved is not None and p == saved["phase"]:
            start, result.history = _restore(step, saved, generator), saved["history"]
        projector.train()
        with task(f"stage 2: projector on {phase}", total=cfg.epochs - start) as advance:
            for epoch in range(start, cfg.epochs):
                loss = _epoch(step, data, generator, epoch)
                result.history.append(
                    {"phase": phase, "epoch": epoch + 1, "loss": loss, "n": len(data)}
                )
                if on_epoch is not None:
                    lr = sched.get_last_lr()[0]
                    on_epoch(f"stage2/{phase}", epoch + 1, {"loss": loss, "lr": lr})
                if checkpoint is not None:
                    checkpoint.save("stage2", _saved(step, p, epoch + 1, result, generator))
                advance(loss=loss)
    projector.eval()
    return result


def _phase_rows(
    phase: str, inputs: np.ndarray, rest: list, labels: list[str], captions: list[str]
) -> _Phase:
    rows = np.asarray(rest[0]) if rest else np.arange(len(labels))
    if len(rows) == 0:
        raise EegbenchError(f"stage 2 phase {phase!r} has no training rows.")
    x = torch.as_tensor(np.asarray(inputs)[rows], dtype=torch.float32)
    return _Phase(phase, x, [labels[j] for j in rows], [captions[j] for j in rows])


def _restore(step: _Step, saved: dict, generator: torch.Generator) -> int:
    """Load a checkpoint's state into the phase being trained; returns the epochs done."""
    step.projector.load_state_dict(saved["projector"])
    step.opt.load_state_dict(saved["optimizer"])
    step.sched.load_state_dict(saved["scheduler"])
    step.scaler.load_state_dict(saved["scaler"])
    set_rng_state(saved["rng"], generator)
    return saved["done"]


def _saved(
    step: _Step, phase: int, done: int, result: Stage2Result, generator: torch.Generator
) -> dict:
    return {
        "phase": phase,
        "done": done,
        "projector": step.projector.state_dict(),
        "optimizer": step.opt.state_dict(),
        "scheduler": step.sched.state_dict(),
        "scaler": step.scaler.state_dict(),
        "history": result.history,
        "rng": rng_state(generator),
    }


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
