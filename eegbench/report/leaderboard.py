"""Leaderboards: many run directories -> one table (markdown, LaTeX, CSV, HTML) and a bar chart.

A row is a configuration: the runs whose resolved configs differ only in the seed (or, with
``group_by``, the runs that agree on the chosen config keys). A cell is the mean over seeds with
the half-width of a 95% t-interval over seeds; a configuration with one seed shows its run's own
95% bootstrap interval over test trials (from ``results.json``) in brackets. Control rows
(``only_obj``, ``noise``, ...) and oracle rows (``oracle:label_only``, ...: the floor and
ceiling a dataset with ground truth offers) follow their configuration; ``delta`` adds columns
``"metric Δ control"``: the per-seed difference run - control, averaged the same way; with one
seed the cell is the run's own paired difference with its clustered CI (``results.json``
``controls.<c>.delta``). A difference is marked ``*`` (p < 0.05) or ``**`` (p < 0.01): with one
seed by the run's paired cluster permutation test, with several by a one-sample t-test over
seeds. ``headroom`` adds columns ``"metric headroom"``: the fraction of the distance from the
floor to the ceiling oracle that a row realises.

Run directories that are unfinished or malformed are listed as skipped with the reason, never
mixed in; runs of one configuration whose dataset hashes differ are shown as separate rows.
"""

from __future__ import annotations

import html
import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.api.errors import ConfigError, EegbenchError
from eegbench.api.registry import did_you_mean
from eegbench.report.record import atomic_write

FORMATS = ("md", "latex", "csv", "html")
SYSTEM = "EEG"
ORACLE = "oracle:"
HEADROOM = " headroom"
LABEL_GROUPS = ("dataset", "encoder", "target", "llm")
PLUGIN_GROUPS = frozenset(LABEL_GROUPS)
# keys that say where or how fast a run happened, not what it computed
NOT_CONFIGURATION = frozenset({"seed", "output_dir", "run_name", "cache_dir", "threads"})
LEVEL = 0.95

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Skipped:
    """A run directory left out of the leaderboard, and why."""

    path: Path
    reason: str


@dataclass
class Run:
    """A finished run directory and its ``results.json``."""

    path: Path
    results: dict[str, Any]

    @property
    def seed(self) -> Any:
        return self.results["seed"]

    @property
    def config(self) -> dict[str, Any]:
        return self.results["config"]

    @property
    def started(self) -> str:
        return str(self.results.get("started", ""))

    @property
    def data_hashes(self) -> dict[str, Any]:
        return (self.results.get("dataset") or {}).get("hashes") or {}

    def metric(self, name: str, control: str | None = None) -> dict[str, Any] | None:
        """A metric's record for the run, a control or (``oracle:NAME``) an oracle row.

        ``"<metric> headroom"`` is the row's fraction of headroom realised (a value only).
        """
        if name.endswith(HEADROOM):
            base = name[: -len(HEADROOM)]
            if control is None:
                value = (self.results.get("headroom") or {}).get(base)
            else:
                ctl = (self.results.get("controls") or {}).get(control) or {}
                value = (ctl.get("headroom") or {}).get(base)
            return None if value is None else {"value": value}
        if control is None:
            return self.results["metrics"].get(name)
        if control.startswith(ORACLE):
            row = (self.results.get("oracles") or {}).get(control[len(ORACLE) :])
        else:
            row = (self.results.get("controls") or {}).get(control)
        return None if row is None else row.get("metrics", {}).get(name)

    def has_row(self, condition: str) -> bool:
        """Whether the run has this control (or ``oracle:NAME``) row."""
        if condition.startswith(ORACLE):
            return condition[len(ORACLE) :] in (self.results.get("oracles") or {})
        return condition in (self.results.get("controls") or {})

    def delta(self, name: str, control: str) -> dict[str, Any] | None:
        """The recorded paired difference run - control: ``{value, ci, p}`` (or None)."""
        ctl = (self.results.get("controls") or {}).get(control) or {}
        return (ctl.get("delta") or {}).get(name)


