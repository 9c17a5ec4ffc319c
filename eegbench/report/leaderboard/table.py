"""Building the table: runs grouped into configurations, summarised over seeds, ordered.

A row is a configuration: the runs whose resolved configs differ only in the seed (or, with
``group_by``, the runs that agree on the chosen config keys). A cell is the mean over seeds with
the 95% t-interval over seeds; a configuration with one seed shows its run's own 95% bootstrap
interval over test trials. Control rows (``only_obj``, ``noise``, ...) and oracle rows
(``oracle:target_embedding``, the headroom's ceiling, and ``oracle:template_*``) follow
their configuration; ``delta`` adds columns ``"metric Δ control"``: the per-seed difference
run - control, averaged the same way; with one seed the cell is the run's own paired difference
with its clustered CI (``results.json`` ``controls.<c>.delta``). A difference is marked ``*``
(p < 0.05) or ``**`` (p < 0.01): with one seed by the run's paired cluster permutation test, with
several by a one-sample t-test over seeds; the p-values of all difference cells are adjusted
together (Holm, or Benjamini-Hochberg) and the marks follow the adjusted p. ``headroom`` adds
columns ``"metric headroom"``: the fraction of the distance from the label-only control
(``only_obj``) to the ceiling oracle that a row realises. Configurations that share worlds are
also compared with each other (``pairs``: paired differences, adjusted p, rank groups).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.contract.errors import ConfigError, EegbenchError
from eegbench.contract.registry import GROUPS, did_you_mean
from eegbench.evaluation.multiplicity import adjust
from eegbench.evaluation.stats import CI
from eegbench.report.leaderboard.collect import ORACLE, Run, Skipped
from eegbench.report.leaderboard.columns import Column, Kind
from eegbench.report.leaderboard.pairs import Pairwise, pairwise
from eegbench.results.record import WHERE_KEYS, identity_conflicts

SYSTEM = "EEG"
SUBJECTS = "subjects"
"""Label column of the test subjects (results.json ``dataset.subjects``: within, held_out or
single), shown when any run's test subjects are not all in its training split."""
DRAWN = "per-seed"
"""The data label of runs whose dataset was drawn from the run's seed (simulated worlds)."""
LABEL_GROUPS = tuple(GROUPS)
NOT_CONFIGURATION = frozenset({"seed", *WHERE_KEYS})
LEVEL = 0.95

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Row:
    labels: dict[str, str]
    condition: str
    runs: list[Run]
    stats: dict[Column, CI] = field(default_factory=dict)
    data_hash: str = ""

    @property
    def is_system(self) -> bool:
        return self.condition == SYSTEM


def summarize(
    values: Sequence[float], run_ci: Sequence[float] | None = None, seeds: Sequence[Any] = ()
) -> CI:
    """Mean and 95% interval: t-interval over >= 2 values, else the run's own CI (if any)."""
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if arr.size >= 2:
        from scipy.special import stdtrit

        half = float(stdtrit(arr.size - 1, 0.5 + LEVEL / 2) * arr.std(ddof=1))
        half /= math.sqrt(arr.size)
        return CI(
            mean,
            mean - half,
            mean + half,
            "t",
            alpha=1 - LEVEL,
            n=int(arr.size),
            values=tuple(arr.tolist()),
            seeds=tuple(seeds),
        )
    if run_ci is not None and len(run_ci) == 2:
        low, high = float(run_ci[0]), float(run_ci[1])
        return CI(mean, low, high, "bootstrap", values=(mean,), seeds=tuple(seeds))
    return CI(mean, None, None, "none", values=(mean,), seeds=tuple(seeds))


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
        if key in LABEL_GROUPS:
            continue
        group = key.split(".", 1)[0]
        seen: dict[str, set[str]] = {}
        for f in flats:
            if group in LABEL_GROUPS and group not in f:
                continue
            scope = str(f.get(group)) if group in LABEL_GROUPS and "." in key else ""
            seen.setdefault(scope, set()).add(_text(f.get(key)))
        if any(len(v) > 1 for v in seen.values()):
            keys.append(key)
    return keys


