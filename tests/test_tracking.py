"""Experiment tracking: a finished run sent to TensorBoard and to a local MLflow file store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eegbench.config import RunConfig, build_config
from tests.test_leaderboard import write_run

HISTORY = {
    "stage1": {
        "best_epoch": 2,
        "best_val_accuracy": 0.5,
        "history": [
            {"epoch": 1, "loss": 2.0, "mse": 1.0, "ce": 1.0, "val_accuracy": 0.25},
            {"epoch": 2, "loss": 1.5, "mse": 0.7, "ce": 0.8, "val_accuracy": 0.5},
        ],
    },
    "stage2": {"history": [{"phase": "eeg", "epoch": 1, "loss": 3.0}]},
}


def finished_run(tmp_path: Path) -> tuple[RunConfig, dict, Path]:
    run_dir = write_run(tmp_path / "runs", "r1", training=HISTORY)
    (run_dir / "predictions.csv").write_text("x\n")
    results = json.loads((run_dir / "results.json").read_text())
    cfg = build_config([f"output_dir={tmp_path / 'runs'}"])
    return cfg, results, run_dir


def test_flat_curves_and_metrics():
    from eegbench.results.tracking import epochs, final_metrics

    results = {
        "training": HISTORY,
        "metrics": {"bleu_4": {"value": 0.2, "ci": [0.1, 0.3]}},
        "controls": {"noise": {"metrics": {"bleu_4": {"value": 0.05}}}},
    }
    assert epochs(results) == [
        ("stage1", 1, {"loss": 2.0, "mse": 1.0, "ce": 1.0, "val_accuracy": 0.25}),
        ("stage1", 2, {"loss": 1.5, "mse": 0.7, "ce": 0.8, "val_accuracy": 0.5}),
        ("stage2/eeg", 1, {"loss": 3.0}),
    ]
    assert final_metrics(results) == {
        "test/bleu_4": 0.2,
        "test/bleu_4_ci_low": 0.1,
        "test/bleu_4_ci_high": 0.3,
        "control/noise/bleu_4": 0.05,
    }


def test_tensorboard(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from eegbench.results.tracking import track_run

    cfg, results, run_dir = finished_run(tmp_path)
    where = track_run(cfg.replace(report_to="tensorboard"), results, run_dir)
    assert where == str(tmp_path / "runs" / "tensorboard" / "r1")
    acc = EventAccumulator(where)
    acc.Reload()
    val = [(e.step, e.value) for e in acc.Scalars("stage1/val_accuracy")]
    assert val == [(1, 0.25), (2, 0.5)]
    assert acc.Scalars("test/top1_accuracy_ci_high")[0].value == pytest.approx(0.6)
    assert acc.Scalars("control/only_obj/bleu_4")[0].value == pytest.approx(0.05)


@pytest.mark.slow
def test_mlflow_file_store(tmp_path):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    import mlflow

    from eegbench.results.tracking import track_run

    cfg, results, run_dir = finished_run(tmp_path)
    store = tmp_path / "mlruns"
    where = track_run(cfg.replace(report_to="mlflow", tracking_uri=str(store)), results, run_dir)
    assert where.startswith(store.as_uri())
    client = mlflow.MlflowClient(tracking_uri=store.as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("eegbench").experiment_id])
    assert run.info.run_name == "r1" and run.info.status == "FINISHED"
    assert run.data.params["encoder.name"] == "dilated"
    assert run.data.metrics["test/bleu_4"] == pytest.approx(0.1)
    history = client.get_metric_history(run.info.run_id, "stage1/loss")
    assert [(m.step, m.value) for m in history] == [(1, 2.0), (2, 1.5)]
    artefacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"results.json", "config.yaml", "predictions.csv"} <= artefacts


def test_missing_extra_fails_preflight(monkeypatch):
    import importlib.util

    from eegbench.config.preflight import _tracker

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    assert _tracker("mlflow") == [
        "report_to=mlflow needs the 'mlflow' package: pip install -c constraints.txt "
        "'eegbench[mlflow]'"
    ]
    assert _tracker("none") == []


@pytest.mark.slow
def test_wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="the wandb extra is not installed")
    from eegbench.results.tracking import track_run

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg, results, run_dir = finished_run(tmp_path)
    folder = tmp_path / "wandb-dir"
    assert track_run(cfg.replace(report_to="wandb", tracking_uri=str(folder)), results, run_dir)
    (log,) = (folder / "wandb").glob("offline-run-*/run-*.wandb")
    # the offline transaction log is protobuf records read by wandb's Go core only; its strings
    # are plain bytes: curves, final metrics, controls, config and the artefact are in it
    deadline = time.monotonic() + 60  # wandb's core process may still be flushing the log
    while b"predictions.csv" not in (data := log.read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for key in (b"stage1/val_accuracy", b"test/bleu_4_ci_high", b"control/only_obj/bleu_4"):
        assert key in data, key
    assert b"dilated" in data and b"results.json" in data and b"predictions.csv" in data


def test_a_logging_handler_receives_eegbench_messages(tiny, capsys):
    import logging

    from click.testing import CliRunner

    from eegbench.cli import cli

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logging.getLogger("eegbench").addHandler(handler)
    try:
        res = CliRunner().invoke(
            cli, ["--quiet", "run", *tiny, "run_name=logged", "eval.metrics=[accuracy]"]
        )
    finally:
        logging.getLogger("eegbench").removeHandler(handler)
    assert res.exit_code == 0, res.output
    messages = [(r.levelname, r.getMessage()) for r in records]
    assert any(
        level == "INFO" and m.startswith("dataset synthetic: ") and "[" not in m
        for level, m in messages
    ), messages  # plain text: rich markup is only for eegbench's own console
    assert all(r.name == "eegbench" for r in records)


def test_console_output_is_one_handler_a_program_can_remove(capsys, monkeypatch):
    import logging

    from eegbench import progress
    from eegbench.progress import CONSOLE, log, warn

    monkeypatch.setattr(progress, "_quiet", False)
    monkeypatch.setattr(progress, "_format", "text")
    log("[bold]shown[/bold]")
    warn("careful")
    err = capsys.readouterr().err
    assert "shown" in err and "warning: careful" in err and "[bold]" not in err
    logging.getLogger("eegbench").removeHandler(CONSOLE)
    try:
        log("hidden")
        warn("hidden too")
    finally:
        logging.getLogger("eegbench").addHandler(CONSOLE)
    assert "hidden" not in capsys.readouterr().err


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {k: [(e.step, e.value) for e in acc.Scalars(k)] for k in acc.Tags()["scalars"]}


def test_a_run_logs_every_epoch_to_tensorboard(tiny, monkeypatch):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from click.testing import CliRunner

    from eegbench.cli import cli
    from eegbench.results import tracking

    seen: list[tuple[str, int]] = []
    real = tracking.TensorBoardTracker.log_epoch

    def spy(self, stage, epoch, values):
        seen.append((stage, epoch))  # live: while the run trains
        real(self, stage, epoch, values)

    monkeypatch.setattr(tracking.TensorBoardTracker, "log_epoch", spy)
    args = ["--quiet", "run", *tiny, "run_name=tb", "report_to=tensorboard", "stage1.epochs=3"]
    res = CliRunner().invoke(cli, [*args, "eval.metrics=[accuracy,bleu]"])
    assert res.exit_code == 0, res.output
    assert seen == [("stage1", 1), ("stage1", 2), ("stage1", 3)] + [
        (f"stage2/{p}", 1) for p in ("target", "eeg")
    ]
    run_dir = Path(tiny[0].split("=", 1)[1]) / "tb"
    record = json.loads((run_dir / "results.json").read_text())
    series = _scalars(run_dir.parent / "tensorboard" / "tb")
    history = record["training"]["stage1"]["history"]
    assert series["stage1/val_accuracy"] == [
        (r["epoch"], pytest.approx(r["val_accuracy"])) for r in history
    ]
    assert [s for s, _ in series["stage1/lr"]] == [1, 2, 3]
    assert [s for s, _ in series["stage2/eeg/loss"]] == [1]
    assert series["test/top1_accuracy"][0][1] == pytest.approx(
        record["metrics"]["top1_accuracy"]["value"]
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir.parent / "tensorboard" / "tb"))
    acc.Reload()
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")


def test_a_run_logs_every_epoch_to_mlflow(tiny, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    import mlflow
    from click.testing import CliRunner

    from eegbench.cli import cli

    store = tmp_path / "store"
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "my-experiment")
    args = ["--quiet", "run", *tiny, "run_name=ml", "report_to=mlflow", f"tracking_uri={store}"]
    res = CliRunner().invoke(cli, [*args, "eval.metrics=[accuracy]"])
    assert res.exit_code == 0, res.output
    client = mlflow.MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("my-experiment")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "ml" and run.info.status == "FINISHED"
    assert run.data.params["stage1.epochs"] == "2"
    steps = client.get_metric_history(run.info.run_id, "stage1/val_accuracy")
    assert sorted(m.step for m in steps) == [1, 2]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "stage1/lr")] == [1, 2]


# The command line with ``Checkpoint.save`` wrapped: the process is SIGKILLed just before the
# stage-1 checkpoint of epoch 2 is written, after that epoch was sent to the tracker.
KILL_BEFORE_CHECKPOINT = """
import os, signal, sys
import eegbench.train.checkpoint as ckpt