@dataclass(frozen=True)
class Stat:
    """A summary over seeds: mean, 95% interval and how it was obtained."""

    mean: float
    low: float | None
    high: float | None
    n: int
    method: str  # "t" (over seeds), "bootstrap" (one run, over test trials) or "none"
    values: tuple[float, ...] = ()
    seeds: tuple[Any, ...] = ()
    p: float | None = None  # of a difference: its test's p-value (marks * and **)


@dataclass
class Row:
    labels: dict[str, str]
    condition: str
    runs: list[Run]
    stats: dict[str, Stat] = field(default_factory=dict)
    data_hash: str = ""

    @property
    def is_system(self) -> bool:
        return self.condition == SYSTEM


def summarize(values: Sequence[float], run_ci: Sequence[float] | None = None) -> Stat:
    """Mean and 95% interval: t-interval over >= 2 values, else the run's own CI (if any)."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if arr.size >= 2:
        from scipy.special import stdtrit

        half = float(stdtrit(arr.size - 1, 0.5 + LEVEL / 2) * arr.std(ddof=1))
        half /= math.sqrt(arr.size)
        return Stat(mean, mean - half, mean + half, int(arr.size), "t", tuple(arr.tolist()))
    if run_ci is not None and len(run_ci) == 2:
        return Stat(mean, float(run_ci[0]), float(run_ci[1]), 1, "bootstrap", (mean,))
    return Stat(mean, None, None, 1, "none", (mean,))


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Directories under ``paths`` (recursively) holding ``results.json`` or ``config.yaml``;
    hidden folders (runs in progress or interrupted, ``.partial-*``) are not searched."""
    found: list[Path] = []
    for p in paths:
        root = Path(p)
        if not root.is_dir():
            raise ConfigError(f"{str(root)!r} is not a directory of runs.")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # .partial-* runs
            if "results.json" in filenames or "config.yaml" in filenames:
                found.append(Path(dirpath))
                dirnames[:] = []
    return sorted(set(found))


def load_run(path: Path) -> Run | Skipped:
    """The run in ``path``, or why it cannot be used."""
    f = path / "results.json"
    if not f.is_file():
        return Skipped(path, "no results.json (unfinished or crashed run)")
    try:
        results = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return Skipped(path, f"results.json is not valid JSON ({e})")
    if not isinstance(results, dict):
        return Skipped(path, "results.json does not hold a JSON object")
    if results.get("complete") is not True:
        return Skipped(path, "results.json is not marked complete")
    for key, tp in (("config", dict), ("metrics", dict), ("seed", object)):
        if not isinstance(results.get(key), tp):
            return Skipped(path, f"results.json has no {key!r}")
    for name, m in results["metrics"].items():
        if not isinstance(m, dict) or not _is_number(m.get("value")):
            return Skipped(path, f"metric {name!r} has no numeric value")
    return Run(path, results)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def collect(paths: Iterable[str | Path]) -> tuple[list[Run], list[Skipped]]:
    """Finished runs under ``paths`` and the run directories that were skipped."""
    runs: list[Run] = []
    skipped: list[Skipped] = []
    for d in find_run_dirs(paths):
        r = load_run(d)
        (runs if isinstance(r, Run) else skipped).append(r)
    return runs, skipped


