"""Inference from a finished run: ``load_run``, batch inference, and ``eegbench caption``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eegbench.config import GenerationSettings, PromptConfig
from eegbench.contract.errors import ConfigError, DataError
from eegbench.io import folder_problem
from eegbench.results.record import RunRecord
from eegbench.results.rundir import RunDir
from eegbench.train.device import Precision, module_device
from eegbench.train.generation import GREEDY, _as_llm, generate_captions
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.parts import Parts, build_parts, load_dataset
from eegbench.train.prompting import DEFAULT_PROMPT


@dataclass(frozen=True)
class LoadedRun:
    """A finished run loaded back: its ``parts`` with the trained weights, its folder and its
    record. The parts read through (``run.model``, ``run.llm``, ``run.prompt``, ...)."""

    parts: Parts
    run_dir: Path
    record: RunRecord

    config = property(lambda self: self.parts.config)
    data = property(lambda self: self.parts.data)
    targets = property(lambda self: self.parts.targets)
    model = property(lambda self: self.parts.model)
    projector = property(lambda self: self.parts.projector)
    llm = property(lambda self: self.parts.llm)
    precision = property(lambda self: self.parts.precision)
    encoder_precision = property(lambda self: self.parts.encoder_precision)
    prompt = property(lambda self: self.parts.prompt)


def check_run_dir(run_dir: str | Path) -> tuple[Path, RunRecord]:
    """The run directory and its record; DataError naming the first missing file.

    ``projector.safetensors`` is required only when the record says stage 2 ran.
    """
    run = Path(run_dir).expanduser()
    problem = folder_problem(run)
    if problem:
        raise DataError(f"run directory {str(run)!r} {problem}.")
    record = RunRecord.read(run)
    stage2 = record.training.stage2
    needed = [RunDir.CONFIG, RunDir.RESULTS, RunDir.ENCODER]
    needed += [] if stage2 is not None and stage2.skipped else [RunDir.PROJECTOR]
    missing = [f for f in needed if not (run / f).is_file()]
    if missing:
        raise DataError(
            f"run {str(run)!r} lacks {', '.join(missing)}; it is not a finished eegbench run "
            "directory (rerun it with `eegbench run --config CONFIG`)."
        )
    return run, record


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


def load_run(
    run_dir: str | Path, device: str | None = None, precision: str | None = None
) -> LoadedRun:
    """Rebuild a finished run's parts with ``build_parts``, as the run built them, and load its
    saved weights into them.

    The pipeline runs where and how the run did: on its ``device``, under its ``precision``
    (``pipe.precision``), with its ``prompt.*`` (``pipe.prompt``); ``device`` / ``precision``
    override them (``device="cpu"`` loads a GPU run on the CPU). ``llm`` and ``projector`` are
    None when the run's dataset has no captions. Raises DataError when the run is incomplete, a
    file is missing or corrupt, or the dataset no longer matches the one the run recorded, and
    ConfigError when its device or precision cannot run here.
    """
    from eegbench.config import build_config
    from eegbench.progress import silence_library_progress
    from eegbench.train.device import setup

    run, record = check_run_dir(run_dir)
    silence_library_progress()
    files = RunDir(run)
    model_path, projector_path = files.encoder, files.projector
    model_state = _read_weights(model_path)
    try:
        cfg = build_config([], base=files.config)
    except ConfigError as e:
        raise ConfigError(f"run {str(run)!r}: {e}") from None
    changes = {"device": device, "precision": precision}
    cfg = cfg.replace(**{k: v for k, v in changes.items() if v is not None})
    try:
        placed = setup(cfg, warn=False)
    except ConfigError as e:
        raise ConfigError(
            f"run {str(run)!r}: {str(e).rstrip('.')} (load_run(..., device=...), or --device "
            "on the command line)."
        ) from None
    data = load_dataset(cfg)
    current = data.fingerprint()
    changed = [k for k, v in record.dataset.hashes.items() if current.get(k) != v]
    if changed:
        raise DataError(
            f"the dataset loaded from {str(files.config)!r} differs from the run's "
            f"({', '.join(changed)} hash changed); the files or the dataset plugin have changed."
        )
    parts = build_parts(cfg, data, placed)
    _apply_weights(parts.model, model_state, model_path)
    if parts.projector is not None:
        if not projector_path.is_file():
            raise DataError(
                f"run {str(run)!r} lacks {RunDir.PROJECTOR} although its dataset has captions; "
                "rerun it with `eegbench run --config CONFIG`."
            )
        _apply_weights(parts.projector, _read_weights(projector_path), projector_path)
    return LoadedRun(parts, run, record)


def require_captioner(pipe: LoadedRun) -> None:
    """DataError unless the run has an LLM and projector (its dataset has captions)."""
    if pipe.llm is None or pipe.projector is None:
        raise DataError(
            f"run {str(pipe.run_dir)!r} has no LLM or projector: its dataset has no captions, "
            "so stage 2 was skipped and there is nothing to caption."
        )


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
    generation: GenerationSettings = GREEDY,
    prompt: PromptConfig = DEFAULT_PROMPT,
    precision: Precision | None = None,
    encoder_precision: Precision | None = None,
) -> tuple[list[str], torch.Tensor, torch.Tensor | None]:
    """Captions, projected embeddings and EEG-target similarity for a batch of trials.

    ``eeg_batch`` ``[B, C, T]``; ``object_labels`` one label per trial; ``hclip_batch`` ``[B, D]``
    target embeddings of the same trials (or None). ``llm`` is a ``CausalLM`` or a transformers
    causal LM (then ``tokenizer`` is required). ``prompt`` and ``precision`` are those the
    projector was trained with: for a run from ``load_run`` pass ``pipe.prompt`` and
    ``pipe.precision`` (None: float32 on the classifier's device), and ``encoder_precision``
    ``pipe.encoder_precision`` (None: ``precision``). Returns ``(captions,
    projected [B, n_tokens, d_model], similarity [B, B])`` on the host; ``similarity[i, j]`` is
    the cosine between EEG embedding ``i`` and target ``j`` (None without targets).
    """
    x = torch.as_tensor(eeg_batch, dtype=torch.float32)
    if x.dim() != 3:
        raise DataError(f"eeg_batch must be [B, C, T], got shape {tuple(x.shape)}.")
    if len(object_labels) != x.shape[0]:
        raise DataError(f"{len(object_labels)} object labels for {x.shape[0]} EEG trials.")
    precision = precision or Precision(module_device(eeg_classifier))
    emb = torch.from_numpy(eeg_classifier.predict(x, precision=encoder_precision or precision)[0])
    targets = None
    if hclip_batch is not None:
        targets = torch.as_tensor(hclip_batch, dtype=torch.float32)
        if targets.shape != emb.shape:
            raise DataError(
                f"hclip_batch has shape {tuple(targets.shape)}; the EEG embeddings are "
                f"{tuple(emb.shape)} (one target per trial, in the embedding space)."
            )
    projector.eval()
    with precision.autocast():
        projected = projector(emb.to(module_device(projector))).float().cpu()
    captions = generate_captions(
        _as_llm(llm, tokenizer),
        projector,
        emb,
        list(object_labels),
        batch_size=max(1, x.shape[0]),
        max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty,
        precision=precision,
        prompt=prompt,
        generation=generation,
    )
    similarity = None if targets is None else cosine_matrix(emb, targets)
    return captions, projected, similarity


def trial_index(pipe: LoadedRun, n: int) -> int:
    """Dataset index of test trial ``n`` (the row of predictions.csv)."""
    test = pipe.data.splits["test"]
    if not 0 <= n < len(test):
        raise DataError(f"--trial {n} is out of range: the test split has {len(test)} trials.")
    return int(test[n])
