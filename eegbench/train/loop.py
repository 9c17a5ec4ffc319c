"""The one epoch loop of both training stages: progress, tracking, checkpoints and resumption.

A stage says how to train one epoch (``Stage.epoch``) and what its history rows report; the
``Loop`` runs the epochs, appends each row to the history, tells the tracker (``on_epoch``), saves
the train state after every epoch (``TrainState``: weights, optimiser, schedule, gradient scaler,
history, RNG states and what the stage adds) and restores it on resume, to the same numbers as an
uninterrupted run. A signal that arrives during a save waits for it (``Checkpoint.save``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from eegbench.progress import task
from eegbench.train.checkpoint import Checkpoint, rng_state, set_rng_state

EpochCallback = Callable[[str, int, dict[str, float]], None]
"""Called after every epoch: ``(stage, epoch, values)``; stage ``stage1`` or ``stage2/<phase>``,
epoch from 1, values such as ``loss``, ``val_accuracy``, ``lr`` (experiment tracking)."""


@dataclass
class TrainState:
    """What an epoch changes and a checkpoint keeps: the trained module, its optimiser,
    learning-rate schedule and gradient scaler, and the history rows so far."""

    module: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lr(self) -> float:
        """The learning rate at the end of the last step."""
        return self.sched.get_last_lr()[0]

    def saved(self, done: int) -> dict[str, Any]:
        return {
            "done": done,
            "module": self.module.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": self.history,
        }

    def restore(self, saved: dict[str, Any]) -> int:
        """Load a saved state; returns the epochs it had done."""
        self.module.load_state_dict(saved["module"])
        self.opt.load_state_dict(saved["optimizer"])
        self.sched.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        self.history[:] = saved["history"]
        return int(saved["done"])


class Stage(Protocol):
    """One stage's (or stage-2 phase's) part of the loop."""

    label: str  # the progress line
    tracked_as: str  # the tracker's stage name: stage1, stage2/<phase>

    def epoch(self, state: TrainState, epoch: int) -> dict[str, Any]:
        """Train epoch ``epoch`` (from 0); its history row."""
        ...

    def tracked(self, row: dict[str, Any]) -> dict[str, float]:
        """The values of a history row the tracker and the progress line show."""
        ...

    def after_epoch(self, state: TrainState, row: dict[str, Any]) -> None:
        """What the stage does once the row is recorded (stage 1 keeps its best epoch)."""
        ...

    def extra(self) -> dict[str, Any]:
        """What the stage adds to a checkpoint."""
        ...


@dataclass
class Loop:
    """Runs a stage's epochs with ``generator`` (the data order), saving into ``checkpoint``
    under ``key`` (None: no checkpoint, e.g. data-parallel) and telling ``on_epoch``."""

    generator: torch.Generator
    key: str
    checkpoint: Checkpoint | None = None
    on_epoch: EpochCallback | None = None

    def saved(self) -> dict[str, Any] | None:
        """The checkpoint's state under ``key``, or None."""
        return self.checkpoint.load(self.key) if self.checkpoint is not None else None

    def resume(self, state: TrainState, saved: dict[str, Any]) -> int:
        """Restore ``state`` and the RNGs from ``saved``; returns the epochs done."""
        done = state.restore(saved)
        set_rng_state(saved["rng"], self.generator)
        return done

    def run(self, stage: Stage, state: TrainState, epochs: int, start: int = 0) -> None:
        """Epochs ``start`` to ``epochs`` of ``stage``, updating ``state`` in place."""
        with task(stage.label, total=epochs - start) as advance:
            for epoch in range(start, epochs):
                row = stage.epoch(state, epoch)
                state.history.append(row)
                values = stage.tracked(row)
                if self.on_epoch is not None:
                    self.on_epoch(stage.tracked_as, epoch + 1, {**values, "lr": state.lr})
                stage.after_epoch(state, row)
                if self.checkpoint is not None:
                    saved = {**state.saved(epoch + 1), **stage.extra()}
                    self.checkpoint.save(self.key, {**saved, "rng": rng_state(self.generator)})
                advance(**_shown(row))


def _shown(row: dict[str, Any]) -> dict[str, float]:
    """What the progress line shows of a history row: the loss, and the validation accuracy."""
    shown = {"loss": row["loss"]}
    if "val_accuracy" in row:
        shown["val_acc"] = row["val_accuracy"]
    return shown
