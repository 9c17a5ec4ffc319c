"""Experiment tracking: a finished run sent to TensorBoard, MLflow or Weights & Biases.

``report_to=tensorboard|mlflow|wandb`` (default ``none``) picks a ``Tracker``, which the runner
feeds as the run goes: the resolved config when training starts (MLflow: parameters in batches
of 100, the most one call takes; TensorBoard: the config as text, and as hparams at the end),
every epoch of stage 1 and stage 2 as it ends (loss and its terms, validation accuracy, the
learning rate: series ``stage1/<key>`` and ``stage2/<phase>/<key>`` over epochs), then the final
test metrics with their bootstrap CIs and the controls, and the run directory as artefacts.
All work offline: ``tracking_uri`` is a TensorBoard log folder holding one folder per run
(default ``OUTPUT_DIR/tensorboard``),
an MLflow tracking URI or folder (default ``MLFLOW_TRACKING_URI``, else a file store in
``OUTPUT_DIR/mlruns``), or the wandb folder (default ``WANDB_DIR``, else the run directory;
offline unless ``WANDB_MODE`` says otherwise). The tools' own variables are honoured:
``MLFLOW_EXPERIMENT_NAME`` (default ``eegbench``), ``WANDB_PROJECT`` (default ``eegbench``),
``WANDB_ENTITY``.

A resumed run (``eegbench run --resume``) continues its tracker run: the run folder's
``tracker.json`` names it (MLflow's run id, the wandb run id, the TensorBoard log folder) and
lists the epochs already sent, so every epoch is in the series once: an epoch is sent before
its checkpoint is written, and one that was sent but not checkpointed (the run stopped in
between) is trained again and not sent again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.contract.errors import ConfigError
from eegbench.results.rundir import RunDir

if TYPE_CHECKING:
    from eegbench.config import RunConfig

REPORT_TO = ("none", "tensorboard", "mlflow", "wandb")


def flat_config(cfg: dict[str, Any]) -> dict[str, str]:
    """``{"stage1.epochs": "25", ...}``: nested config as flat string parameters."""
    out: dict[str, str] = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            for sub, v in flat_config(value).items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return out


def final_metrics(results: dict[str, Any]) -> dict[str, float]:
    """Test metrics, their CI bounds and every control's metrics, flat and numeric."""
    out: dict[str, float] = {}

    def add(prefix: str, metrics: dict[str, Any]) -> None:
        for key, m in metrics.items():
            if m.get("value") is None:
                continue
            out[f"{prefix}{key}"] = float(m["value"])
            if m.get("ci"):
                out[f"{prefix}{key}_ci_low"] = float(m["ci"][0])
                out[f"{prefix}{key}_ci_high"] = float(m["ci"][1])

    add("test/", results.get("metrics", {}))
    for control, row in results.get("controls", {}).items():
        add(f"control/{control}/", row.get("metrics", {}))
    return out


Scalar = int | float | str | bool


def hparams(cfg: dict[str, Any]) -> dict[str, Scalar]:
    """The config as flat hyperparameters, scalars kept typed (lists and dicts as JSON)."""
    out: dict[str, Scalar] = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in hparams(value).items()})
        elif value is None or isinstance(value, (list, tuple)):
            out[key] = json.dumps(value)
        else:
            out[key] = value
    return out


