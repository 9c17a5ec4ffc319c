"""Leaderboards: many run directories -> one table (markdown, LaTeX, CSV, HTML) and a bar chart.

``collect`` finds and reads the run records (unfinished or malformed run directories are listed
as skipped with the reason, never mixed in), ``table`` groups runs into configurations and
summarises them over seeds (runs of one configuration whose dataset hashes differ become separate
rows) in ``columns.Column``s (a metric's value, its difference to a control, or its headroom),
``render`` writes the formats and ``plot`` the chart.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eegbench.report.leaderboard.collect import Run, Skipped, collect, find_run_dirs, read_run
from eegbench.report.leaderboard.columns import Column
from eegbench.report.leaderboard.render import FORMATS, write_outputs
from eegbench.report.leaderboard.table import (
    Leaderboard,
    Row,
    build,
    default_delta,
    flat_config,
    summarize,
)

__all__ = [
    "FORMATS",
    "Column",
    "Leaderboard",
    "Row",
    "Run",
    "Skipped",
    "build",
    "collect",
    "default_delta",
    "find_run_dirs",
    "flat_config",
    "leaderboard",
    "read_run",
    "summarize",
    "write_outputs",
]


def leaderboard(
    paths: Iterable[str | Path],
    **options: Any,
) -> Leaderboard:
    """Scan ``paths`` for run directories and build their leaderboard (options: ``build``)."""
    runs, skipped = collect(paths)
    return build(runs, skipped, **options)
