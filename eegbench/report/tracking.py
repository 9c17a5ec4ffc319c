"""Experiment tracking: a finished run sent to TensorBoard, MLflow or Weights & Biases.

``report_to=tensorboard|mlflow|wandb`` (default ``none``) picks a ``Tracker``; the runner calls
``track_run`` once, after ``results.json`` is written. Every tracker receives the same things:
the resolved config, per-epoch training curves (stage 1 loss/MSE/CE and validation accuracy,
stage 2 loss per phase), the final test metrics with their bootstrap CIs and the controls, and
the run directory as artefacts. All work offline: ``tracking_uri`` is a TensorBoard log folder
(default ``RUN_DIR/tensorboard``), an MLflow tracking URI or folder (default a file store in
``OUTPUT_DIR/mlruns``), or the wandb folder (offline unless ``WANDB_MODE`` says otherwise).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eegbench.api.errors import ConfigError

if TYPE_CHECKING:
    from eegbench.config import RunConfig

REPORT_TO = ("none", "tensorboard", "mlflow", "wandb")
EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


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


def curves(results: dict[str, Any]) -> list[tuple[str, int, float]]:
    """Per-epoch training curves as ``(name, step, value)``: stage 1, then stage 2 per phase."""
    out: list[tuple[str, int, float]] = []
    training = results.get("training", {})
    for row in training.get("stage1", {}).get("history", []):
        for key in ("loss", "mse", "ce", "val_accuracy"):
            if key in row:
                out.append((f"stage1/{key}", int(row["epoch"]), float(row[key])))
    for row in training.get("stage2", {}).get("history", []):
        out.append((f"stage2/{row['phase']}/loss", int(row["epoch"]), float(row["loss"])))
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


class Tracker:
    """One tracking backend; ``log_run`` sends everything a finished run holds."""

    name = "none"

    def __init__(self, uri: str | None) -> None:
        self.uri = uri

    def log_run(self, cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str:
        """Send the run; returns where it went (a folder or URI) for the log line."""
        raise NotImplementedError


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def log_run(self, cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str:
        from torch.utils.tensorboard import SummaryWriter

        logdir = Path(self.uri).expanduser() / run_dir.name if self.uri else run_dir / "tensorboard"
        writer = SummaryWriter(log_dir=str(logdir))
        try:
            writer.add_text("config", "```\n" + json.dumps(cfg.to_dict(), indent=2) + "\n```")
            for name, step, value in curves(results):
                writer.add_scalar(name, value, step)
            metrics = final_metrics(results)
            for name, value in metrics.items():
                writer.add_scalar(name, value, 0)
            writer.add_text("run_dir", str(run_dir.resolve()))
        finally:
            writer.close()
        return str(logdir)


class MLflowTracker(Tracker):
    name = "mlflow"

    def log_run(self, cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str:
        import mlflow

        uri = self.uri or str(Path(cfg.output_dir).expanduser().absolute() / "mlruns")
        if "://" not in uri and not uri.startswith("file:"):
            uri = Path(uri).expanduser().absolute().as_uri()
        if uri.startswith("file:"):
            # MLflow 3 keeps the folder store in maintenance mode behind this switch; it is the
            # store that needs no server or database, so a local folder asks for it explicitly.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("eegbench")
        exp_id = experiment.experiment_id if experiment else client.create_experiment("eegbench")
        run = client.create_run(exp_id, run_name=run_dir.name)
        rid = run.info.run_id
        try:
            for key, value in flat_config(cfg.to_dict()).items():
                client.log_param(rid, key, value[:6000])
            for name, step, value in curves(results):
                client.log_metric(rid, _mlflow_key(name), value, step=step)
            for name, value in final_metrics(results).items():
                client.log_metric(rid, _mlflow_key(name), value)
            client.log_artifacts(rid, str(run_dir))
        except BaseException:
            client.set_terminated(rid, status="FAILED")
            raise
        client.set_terminated(rid)
        return f"{uri} (run {rid})"


def _mlflow_key(name: str) -> str:
    return name.replace(":", "_")


class WandbTracker(Tracker):
    name = "wandb"

    def log_run(self, cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str:
        import wandb

        folder = Path(self.uri).expanduser() if self.uri else run_dir
        folder.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project="eegbench",
            name=run_dir.name,
            config=cfg.to_dict(),
            dir=str(folder),
            mode=os.environ.get("WANDB_MODE", "offline"),  # type: ignore[arg-type]
            reinit="finish_previous",
        )
        try:
            for stage in ("stage1", "stage2"):
                run.define_metric(f"{stage}/*", step_metric=f"{stage}/epoch")
            for name, step, value in curves(results):
                run.log({name: value, f"{name.split('/')[0]}/epoch": step})
            run.summary.update(final_metrics(results))
            artifact = wandb.Artifact(run_dir.name.replace(":", "_"), type="run")
            artifact.add_dir(str(run_dir))
            run.log_artifact(artifact)
        finally:
            run.finish()
        return str(folder)


TRACKERS: dict[str, type[Tracker]] = {
    "tensorboard": TensorBoardTracker,
    "mlflow": MLflowTracker,
    "wandb": WandbTracker,
}


def preflight(report_to: str) -> list[str]:
    """The chosen tracker's package is installed."""
    if report_to == "none":
        return []
    module = EXTRAS[report_to]
    if importlib.util.find_spec(module) is None:
        return [
            f"report_to={report_to} needs the {module!r} package: "
            f"pip install -c constraints.txt 'eegbench[{report_to}]'"
        ]
    return []


def track_run(cfg: RunConfig, results: dict[str, Any], run_dir: Path) -> str | None:
    """Send a finished run to the config's ``report_to``; returns where it went (None for
    none)."""
    if cfg.report_to == "none":
        return None
    if cfg.report_to not in TRACKERS:
        raise ConfigError(f"report_to={cfg.report_to!r}; valid: {', '.join(REPORT_TO)}.")
    return TRACKERS[cfg.report_to](cfg.tracking_uri).log_run(cfg, results, run_dir)
