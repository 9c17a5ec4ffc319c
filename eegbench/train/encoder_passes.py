"""Thought2Text's stage-3 encoder: the correct-only filter computed in train mode.

finetune_llm.py calls ``model.train()`` before it builds one ``Filter`` per split (train, val,
then test; datautils.py, batches of 128 in split order, no autocast). So the filter's
predictions and the stage-3 EEG embeddings come from an encoder with Dropout2d on and
batch-statistic BatchNorm, and every pass updates BatchNorm's running statistics; the encoder
saved after stage 3, the one inference.py evaluates, carries statistics taken mostly from the
test batches (``stage2.encoder_mode=train``). The passes over val and test serve only that
update.
"""

from __future__ import annotations

import numpy as np
import torch

from eegbench.train.device import FP32, Precision, module_device
from eegbench.train.model import EEGClassifier

FILTER_BATCH = 128
"""``Filter``'s DataLoader batch size (datautils.py)."""


@torch.no_grad()
def train_mode_passes(
    model: EEGClassifier,
    splits: list[np.ndarray],
    precision: Precision = FP32,
    seed: int = 0,
    batch_size: int = FILTER_BATCH,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(embeddings, logits) of each split's trials ``[N, C, T]`` in turn, in train mode; the
    model's BatchNorm running statistics keep every pass's updates. Dropout draws from a
    generator seeded with ``seed`` (a resumed run repeats them); the model ends in eval mode."""
    device, out = module_device(model), []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model.train()
        out = [_pass(model, X, precision, batch_size, device) for X in splits]
    model.eval()
    return out


def _pass(
    model: EEGClassifier, X: np.ndarray, precision: Precision, batch_size: int, device
) -> tuple[np.ndarray, np.ndarray]:
    embs, logits = [], []
    for i in range(0, len(X), batch_size):
        with precision.autocast():
            e, lg = model(torch.as_tensor(X[i : i + batch_size]).to(device))
        embs.append(e.float().cpu())
        logits.append(lg.float().cpu())
    return torch.cat(embs).numpy(), torch.cat(logits).numpy()
