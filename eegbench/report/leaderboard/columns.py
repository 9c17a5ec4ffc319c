"""Leaderboard columns as data: which metric, what of it, and against which control."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eegbench.report.leaderboard.collect import HEADROOM

Kind = Literal["value", "delta", "headroom"]
"""What a column shows of its metric: the value, the difference run - control (``delta``), or
the fraction of the headroom from the label-only control to the ceiling oracle realised."""


@dataclass(frozen=True)
class Column:
    """One metric column of a leaderboard; ``against`` is the control a ``delta`` subtracts."""

    metric: str
    kind: Kind = "value"
    against: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == "delta") != (self.against is not None):
            raise ValueError(f"a {self.kind} column takes a control only when it is a delta.")

    @property
    def label(self) -> str:
        """The column's name in every format: ``bleu_4``, ``bleu_4 Δ only_obj``,
        ``bleu_4 headroom``."""
        if self.kind == "delta":
            return f"{self.metric} Δ {self.against}"
        return self.source

    @property
    def source(self) -> str:
        """The run-record quantity the cells summarise: the metric, or its headroom."""
        return self.metric + HEADROOM if self.kind == "headroom" else self.metric