@dataclass
class Leaderboard:
    """Rows of configurations (and their controls) x metric columns, plus what was left out."""

    label_columns: list[str]
    columns: list[Column]
    higher_is_better: dict[str, bool]
    """Per metric (the columns of a metric, differences and headroom included, share it)."""
    rows: list[Row]
    skipped: list[Skipped]
    notes: list[str]
    digits: int = 3
    pairwise: Pairwise | None = None
    correction: str = "holm"

    def higher(self, col: Column) -> bool:
        """Whether higher is better in column ``col``."""
        return self.higher_is_better[col.metric]

    def best(self) -> dict[Column, set[int]]:
        """Per column, the best EEG (non-control) rows (ties included; none if all tie)."""
        out: dict[Column, set[int]] = {}
        for col in self.columns:
            cand = [
                (i, r.stats[col].estimate)
                for i, r in enumerate(self.rows)
                if r.is_system and col in r.stats
            ]
            if not cand:
                out[col] = set()
                continue
            pick = max if self.higher(col) else min
            target = pick(v for _, v in cand)
            tied = {i for i, v in cand if v == target}
            out[col] = tied if len(tied) < len(cand) or len(cand) == 1 else set()
        return out

    def raw(self) -> pd.DataFrame:
        """One line per row and column with the raw numbers (``leaderboard.csv``)."""
        import pandas as pd

        records = []
        for i, r in enumerate(self.rows):
            for col in self.columns:
                s = r.stats.get(col)
                if s is None:
                    continue
                records.append(
                    {
                        **r.labels,
                        "condition": r.condition,
                        "column": col.label,
                        "metric": col.source,
                        "delta_to": col.against or "",
                        "higher_is_better": self.higher(col),
                        "mean": s.estimate,
                        "ci_low": s.low,
                        "ci_high": s.high,
                        "ci_method": s.method,
                        "n": s.n,
                        "seeds": ";".join(str(x) for x in s.seeds),
                        "values": ";".join(repr(v) for v in s.values),
                        "p": s.p,
                        "p_adjusted": s.p_adjusted,
                        "group": self.group(i, col.source) if col.kind != "delta" else "",
                        "data_hash": r.data_hash,
                        "runs": ";".join(str(run.path) for run in r.runs),
                    }
                )
        records += self._pair_records()
        return pd.DataFrame.from_records(records)

    def _pair_records(self) -> list[dict[str, Any]]:
        if self.pairwise is None:
            return []
        names = self.row_names()
        return [
            {
                **self.rows[p.a].labels,
                "condition": "pair",
                "column": f"{p.metric} Δ pair",
                "metric": p.metric,
                "delta_to": names[p.b],
                "higher_is_better": self.higher_is_better[p.metric],
                "mean": p.delta.estimate,
                "ci_low": p.delta.low,
                "ci_high": p.delta.high,
                "ci_method": "paired bootstrap over world x image",
                "n": p.n_clusters,
                "seeds": ";".join(str(x) for x in p.worlds),
                "values": "",
                "p": p.delta.p,
                "p_adjusted": p.delta.p_adjusted,
                "group": "",
                "data_hash": self.rows[p.a].data_hash,
                "runs": ";".join(str(run.path) for run in self.rows[p.a].runs),
            }
            for p in self.pairwise.pairs
        ]

    def group(self, row: int, metric: str) -> str:
        """The row's rank-group letters in ``metric`` ('' when not compared)."""
        if self.pairwise is None:
            return ""
        return self.pairwise.groups.get(metric, {}).get(row, "")

    def _cell(self, s: CI | None) -> str:
        if s is None:
            return ""
        d = self.digits
        mark = significance(s.p if s.p_adjusted is None else s.p_adjusted)
        if s.method == "t":
            text = f"{s.estimate:.{d}f}{mark} ± {(s.high - s.low) / 2:.{d}f}"
        elif s.method == "bootstrap":
            text = f"{s.estimate:.{d}f}{mark} [{s.low:.{d}f}, {s.high:.{d}f}]"
        else:
            text = f"{s.estimate:.{d}f}{mark}"
        if s.p is not None:
            text += f" (p {_p(s.p)}"
            text += f", {self.correction} {_p(s.p_adjusted)})" if s.p_adjusted is not None else ")"
        return text

    def header(self, col: Column) -> str:
        """The column's label with its direction: ``bleu_4 ↑``."""
        return f"{col.label} {'↑' if self.higher(col) else '↓'}"

    def table(self) -> pd.DataFrame:
        """The display table (text cells, no markup)."""
        import pandas as pd

        groups = list(self.pairwise.groups) if self.pairwise is not None else []
        data = []
        for i, r in enumerate(self.rows):
            line: dict[str, Any] = {c: r.labels.get(c, "") for c in self.label_columns}
            line["condition"] = r.condition
            line["n"] = len(r.runs)
            for col in self.columns:
                line[self.header(col)] = self._cell(r.stats.get(col))
            for m in groups:
                line[f"{m} group"] = self.group(i, m)
            data.append(line)
        cols = [*self.label_columns, "condition", "n", *(self.header(c) for c in self.columns)]
        return pd.DataFrame(data, columns=cols + [f"{m} group" for m in groups])

    def pair_table(self) -> pd.DataFrame:
        """Encoder against encoder: one line per pair and metric (text cells)."""
        import pandas as pd

        names = self.row_names()
        d = self.digits
        cols = ["A", "B", "metric", "A - B [95% CI]", "p", f"p {self.correction}", "worlds",
                "images"]  # fmt: skip
        lines = []
        for p in self.pairwise.pairs if self.pairwise is not None else []:
            s = p.delta
            lines.append(
                [
                    names[p.a],
                    names[p.b],
                    self.header(Column(p.metric)),
                    f"{s.estimate:+.{d}f}{significance(s.p_adjusted)} "
                    f"[{s.low:+.{d}f}, {s.high:+.{d}f}]",
                    _p(s.p),
                    _p(s.p_adjusted),
                    str(len(p.worlds)),
                    str(p.n_clusters),
                ]
            )
        return pd.DataFrame(lines, columns=cols)

    def to_markdown(self) -> str:
        """A GitHub pipe table, then the legend, notes and skipped run directories."""
        from eegbench.report.leaderboard.render import markdown

        return markdown(self)

    def to_latex(self) -> str:
        """A booktabs table in a ``table`` float (needs ``\\usepackage{booktabs}``)."""
        from eegbench.report.leaderboard.render import latex

        return latex(self)

    def to_html(self) -> str:
        """A standalone HTML page with the table, the legend and the skipped runs."""
        from eegbench.report.leaderboard.render import html_page

        return html_page(self)

    def to_csv(self) -> str:
        """The raw numbers (``raw()``) as CSV."""
        return self.raw().to_csv(index=False)

    def render(self, fmt: str) -> str:
        """The table in format ``fmt`` (one of ``FORMATS``)."""
        from eegbench.report.leaderboard.render import render

        return render(self, fmt)

    def plot(self, path: str | Path, columns: Sequence[Column] | None = None) -> Path:
        """A PNG: one bar chart per column, bars = rows, error bars = the 95% intervals."""
        from eegbench.report.leaderboard.plot import plot

        return plot(self, path, columns)

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


