"""The metric contract. Metric plugins subclass ``Metric`` (or match its shape).

``compute(predictions, references, **ctx)`` receives the generated and reference captions and,
as keyword context, whatever of these the evaluation has (``requires`` names what it needs):

- ``y_true`` ``[n]`` int class labels, ``logits`` ``[n, K]`` classifier outputs,
- ``embeddings`` ``[n, D]`` EEG embeddings, ``targets`` ``[n, D]`` each trial's target,
- ``target_bank`` ``[m, D]`` one target per candidate (test image) and ``target_index`` ``[n]``
  the row of each trial's own image in it (for retrieval),
- ``class_names`` list of names, ``image_id`` ``[n]`` each trial's image index,
- with ground truth (``requires`` has ``ATTRIBUTES``; the dataset declares ``EEGData.attributes``):
  ``attributes`` ``{name: [n] values}`` per trial, ``attribute_words``
  ``{name: {value: [words]}}``, ``describe`` (the dataset's caption writer or None),
  ``train_embeddings`` ``[m, D]``, ``train_y`` ``[m]`` and ``train_attributes``
  ``{name: [m] values}`` of the training trials (for probes and class priors).

It returns ``{output_name: value}``; ``outputs`` maps each output name to higher-is-better.
A metric may also offer reference systems (``oracles``): captions the harness scores with every
caption metric and records as rows beside the controls (a ``floor`` and a ``ceiling`` give the
fraction of headroom realised).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

CAPTIONS = "captions"
LOGITS = "logits"
EMBEDDINGS = "embeddings"
ATTRIBUTES = "attributes"
ORACLE_ROLES = ("floor", "ceiling", "")


@dataclass
class Oracle:
    """A reference system's captions for the test trials, and its role (floor, ceiling or "")."""

    captions: list[str]
    description: str
    role: str = ""


class Metric:
    """Base class for metric plugins."""

    name: ClassVar[str] = ""
    outputs: ClassVar[dict[str, bool]] = {}
    requires: ClassVar[tuple[str, ...]] = (CAPTIONS,)
    citation: ClassVar[str] = ""

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        raise NotImplementedError

    def oracles(self, references: list[str], **ctx: Any) -> dict[str, Oracle]:
        """Reference systems' captions for the test trials (default: none), by row name."""
        return {}