def flat_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """``{"encoder": name, "encoder.width": 0.25, "stage1.epochs": 3, ...}`` without the seed."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key in NOT_CONFIGURATION:
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                out[key if k == "name" else f"{key}.{k}"] = v
        else:
            out[key] = value
    return out


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _varying_keys(flats: list[dict[str, Any]]) -> list[str]:
    """Config keys (besides the plugin names) whose value differs between runs.

    A plugin parameter (``encoder.width``) counts only among runs of the same plugin.
    """
    keys: list[str] = []
    for key in dict.fromkeys(k for f in flats for k in f):
        if key in PLUGIN_GROUPS:
            continue
        group = key.split(".", 1)[0]
        seen: dict[str, set[str]] = {}
        for f in flats:
            if group in PLUGIN_GROUPS and group not in f:
                continue
            scope = str(f.get(group)) if group in PLUGIN_GROUPS and "." in key else ""
            seen.setdefault(scope, set()).add(_text(f.get(key)))
        if any(len(v) > 1 for v in seen.values()):
            keys.append(key)
    return keys


@dataclass
class Leaderboard:
    """Rows of configurations (and their controls) x metric columns, plus what was left out."""

    label_columns: list[str]
    columns: list[str]
    higher_is_better: dict[str, bool]
    rows: list[Row]
    skipped: list[Skipped]
    notes: list[str]
    digits: int = 3

    def best(self) -> dict[str, set[int]]:
        """Per column, the best EEG (non-control) rows (ties included; none if all tie)."""
        out: dict[str, set[int]] = {}
        for col in self.columns:
            cand = [
                (i, r.stats[col].mean)
                for i, r in enumerate(self.rows)
                if r.is_system and col in r.stats
            ]
            if not cand:
                out[col] = set()
                continue
            pick = max if self.higher_is_better[col] else min
            target = pick(v for _, v in cand)
            tied = {i for i, v in cand if v == target}
            out[col] = tied if len(tied) < len(cand) or len(cand) == 1 else set()
        return out

    def raw(self) -> pd.DataFrame:
        """One line per row and column with the raw numbers (``leaderboard.csv``)."""
        import pandas as pd

        records = []
        for r in self.rows:
            for col in self.columns:
                s = r.stats.get(col)
                if s is None:
                    continue
                metric, _, control = col.partition(" Δ ")
                records.append(
                    {
                        **r.labels,
                        "condition": r.condition,
                        "column": col,
                        "metric": metric,
                        "delta_to": control,
                        "higher_is_better": self.higher_is_better[col],
                        "mean": s.mean,
                        "ci_low": s.low,
                        "ci_high": s.high,
                        "ci_method": s.method,
                        "n": s.n,
                        "seeds": ";".join(str(x) for x in s.seeds),
                        "values": ";".join(repr(v) for v in s.values),
                        "p": s.p,
                        "data_hash": r.data_hash,
                        "runs": ";".join(str(run.path) for run in r.runs),
                    }
                )
        return pd.DataFrame.from_records(records)

    def _cell(self, s: Stat | None) -> str:
        if s is None:
            return ""
        d = self.digits
        mark = significance(s.p)
        if s.method == "t":
            return f"{s.mean:.{d}f}{mark} ± {(s.high - s.low) / 2:.{d}f}"
        if s.method == "bootstrap":
            return f"{s.mean:.{d}f}{mark} [{s.low:.{d}f}, {s.high:.{d}f}]"
        return f"{s.mean:.{d}f}{mark}"

    def header(self, col: str) -> str:
        return f"{col} {'↑' if self.higher_is_better[col] else '↓'}"

    def table(self) -> pd.DataFrame:
        """The display table (text cells, no markup)."""
        import pandas as pd

        data = []
        for r in self.rows:
            line: dict[str, Any] = {c: r.labels.get(c, "") for c in self.label_columns}
            line["condition"] = r.condition
            line["n"] = len(r.runs)
            for col in self.columns:
                line[self.header(col)] = self._cell(r.stats.get(col))
            data.append(line)
        cols = [*self.label_columns, "condition", "n", *(self.header(c) for c in self.columns)]
        return pd.DataFrame(data, columns=cols)

    def _legend(self) -> list[str]:
        methods = {s.method for r in self.rows for s in r.stats.values()}
        parts = []
        if "t" in methods:
            parts.append(
                "mean over seeds ± half-width of the 95% t-interval over seeds (n = seeds)"
            )
        if "bootstrap" in methods:
            parts.append(
                "n = 1: the run's own 95% bootstrap interval over test trials [low, high] "
                "(from results.json; one seed says nothing about seed variance)"
            )
        if "none" in methods:
            parts.append("a value without an interval: one seed and no interval recorded")
        if any(" Δ " in c for c in self.columns):
            parts.append(
                "Δ: run - control on the same test trials; * p < 0.05, ** p < 0.01 (one seed: "
                "paired permutation test over clusters of trials sharing an image; several "
                "seeds: one-sample t-test over seeds)"
            )
        if any(not r.is_system and r.condition.startswith(ORACLE) for r in self.rows):
            parts.append(
                "oracle rows: reference captions built from ground truth (label_only: the "
                "predicted object with its class's usual attributes, the floor; "
                "full_attributes: the true object and attributes, the ceiling)"
            )
        if any(c.endswith(HEADROOM) for c in self.columns):
            parts.append("headroom: (row - floor oracle) / (ceiling oracle - floor oracle)")
        parts.append(
            f"bold: the best {SYSTEM} row per column (↑ higher is better, ↓ lower is better); "
            f"condition {SYSTEM} is the model, other conditions are its control rows"
        )
        return parts

    def _styled(self, mark: Any, escape: Any, empty: str) -> pd.DataFrame:
        tab = self.table()
        best = self.best()
        for col in tab.columns:
            tab[col] = [escape(str(v)) if str(v) else empty for v in tab[col]]
        for col in self.columns:
            h = self.header(col)
            for i in best[col]:
                tab.loc[i, h] = mark(tab.loc[i, h])
        return tab

    def to_markdown(self) -> str:
        """A GitHub pipe table, then the legend, notes and skipped run directories."""
        tab = self._styled(lambda s: f"**{s}**", lambda s: s.replace("|", "\\|"), "—")
        numeric = {"n", *(self.header(c) for c in self.columns)}
        lines = ["| " + " | ".join(tab.columns) + " |"]
        lines.append("|" + "|".join("---:" if c in numeric else "---" for c in tab.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in tab.astype(str).values.tolist()]
        lines.append("")
        lines += [f"- {p}" for p in self._legend()]
        lines += [f"- note: {n}" for n in self.notes]
        if self.skipped:
            lines += ["", f"Skipped run directories ({len(self.skipped)}):", ""]
            lines += [f"- `{s.path}`: {s.reason}" for s in self.skipped]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A booktabs table in a ``table`` float (needs ``\\usepackage{booktabs}``)."""
        tab = self._styled(lambda s: f"\\textbf{{{s}}}", _latex_escape, "--")
        numeric = {"n", *(self.header(c) for c in self.columns)}
        spec = "".join("r" if c in numeric else "l" for c in tab.columns)
        out = ["% eegbench leaderboard: needs \\usepackage{booktabs}"]
        out += [f"% skipped {s.path}: {s.reason}".replace("\n", " ") for s in self.skipped]
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
        caption = "; ".join([*self._legend(), *self.notes])
        out += [
            "\\bottomrule",
            "\\end{tabular}",
            f"\\caption{{{_latex_escape(caption[0].upper() + caption[1:])}.}}",
            "\\end{table}",
        ]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        """A standalone HTML page with the table, the legend and the skipped runs."""
        tab = self._styled(lambda s: f"<strong>{s}</strong>", html.escape, "—")
        body = tab.to_html(index=False, escape=False, border=0, classes="eegbench-leaderboard")
        items = "".join(f"<li>{html.escape(p)}</li>" for p in [*self._legend(), *self.notes])
        skipped = "".join(
            f"<li><code>{html.escape(str(s.path))}</code>: {html.escape(s.reason)}</li>"
            for s in self.skipped
        )
        parts = [
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8"><title>eegbench leaderboard</title>',
            "<style>table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}"
            "</style></head><body>",
            body,
            f"<ul>{items}</ul>",
        ]
        if skipped:
            parts.append(f"<p>Skipped {len(self.skipped)} run directories:</p><ul>{skipped}</ul>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def to_csv(self) -> str:
        return self.raw().to_csv(index=False)

    def render(self, fmt: str) -> str:
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}.")
        return {
            "md": self.to_markdown,
            "latex": self.to_latex,
            "csv": self.to_csv,
            "html": self.to_html,
        }[fmt]()

    def row_names(self) -> list[str]:
        """Short row names: the label columns that differ between rows, and the condition."""
        varying = [
            c for c in self.label_columns if len({r.labels.get(c, "") for r in self.rows}) > 1
        ]
        names = []
        for r in self.rows:
            parts = [r.labels.get(c, "") for c in varying]
            if not r.is_system or not parts:
                parts.append(r.condition)
            name = " / ".join(parts)
            names.append(name if len(name) <= 48 else name[:47] + "…")
        return names

    def plot(self, path: str | Path, columns: Sequence[str] | None = None) -> Path:
        """A PNG: one bar chart per column, bars = rows, error bars = the 95% intervals."""
        import matplotlib
        import numpy as np

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cols = list(columns or self.columns)
        if not cols or not self.rows:
            raise EegbenchError("nothing to plot: the leaderboard has no rows or no metrics.")
        names = self.row_names()
        ncols = min(3, len(cols))
        nrows = math.ceil(len(cols) / ncols)
        width = max(3.2, 0.45 * len(self.rows) + 1.2)
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 3.2 * nrows), squeeze=False)
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ax, col in zip(axes.flat, cols):
            shown = [(n, r, r.stats[col]) for n, r in zip(names, self.rows) if col in r.stats]
            means = [s.mean for _, _, s in shown]
            err_lo = [s.mean - s.low if s.low is not None else 0.0 for _, _, s in shown]
            err_hi = [s.high - s.mean if s.high is not None else 0.0 for _, _, s in shown]
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
            ax.set_title(self.header(col), fontsize=9)
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


