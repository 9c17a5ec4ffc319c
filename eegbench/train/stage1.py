"""Stage 1: train encoder + heads with ``w_mse * L(embedding, target) + w_ce * CE(logits, y)``.

``L`` is ``stage1.loss``: the MSE (Thought2Text), the cosine distance, or InfoNCE: a
cross-entropy over the cosine similarities (divided by ``stage1.temperature``) between the EEG
embedding and the targets of all distinct training images, the trial's own image being the right
answer (CLIP's loss, one direction, with the whole training bank as negatives).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eegbench.config import Stage1Config
from eegbench.contract.errors import EegbenchError
from eegbench.train.checkpoint import Checkpoint
from eegbench.train.device import FP32, Precision, module_device
from eegbench.train.distributed import SINGLE, World
from eegbench.train.loop import EpochCallback, Loop, TrainState
from eegbench.train.model import EEGClassifier
from eegbench.train.optim import make_optimizer, make_schedule, optimizer_step


@dataclass
class Stage1Result:
    best_epoch: int
    best_val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)


def embedding_loss(
    emb: torch.Tensor,
    idx: torch.Tensor,
    t: torch.Tensor,
    bank: torch.Tensor,
    which: torch.Tensor,
    cfg: Stage1Config,
) -> torch.Tensor:
    """The embedding term for the trials ``idx``: ``t`` per-trial targets, ``bank`` the distinct
    training targets and ``which`` each trial's row in it."""
    if cfg.loss == "mse":
        return F.mse_loss(emb, t[idx])
    if cfg.loss == "cosine":
        return (1 - F.cosine_similarity(emb, t[idx], dim=1)).mean()
    sims = F.normalize(emb, dim=1) @ F.normalize(bank, dim=1).T
    return F.cross_entropy(sims / cfg.temperature, which[idx])


def stage1_step(
    model: EEGClassifier,
    xb: torch.Tensor,
    yb: torch.Tensor,
    idx: torch.Tensor,
    t: torch.Tensor,
    bank: torch.Tensor,
    which: torch.Tensor,
    cfg: Stage1Config,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    precision: Precision = FP32,
    world: World = SINGLE,
    share: float = 1.0,
    net: torch.nn.Module | None = None,
) -> torch.Tensor:
    """One training step on the batch ``xb, yb`` (trials ``idx``); returns the detached
    ``[loss, embedding term, CE]`` on the model's device, without a host sync. ``net`` is the
    model as ``world`` wraps it, ``share`` this process's fraction of the batch."""
    device = t.device
    with precision.autocast():
        emb, logits = (net or model)(xb.to(device, non_blocking=True))
    mse = embedding_loss(emb.float(), idx, t, bank, which, cfg)
    ce = F.cross_entropy(logits.float(), yb.to(device, non_blocking=True))
    loss = cfg.w_mse * mse + cfg.w_ce * ce
    step_loss = world.scale(loss, share)
    optimizer_step(step_loss, opt, sched, scaler, model.parameters(), cfg.grad_clip)
    return torch.stack([loss.detach(), mse.detach(), ce.detach()])


