"""``eegbench run``: dataset -> targets -> stage 1 -> LLM -> stage 2 -> evaluation -> record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from eegbench import __version__, plugins
from eegbench.api.data import EEGData
from eegbench.api.errors import ConfigError, DataError
from eegbench.api.llm import BuildContext, CausalLM
from eegbench.api.target import embed_cached, target_items
from eegbench.config import core_section, dump
from eegbench.data.splits import check_leakage
from eegbench.evaluation.harness import Evaluation, TestSet
from eegbench.evaluation.predictions import Predictions, write_predictions
from eegbench.progress import log, silence_library_progress
from eegbench.report.record import (
    Timer,
    atomic_write,
    environment,
    new_run_dir,
    peak_memory_mb,
    write_json,
)
from eegbench.train.device import describe as describe_device
from eegbench.train.device import setup as device_setup
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.seeding import seed_everything
from eegbench.train.stage1 import predict, train_stage1
from eegbench.train.stage2 import train_stage2


@dataclass
class Pipeline:
    """Everything a finished run holds in memory."""

    config: dict[str, Any]
    data: EEGData
    targets: np.ndarray
    model: EEGClassifier
    projector: Projector
    llm: CausalLM
    run_dir: Path
    results: dict[str, Any]


def _plugin_params(cfg: dict[str, Any], group: str) -> dict[str, Any]:
    return {k: v for k, v in cfg[group].items() if k != "name"}


def load_dataset(cfg: dict[str, Any]) -> EEGData:
    entry = plugins.get("datasets", cfg["dataset"]["name"])
    data = entry.build(**_plugin_params(cfg, "dataset"))
    if not isinstance(data, EEGData):
        raise DataError(f"dataset {entry.name!r} returned {type(data).__name__}, not EEGData.")
    data.validate()
    data.name = data.name or entry.name
    return data


def compute_targets(cfg: dict[str, Any], data: EEGData, cache_dir: Path) -> tuple[np.ndarray, Any]:
    target = plugins.get("targets", cfg["target"]["name"]).build(**_plugin_params(cfg, "target"))
    return embed_cached(target, target_items(target, data), cache_dir), target


def run(cfg: dict[str, Any]) -> Pipeline:
    """Run one resolved config end to end; returns the pipeline and writes the run directory."""
    s1, s2, ev = core_section(cfg, "stage1"), core_section(cfg, "stage2"), core_section(cfg, "eval")
    precision = device_setup(cfg)
    prompt = core_section(cfg, "prompt")
    device = precision.device
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    timer = Timer()
    silence_library_progress()
    env = environment()
    generator = seed_everything(cfg["seed"])
    cache_dir = Path(cfg["cache_dir"]).expanduser()
    name = cfg["run_name"] or "-".join(
        [
            cfg["dataset"]["name"],
            cfg["encoder"]["name"],
            cfg["llm"]["name"],
            f"s{cfg['seed']}",
            env["started"].replace(":", "").replace("-", "")[:15],
        ]
    ).replace("/", "_").replace(":", "_")
    with timer.stage("data"):
        data = load_dataset(cfg)
        leakage = check_leakage(data)
        for warning in leakage:
            log(f"[yellow]warning:[/yellow] {warning}")
        log(
            f"dataset {data.name}: {data.n_trials} trials, {data.n_chans} channels x "
            f"{data.n_times} samples, {data.n_classes} classes"
        )
    run_dir = new_run_dir(cfg["output_dir"], name)
    atomic_write(run_dir / "config.yaml", dump(cfg))
    log(f"run directory: {run_dir}")

    with timer.stage("targets"):
        per_image, _ = compute_targets(cfg, data, cache_dir)
        if s1.center_targets:
            per_image = center_targets(per_image, data)
    tr, va, te = (data.splits[k] for k in ("train", "val", "test"))
    embed_dim = s1.embed_dim or per_image.shape[1]
    if embed_dim != per_image.shape[1] and s1.w_mse > 0:
        raise ConfigError(
            f"stage1.embed_dim={embed_dim} differs from the target's size {per_image.shape[1]}; "
            "the MSE needs them equal (or set stage1.w_mse=0)."
        )

    has_captions = data.captions is not None
    llm = projector = None
    if has_captions:
        with timer.stage("llm"):
            llm = (
                plugins.get("llms", cfg["llm"]["name"])
                .build(BuildContext(data, cache_dir, cfg["seed"]), **_plugin_params(cfg, "llm"))
                .to(device)
            )
    else:
        log(
            f"[yellow]dataset {data.name!r} has no captions: the LLM, stage 2 and the caption "
            "metrics are skipped[/yellow]"
        )
    with timer.stage("stage1"):
        torch.manual_seed(cfg["seed"])
        encoder = plugins.get("encoders", cfg["encoder"]["name"]).build(
            data.n_chans, data.n_times, **_plugin_params(cfg, "encoder")
        )
        model = EEGClassifier(encoder, embed_dim, data.n_classes).to(device)
        s1_result = train_stage1(
            model,
            data.X[tr],
            data.y[tr],
            per_image[data.image[tr]],
            data.X[va],
            data.y[va],
            s1,
            generator,
            precision=precision,
        )
    save_file(
        {k: v.contiguous().cpu() for k, v in model.state_dict().items()},
        str(run_dir / "eeg_classifier.safetensors"),
    )

    s2_record: dict[str, Any] = {"skipped": "the dataset has no captions"}
    if has_captions:
        with timer.stage("stage2"):
            s2_record = _stage2(cfg, s2, data, model, per_image, llm, generator, precision, prompt)
        projector = s2_record.pop("projector")
        save_file(
            {k: v.cpu() for k, v in projector.state_dict().items()},
            str(run_dir / "projector.safetensors"),
        )

    with timer.stage("evaluation"):
        evaluation = Evaluation(
            model,
            projector,
            llm,
            TestSet(data, te, per_image),
            ev,
            cfg["seed"],
            metric_params=cfg["metrics"],
            precision=precision,
            prompt=prompt,
        )
        metrics, controls = evaluation.run()
    real = evaluation.real
    if real.captions:
        write_predictions(
            Predictions(
                image=[data.image_names[i] for i in data.image[te]],
                expected_object=[data.class_names[k] for k in data.y[te]],
                predicted_object=[str(lbl) for lbl in real.labels],
                reference=evaluation.test.references,
                generated=real.captions,
            ),
            run_dir / "predictions.csv",
        )

    results = {
        "eegbench_version": __version__,
        **env,
        "seed": cfg["seed"],
        "hardware": describe_device(precision),
        "config": cfg,
        "dataset": {
            "name": data.name,
            "n_trials": data.n_trials,
            "n_chans": data.n_chans,
            "n_times": data.n_times,
            "sfreq": data.sfreq,
            "n_classes": data.n_classes,
            "class_names": data.class_names,
            "splits": {k: int(len(v)) for k, v in data.splits.items()},
            "hashes": data.fingerprint(),
            "leakage": leakage,
            **{k: data.info[k] for k in ("split", "preprocessing") if k in data.info},
        },
        "model": {
            "encoder_parameters": sum(p.numel() for p in encoder.parameters()),
            "encoder_features": encoder.n_features,
            "embed_dim": embed_dim,
            "d_model": llm.d_model if llm is not None else None,
        },
        "metrics": metrics,
        "controls": controls,
        "training": {
            "stage1": {
                "best_epoch": s1_result.best_epoch,
                "best_val_accuracy": s1_result.best_val_accuracy,
                "history": s1_result.history,
            },
            "stage2": s2_record,
        },
        "timings": {**timer.seconds, "total": round(timer.total(), 3)},
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "complete": True,
    }
    write_json(run_dir / "results.json", results)
    return Pipeline(cfg, data, per_image, model, projector, llm, run_dir, results)


def center_targets(per_image: np.ndarray, data: EEGData) -> np.ndarray:
    """Targets minus the mean over the training images, rescaled to unit length.

    Captions that share a template embed close together; without centring the shared direction
    dominates the MSE and an encoder can score well by predicting the mean caption.
    """
    mean = per_image[np.unique(data.image[data.splits["train"]])].mean(axis=0)
    centred = per_image - mean
    return (centred / np.linalg.norm(centred, axis=1, keepdims=True).clip(1e-8)).astype(np.float32)


def _stage2(cfg, s2, data, model, per_image, llm, generator, precision, prompt) -> dict[str, Any]:
    """Train the projector on each configured phase; returns its history and the projector."""
    tr = data.splits["train"]
    embed_dim = model.embed.out_features
    torch.manual_seed(cfg["seed"] + 1)
    projector = Projector(embed_dim, llm.d_model, s2.n_soft_tokens).to(precision.device)
    phases = []
    for phase in s2.phases:
        if phase == "target":
            if embed_dim != per_image.shape[1]:
                raise ConfigError("stage2 phase 'target' needs stage1.embed_dim = target size.")
            phases.append(("target", per_image[data.image[tr]]))
        else:
            phases.append(("eeg", predict(model, data.X[tr], precision=precision)[0]))
    result = train_stage2(
        llm,
        projector,
        phases,
        [data.class_names[k] for k in data.y[tr]],
        [data.captions[i] for i in data.image[tr]],
        s2,
        generator,
        precision=precision,
        prompt=prompt,
    )
    return {"history": result.history, "projector": projector}