class Tracker:
    """One tracking backend, fed by the runner as the run goes.

    ``start`` (before training: the run and its parameters, in one batch), ``log_epoch`` (after
    every epoch of stage 1 and stage 2: loss, validation accuracy, learning rate), ``finish``
    (after ``results.json``: final metrics with CIs and controls, the run directory as
    artefacts; returns where it all went). ``log_run`` does the three for a finished run.
    """

    name = "none"

    def __init__(self, uri: str | None) -> None:
        self.uri = uri
        self.ledger: Path | None = None
        self.sent: set[tuple[str, int]] = set()

    def start(
        self, cfg: RunConfig, name: str, run_dir: Path, resume: dict[str, Any] | None = None
    ) -> None:
        """Open the run ``name`` (its files may go under ``run_dir``) and log ``cfg``; with
        ``resume`` (an earlier ``identity()``), continue that run instead."""
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """What reopens this tracker run later (its run id where the tool has one)."""
        return {}

    def attach(self, ledger: Path, sent: set[tuple[str, int]]) -> None:
        """Record the tracker run and the epochs sent (``sent`` so far) in ``ledger``."""
        self.ledger, self.sent = ledger, set(sent)
        self._save()

    def _save(self) -> None:
        if self.ledger is None:
            return
        from eegbench.io import atomic_write

        doc = {
            "report_to": self.name,
            "identity": self.identity(),
            "epochs": sorted([stage, epoch] for stage, epoch in self.sent),
        }
        atomic_write(self.ledger, json.dumps(doc, indent=1) + "\n")

    def on_epoch(self, stage: str, epoch: int, values: dict[str, float]) -> None:
        """The runner's epoch callback: ``log_epoch`` for an epoch not sent before."""
        if (stage, epoch) in self.sent:
            return
        self.log_epoch(stage, epoch, values)
        self.sent.add((stage, epoch))
        self._save()

    def log_epoch(self, stage: str, epoch: int, values: dict[str, float]) -> None:
        """``values`` (``loss``, ``val_accuracy``, ``lr``, ...) of epoch ``epoch`` (from 1) of
        ``stage`` (``stage1``, ``stage2/<phase>``), as the series ``<stage>/<key>``."""
        raise NotImplementedError

    def finish(self, results: dict[str, Any], run_dir: Path) -> str:
        """Send the final numbers and the finished ``run_dir``; returns where they went."""
        raise NotImplementedError

    def fail(self) -> None:
        """Close the run as failed (the run stopped before ``finish``)."""

    def log_run(self, cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str:
        """A finished run at once: ``start``, its recorded curves, ``finish``."""
        self.start(cfg, run_dir.name, run_dir)
        for stage, epoch, values in epochs(results):
            self.log_epoch(stage, epoch, values)
        return self.finish(results, run_dir)


def epochs(results: dict[str, Any]) -> list[tuple[str, int, dict[str, float]]]:
    """The recorded training history as ``log_epoch`` arguments."""
    out = []
    training = results.get("training", {})
    for row in training.get("stage1", {}).get("history", []):
        values = {k: float(v) for k, v in row.items() if k != "epoch"}
        out.append(("stage1", int(row["epoch"]), values))
    for row in training.get("stage2", {}).get("history", []):
        values = {k: float(v) for k, v in row.items() if k not in ("epoch", "phase", "n")}
        out.append((f"stage2/{row['phase']}", int(row["epoch"]), values))
    return out


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def start(
        self, cfg: RunConfig, name: str, run_dir: Path, resume: dict[str, Any] | None = None
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.cfg = cfg.to_dict()
        # one folder per run under one log folder (``tensorboard --logdir`` compares them);
        # not inside the run directory, which is renamed when the run completes
        root = Path(self.uri or Path(cfg.output_dir) / "tensorboard").expanduser()
        self.logdir = Path(resume["logdir"]) if resume else root / name
        self.writer = SummaryWriter(log_dir=str(self.logdir))  # a resumed run: one more file
        if not resume:
            self.writer.add_text("config", "```\n" + json.dumps(self.cfg, indent=2) + "\n```")
        self.writer.flush()

    def identity(self) -> dict[str, Any]:
        return {"logdir": str(self.logdir)}

    def log_epoch(self, stage: str, epoch: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{stage}/{key}", value, epoch)
        self.writer.flush()

    def finish(self, results: dict[str, Any], run_dir: Path) -> str:
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        try:
            metrics = final_metrics(results)
            for name, value in metrics.items():
                self.writer.add_scalar(name, value, 0)
            test = {k: v for k, v in metrics.items() if k.startswith("test/")}
            for summary in hparams_summary(hparams(self.cfg), test):
                self.writer.file_writer.add_summary(summary)
            self.writer.add_text("run_dir", str(run_dir.resolve()))
        finally:
            self.writer.close()
        return str(self.logdir)

    def fail(self) -> None:
        self.writer.close()


class MLflowTracker(Tracker):
    name = "mlflow"

    def start(
        self, cfg: RunConfig, name: str, run_dir: Path, resume: dict[str, Any] | None = None
    ) -> None:
        import mlflow
        from mlflow.entities import Param

        uri = (
            self.uri
            or os.environ.get("MLFLOW_TRACKING_URI")
            or str(Path(cfg.output_dir).expanduser().absolute() / "mlruns")
        )
        if "://" not in uri and not uri.startswith("file:"):
            uri = Path(uri).expanduser().absolute().as_uri()
        if uri.startswith("file:"):
            # MLflow 3 keeps the folder store in maintenance mode behind this switch; it is the
            # store that needs no server or database, so a local folder asks for it explicitly.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.where = uri
        self.client = client = mlflow.MlflowClient(tracking_uri=uri)
        if resume:
            self.rid = resume["run_id"]
            client.update_run(self.rid, status="RUNNING")
            return
        exp_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "eegbench"
        experiment = client.get_experiment_by_name(exp_name)
        exp_id = experiment.experiment_id if experiment else client.create_experiment(exp_name)
        self.rid = client.create_run(exp_id, run_name=name).info.run_id
        params = [Param(k, str(v)[:6000]) for k, v in flat_config(cfg.to_dict()).items()]
        for i in range(0, len(params), _MLFLOW_BATCH):  # MLflow takes 100 params per call
            client.log_batch(self.rid, params=params[i : i + _MLFLOW_BATCH])

    def identity(self) -> dict[str, Any]:
        return {"run_id": self.rid, "tracking_uri": self.where}

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(_mlflow_key(k), float(v), now, step) for k, v in values.items()]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(self.rid, metrics=batch[i : i + 1000])

    def log_epoch(self, stage: str, epoch: int, values: dict[str, float]) -> None:
        self._metrics({f"{stage}/{k}": v for k, v in values.items()}, epoch)

    def finish(self, results: dict[str, Any], run_dir: Path) -> str:
        try:
            self._metrics(final_metrics(results), 0)
            self.client.log_artifacts(self.rid, str(run_dir))
        except BaseException:
            self.fail()
            raise
        self.client.set_terminated(self.rid)
        return f"{self.where} (run {self.rid})"

    def fail(self) -> None:
        self.client.set_terminated(self.rid, status="FAILED")


_MLFLOW_BATCH = 100


def _mlflow_key(name: str) -> str:
    return name.replace(":", "_")


class WandbTracker(Tracker):
    name = "wandb"

    def start(
        self, cfg: RunConfig, name: str, run_dir: Path, resume: dict[str, Any] | None = None
    ) -> None:
        import wandb

        folder = Path(self.uri or os.environ.get("WANDB_DIR") or run_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or "eegbench",
            entity=os.environ.get("WANDB_ENTITY") or None,
            name=name,
            config=cfg.to_dict(),
            dir=str(folder),
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
            reinit="finish_previous",
            id=resume["id"] if resume else None,
            resume="allow" if resume else None,
        )
        self.stages: set[str] = set()

    def identity(self) -> dict[str, Any]:
        return {"id": self.run.id}

    def log_epoch(self, stage: str, epoch: int, values: dict[str, float]) -> None:
        if stage not in self.stages:
            self.stages.add(stage)
            self.run.define_metric(f"{stage}/*", step_metric=f"{stage}/epoch")
        self.run.log({**{f"{stage}/{k}": v for k, v in values.items()}, f"{stage}/epoch": epoch})

    def finish(self, results: dict[str, Any], run_dir: Path) -> str:
        import wandb

        try:
            self.run.summary.update(final_metrics(results))
            artifact = wandb.Artifact(run_dir.name.replace(":", "_"), type="run")
            artifact.add_dir(str(run_dir))
            self.run.log_artifact(artifact)
        finally:
            self.run.finish()
        return str(self.folder)

    def fail(self) -> None:
        self.run.finish(exit_code=1)


TRACKERS: dict[str, type[Tracker]] = {
    "tensorboard": TensorBoardTracker,
    "mlflow": MLflowTracker,
    "wandb": WandbTracker,
}


def tracker(report_to: str, uri: str | None) -> Tracker | None:
    """The tracker ``report_to`` names (None for none)."""
    if report_to == "none":
        return None
    if report_to not in TRACKERS:
        raise ConfigError(f"report_to={report_to!r}; valid: {', '.join(REPORT_TO)}.")
    return TRACKERS[report_to](uri)


@contextmanager
def tracking(cfg: RunConfig, name: str, run_dir: Path) -> Iterator[Tracker | None]:
    """The run's tracker (``report_to``), started for the run ``name``; None for none. A run
    that raises is closed as failed in the tracking tool."""
    found = tracker(cfg.report_to, cfg.tracking_uri)
    if found is None:
        yield None
        return
    ledger = RunDir(run_dir).tracker
    earlier = _read_ledger(ledger, cfg.report_to)
    found.start(cfg, name, run_dir, resume=earlier["identity"] if earlier else None)
    found.attach(ledger, {(s, int(e)) for s, e in earlier["epochs"]} if earlier else set())
    try:
        yield found
    except BaseException:
        found.fail()
        raise


def _read_ledger(path: Path, report_to: str) -> dict[str, Any] | None:
    """What an interrupted run's ``tracker.json`` says, when it was sent to ``report_to``."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    ok = isinstance(doc, dict) and doc.get("report_to") == report_to and doc.get("identity")
    return doc if ok else None


def track_run(cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str | None:
    """Send a finished run to the config's ``report_to`` at once; returns where it went (None
    for none). The runner instead feeds the tracker during the run (``Tracker.start``, ...)."""
    found = tracker(cfg.report_to, cfg.tracking_uri)
    return None if found is None else found.log_run(cfg, results, run_dir)