@dataclass
class _Bank:
    """The training trials on the host and their targets on the model's device: per trial
    (``t``), the distinct training targets (``bank``) and each trial's row in it (``which``)."""

    X: torch.Tensor
    y: torch.Tensor
    t: torch.Tensor
    bank: torch.Tensor
    which: torch.Tensor

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, t: np.ndarray, device: torch.device) -> _Bank:
        targets = torch.as_tensor(t)
        bank, which = torch.unique(targets, dim=0, return_inverse=True)
        return cls(
            torch.as_tensor(X), torch.as_tensor(y), targets.to(device), bank.to(device),
            which.to(device),
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class _Stage1:
    """Stage 1 in the loop: an epoch over the training trials, validation accuracy, and the
    weights of the best validation epoch so far."""

    net: torch.nn.Module
    data: _Bank
    X_val: np.ndarray
    y_val: np.ndarray
    cfg: Stage1Config
    generator: torch.Generator
    precision: Precision
    world: World
    best: tuple[float, int, dict]  # (val accuracy, epoch, weights)
    label: str = "stage 1: encoder"
    tracked_as: str = "stage1"

    def epoch(self, state: TrainState, epoch: int) -> dict[str, Any]:
        row = _epoch(state, self.net, self.data, self.cfg, self.generator, self.precision,
                     self.world, epoch)  # fmt: skip
        model = state.module
        _, val_logits = model.predict(self.X_val, precision=self.precision)
        row["val_accuracy"] = self.world.from_main(
            float((val_logits.argmax(1) == self.y_val).mean())
        )
        return row

    def tracked(self, row: dict[str, Any]) -> dict[str, float]:
        return {k: v for k, v in row.items() if k != "epoch"}

    def after_epoch(self, state: TrainState, row: dict[str, Any]) -> None:
        if row["val_accuracy"] > self.best[0]:
            self.best = (
                row["val_accuracy"],
                row["epoch"],
                copy.deepcopy(state.module.state_dict()),
            )

    def extra(self) -> dict[str, Any]:
        return {"best": [self.best[0], self.best[1]], "best_model": self.best[2]}


def _new_state(model: EEGClassifier, cfg: Stage1Config, precision: Precision, n: int) -> TrainState:
    steps_per_epoch = max(1, -(-n // cfg.batch_size))
    opt = make_optimizer(model.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)
    sched = make_schedule(opt, steps_per_epoch * cfg.epochs, cfg.warmup_ratio, cfg.schedule)
    return TrainState(model, opt, sched, precision.scaler())


def train_stage1(
    model: EEGClassifier,
    X_train: np.ndarray,
    y_train: np.ndarray,
    t_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    cfg: Stage1Config,
    generator: torch.Generator,
    checkpoint: Checkpoint | None = None,
    precision: Precision = FP32,
    world: World = SINGLE,
    on_epoch: EpochCallback | None = None,
) -> Stage1Result:
    """Train in place; the model ends with the weights of the best validation-accuracy epoch.

    With ``checkpoint``, the state is saved after every epoch and training continues from a
    saved state (to the same numbers as an uninterrupted run). The data stay on the host; each
    batch moves to the model's device. ``precision`` gives the autocast (and, for fp16, the
    gradient scaler). With ``world`` of several processes, each trains on its shard of every
    batch (see ``train/distributed.py``); pass no ``checkpoint`` then. ``on_epoch`` receives
    each epoch's history row and the learning rate at its end.
    """
    if cfg.temperature <= 0:
        raise EegbenchError(f"stage1.temperature={cfg.temperature} must be > 0.")
    data = _Bank.of(X_train, y_train, t_train, module_device(model))
    state = _new_state(model, cfg, precision, len(data))
    best = (-1.0, -1, copy.deepcopy(model.state_dict()))
    stage = _Stage1(world.wrap(model), data, X_val, y_val, cfg, generator, precision, world, best)
    loop = Loop(generator, "stage1", checkpoint, on_epoch)
    saved, start = loop.saved(), 0
    if saved is not None:
        start = loop.resume(state, saved)
        stage.best = (saved["best"][0], saved["best"][1], saved["best_model"])
    loop.run(stage, state, cfg.epochs, start)
    model.load_state_dict(stage.best[2])
    model.eval()
    best_acc, best_epoch, _ = stage.best
    return Stage1Result(best_epoch=best_epoch, best_val_accuracy=best_acc, history=state.history)


def _epoch(
    state: TrainState,
    net: torch.nn.Module,
    data: _Bank,
    cfg: Stage1Config,
    generator: torch.Generator,
    precision: Precision,
    world: World,
    epoch: int,
) -> dict[str, float]:
    """One epoch over the training trials in a new random order; its history row (losses)."""
    model, n = state.module, len(data)
    model.train()
    order = torch.randperm(n, generator=generator)
    # per-epoch sums stay on the device (float64, as Python floats): one sync per epoch
    sums = torch.zeros(3, dtype=torch.float64, device=data.t.device)
    for i in range(0, n, cfg.batch_size):
        idx = order[i : i + cfg.batch_size]
        if len(idx) < max(2, world.size):
            continue  # BatchNorm needs two samples, each process one
        mine = world.shard(idx)
        share, idx = len(mine) / len(idx), mine
        terms = stage1_step(
            model, data.X[idx], data.y[idx], idx, data.t, data.bank, data.which, cfg,
            state.opt, state.sched, state.scaler, precision, world, share, net,
        )  # fmt: skip
        sums += terms.double() * len(idx)
    total, mse_sum, ce_sum = world.sum(*sums.tolist())
    world.sync_buffers(model)
    if not math.isfinite(total):
        raise EegbenchError(
            f"stage 1 loss became {total} in epoch {epoch + 1}; lower stage1.lr or check the "
            "data for extreme values."
        )
    return {"epoch": epoch + 1, "loss": total / n, "mse": mse_sum / n, "ce": ce_sum / n}