def _split_names(text: str | Sequence[str] | None) -> list[str] | None:
    if text is None:
        return None
    if isinstance(text, str):
        return [t.strip() for t in text.split(",") if t.strip()]
    return list(text)


def build(
    runs: list[Run],
    skipped: list[Skipped] | None = None,
    *,
    metrics: Sequence[str] | None = None,
    group_by: Sequence[str] | None = None,
    controls: str | Sequence[str] = "all",
    delta: Sequence[str] = (),
    sort_by: str | None = None,
    digits: int = 3,
    oracles: bool = True,
    headroom: bool = False,
) -> Leaderboard:
    """The leaderboard of ``runs`` (see the module docstring for the rules)."""
    skipped = list(skipped or [])
    notes: list[str] = []
    if not runs:
        raise EegbenchError(
            f"no finished runs to rank ({len(skipped)} run directories skipped); "
            "point eegbench leaderboard at directories holding complete results.json files."
        )
    flats = [flat_config(r.config) for r in runs]

    # columns: requested metrics, or every metric in order of appearance
    available = list(dict.fromkeys(k for r in runs for k in r.results["metrics"]))
    if metrics:
        for m in metrics:
            if m not in available:
                raise ConfigError(f"no run reports metric {m!r}." + did_you_mean(m, available))
        wanted = list(metrics)
    else:
        wanted = available

    # rows: configurations
    if group_by:
        keys = list(group_by)
        known = list(dict.fromkeys(k for f in flats for k in f))
        for k in keys:
            if k not in known:
                raise ConfigError(f"unknown group-by key {k!r}." + did_you_mean(k, known))
        label_columns = keys
        identity = keys
    else:
        label_columns = [g for g in LABEL_GROUPS if any(g in f for f in flats)]
        label_columns += _varying_keys(flats)
        identity = None
    all_keys = list(dict.fromkeys(k for f in flats for k in f))
    groups: dict[str, list[tuple[Run, dict[str, Any]]]] = {}
    for run, flat in zip(runs, flats):
        ident = {k: _text(flat.get(k)) for k in (identity or all_keys)}  # missing == null
        groups.setdefault(json.dumps(ident, sort_keys=True), []).append((run, flat))

    buckets: list[tuple[dict[str, str], str, list[Run]]] = []
    split_any = False
    for members in groups.values():
        labels = {c: _text(members[0][1].get(c)) for c in label_columns}
        by_hash: dict[str, list[Run]] = {}
        for run, _ in members:
            by_hash.setdefault(json.dumps(run.data_hashes, sort_keys=True), []).append(run)
        if len(by_hash) > 1:
            split_any = True
            shorts = [_short_hash(json.loads(h)) for h in by_hash]
            notes.append(
                f"{' / '.join(labels.values())}: runs have {len(by_hash)} different dataset "
                f"hashes ({', '.join(shorts)}); shown as separate rows, not averaged"
            )
        for h, group_runs in by_hash.items():
            kept = _one_per_seed(group_runs, skipped)
            buckets.append((labels, _short_hash(json.loads(h)), kept))
    if split_any:
        label_columns = [*label_columns, "data"]

    higher: dict[str, bool] = {}
    rows: list[Row] = []
    wanted_controls = _controls(runs, controls)
    for labels, data_hash, members in buckets:
        present = [m for m in wanted if any(m in r.results["metrics"] for r in members)]
        complete = []
        for r in members:
            missing = [m for m in (wanted if metrics else present) if m not in r.results["metrics"]]
            if missing:
                skipped.append(Skipped(r.path, f"missing metric(s): {', '.join(missing)}"))
            else:
                complete.append(r)
        if not complete:
            continue
        members = sorted(complete, key=lambda r: str(r.seed))
        labels = {**labels, "data": data_hash} if split_any else labels
        row = Row(labels, SYSTEM, members, data_hash=data_hash)
        for m in present:
            row.stats[m] = _stat(members, m, None)
            higher[m] = bool(members[0].metric(m).get("higher_is_better", True))
        for c in delta:
            for m in present:
                stat = _delta_stat(members, m, c)
                if stat is not None:
                    row.stats[f"{m} Δ {c}"] = stat
                    higher[f"{m} Δ {c}"] = higher[m]
        if headroom:
            for m in present:
                stat = _stat(members, m + HEADROOM, None)
                if stat is not None:
                    row.stats[m + HEADROOM] = stat
                    higher[m + HEADROOM] = higher[m]
        rows.append(row)
        oracle_rows = _oracle_names(members) if oracles else []
        for c in [*wanted_controls, *oracle_rows]:
            with_c = [r for r in members if r.has_row(c)]
            if not with_c:
                continue
            crow = Row(labels, c, with_c, data_hash=data_hash)
            for m in present:
                stat = _stat(with_c, m, c)
                if stat is not None:
                    crow.stats[m] = stat
                if headroom and not c.startswith(ORACLE):
                    stat = _stat(with_c, m + HEADROOM, c)
                    if stat is not None:
                        crow.stats[m + HEADROOM] = stat
            rows.append(crow)

    columns = [m for m in wanted if m in higher]
    columns += [f"{m} Δ {c}" for c in delta for m in wanted if f"{m} Δ {c}" in higher]
    columns += [m + HEADROOM for m in wanted if m + HEADROOM in higher]
    if delta and not any(" Δ " in c for c in columns):
        raise ConfigError(
            f"no run has control(s) {', '.join(delta)}: run with eval.controls=... to get them."
        )
    rows = _order(rows, label_columns, sort_by, higher)
    return Leaderboard(label_columns, columns, higher, rows, skipped, notes, digits)


