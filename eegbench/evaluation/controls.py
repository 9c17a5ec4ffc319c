"""The control conditions: what the pipeline sees instead of the real EEG or label.

Each control is a paired comparison against the real run on the same test trials. Names and
descriptions are declared here, apart from the harness, so that the config checks
``eval.controls`` when it resolves without importing torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from eegbench.config.schema import CONTROLS as CONFIG_CONTROLS
from eegbench.contract.data import EEGData
from eegbench.contract.errors import DataError

if TYPE_CHECKING:
    from eegbench.train.device import Precision
    from eegbench.train.model import EEGClassifier


@dataclass(frozen=True)
class Condition:
    """What the pipeline saw and said under one condition (the real run or a control)."""

    embeddings: np.ndarray | None  # EEG embeddings [n, D] fed to the projector (None: no slot)
    logits: np.ndarray | None  # classifier outputs [n, K] (None: unchanged from the real run)
    labels: list[str | None]  # object strings in the prompt (None: no label)
    captions: list[str] = field(default_factory=list)
    literal_slot: bool = False  # the prompt keeps the text <image> as tokens (t2t_only_obj)

    def with_captions(self, captions: list[str]) -> Condition:
        return dataclasses.replace(self, captions=captions)


class Encoded:
    """The trained encoder over the evaluated split (``index`` of ``data``): the real
    condition, predictions of other trials, and the training trials' embeddings (computed
    once, for the controls and metrics that use them)."""

    def __init__(
        self, model: EEGClassifier, data: EEGData, index: np.ndarray, precision: Precision
    ) -> None:
        self.model, self.data, self.index, self.precision = model, data, index, precision
        self._train: np.ndarray | None = None

    @property
    def image(self) -> np.ndarray:
        return self.data.image[self.index]

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """EEG embeddings and class logits of trials ``X``."""
        return self.model.predict(X, precision=self.precision)

    def label_names(self, logits: np.ndarray) -> list[str | None]:
        names = self.data.class_names
        return [names[k] for k in logits.argmax(1)]

    def real(self) -> Condition:
        """The evaluated trials' embeddings, logits and predicted labels (no captions yet)."""
        emb, logits = self.predict(self.data.X[self.index])
        return Condition(emb, logits, self.label_names(logits))

    def train_embeddings(self) -> np.ndarray:
        """EEG embeddings of the training trials (computed once)."""
        if self._train is None:
            import torch

            with torch.no_grad():
                self._train = self.predict(self.data.X[self.data.splits["train"]])[0]
        return self._train


def other_image_permutation(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation ``perm`` of the trials with ``image[perm[i]] != image[i]`` for every ``i``:
    each trial gets a trial of another image (so nothing specific to its image survives).

    The trials are laid out image by image (images and the trials within each in random order)
    and each takes the trial ``m`` places further round the circle, ``m`` the largest number of
    trials of one image: no image's block is ``m`` long, so no trial lands in its own.
    """
    image = np.asarray(image)
    ids, codes = np.unique(image, return_inverse=True)
    sizes = np.bincount(codes)
    n, m = image.size, int(sizes.max()) if image.size else 0
    if len(ids) < 2 or 2 * m > n:
        raise DataError(
            f"shuffled_eeg needs test trials of at least two images with no image holding more "
            f"than half of them ({len(ids)} image(s), {m} of {n} trials in the largest)."
        )
    image_order = rng.permutation(len(ids))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[image_order] = np.arange(len(ids))
    layout = np.lexsort((rng.random(n), rank[codes]))  # trials image by image
    perm = np.empty(n, dtype=np.int64)
    perm[layout] = layout[(np.arange(n) + m) % n]
    return perm


def _noise_like(data: EEGData, n: int, rng: np.random.Generator) -> np.ndarray:
    train = data.X[data.splits["train"]]
    mean = train.mean(axis=(0, 2), keepdims=True)
    std = train.std(axis=(0, 2), keepdims=True)
    return (mean + std * rng.standard_normal((n, data.n_chans, data.n_times))).astype(np.float32)


ControlFn = Callable[[Encoded, Condition, np.random.Generator], Condition]
"""A control's condition from the encoder on the split, the real condition and the RNG."""


def _only_obj(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    return Condition(None, None, real.labels)


def _random_eeg(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    emb = real.embeddings
    noise = rng.standard_normal(emb.shape).astype(np.float32)
    noise *= np.linalg.norm(emb, axis=1, keepdims=True) / np.linalg.norm(
        noise, axis=1, keepdims=True
    )
    return Condition(noise, None, real.labels)


def _only_eeg(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    return Condition(real.embeddings, None, [None] * len(real.labels))


def _shuffled_eeg(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    perm = other_image_permutation(ev.image, rng)
    return Condition(real.embeddings[perm], None, real.labels)


def _mean_eeg(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    mean = ev.train_embeddings().mean(axis=0, keepdims=True)
    emb = np.repeat(mean, len(real.labels), axis=0).astype(real.embeddings.dtype)
    return Condition(emb, None, real.labels)


def _noise(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    X = _noise_like(ev.data, len(ev.index), rng)
    emb, logits = ev.predict(X)
    return Condition(emb, logits, ev.label_names(logits))


def _t2t_only_obj(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    return Condition(None, None, real.labels, literal_slot=True)


def _t2t_random_eeg(ev: Encoded, real: Condition, rng: np.random.Generator) -> Condition:
    """inference_chance2.py: ``torch.rand`` of the embedding's shape, U[0, 1)."""
    return Condition(rng.random(real.embeddings.shape, dtype=np.float32), None, real.labels)


IMPLEMENTATIONS: dict[str, ControlFn] = {
    "only_obj": _only_obj,
    "obj_random_eeg": _random_eeg,
    "only_eeg": _only_eeg,
    "shuffled_eeg": _shuffled_eeg,
    "mean_eeg": _mean_eeg,
    "noise": _noise,
    "t2t_only_obj": _t2t_only_obj,
    "t2t_random_eeg": _t2t_random_eeg,
}
"""The condition each control of ``eegbench.config.schema.CONTROLS`` (names and descriptions,
pure data the config checks) runs."""

CONTROLS: dict[str, tuple[ControlFn, str]] = {
    name: (IMPLEMENTATIONS[name], description) for name, description in CONFIG_CONTROLS.items()
}


ENCODER_CONTROLS = frozenset({"noise"})
"""Controls whose condition runs the encoder (new logits and embeddings): the only ones that
change what is scored on a dataset without captions; the others are not even computed there
(``mean_eeg`` would embed every training trial for nothing)."""

EEG_CONTROL = "shuffled_eeg"
"""The control that keeps the label, the projector and its tokens and removes what is specific
to the trial's EEG: the headline differences are against it."""
LABEL_CONTROL = "only_obj"
"""The label-only control: the floor of the headroom."""
