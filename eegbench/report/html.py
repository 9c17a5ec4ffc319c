"""``eegbench report``: one self-contained HTML page for one or many finished runs.

Per run: training curves (inline SVG), the test metrics with their 95% CIs and the difference
to every control, the run's figures (``report/figures.py``: confusion matrix, per-class
accuracy, attribute hit rates beside the controls and oracles, the forest plot of the control
differences; SVG images), and the captions of the full pipeline beside each control's captions
when ``predictions_<control>.csv`` files exist. For several runs: the leaderboard table and its plot
(inline PNG). Nothing is loaded from outside the page: no scripts, fonts or links.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eegbench.config.saved import SavedConfig
from eegbench.contract.errors import ConfigError
from eegbench.io import atomic_write
from eegbench.report.leaderboard import Run, build, collect
from eegbench.results.rundir import RunDir

MAX_CAPTIONS = 25
"""Caption rows shown per run (the first ones of the test split)."""

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
h3{font-size:1em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f4f4f4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#1a7f37}.neg{color:#b42318}.dim{color:#777}
.wide{overflow-x:auto}figure{margin:.5em 0}svg,img{max-width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _figure_svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def curves_svg(results: dict[str, Any]) -> str | None:
    """Stage 1 loss and validation accuracy, stage 2 loss per phase, as one inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    training = results.get("training", {})
    s1 = training.get("stage1", {}).get("history", [])
    s2 = training.get("stage2", {}).get("history", []) if isinstance(training, dict) else []
    if not s1 and not s2:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
    if s1:
        epochs = [r["epoch"] for r in s1]
        for key in ("loss", "mse", "ce"):
            axes[0].plot(epochs, [r[key] for r in s1], marker=".", label=key)
        axes[0].legend(fontsize=7)
        axes[1].plot(epochs, [r["val_accuracy"] for r in s1], marker=".", color="C2")
    axes[0].set_title("stage 1 loss", fontsize=9)
    axes[1].set_title("stage 1 validation accuracy", fontsize=9)
    for phase in dict.fromkeys(r["phase"] for r in s2):
        rows = [r for r in s2 if r["phase"] == phase]
        axes[2].plot([r["epoch"] for r in rows], [r["loss"] for r in rows], marker=".", label=phase)
    if s2:
        axes[2].legend(fontsize=7)
    axes[2].set_title("stage 2 caption loss", fontsize=9)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    try:
        return _figure_svg(fig)
    finally:
        plt.close(fig)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def metric_table(results: dict[str, Any]) -> str:
    """Metric, value, 95% CI, then each control's value and the difference (run - control)."""
    controls = results.get("controls", {}) or {}
    head = ["metric", "value", "95% CI"]
    for c in controls:
        head += [c, f"Δ {c}"]
    rows = []
    for key, m in results.get("metrics", {}).items():
        arrow = "↑" if m.get("higher_is_better", True) else "↓"
        ci = m.get("ci")
        cells = [
            f"<td>{_e(key)} {arrow}</td>",
            f'<td class="num">{_fmt(m["value"])}</td>',
            f'<td class="num">{f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""}</td>',
        ]
        for row in controls.values():
            cm = row.get("metrics", {}).get(key)
            if cm is None:
                cells += ['<td class="num dim">—</td>', '<td class="num dim">—</td>']
                continue
            delta = m["value"] - cm["value"]
            better = delta > 0 if m.get("higher_is_better", True) else delta < 0
            cls = "pos" if better else "neg" if delta != 0 else "dim"
            cells += [
                f'<td class="num">{_fmt(cm["value"])}</td>',
                f'<td class="num {cls}">{delta:+.4f}</td>',
            ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def caption_table(run_dir: Path, limit: int = MAX_CAPTIONS) -> str | None:
    """Reference, full-pipeline caption and each control's caption, side by side."""
    from eegbench.evaluation.predictions import read_predictions

    run = RunDir(run_dir)
    if not run.predictions().is_file():
        return None
    columns = {"full": read_predictions(run.predictions())}
    for row, path in run.rows().items():
        columns[row] = read_predictions(path)
    ref = columns["full"]
    head = ["image", "object (expected → predicted)", "reference", *columns]
    rows = []
    for i in range(min(limit, len(ref))):
        cells = [
            ref.image[i],
            f"{ref.expected_object[i]} → {ref.predicted_object[i]}",
            ref.reference[i],
            *[p.generated[i] if i < len(p) else "" for p in columns.values()],
        ]
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    note = (
        f'<p class="dim">first {min(limit, len(ref))} of {len(ref)} test trials; '
        f"{len(columns) - 1} control caption file(s)</p>"
    )
    return f"{note}<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def figures_section(run_dir: Path) -> str:
    """The run's figures as SVG images (``data:`` URIs), and why any is missing."""
    from eegbench.report.figures import TITLES, build, svg_text

    figs = build(run_dir)
    items = []
    try:
        for name, fig in figs.figures.items():
            svg = base64.b64encode(svg_text(fig).encode("utf-8")).decode("ascii")
            items.append(
                f'<figure class="eegbench-figure" data-figure="{name}">'
                f'<img alt="{_e(TITLES[name])}" src="data:image/svg+xml;base64,{svg}">'
                f"<figcaption>{_e(TITLES[name])}</figcaption></figure>"
            )
    finally:
        figs.close()
    items += [
        f'<p class="dim" data-figure-missing="{name}">{_e(TITLES[name])}: {_e(why)}</p>'
        for name, why in figs.missing.items()
    ]
    return "<h3>Figures</h3>" + "".join(items)


def run_section(run: Run) -> str:
    r = run.record.model_dump(mode="json", exclude_none=True)
    title = " · ".join(SavedConfig.read(r.get("config")).plugins.values())
    parts = [
        f"<h2>{_e(run.path.name)}</h2>",
        f'<p>{_e(title)} · seed {_e(r.get("seed"))} · <span class="dim">{_e(run.path)}</span></p>',
        "<h3>Test metrics</h3>",
        metric_table(r),
    ]
    svg = curves_svg(r)
    if svg:
        parts += ["<h3>Training curves</h3>", f"<figure>{svg}</figure>"]
    parts.append(figures_section(run.path))
    captions = caption_table(run.path)
    if captions:
        parts += ["<h3>Captions</h3>", captions]
    return "\n".join(parts)


def leaderboard_section(runs: Sequence[Run]) -> str:
    board = build(list(runs), [], controls="all")
    table = board.to_html()
    body = table[table.index("<body>") + len("<body>") : table.rindex("</body>")]
    with tempfile.TemporaryDirectory() as tmp:
        png = board.plot(Path(tmp) / "leaderboard.png").read_bytes()
    img = base64.b64encode(png).decode("ascii")
    return (
        f"<h2>Leaderboard ({len(runs)} run{'s' if len(runs) != 1 else ''})</h2>"
        f'<div class="wide">{body}</div>'
        f'<figure><img alt="leaderboard plot" src="data:image/png;base64,{img}"></figure>'
    )


def render(paths: Iterable[str | Path]) -> str:
    """The report page for the runs found under ``paths``."""
    runs, skipped = collect(paths)
    if not runs:
        why = "; ".join(f"{s.path}: {s.reason}" for s in skipped) or "no run directories"
        raise ConfigError(f"no finished runs to report ({why}).")
    sections = [leaderboard_section(runs), *map(run_section, runs)]
    if skipped:
        items = "".join(f"<li><code>{_e(s.path)}</code>: {_e(s.reason)}</li>" for s in skipped)
        sections.append(f"<h2>Skipped</h2><ul>{items}</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>eegbench report</title><style>{_CSS}</style></head><body>"
        f"<h1>eegbench report</h1>{''.join(sections)}</body></html>\n"
    )


def write_report(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Write ``render(paths)`` to ``out`` atomically; returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, render(paths))