def _short_hash(hashes: dict[str, Any]) -> str:
    return str(hashes.get("data", "?"))[:8] if hashes else "?"


def _one_per_seed(runs: list[Run], skipped: list[Skipped]) -> list[Run]:
    """The newest run of each seed; older repeats are skipped (they are not independent)."""
    kept: dict[str, Run] = {}
    for r in sorted(runs, key=lambda r: (r.started, str(r.path)), reverse=True):
        key = json.dumps(r.seed)
        if key in kept:
            skipped.append(
                Skipped(
                    r.path,
                    f"seed {r.seed} repeated in one configuration; kept the newer "
                    f"run {kept[key].path.name}",
                )
            )
        else:
            kept[key] = r
    return list(kept.values())


def _stat(runs: list[Run], metric: str, control: str | None) -> Stat | None:
    vals, seeds, cis = [], [], []
    for r in runs:
        m = r.metric(metric, control)
        if m is None or not _is_number(m.get("value")):
            continue
        vals.append(float(m["value"]))
        seeds.append(r.seed)
        cis.append(m.get("ci"))
    if not vals:
        return None
    s = summarize(vals, cis[0] if len(vals) == 1 else None)
    return Stat(s.mean, s.low, s.high, s.n, s.method, s.values, tuple(seeds))


