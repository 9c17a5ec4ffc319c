"""Collecting runs: run directories under some paths, each read as a run record or skipped."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eegbench.contract.errors import ConfigError
from eegbench.results.record import MetricValue, PairedDelta, RecordError, RunRecord
from eegbench.results.rundir import RunDir

ORACLE = "oracle:"
"""Prefix of an oracle row's condition (``oracle:target_embedding``)."""
HEADROOM = " headroom"
"""Suffix of a headroom column (``"rouge_l headroom"``)."""


@dataclass(frozen=True)
class Skipped:
    """A run directory left out of the leaderboard, and why."""

    path: Path
    reason: str


@dataclass
class Run:
    """A finished run directory and its record."""

    path: Path
    record: RunRecord

    @property
    def seed(self) -> Any:
        return self.record.seed

    @property
    def config(self) -> dict[str, Any]:
        return self.record.config

    @property
    def started(self) -> str:
        return self.record.started

    @property
    def data_hashes(self) -> dict[str, str]:
        return self.record.dataset.hashes

    def metric(self, name: str, control: str | None = None) -> MetricValue | None:
        """A metric of the run, of a control or (``oracle:NAME``) of an oracle row.

        ``"<metric> headroom"`` is the row's fraction of headroom realised (a value only).
        """
        rec = self.record
        if name.endswith(HEADROOM):
            base = name[: -len(HEADROOM)]
            if control is None:
                value = rec.headroom.get(base)
            else:
                row = rec.controls.get(control)
                value = None if row is None else row.headroom.get(base)
            return None if value is None else MetricValue(value=value)
        if control is not None and control.startswith(ORACLE):
            oracle = rec.oracles.get(control[len(ORACLE) :])
            return None if oracle is None else oracle.metrics.get(name)
        return rec.metric(name, control)

    def has_row(self, condition: str) -> bool:
        """Whether the run has this control (or ``oracle:NAME``) row."""
        if condition.startswith(ORACLE):
            return condition[len(ORACLE) :] in self.record.oracles
        return condition in self.record.controls

    def delta(self, name: str, control: str) -> PairedDelta | None:
        """The recorded paired difference run - control (value, CI, p), or None."""
        return self.record.delta(name, control)


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
            if RunDir.RESULTS in filenames or RunDir.CONFIG in filenames:
                found.append(Path(dirpath))
                dirnames[:] = []
    return sorted(set(found))


def read_run(path: Path) -> Run | Skipped:
    """The finished run in ``path``, or why it cannot be ranked."""
    try:
        record = RunRecord.read(path)
    except RecordError as e:
        return Skipped(path, e.reason)
    if record.rehearsal:
        return Skipped(path, "a rehearsal (--fast-dev-run or --random-weights), not a result")
    for name, m in record.metrics.items():
        if not m.finite:
            return Skipped(path, f"metric {name!r} has no finite value")
    return Run(path, record)


def collect(paths: Iterable[str | Path]) -> tuple[list[Run], list[Skipped]]:
    """Finished runs under ``paths`` and the run directories that were skipped."""
    runs: list[Run] = []
    skipped: list[Skipped] = []
    for d in find_run_dirs(paths):
        r = read_run(d)
        (runs if isinstance(r, Run) else skipped).append(r)
    return runs, skipped
