"""The metric contract. Metric plugins subclass ``Metric`` (or match its shape).

``compute(predictions, references, **ctx)`` receives the generated and reference captions and,
as keyword context, whatever of these the evaluation has (``requires`` names what it needs):

- ``y_true`` ``[n]`` int class labels, ``logits`` ``[n, K]`` classifier outputs,
- ``embeddings`` ``[n, D]`` EEG embeddings, ``targets`` ``[n, D]`` each trial's target,
- ``target_bank`` ``[m, D]`` one target per candidate (test image) and ``target_index`` ``[n]``
  the row of each trial's own image in it (for retrieval),
- ``class_names`` list of names.

It returns ``{output_name: value}``; ``outputs`` maps each output name to higher-is-better.
"""

from __future__ import annotations

from typing import Any, ClassVar

CAPTIONS = "captions"
LOGITS = "logits"
EMBEDDINGS = "embeddings"


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