def significance(p: float | None) -> str:
    """``**`` for p < 0.01, ``*`` for p < 0.05, else nothing."""
    if p is None:
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def _delta_stat(runs: list[Run], metric: str, control: str) -> Stat | None:
    """run - control over seeds; one seed: the run's recorded paired delta (CI and p)."""
    diffs, seeds, recorded = [], [], []
    for r in runs:
        mine, cm = r.metric(metric), r.metric(metric, control)
        if mine is None or cm is None or not _is_number(cm.get("value")):
            continue
        diffs.append(mine["value"] - cm["value"])
        seeds.append(r.seed)
        recorded.append(r.delta(metric, control))
    if not diffs:
        return None
    if len(diffs) == 1 and recorded[0] is not None:
        d = recorded[0]
        low, high = d.get("ci") or (None, None)
        method = "bootstrap" if low is not None else "none"
        return Stat(diffs[0], low, high, 1, method, (diffs[0],), tuple(seeds), d.get("p"))
    s = summarize(diffs)
    p = None
    if len(diffs) >= 2:
        from scipy.stats import ttest_1samp

        p = float(ttest_1samp(diffs, 0.0).pvalue) if max(diffs) > min(diffs) else None
    return Stat(s.mean, s.low, s.high, s.n, s.method, s.values, tuple(seeds), p)