def _split_names(text: str | Sequence[str] | None) -> list[str] | None:
    if text is None:
        return None
    if isinstance(text, str):
        return [t.strip() for t in text.split(",") if t.strip()]
    return list(text)


@dataclass
class _Configuration:
    """Runs of one configuration and one dataset, one per seed, and their row labels."""

    labels: dict[str, str]
    data_hash: str
    runs: list[Run]


@dataclass(frozen=True)
class _Shown:
    """What the rows of a configuration show: metrics, differences, headroom, extra rows."""

    wanted: list[str]
    strict: bool
    delta: Sequence[str]
    headroom: bool
    controls: list[str]
    oracles: bool


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
    pairs: bool | None = None,
    pair_metrics: Sequence[str] | None = None,
    correction: str = "holm",
    n_perm: int = 10000,
) -> Leaderboard:
    """The leaderboard of ``runs`` (see the module docstring for the rules).

    ``pairs``: compare the configurations with each other (``pairs.pairwise``) in
    ``pair_metrics`` (default: the caption metrics among the columns); None compares them when
    they can be (two configurations sharing a world, prediction files present) and says why
    not in a note otherwise. ``correction`` (``holm`` or ``bh``) adjusts the pairs' p-values
    and, separately, the control differences' p-values of the table.
    """
    adjust([], correction)  # an unknown correction fails before any work
    skipped = list(skipped or [])
    if not runs:
        raise EegbenchError(
            f"no finished runs to rank ({len(skipped)} run directories skipped); "
            "point eegbench leaderboard at directories holding complete results.json files."
        )
    flats = [{**flat_config(r.config), SUBJECTS: r.record.dataset.subjects} for r in runs]
    notes = identity_conflicts([(r.path.name, r.record) for r in runs])
    wanted = _wanted_metrics(runs, metrics)
    label_columns, configurations = _configurations(runs, flats, group_by, skipped, notes)
    spec = _Shown(wanted, bool(metrics), delta, headroom, _controls(runs, controls), oracles)
    blocks, higher = _blocks(configurations, spec, skipped)
    columns = _columns(wanted, delta, blocks, higher)
    if _mark_leaks([r for b in blocks for r in b]):
        label_columns = [*label_columns, LEAK]
        notes.append(LEAK_NOTE)
    rows = _adjust_controls(_order(blocks, label_columns, sort_by, columns, higher), correction)
    board = Leaderboard(
        label_columns, columns, higher, rows, skipped, notes, digits, correction=correction
    )
    if pairs is not False:
        board.pairwise = _pairwise(board, pairs, pair_metrics, wanted, n_perm)
        board.notes += board.pairwise.notes if board.pairwise is not None else []
    return board


