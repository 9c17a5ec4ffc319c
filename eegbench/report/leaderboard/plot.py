"""Plotting a leaderboard: one bar chart per column with the 95% intervals as error bars."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from eegbench.contract.errors import EegbenchError

if TYPE_CHECKING:
    from eegbench.report.leaderboard.columns import Column
    from eegbench.report.leaderboard.table import Leaderboard


def plot(board: Leaderboard, path: str | Path, columns: Sequence[Column] | None = None) -> Path:
    """A PNG: one bar chart per column, bars = rows, error bars = the 95% intervals."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(columns or board.columns)
    if not cols or not board.rows:
        raise EegbenchError("nothing to plot: the leaderboard has no rows or no metrics.")
    names = board.row_names()
    ncols = min(3, len(cols))
    nrows = math.ceil(len(cols) / ncols)
    width = max(3.2, 0.45 * len(board.rows) + 1.2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.2 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, col in zip(axes.flat, cols):
        shown = [(n, r, r.stats[col]) for n, r in zip(names, board.rows) if col in r.stats]
        means = [s.estimate for _, _, s in shown]
        err_lo = [s.estimate - s.low if s.low is not None else 0.0 for _, _, s in shown]
        err_hi = [s.high - s.estimate if s.high is not None else 0.0 for _, _, s in shown]
        x = np.arange(len(shown))
        bars = ax.bar(
            x,
            means,
            color=[colors[0] if r.is_system else "0.75" for _, r, _ in shown],
            edgecolor="0.3",
            linewidth=0.6,
        )
        for b, (_, r, _) in zip(bars, shown):
            b.set_hatch("" if r.is_system else "//")
        ax.errorbar(x, means, yerr=[err_lo, err_hi], fmt="none", ecolor="black", capsize=3)
        ax.set_title(board.header(col), fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels([n for n, _, _ in shown], rotation=45, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(cols) :]:
        ax.set_visible(False)
    fig.suptitle("mean over seeds, 95% intervals (grey: control rows)", fontsize=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # long tick labels: bbox fixes it
        fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
