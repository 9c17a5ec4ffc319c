"""Inference from a finished run: ``load_run``, batch inference, and ``eegbench caption``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eegbench import plugins
from eegbench.api.errors import ConfigError, DataError
from eegbench.api.llm import BuildContext
from eegbench.train.generation import _as_llm, generate_captions
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.runner import Pipeline, center_targets, compute_targets, load_dataset

RUN_FILES = ("config.yaml", "results.json", "eeg_classifier.safetensors", "projector.safetensors")


def _read_results(run: Path) -> dict[str, Any]:
    path = run / "results.json"
    if not path.is_file():
        raise DataError(
            f"run {str(run)!r} is incomplete: no results.json (the run crashed or is still "
            "running); rerun it with `eegbench run --config CONFIG`."
        )
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{str(path)!r} is corrupt ({e}); rerun the run.") from None
    if not isinstance(results, dict) or results.get("complete") is not True:
        raise DataError(f"run {str(run)!r} is incomplete: results.json is not marked complete.")
    return results


def check_run_dir(run_dir: str | Path) -> Path:
    """The run directory as a Path; DataError naming the first missing file."""
    run = Path(run_dir).expanduser()
    if not run.is_dir():
        raise DataError(f"run directory {str(run)!r} does not exist.")
    missing = [f for f in RUN_FILES if not (run / f).is_file()]
    if "results.json" in missing:
        _read_results(run)
    if missing:
        raise DataError(
            f"run {str(run)!r} lacks {', '.join(missing)}; it is not a finished eegbench run "
            "directory (rerun it with `eegbench run --config CONFIG`)."
        )
    return run


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise DataError(f"{str(path)!r} is corrupt ({e}); rerun the run.") from None


def _apply_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise DataError(
            f"{str(path)!r} does not match the model its config.yaml builds ({first}); "
            "was config.yaml edited after the run?"
        ) from None
    module.eval()


def _plugin_params(cfg: dict[str, Any], group: str) -> dict[str, Any]:
    return {k: v for k, v in cfg[group].items() if k != "name"}


def load_run(run_dir: str | Path) -> Pipeline:
    """Rebuild a finished run: data, targets, EEGClassifier and Projector with their weights, LLM.

    Raises DataError when the run is incomplete, a file is missing or corrupt, or the dataset
    no longer matches the one the run recorded.
    """
    from eegbench.config import build_config
    from eegbench.progress import silence_library_progress

    run = check_run_dir(run_dir)
    silence_library_progress()
    results = _read_results(run)
    model_path, projector_path = run / "eeg_classifier.safetensors", run / "projector.safetensors"
    model_state, projector_state = _read_weights(model_path), _read_weights(projector_path)
    try:
        cfg = build_config([], base=run / "config.yaml")
    except ConfigError as e:
        raise ConfigError(f"run {str(run)!r}: {e}") from None
    cache_dir = Path(cfg["cache_dir"]).expanduser()
    data = load_dataset(cfg)
    recorded = results.get("dataset", {}).get("hashes", {})
    current = data.fingerprint()
    changed = [k for k, v in recorded.items() if current.get(k) != v]
    if changed:
        raise DataError(
            f"the dataset loaded from {str(run / 'config.yaml')!r} differs from the run's "
            f"({', '.join(changed)} hash changed); the files or the dataset plugin have changed."
        )
    targets, _ = compute_targets(cfg, data, cache_dir)
    if cfg["stage1"]["center_targets"]:
        targets = center_targets(targets, data)  # as the run trained and scored them
    model_info = results.get("model", {})
    embed_dim = int(model_info.get("embed_dim") or cfg["stage1"]["embed_dim"] or targets.shape[1])
    encoder = plugins.get("encoders", cfg["encoder"]["name"]).build(
        data.n_chans, data.n_times, **_plugin_params(cfg, "encoder")
    )
    model = EEGClassifier(encoder, embed_dim, data.n_classes)
    _apply_weights(model, model_state, model_path)
    llm = plugins.get("llms", cfg["llm"]["name"]).build(
        BuildContext(data, cache_dir, cfg["seed"]), **_plugin_params(cfg, "llm")
    )
    projector = Projector(
        embed_dim,
        llm.d_model,
        cfg["stage2"]["n_soft_tokens"],
        normalize=cfg["stage2"]["normalize_inputs"],
    )
    _apply_weights(projector, projector_state, projector_path)
    return Pipeline(cfg, data, targets, model, projector, llm, run, results)


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[n, m]`` cosine similarities between the rows of ``a`` and the rows of ``b``."""
    return F.normalize(a.float(), dim=1) @ F.normalize(b.float(), dim=1).T


@torch.no_grad()
def batch_inference_and_visualize(
    eeg_batch: np.ndarray | torch.Tensor,
    object_labels: list[str | None],
    hclip_batch: np.ndarray | torch.Tensor | None,
    eeg_classifier: EEGClassifier,
    projector: Projector,
    llm: Any,
    tokenizer: Any = None,
    *,
    max_new_tokens: int = 32,
    repetition_penalty: float = 1.1,
) -> tuple[list[str], torch.Tensor, torch.Tensor | None]:
    """Captions, projected embeddings and EEG-target similarity for a batch of trials.

    ``eeg_batch`` ``[B, C, T]``; ``object_labels`` one label per trial; ``hclip_batch`` ``[B, D]``
    target embeddings of the same trials (or None). ``llm`` is a ``CausalLM`` or a transformers
    causal LM (then ``tokenizer`` is required). Returns ``(captions, projected [B, n_tokens,
    d_model], similarity [B, B])``; ``similarity[i, j]`` is the cosine between EEG embedding ``i``
    and target ``j`` (None without targets).
    """
    x = torch.as_tensor(eeg_batch, dtype=torch.float32)
    if x.dim() != 3:
        raise DataError(f"eeg_batch must be [B, C, T], got shape {tuple(x.shape)}.")
    if len(object_labels) != x.shape[0]:
        raise DataError(f"{len(object_labels)} object labels for {x.shape[0]} EEG trials.")
    eeg_classifier.eval()
    projector.eval()
    emb, _ = eeg_classifier(x)
    targets = None
    if hclip_batch is not None:
        targets = torch.as_tensor(hclip_batch, dtype=torch.float32)
        if targets.shape != emb.shape:
            raise DataError(
                f"hclip_batch has shape {tuple(targets.shape)}; the EEG embeddings are "
                f"{tuple(emb.shape)} (one target per trial, in the embedding space)."
            )
    projected = projector(emb)
    captions = generate_captions(
        _as_llm(llm, tokenizer),
        projector,
        emb,
        list(object_labels),
        batch_size=max(1, x.shape[0]),
        max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty,
    )
    similarity = None if targets is None else cosine_matrix(emb, targets)
    return captions, projected, similarity


def trial_index(pipe: Pipeline, n: int) -> int:
    """Dataset index of test trial ``n`` (the row of predictions.csv)."""
    test = pipe.data.splits["test"]
    if not 0 <= n < len(test):
        raise DataError(f"--trial {n} is out of range: the test split has {len(test)} trials.")
    return int(test[n])