def _wanted_metrics(runs: list[Run], metrics: Sequence[str] | None) -> list[str]:
    """The requested metrics (each reported by some run), or every metric in order of
    appearance."""
    available = list(dict.fromkeys(k for r in runs for k in r.record.metrics))
    for m in metrics or []:
        if m not in available:
            raise ConfigError(f"no run reports metric {m!r}." + did_you_mean(m, available))
    return list(metrics) if metrics else available


def _label_columns(
    flats: list[dict[str, Any]], group_by: Sequence[str] | None
) -> tuple[list[str], list[str] | None]:
    """The label columns, and the config keys that identify a configuration (None: all)."""
    if group_by:
        keys = list(group_by)
        known = list(dict.fromkeys(k for f in flats for k in f))
        for k in keys:
            if k not in known:
                raise ConfigError(f"unknown group-by key {k!r}." + did_you_mean(k, known))
        return keys, keys
    label_columns = [g for g in LABEL_GROUPS if any(g in f for f in flats)]
    label_columns += _varying_keys(flats)
    held_out = any(f[SUBJECTS] not in (None, "within") for f in flats)
    if held_out and SUBJECTS not in label_columns:
        label_columns.append(SUBJECTS)  # a table of unseen test subjects says so
    return label_columns, None


def _configurations(
    runs: list[Run],
    flats: list[dict[str, Any]],
    group_by: Sequence[str] | None,
    skipped: list[Skipped],
    notes: list[str],
) -> tuple[list[str], list[_Configuration]]:
    """The label columns and the runs grouped into configurations: by config (or ``group_by``
    keys), then by dataset hashes (runs on other data are not averaged; a note says so)."""
    label_columns, identity = _label_columns(flats, group_by)
    all_keys = list(dict.fromkeys(k for f in flats for k in f))
    groups: dict[str, list[tuple[Run, dict[str, Any]]]] = {}
    for run, flat in zip(runs, flats):
        ident = {k: _text(flat.get(k)) for k in (identity or all_keys)}  # missing == null
        groups.setdefault(json.dumps(ident, sort_keys=True), []).append((run, flat))
    out: list[_Configuration] = []
    for members in groups.values():
        labels = {c: _text(members[0][1].get(c)) for c in label_columns}
        by_hash = _by_data_hash([run for run, _ in members])
        if len(by_hash) > 1:
            shorts = [_short_hash(json.loads(h)) for h in by_hash]
            notes.append(
                f"{' / '.join(labels.values())}: runs have {len(by_hash)} different dataset "
                f"hashes ({', '.join(shorts)}); shown as separate rows, not averaged"
            )
        for h, group_runs in by_hash.items():
            kept = _one_per_seed(group_runs, skipped)
            out.append(_Configuration(labels, _short_hash(json.loads(h)), kept))
    if len(out) > len(groups):  # some configuration was split by its data: label the data
        label_columns = [*label_columns, "data"]
        for c in out:
            c.labels = {**c.labels, "data": c.data_hash}
    return label_columns, out


def _by_data_hash(runs: list[Run]) -> dict[str, list[Run]]:
    """Runs by their dataset hashes (a world drawn from each run's seed differs by design: one
    key for all of them)."""
    by_hash: dict[str, list[Run]] = {}
    for run in runs:
        hashes = {"data": DRAWN} if run.record.dataset.seed_from_run else run.data_hashes
        by_hash.setdefault(json.dumps(hashes, sort_keys=True), []).append(run)
    return by_hash


