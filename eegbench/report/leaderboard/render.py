"""Rendering a leaderboard: markdown, LaTeX (booktabs), CSV and a standalone HTML page."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.contract.errors import ConfigError
from eegbench.io import atomic_write
from eegbench.report import FORMATS
from eegbench.report.leaderboard.collect import ORACLE
from eegbench.report.leaderboard.table import SYSTEM

if TYPE_CHECKING:
    import pandas as pd

    from eegbench.evaluation.stats import CI
    from eegbench.report.leaderboard.table import Leaderboard


def legend(board: Leaderboard) -> list[str]:
    methods = {s.method for r in board.rows for s in r.stats.values()}
    parts = []
    if "t" in methods:
        parts.append("mean over seeds ± half-width of the 95% t-interval over seeds (n = seeds)")
    if "bootstrap" in methods:
        parts.append(
            "n = 1: the run's own 95% bootstrap interval over test trials [low, high] "
            "(from results.json; one seed says nothing about seed variance)"
        )
    if "none" in methods:
        parts.append("a value without an interval: one seed and no interval recorded")
    if any(c.kind == "delta" for c in board.columns):
        parts.append(
            "Δ: run - control on the same test trials (one seed: paired permutation test over "
            "clusters of trials sharing an image; several seeds: one-sample t-test over seeds); "
            f"(p raw, {board.correction} adjusted over every Δ cell of the table); * adjusted "
            "p < 0.05, ** adjusted p < 0.01"
        )
    if board.pairwise is not None and board.pairwise.pairs:
        parts.append(
            "encoder against encoder: A - B on the test trials both ran, pooled over the "
            "worlds (seeds) both ran and paired by world and test image (clustered bootstrap "
            f"CI, cluster permutation p); p {board.correction}: adjusted over all "
            f"{len(board.pairwise.pairs)} pairs x metrics; * adjusted p < 0.05, ** < 0.01; "
            "'<metric> group': rows sharing a letter are not significantly different "
            "(compact letter display, a = best)"
        )
    if any(not r.is_system and r.condition.startswith(ORACLE) for r in board.rows):
        parts.append(
            "oracle rows: target_embedding (the ceiling: the same LM, projector and predicted "
            "label fed each test image's own target embedding); template_* (the dataset's "
            "caption writer fed ground truth)"
        )
    if any(c.kind == "headroom" for c in board.columns):
        parts.append(
            "headroom: (row - only_obj) / (target_embedding oracle - only_obj): 0 is the "
            "label-only control, 1 a perfect EEG embedding"
        )
    parts.append(
        f"bold: the best {SYSTEM} row per column (↑ higher is better, ↓ lower is better); "
        f"condition {SYSTEM} is the model, other conditions are its control rows"
    )
    return parts


def _styled(board: Leaderboard, mark: Any, escape: Any, empty: str) -> pd.DataFrame:
    tab = board.table()
    best = board.best()
    for col in tab.columns:
        tab[col] = [escape(str(v)) if str(v) else empty for v in tab[col]]
    for col in board.columns:
        h = board.header(col)
        for i in best[col]:
            tab.loc[i, h] = mark(tab.loc[i, h])
    return tab


def markdown(board: Leaderboard) -> str:
    """A GitHub pipe table, then the legend, notes and skipped run directories."""
    tab = _styled(board, lambda s: f"**{s}**", lambda s: s.replace("|", "\\|"), "—")
    numeric = {"n", *(board.header(c) for c in board.columns)}
    lines = ["| " + " | ".join(tab.columns) + " |"]
    lines.append("|" + "|".join("---:" if c in numeric else "---" for c in tab.columns) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in tab.astype(str).values.tolist()]
    lines.append("")
    lines += _markdown_pairs(board)
    lines += [f"- {p}" for p in legend(board)]
    lines += [f"- note: {n}" for n in board.notes]
    if board.skipped:
        lines += ["", f"Skipped run directories ({len(board.skipped)}):", ""]
        lines += [f"- `{s.path}`: {s.reason}" for s in board.skipped]
    return "\n".join(lines) + "\n"


def _markdown_pairs(board: Leaderboard) -> list[str]:
    tab = board.pair_table()
    if tab.empty:
        return []
    lines = ["Encoder against encoder:", ""]
    lines.append("| " + " | ".join(tab.columns) + " |")
    lines.append(
        "|" + "|".join("---" if c in ("A", "B", "metric") else "---:" for c in tab.columns) + "|"
    )
    lines += [
        "| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in tab.values.tolist()
    ]
    return [*lines, ""]


def latex(board: Leaderboard) -> str:
    """A booktabs table in a ``table`` float (needs ``\\usepackage{booktabs}``)."""
    tab = _styled(board, lambda s: f"\\textbf{{{s}}}", _latex_escape, "--")
    numeric = {"n", *(board.header(c) for c in board.columns)}
    spec = "".join("r" if c in numeric else "l" for c in tab.columns)
    out = ["% eegbench leaderboard: needs \\usepackage{booktabs}"]
    out += [f"% skipped {s.path}: {s.reason}".replace("\n", " ") for s in board.skipped]
    out += [
        "\\begin{table}[ht]",
        "\\centering",
        "\\small",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(_latex_escape(c) for c in tab.columns) + " \\\\",
        "\\midrule",
    ]
    out += [" & ".join(row) + " \\\\" for row in tab.astype(str).values.tolist()]
    caption = "; ".join([*legend(board), *board.notes])
    out += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{{_latex_escape(caption[0].upper() + caption[1:])}.}}",
        "\\end{table}",
    ]
    out += _latex_pairs(board)
    return "\n".join(out) + "\n"


def _latex_pairs(board: Leaderboard) -> list[str]:
    tab = board.pair_table()
    if tab.empty:
        return []
    spec = "lll" + "r" * (len(tab.columns) - 3)
    out = ["\\begin{table}[ht]", "\\centering", "\\small", f"\\begin{{tabular}}{{{spec}}}"]
    out += ["\\toprule", " & ".join(_latex_escape(c) for c in tab.columns) + " \\\\", "\\midrule"]
    out += [" & ".join(_latex_escape(v) for v in row) + " \\\\" for row in tab.values.tolist()]
    caption = f"Encoder against encoder (p {board.correction}: adjusted over all pairs x metrics)"
    out += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{_latex_escape(caption)}.}}"]
    return [*out, "\\end{table}"]


def html_page(board: Leaderboard) -> str:
    """A standalone HTML page with the table, the legend and the skipped runs."""
    tab = _styled(board, lambda s: f"<strong>{s}</strong>", html.escape, "—")
    body = tab.to_html(index=False, escape=False, border=0, classes="eegbench-leaderboard")
    items = "".join(f"<li>{html.escape(p)}</li>" for p in [*legend(board), *board.notes])
    skipped = "".join(
        f"<li><code>{html.escape(str(s.path))}</code>: {html.escape(s.reason)}</li>"
        for s in board.skipped
    )
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>eegbench leaderboard</title>',
        "<style>table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}"
        "</style></head><body>",
        body,
    ]
    pairs = board.pair_table()
    if not pairs.empty:
        parts.append("<h3>Encoder against encoder</h3>")
        parts.append(pairs.to_html(index=False, border=0, classes="eegbench-pairs"))
    parts.append(f"<ul>{items}</ul>")
    if skipped:
        parts.append(f"<p>Skipped {len(board.skipped)} run directories:</p><ul>{skipped}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_json(board: Leaderboard) -> str:
    """The leaderboard as one JSON object: per row its labels, condition, runs and, per column,
    the estimate, interval, its method, n and p; then the legend, notes and skipped runs."""
    import json

    doc = {
        "columns": [{"name": c.label, "higher_is_better": board.higher(c)} for c in board.columns],
        "rows": _json_rows(board),
        "correction": board.correction,
        "pairs": _json_pairs(board),
        "legend": legend(board),
        "notes": list(board.notes),
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in board.skipped],
    }
    return json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n"


def _json_number(x: float | None) -> float | None:
    """JSON has no NaN: a non-finite value is null."""
    return None if x is None or not math.isfinite(x) else float(x)


def _json_cell(s: CI) -> dict[str, Any]:
    """A cell's numbers: mean, interval and its method, n, seeds, p raw and adjusted."""
    return {
        "mean": _json_number(s.estimate),
        "ci": None if s.low is None else [_json_number(s.low), _json_number(s.high)],
        "ci_method": s.method,
        "n": s.n,
        "seeds": list(s.seeds),
        "p": _json_number(s.p),
        "p_adjusted": _json_number(s.p_adjusted),
    }


