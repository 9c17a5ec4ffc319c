"""Run directories and the run record (``results.json``), written atomically."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from eegbench.api.errors import EegbenchError
from eegbench.io import atomic_write

PACKAGES = (
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "sentence-transformers",
    "open_clip_torch",
    "mne",
    "sacrebleu",
    "rouge-score",
    "nltk",
    "pluggy",
    "braindecode",
)


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("eegbench", *PACKAGES):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_hash() -> str | None:
    """The commit of the eegbench source tree, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def peak_memory_mb() -> float:
    """Peak resident memory of this process (MiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def environment() -> dict[str, Any]:
    return {
        "versions": versions(),
        "git": git_hash(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, default=_default) + "\n")


def _default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def new_run_dir(output_dir: str | Path, name: str) -> Path:
    """A fresh directory ``output_dir/name`` (``-2``, ``-3``... if taken); never reuses one."""
    root = Path(output_dir).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EegbenchError(
            f"cannot create output directory {str(root)!r}: {e.strerror}."
        ) from None
    for i in range(1, 1000):
        path = root / (name if i == 1 else f"{name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise EegbenchError(f"too many runs named {name!r} in {str(root)!r}.")


class Timer:
    """Wall-clock seconds per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)

    def total(self) -> float:
        return time.perf_counter() - self._start


class _Stage:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timer.seconds[self.name] = round(time.perf_counter() - self.t0, 3)