def _blocks(
    configurations: list[_Configuration], spec: _Shown, skipped: list[Skipped]
) -> tuple[list[list[Row]], dict[str, bool]]:
    """Per configuration with complete runs, its row followed by its control and oracle rows;
    and whether each shown metric is better higher."""
    higher: dict[str, bool] = {}
    blocks: list[list[Row]] = []
    for conf in configurations:
        present = [m for m in spec.wanted if any(m in r.record.metrics for r in conf.runs)]
        complete = []
        for r in conf.runs:
            needed = spec.wanted if spec.strict else present
            missing = [m for m in needed if m not in r.record.metrics]
            if missing:
                skipped.append(Skipped(r.path, f"missing metric(s): {', '.join(missing)}"))
            else:
                complete.append(r)
        if not complete:
            continue
        members = sorted(complete, key=lambda r: str(r.seed))
        higher.update({m: members[0].metric(m).higher_is_better for m in present})
        blocks.append(_block(conf.labels, conf.data_hash, members, present, spec))
    return blocks, higher


def _block(
    labels: dict[str, str], data_hash: str, runs: list[Run], present: list[str], spec: _Shown
) -> list[Row]:
    """The configuration's row (values, differences, headroom), then a row per control and
    oracle its runs have (values and headroom)."""
    row = Row(labels, SYSTEM, runs, data_hash=data_hash)
    cols = [Column(m) for m in present]
    cols += [Column(m, "delta", c) for c in spec.delta for m in present]
    cols += [Column(m, "headroom") for m in present] if spec.headroom else []
    row.stats = _summaries(runs, cols, None)
    block = [row]
    oracle_rows = _oracle_names(runs) if spec.oracles else []
    for c in [*spec.controls, *oracle_rows]:
        with_c = [r for r in runs if r.has_row(c)]
        if not with_c:
            continue
        kinds: tuple[Kind, ...] = ("value",)
        if spec.headroom and not c.startswith(ORACLE):
            kinds = ("value", "headroom")
        cols = [Column(m, kind) for m in present for kind in kinds]
        block.append(Row(labels, c, with_c, _summaries(with_c, cols, c), data_hash))
    return block


def _summaries(runs: list[Run], columns: list[Column], condition: str | None) -> dict[Column, CI]:
    """The summaries of ``columns`` over ``runs`` (of row ``condition``; None: the system) that
    have a value."""
    out = {}
    for col in columns:
        if col.kind == "delta":
            stat = _delta_stat(runs, col.metric, str(col.against))
        else:
            stat = _stat(runs, col.source, condition)
        if stat is not None:
            out[col] = stat
    return out


def _columns(
    wanted: list[str], delta: Sequence[str], blocks: list[list[Row]], higher: dict[str, bool]
) -> list[Column]:
    """The metrics shown, then the differences and headroom some configuration row has."""
    shown = {col for block in blocks for col in block[0].stats}
    columns = [Column(m) for m in wanted if m in higher]
    columns += [Column(m, "delta", c) for c in delta for m in wanted]
    columns += [Column(m, "headroom") for m in wanted]
    columns = [c for c in columns if c.kind == "value" or c in shown]
    if delta and not any(c.kind == "delta" for c in columns):
        raise ConfigError(
            f"no run has control(s) {', '.join(delta)}: run with eval.controls=... to get them."
        )
    return columns


def _adjust_controls(rows: list[Row], correction: str) -> list[Row]:
    """Rows whose control-difference cells carry their p adjusted over all such cells."""
    cells = [
        (r, c) for r in rows for c, s in r.stats.items() if c.kind == "delta" and s.p is not None
    ]
    adjusted = adjust([r.stats[c].p for r, c in cells], correction)
    for (r, c), p in zip(cells, adjusted, strict=True):
        r.stats[c] = replace(r.stats[c], p_adjusted=p)
    return rows


def _pairwise(
    board: Leaderboard,
    requested: bool | None,
    pair_metrics: Sequence[str] | None,
    wanted: Sequence[str],
    n_perm: int,
) -> Pairwise | None:
    """The board's encoder-against-encoder comparisons; None (auto) when there is nothing to
    compare; an error when they were asked for (``--pairs`` or named metrics) and cannot be
    made, else a note saying why not."""
    if sum(r.is_system for r in board.rows) < 2:
        if requested:
            raise ConfigError("--pairs needs at least two configurations on the leaderboard.")
        return None
    if pair_metrics:
        for m in pair_metrics:
            if m not in board.higher_is_better:
                raise ConfigError(
                    f"no run reports metric {m!r} to pair." + did_you_mean(m, list(wanted))
                )
    metrics = list(pair_metrics or [m for m in wanted if m in board.higher_is_better])
    try:
        result = pairwise(
            board.rows,
            board.row_names(),
            metrics,
            board.higher_is_better,
            correction=board.correction,
            n_perm=n_perm,
            explicit=bool(pair_metrics),
        )
    except EegbenchError as e:
        if requested or pair_metrics:
            raise
        return Pairwise(correction=board.correction, notes=[f"no encoder pairs: {e}"])
    return result