def _json_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """Per row: its labels, condition, runs, cells, the columns it is best in, rank groups."""
    best = board.best()
    groups = board.pairwise.groups if board.pairwise is not None else {}
    return [
        {
            **{c: r.labels.get(c, "") for c in board.label_columns},
            "condition": r.condition,
            "n": len(r.runs),
            "runs": [str(run.path) for run in r.runs],
            "data_hash": r.data_hash,
            "values": {c.label: _json_cell(s) for c, s in r.stats.items()},
            "best": sorted(c.label for c in board.columns if i in best[c]),
            "groups": {m: g[i] for m, g in groups.items() if i in g},
        }
        for i, r in enumerate(board.rows)
    ]


def _json_pairs(board: Leaderboard) -> list[dict[str, Any]]:
    """Per encoder pair and metric: the rows, the difference and what it was computed on."""
    names = board.row_names()
    pairs = board.pairwise.pairs if board.pairwise is not None else []
    return [
        {
            "a": names[p.a],
            "b": names[p.b],
            "a_row": p.a,
            "b_row": p.b,
            "metric": p.metric,
            "difference": _json_cell(p.delta),
            "worlds": list(p.worlds),
            "n_trials": p.n_trials,
            "n_clusters": p.n_clusters,
            "test": p.test,
        }
        for p in pairs
    ]


def render(board: Leaderboard, fmt: str) -> str:
    """The table in format ``fmt``."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}.")
    return {
        "md": markdown,
        "latex": latex,
        "csv": lambda b: b.to_csv(),
        "html": html_page,
        "json": to_json,
    }[fmt](board)


_LATEX = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "±": "$\\pm$",
    "↑": "$\\uparrow$",
    "↓": "$\\downarrow$",
    "Δ": "$\\Delta$",
    "—": "--",
    "≥": "$\\geq$",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def write_outputs(
    board: Leaderboard, fmt: str, out: Path | None, plot: Path | None
) -> dict[str, Path]:
    """Write the table (``out``), ``leaderboard.csv`` beside it and the plot; returns the paths."""
    written: dict[str, Path] = {}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, board.render(fmt))
        written["table"] = out
        raw = out.parent / "leaderboard.csv"
        if fmt != "csv" or out.resolve() != raw.resolve():
            atomic_write(raw, board.to_csv())
        written["csv"] = raw
    if plot is not None:
        written["plot"] = board.plot(plot)
    return written