save = ckpt.Checkpoint.save

def saving(self, name, state):
    if name == "stage1" and state.get("done") == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    save(self, name, state)

ckpt.Checkpoint.save = saving
from eegbench.cli import main
main(sys.argv[1:])
"""


def _series(report_to: str, out: Path, store: Path) -> tuple[list[str], dict[str, list[int]]]:
    """(the tracker runs' ids, ``{series: steps}``) of what the tracker holds."""
    keys = ("stage1/val_accuracy", "stage1/loss", "stage2/eeg/loss")
    if report_to == "mlflow":
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=store.as_uri())
        experiment = client.get_experiment_by_name("eegbench")
        runs = client.search_runs([experiment.experiment_id])
        assert all(r.info.status == "FINISHED" for r in runs)
        rid = runs[0].info.run_id
        steps = {k: sorted(m.step for m in client.get_metric_history(rid, k)) for k in keys}
        return [r.info.run_id for r in runs], steps
    folders = sorted(p.name for p in (out / "tensorboard").iterdir())
    steps = {}
    for key in keys:
        steps[key] = sorted(
            step for f in (out / "tensorboard" / "r").glob("events.*") for step in _steps(f, key)
        )
    return folders, steps


def _steps(events: Path, key: str) -> list[int]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return [
        e.step
        for e in EventFileLoader(str(events)).Load()
        if any(v.tag == key for v in e.summary.value)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("report_to", ["tensorboard", "mlflow"])
def test_a_resumed_run_continues_its_tracker_run_with_every_epoch_once(tmp_path, report_to):
    import subprocess
    import sys

    from click.testing import CliRunner

    from eegbench.cli import cli
    from tests.conftest import tiny_overrides

    pytest.importorskip(report_to)
    out, store = tmp_path / "out", tmp_path / "store"
    args = [
        o for o in tiny_overrides(tmp_path) if not o.startswith(("output_dir=", "stage1.epochs"))
    ]
    args += [f"output_dir={out}", "run_name=r", "threads=1", "stage1.epochs=3"]
    args += [f"report_to={report_to}", "eval.metrics=[accuracy]"]
    if report_to == "mlflow":
        args.append(f"tracking_uri={store}")
    cmd = [sys.executable, "-c", KILL_BEFORE_CHECKPOINT, "-q", "run", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]
    (partial,) = out.glob(".partial-r.*")
    ledger = json.loads((partial / "tracker.json").read_text())
    assert ledger["epochs"] == [["stage1", 1], ["stage1", 2]]  # sent; epoch 2 not checkpointed
    res = CliRunner().invoke(cli, ["-q", "run", "--resume", str(partial)])
    assert res.exit_code == 0, res.output
    assert not (out / "r" / "tracker.json").exists()
    runs, steps = _series(report_to, out, store)
    assert len(runs) == 1  # the same tracker run (MLflow: one run id; TensorBoard: one folder)
    assert steps == {
        "stage1/val_accuracy": [1, 2, 3],
        "stage1/loss": [1, 2, 3],
        "stage2/eeg/loss": [1],
    }


@pytest.mark.slow
def test_wandb_resumes_its_run_id_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="the wandb extra is not installed")
    from eegbench.results import tracking

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg, _, run_dir = finished_run(tmp_path)
    cfg = cfg.replace(report_to="wandb", tracking_uri=str(tmp_path / "wandb-dir"))
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(
        tracking.WandbTracker, "log_epoch", lambda self, s, e, v: sent.append((s, e))
    )
    with pytest.raises(KeyboardInterrupt), tracking.tracking(cfg, "r", run_dir) as first:
        first.on_epoch("stage1", 1, {"loss": 1.0})
        raise KeyboardInterrupt  # the run stops; its folder keeps tracker.json
    with tracking.tracking(cfg, "r", run_dir) as again:
        assert again.identity() == first.identity()  # the same wandb run id
        again.on_epoch("stage1", 1, {"loss": 1.0})  # sent before the stop: not again
        again.on_epoch("stage1", 2, {"loss": 0.5})
        again.run.finish()
    assert sent == [("stage1", 1), ("stage1", 2)]