LEAK = "leak"
"""Label column that marks rows built from runs whose test split reached its predictions."""
LEAK_NOTE = (
    "leak = yes: rows from runs in which test-split information reached the test predictions "
    "(results.json `leaks`; e.g. Thought2Text's stage-3 encoder, stage2.encoder_mode=train, "
    "whose BatchNorm statistics come mostly from test batches); set them beside the paper's "
    "numbers, not beside clean rows"
)


def _mark_leaks(rows: list[Row]) -> bool:
    """Label every row ``leak`` yes/no when any run leaked; whether one did."""
    leaked = [any(run.record.leaks for run in row.runs) for row in rows]
    if any(leaked):
        for row, leak in zip(rows, leaked):
            row.labels = {**row.labels, LEAK: "yes" if leak else "no"}
    return any(leaked)


def default_delta(runs: list[Run]) -> list[str]:
    """The difference column a leaderboard shows unless told: against the EEG-isolating
    control (``shuffled_eeg``) when a run has it."""
    from eegbench.evaluation.controls import EEG_CONTROL

    return [EEG_CONTROL] if any(r.has_row(EEG_CONTROL) for r in runs) else []


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


def _stat(runs: list[Run], metric: str, control: str | None) -> CI | None:
    vals, seeds, cis = [], [], []
    for r in runs:
        m = r.metric(metric, control)
        if m is None or not m.finite:
            continue
        vals.append(m.value)
        seeds.append(r.seed)
        cis.append(m.ci)
    if not vals:
        return None
    return summarize(vals, cis[0] if len(vals) == 1 else None, seeds)


def _p(p: float | None) -> str:
    if p is None:
        return ""
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def significance(p: float | None) -> str:
    """``**`` for p < 0.01, ``*`` for p < 0.05, else nothing."""
    if p is None:
        return ""
    return "**" if p < 0.01 else "*" if p < 0.05 else ""


def _delta_stat(runs: list[Run], metric: str, control: str) -> CI | None:
    """run - control over seeds; one seed: the run's recorded paired delta (CI and p)."""
    diffs, seeds, recorded = [], [], []
    for r in runs:
        mine, cm = r.metric(metric), r.metric(metric, control)
        if mine is None or cm is None or not cm.finite:
            continue
        diffs.append(mine.value - cm.value)
        seeds.append(r.seed)
        recorded.append(r.delta(metric, control))
    if not diffs:
        return None
    if len(diffs) == 1 and recorded[0] is not None:
        d = recorded[0]
        low, high = d.ci if d.ci is not None else (None, None)
        method = "bootstrap" if low is not None else "none"
        return CI(diffs[0], low, high, method, values=(diffs[0],), seeds=tuple(seeds), p=d.p)
    s = summarize(diffs, seeds=seeds)
    p = None
    if len(diffs) >= 2 and max(diffs) > min(diffs):
        from scipy.stats import ttest_1samp

        p = float(ttest_1samp(diffs, 0.0).pvalue)
    return replace(s, p=p)


def _oracle_names(runs: list[Run]) -> list[str]:
    return list(dict.fromkeys(ORACLE + o for r in runs for o in r.record.oracles))


def _controls(runs: list[Run], controls: str | Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(c for r in runs for c in r.record.controls))
    if isinstance(controls, str) and controls in ("all", "none"):
        return present if controls == "all" else []
    names = _split_names(controls) or []
    for c in names:
        if c not in present:
            raise ConfigError(f"no run has control {c!r}." + did_you_mean(c, present))
    return names


def _order(
    blocks: list[list[Row]],
    label_columns: list[str],
    sort_by: str | None,
    columns: list[Column],
    higher: dict[str, bool],
) -> list[Row]:
    """Configurations in label order (or best first by the column labelled ``sort_by``), each
    followed by its controls."""
    order = sorted(blocks, key=lambda b: [b[0].labels.get(c, "") for c in label_columns])
    if sort_by is not None:
        col = next((c for c in columns if c.label == sort_by), None)
        if col is None:
            labels = [c.label for c in columns]
            raise ConfigError(f"cannot sort by {sort_by!r}." + did_you_mean(sort_by, labels))
        sign = -1.0 if higher[col.metric] else 1.0

        def score(b: list[Row]) -> float:
            s = b[0].stats.get(col)
            return sign * s.estimate if s is not None else math.inf

        order.sort(key=score)
    return [r for b in order for r in b]
