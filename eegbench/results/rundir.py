"""Run directories that are complete or absent.

A run writes into ``output_dir/.partial-NAME.PID.XXXX`` and renames it to ``output_dir/NAME``
(``NAME-2``, ... when taken) once ``results.json`` is in it. A failure removes the folder, or
with ``keep_failed`` renames it to ``NAME.failed`` with the error in ``error.txt``. A folder
left by a killed process (its PID is gone) is removed on the next start, unless it holds a
checkpoint: then it is an interrupted run that ``eegbench run --resume`` continues.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from eegbench.contract.errors import EegbenchError
from eegbench.io import _umask, atomic_write, path_kind, pid_alive

PARTIAL = ".partial-"
OWNER = ".owner.json"
_PARTIAL_RE = re.compile(r"\.partial-(?P<name>.+)\.(?P<pid>\d+)\.[^.]+")
PREDICTIONS = "predictions"


@dataclass(frozen=True)
class RunDir:
    """A run folder and every file in it: the one place their names are spelled.

    ``config.yaml`` (the resolved config), ``results.json`` (the run record),
    ``predictions.csv`` and ``predictions_<control>.csv`` (one per control and oracle row),
    ``eeg_classifier.safetensors`` and ``projector.safetensors`` (weights), ``checkpoint/`` and
    ``tracker.json`` (the tracker's run and the epochs sent to it; both while the run is in
    progress) and ``error.txt`` (in a kept failed run).
    """

    path: Path

    CONFIG: ClassVar[str] = "config.yaml"
    RESULTS: ClassVar[str] = "results.json"
    ENCODER: ClassVar[str] = "eeg_classifier.safetensors"
    PROJECTOR: ClassVar[str] = "projector.safetensors"
    CHECKPOINT: ClassVar[str] = "checkpoint"
    TRACKER: ClassVar[str] = "tracker.json"
    ERROR: ClassVar[str] = "error.txt"

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def results(self) -> Path:
        return self.path / self.RESULTS

    @property
    def encoder(self) -> Path:
        return self.path / self.ENCODER

    @property
    def projector(self) -> Path:
        return self.path / self.PROJECTOR

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def tracker(self) -> Path:
        return self.path / self.TRACKER

    @property
    def error(self) -> Path:
        return self.path / self.ERROR

    @staticmethod
    def predictions_name(row: str | None = None) -> str:
        """``predictions.csv`` (the run) or ``predictions_<row>.csv`` (a control or oracle)."""
        return f"{PREDICTIONS}.csv" if row is None else f"{PREDICTIONS}_{row}.csv"

    def predictions(self, row: str | None = None) -> Path:
        return self.path / self.predictions_name(row)

    def rows(self) -> dict[str, Path]:
        """``{control or oracle: predictions file}`` of the rows on disk, by name."""
        prefix = f"{PREDICTIONS}_"
        found = sorted(self.path.glob(f"{prefix}*.csv"))
        return {p.stem[len(prefix) :]: p for p in found}


def output_root(output_dir: str | os.PathLike) -> Path:
    """``output_dir`` created if needed; errors say which path and what to do."""
    if not str(output_dir).strip():
        raise EegbenchError("output_dir is empty; set output_dir=PATH (e.g. output_dir=runs).")
    root = Path(output_dir).expanduser()
    kind = path_kind(root)
    if kind not in (None, "a directory"):
        raise EegbenchError(
            f"output directory {str(root)!r} is {kind}, not a folder; choose another with "
            "output_dir=PATH."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EegbenchError(
            f"cannot create output directory {str(root)!r}: {e.strerror}; choose a writable "
            "location with output_dir=PATH."
        ) from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise EegbenchError(
            f"output directory {str(root)!r} is not writable; choose another with output_dir=PATH."
        )
    return root


def inside(root: Path, path: Path) -> Path:
    """``path`` if it lies under ``root`` (after resolving links), else an error."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise EegbenchError(f"{str(path)!r} lies outside output_dir {str(root)!r}; refusing.")
    return path


def _owner(path: Path) -> dict:
    try:
        return json.loads((path / OWNER).read_text())
    except (OSError, ValueError):
        return {}


