"""The figures of one run: ``eegbench plot RUN`` writes them, ``eegbench report`` shows them.

- ``confusion``: the confusion matrix of expected vs predicted object (scikit-learn's
  ``ConfusionMatrixDisplay`` on ``predictions.csv``), rows normalised to recall;
- ``per_class``: each class's accuracy (the matrix's diagonal) with the chance level;
- ``attributes``: attribute hit rates (``hit_*``) with their 95% CIs for the run beside its
  controls and the oracle rows (datasets with ground truth);
- ``forest``: every control's paired difference run - control, per metric, with its clustered
  95% CI and permutation p-value.

Each figure is built from the run's files alone (``results.json`` through ``RunRecord``,
``predictions.csv``); a figure the run has no data for is left out with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.contract.errors import ConfigError
from eegbench.results.record import RunRecord
from eegbench.results.rundir import RunDir

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURES = ("confusion", "per_class", "attributes", "forest")
TITLES = {
    "confusion": "Confusion matrix",
    "per_class": "Per-class accuracy",
    "attributes": "Attribute hit rates",
    "forest": "Control differences",
}
FORMATS = ("png", "svg")
SYSTEM = "EEG"


@dataclass
class Figures:
    """The figures built for one run, and why the others were left out."""

    figures: dict[str, Figure] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        import matplotlib.pyplot as plt

        for fig in self.figures.values():
            plt.close(fig)


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": 8, "svg.fonttype": "none", "svg.hashsalt": "eegbench"}):
        yield


def _objects(run_dir: Path) -> tuple[list[str], list[str]] | None:
    from eegbench.evaluation.predictions import read_predictions

    path = RunDir(run_dir).predictions()
    if not path.is_file():
        return None
    p = read_predictions(path)
    return list(p.expected_object), [o or "(none)" for o in p.predicted_object]


def _class_order(record: RunRecord, expected: list[str], predicted: list[str]) -> list[str]:
    names = [c for c in record.dataset.class_names if c in set(expected) | set(predicted)]
    extra = sorted((set(expected) | set(predicted)) - set(names))
    return names + extra


def confusion(record: RunRecord, run_dir: Path) -> Figure | str:
    """The row-normalised confusion matrix of ``predictions.csv``, or why there is none."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    objects = _objects(run_dir)
    if objects is None:
        return "no predictions.csv (a dataset without captions writes none)"
    expected, predicted = objects
    labels = _class_order(record, expected, predicted)
    k = len(labels)
    size = min(14.0, max(4.5, 0.28 * k + 2.5))
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        expected,
        predicted,
        labels=labels,
        normalize="true",
        include_values=k <= 12,
        values_format=".2f",
        cmap="Blues",
        xticks_rotation="vertical",
        colorbar=True,
        ax=ax,
    )
    ax.set_title(f"{run_dir.name}: expected vs predicted object (rows sum to 1)", fontsize=9)
    if k > 20:
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def per_class(record: RunRecord, run_dir: Path) -> Figure | str:
    """Accuracy (recall) of each class, sorted, with the chance level 1/K."""
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import recall_score

    objects = _objects(run_dir)
    if objects is None:
        return "no predictions.csv (a dataset without captions writes none)"
    expected, predicted = objects
    labels = [c for c in _class_order(record, expected, predicted) if c in set(expected)]
    acc = recall_score(expected, predicted, labels=labels, average=None, zero_division=0)
    counts = {c: expected.count(c) for c in labels}
    order = np.argsort(-np.asarray(acc), kind="stable")
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.2 * len(labels) + 1.2)))
    y = np.arange(len(labels))
    ax.barh(y, np.asarray(acc)[order], color="C0")
    ax.set_yticks(y, [f"{labels[i]} (n={counts[labels[i]]})" for i in order])
    ax.invert_yaxis()
    k = max(1, record.dataset.n_classes or len(labels))
    ax.axvline(1 / k, color="0.4", linestyle="--", linewidth=1, label=f"chance 1/{k}")
    overall = float(np.mean([e == p for e, p in zip(expected, predicted)]))
    ax.axvline(overall, color="C3", linewidth=1, label=f"overall {overall:.3f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (test trials of the class classified as it)")
    ax.set_title(f"{run_dir.name}: per-class accuracy", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    if len(labels) > 20:
        ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    return fig


def _hit_rows(record: RunRecord) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """The ``hit_*`` outputs and, per condition (run, controls, oracles), their values."""
    hits = [k for k in record.metrics if k.startswith("hit_")]
    rows: list[tuple[str, dict[str, Any]]] = [(SYSTEM, record.metrics)]
    rows += [(name, c.metrics) for name, c in record.controls.items()]
    rows += [
        (f"oracle: {name}" + (f" ({o.role})" if o.role else ""), o.metrics)
        for name, o in record.oracles.items()
    ]
    return hits, [(n, m) for n, m in rows if any(h in m for h in hits)]


def attributes(record: RunRecord, run_dir: Path) -> Figure | str:
    """Grouped bars: each attribute's hit rate per condition, with the 95% CIs."""
    import matplotlib.pyplot as plt
    import numpy as np

    hits, rows = _hit_rows(record)
    if not hits:
        return "no attribute hit rates (the attributes metric needs a dataset with ground truth)"
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(hits) * len(rows) / 2 + 2), 3.4))
    width = 0.8 / len(rows)
    x = np.arange(len(hits))
    for i, (name, metrics) in enumerate(rows):
        vals = [metrics[h].value if h in metrics else np.nan for h in hits]
        cis = [
            metrics[h].ci if h in metrics and metrics[h].ci else (v, v) for h, v in zip(hits, vals)
        ]
        lo = [v - ci[0] for v, ci in zip(vals, cis)]
        hi = [ci[1] - v for v, ci in zip(vals, cis)]
        style = {"color": "C0"} if name == SYSTEM else {"color": f"C{i % 9 + 1}", "alpha": 0.8}
        if name.startswith("oracle"):
            style = {"color": "0.75", "hatch": "//", "edgecolor": "0.4"}
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, vals, width, label=name, **style)
        ax.errorbar(
            x + (i - (len(rows) - 1) / 2) * width,
            vals,
            yerr=[lo, hi],
            fmt="none",
            ecolor="black",
            capsize=2,
            linewidth=0.8,
        )
    ax.set_xticks(x, [h.removeprefix("hit_") for h in hits])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("captions naming the true attribute")
    ax.set_title(f"{run_dir.name}: attribute hit rates, 95% CIs (controls and oracles)", fontsize=9)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def forest(record: RunRecord, run_dir: Path) -> Figure | str:
    """Every control's paired difference (run - control) per metric, with CI and p."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [
        (control, metric, d)
        for control, c in record.controls.items()
        for metric, d in c.delta.items()
    ]
    if not rows:
        return "no control differences (run with eval.controls=...)"
    fig, ax = plt.subplots(figsize=(7.5, 0.24 * len(rows) + 1.4))
    y = np.arange(len(rows))
    controls = list(dict.fromkeys(c for c, _, _ in rows))
    for i, (control, metric, d) in enumerate(rows):
        color = f"C{controls.index(control) % 10}"
        if d.ci:
            ax.plot(d.ci, [i, i], color=color, linewidth=1.5)
        ax.plot([d.value], [i], "o", color=color, markersize=4)
        better = record.metrics.get(metric)
        arrow = "" if better is None else (" ↑" if better.higher_is_better else " ↓")
        p = "" if d.p is None else f"p={d.p:.3g}"
        ax.annotate(p, (1.01, i), xycoords=("axes fraction", "data"), va="center", fontsize=6)
        rows[i] = (control, f"{metric}{arrow}", d)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(y, [f"{m}  vs {c}" for c, m, _ in rows])
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=6)
    ax.set_xlabel("run - control on the same test trials (95% CI over clusters)")
    ax.set_title(f"{run_dir.name}: paired differences to every control", fontsize=9)
    fig.tight_layout()
    return fig


BUILDERS = {
    "confusion": confusion,
    "per_class": per_class,
    "attributes": attributes,
    "forest": forest,
}


def build(run_dir: str | Path, names: Sequence[str] = FIGURES) -> Figures:
    """The figures ``names`` of the finished run in ``run_dir``."""
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        raise ConfigError(f"unknown figure(s) {unknown}; valid: {', '.join(FIGURES)}.")
    run = Path(run_dir)
    if not run.is_dir():
        raise ConfigError(f"{str(run)!r} is not a run directory (a folder with results.json).")
    record = RunRecord.read(run)
    out = Figures()
    with _style():
        for name in names:
            made = BUILDERS[name](record, run)
            if isinstance(made, str):
                out.missing[name] = made
            else:
                out.figures[name] = made
    return out


def write(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = FORMATS,
    names: Sequence[str] = FIGURES,
) -> tuple[list[Path], dict[str, str]]:
    """Write the run's figures as ``<out_dir>/<name>.<format>`` (default ``RUN/figures``);
    returns the files written and the figures left out with the reason."""
    from eegbench.io import atomic_writer

    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"figure format(s) {bad or '(none)'}; valid: {', '.join(FORMATS)}.")
    figs = build(run_dir, names)
    folder = Path(out_dir) if out_dir is not None else Path(run_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        with _style():
            for name, fig in figs.figures.items():
                for fmt in formats:
                    path = folder / f"{name}.{fmt}"

                    def save(f: Any, fig: Figure = fig, fmt: str = fmt) -> None:
                        fig.savefig(f, format=fmt, dpi=150, bbox_inches="tight")

                    written.append(atomic_writer(path, save))
    finally:
        figs.close()
    return written, figs.missing


def svg_text(fig: Figure) -> str:
    """``fig`` as a standalone SVG document."""
    import io

    buf = io.StringIO()
    with _style():
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()