def _oracle_names(runs: list[Run]) -> list[str]:
    return list(dict.fromkeys(ORACLE + o for r in runs for o in (r.results.get("oracles") or {})))


def _controls(runs: list[Run], controls: str | Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(c for r in runs for c in r.results.get("controls", {}) or {}))
    if isinstance(controls, str) and controls in ("all", "none"):
        return present if controls == "all" else []
    names = _split_names(controls) or []
    for c in names:
        if c not in present:
            raise ConfigError(f"no run has control {c!r}." + did_you_mean(c, present))
    return names


def _order(
    rows: list[Row], label_columns: list[str], sort_by: str | None, higher: dict[str, bool]
) -> list[Row]:
    """Configurations in label order (or best first by ``sort_by``), each followed by controls."""
    blocks: dict[int, list[Row]] = {}
    for r in rows:
        if r.is_system:
            blocks[id(r)] = [r]
            last = id(r)
        else:
            blocks[last].append(r)
    order = list(blocks.values())
    order.sort(key=lambda b: [b[0].labels.get(c, "") for c in label_columns])
    if sort_by is not None:
        if sort_by not in higher:
            raise ConfigError(f"cannot sort by {sort_by!r}." + did_you_mean(sort_by, list(higher)))
        sign = -1.0 if higher[sort_by] else 1.0

        def score(b: list[Row]) -> float:
            s = b[0].stats.get(sort_by)
            return sign * s.mean if s is not None else math.inf

        order.sort(key=score)
    return [r for b in order for r in b]


def leaderboard(
    paths: Iterable[str | Path],
    **options: Any,
) -> Leaderboard:
    """Scan ``paths`` for run directories and build their leaderboard (options: ``build``)."""
    runs, skipped = collect(paths)
    return build(runs, skipped, **options)


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