def is_orphan(path: Path) -> bool:
    """A partial run folder whose process (on this host) no longer runs."""
    m = _PARTIAL_RE.fullmatch(path.name)
    if not m or not path.is_dir():
        return False
    owner = _owner(path)
    if owner.get("host", socket.gethostname()) != socket.gethostname():
        return False
    return not pid_alive(int(m.group("pid")))


def has_checkpoint(path: Path) -> bool:
    run = RunDir(path)
    return (run.checkpoint / "state.json").is_file() and run.config.is_file()


def partial_name(path: Path) -> str | None:
    """The run name a partial folder will be renamed to."""
    m = _PARTIAL_RE.fullmatch(path.name)
    return m.group("name") if m else None


def interrupted_runs(root: Path) -> list[Path]:
    """Partial folders of killed processes that hold a checkpoint (resumable)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob(f"{PARTIAL}*") if is_orphan(p) and has_checkpoint(p))


def clean_orphans(root: Path) -> list[Path]:
    """Remove partial folders of killed processes that cannot be resumed; returns them."""
    removed = []
    if not root.is_dir():
        return removed
    for p in root.glob(f"{PARTIAL}*"):
        if is_orphan(p) and not has_checkpoint(p):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _claim(root: Path, name: str, existing: Path | None) -> Path:
    """A fresh partial folder for ``name`` (or ``existing``, renamed so this process owns it)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL}{name}.{os.getpid()}.", dir=root))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a run folder is an ordinary one
    if existing is not None:
        os.rmdir(tmp)
        os.rename(existing, tmp)  # atomic: a second resumer finds the folder gone
    atomic_write(tmp / OWNER, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    return tmp


def _publish(tmp: Path, root: Path, name: str) -> Path:
    (tmp / OWNER).unlink(missing_ok=True)
    for i in range(1, 1000):
        dest = root / (name if i == 1 else f"{name}-{i}")
        if dest.exists():
            continue
        try:
            os.rename(tmp, dest)
        except OSError:
            if dest.exists():
                continue  # another process took the name in between
            raise
        return dest
    raise EegbenchError(f"too many runs named {name!r} in {str(root)!r}; pick another run_name.")


class StagedRun:
    """The partial folder of a run in progress; ``publish()`` renames it into place."""

    def __init__(self, root: Path, name: str, path: Path) -> None:
        self.root, self.name, self.path = root, name, path
        self.final: Path | None = None

    def publish(self) -> Path:
        self.final = _publish(self.path, self.root, self.name)
        return self.final


@contextmanager
def staged_run(
    output_dir: str | os.PathLike, name: str, keep_failed: bool = False, resume: Path | None = None
) -> Iterator[StagedRun]:
    """A partial run folder that is removed (or kept as ``NAME.failed``) unless published.

    An output directory this call created is removed again when the run fails and leaves it
    empty."""
    existed = Path(output_dir).expanduser().is_dir()
    root = output_root(output_dir)
    for p in clean_orphans(root):
        from eegbench.progress import log

        log(f"[dim]removed {p} (left by a killed run)[/dim]")
    inside(root, root / name)
    staged = StagedRun(root, name, _claim(root, name, resume))
    try:
        yield staged
    except BaseException as e:
        if staged.final is None and staged.path.exists():
            if keep_failed and not isinstance(e, KeyboardInterrupt):
                _keep_failed(staged, e)
            elif not has_checkpoint(staged.path) or not isinstance(e, KeyboardInterrupt):
                shutil.rmtree(staged.path, ignore_errors=True)
        if not existed and root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        raise
    if staged.final is None:
        shutil.rmtree(staged.path, ignore_errors=True)


def _keep_failed(staged: StagedRun, error: BaseException) -> None:
    from eegbench.progress import log

    try:
        (staged.path / OWNER).unlink(missing_ok=True)
        RunDir(staged.path).error.write_text(f"{type(error).__name__}: {error}\n")
        dest = _publish(staged.path, staged.root, f"{staged.name}.failed")
        log(f"[yellow]kept the failed run in {dest} (error in error.txt)[/yellow]")
    except OSError:
        shutil.rmtree(staged.path, ignore_errors=True)
