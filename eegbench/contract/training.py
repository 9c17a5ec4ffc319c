"""Helpers for a plugin that trains a model of its own (``tiny-gpt2`` trains its LM): the
learning-rate schedule both of eegbench's stages use."""

from __future__ import annotations

import math

import torch


def make_schedule(
    opt: torch.optim.Optimizer, total_steps: int, warmup_ratio: float, kind: str = "constant"
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_ratio`` of the steps, then constant, cosine or linear decay."""
    warmup = int(round(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if kind == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return max(0.0, 1.0 - progress)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
