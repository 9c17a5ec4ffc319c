"""Distinct-n (Li et al. 2016): how varied the generated captions are, as an eegbench metric."""

from __future__ import annotations

from typing import Any

from eegbench.api import CAPTIONS, Metric
from eegbench_example.plugin import DistinctParams


def distinct_n(captions: list[str], n: int, lowercase: bool = True) -> float:
    """Distinct n-grams / all n-grams over all captions (whitespace tokens); 0 if none."""
    grams: list[tuple[str, ...]] = []
    for caption in captions:
        tokens = (caption.lower() if lowercase else caption).split()
        grams += [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


class Distinct(Metric):
    """Distinct-1 and Distinct-2 of the generated captions (references are not used).

    Its name, citation and parameters are declared where it is registered (``plugin.py``).
    Both outputs are corpus ratios, not means over captions, so the metric declares no
    ``per_item`` scores: bootstrap CIs recompute ``compute`` on each resample (the default
    ``Metric.resampler``), and ``eegbench compare`` reports it as not testable.
    """

    outputs = {"distinct_1": True, "distinct_2": True}
    requires = (CAPTIONS,)

    def __init__(self, p: DistinctParams) -> None:
        self.lowercase = p.lowercase

    def compute(
        self, predictions: list[str], references: list[str], **ctx: Any
    ) -> dict[str, float]:
        return {
            "distinct_1": distinct_n(list(predictions), 1, self.lowercase),
            "distinct_2": distinct_n(list(predictions), 2, self.lowercase),
        }
