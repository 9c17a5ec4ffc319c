"""The one builder of a run's parts: dataset, targets, encoder with heads, LLM and projector.

``eegbench run`` (``eegbench.runner``) trains the parts ``build_parts`` gives and ``load_run``
(``tools/inference.py``) loads saved weights into them, so an option such as
``stage1.center_targets`` is honoured by both or by neither.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eegbench import plugins
from eegbench.checks import check_dataset, check_encoder, check_targets, who
from eegbench.config import PromptConfig, RunConfig, Stage2Config
from eegbench.contract.data import EEGData
from eegbench.contract.encoder import EncoderContext, build_encoder
from eegbench.contract.errors import ConfigError, PluginError
from eegbench.contract.hub import ModelFiles
from eegbench.contract.llm import BuildContext, CausalLM
from eegbench.contract.registry import RunSeeded
from eegbench.contract.target import Target, embed_cached, target_items, target_sources
from eegbench.data.splits import rehearsal_splits
from eegbench.data.trialcache import trial_cache
from eegbench.train.device import FP32, Precision, encoder_precision
from eegbench.train.model import EEGClassifier, Projector


@dataclass(frozen=True)
class RNGState:
    """torch's global RNG states: the CPU generator's and, on a CUDA run, each GPU's (which
    ``torch.manual_seed`` seeds too and dropout on the GPU draws from)."""

    cpu: torch.Tensor
    cuda: tuple[torch.Tensor, ...] = ()

    @classmethod
    def now(cls, device: torch.device) -> RNGState:
        cuda = tuple(torch.cuda.get_rng_state_all()) if device.type == "cuda" else ()
        return cls(torch.get_rng_state(), cuda)

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda:
            torch.cuda.set_rng_state_all(list(self.cuda))


@dataclass(frozen=True)
class InitRNG:
    """The RNG states the seeded initialisations left: where stage 1 (``encoder``) and stage 2
    (``projector``) start drawing (dropout), whatever was built in between."""

    encoder: RNGState
    projector: RNGState


@dataclass
class Parts:
    """A config's pipeline, built and untrained: the dataset, the per-image targets ``[n_images,
    D]``, the encoder with its heads, the LLM and the projector on ``precision``'s device.

    ``llm`` and ``projector`` are None for a dataset without captions (stage 2 is skipped).
    Training changes the modules' weights in place.
    """

    config: RunConfig
    data: EEGData
    targets: np.ndarray
    target_sources: tuple[ModelFiles, ...]  # the files of the model the target read
    dim: int  # the EEG embedding size D
    model: EEGClassifier
    projector: Projector | None
    llm: CausalLM | None
    precision: Precision = FP32
    rng: InitRNG | None = None

    @property
    def encoder_precision(self) -> Precision:
        """The autocast the encoder runs under (``stage1.precision``, else ``precision``)."""
        return encoder_precision(self.config, self.precision)

    @property
    def prompt(self) -> PromptConfig:
        """The config's ``prompt`` section: the prompt the projector was trained with."""
        return self.config.prompt


def cache_dir(cfg: RunConfig) -> Path:
    return Path(cfg.cache_dir).expanduser()


def dataset_params(cfg: RunConfig) -> Any:
    """The dataset's parameters as its factory gets them: a ``seed`` parameter left null (a
    simulated dataset's world, ``RunSeeded``) becomes the run's ``seed``, so every seed draws
    another world."""
    params = cfg.dataset.params
    if isinstance(params, RunSeeded) and params.seed is None:
        return dataclasses.replace(params, seed=cfg.seed)
    return params


def load_dataset(cfg: RunConfig) -> EEGData:
    """The configured dataset, checked against the EEGData contract (one-line errors); its
    preprocessed trials are cached under ``cache_dir/trials`` (``dataset.cache``).

    A dataset whose ``seed`` the config leaves null is drawn from the run's seed
    (``info["seed_from_run"]``, recorded in results.json). A rehearsal (``fast_dev_run``) keeps
    one training batch and a few test trials."""
    entry = plugins.get("datasets", cfg.dataset.name)
    params = dataset_params(cfg)
    with trial_cache(cache_dir(cfg)):
        data = entry.make(params)
    check_dataset(entry, data)
    data.name = data.name or entry.name
    if params is not cfg.dataset.params:
        data.info["seed_from_run"] = True
    if cfg.limits is not None:
        data = rehearsal_splits(data, cfg.limits)
    return data


def build_target(cfg: RunConfig) -> Target:
    """The configured target embedder."""
    entry = plugins.get("targets", cfg.target.name)
    return entry.make(cfg.target.params)


def build_targets(cfg: RunConfig, data: EEGData) -> np.ndarray:
    """Per-image target embeddings ``[n_images, D]`` (centred if ``stage1.center_targets``),
    checked against the target contract."""
    return embed_targets(cfg, data)[0]


def embed_targets(cfg: RunConfig, data: EEGData) -> tuple[np.ndarray, tuple[ModelFiles, ...]]:
    """``build_targets`` and the files of the model the target read (``Target.sources``)."""
    entry = plugins.get("targets", cfg.target.name)
    target = build_target(cfg)
    items = target_items(target, data)
    try:
        per_image = embed_cached(target, items, cache_dir(cfg))
    except PluginError as e:
        raise PluginError(f"{who(entry)}: {e}") from None
    check_targets(entry, target, per_image, len(items))
    if cfg.stage1.center_targets:
        per_image = center_targets(per_image, data)
    return per_image, target_sources(target)


def center_targets(per_image: np.ndarray, data: EEGData) -> np.ndarray:
    """Targets minus the mean over the training images, rescaled to unit length.

    Captions that share a template embed close together; without centring the shared direction
    dominates the MSE and an encoder can score well by predicting the mean caption.
    """
    mean = per_image[np.unique(data.image[data.splits["train"]])].mean(axis=0)
    centred = per_image - mean
    return (centred / np.linalg.norm(centred, axis=1, keepdims=True).clip(1e-8)).astype(np.float32)


def embed_dim(cfg: RunConfig, targets: np.ndarray) -> int:
    """The EEG embedding size D: ``stage1.embed_dim``, else the target's size."""
    s1 = cfg.stage1
    dim = s1.embed_dim or targets.shape[1]
    if dim != targets.shape[1] and s1.w_mse > 0:
        raise ConfigError(
            f"stage1.embed_dim={dim} differs from the target's size {targets.shape[1]}; "
            "the MSE needs them equal (or set stage1.w_mse=0)."
        )
    return dim


def build_llm(cfg: RunConfig, data: EEGData) -> CausalLM | None:
    """The configured LLM, or None when the dataset has no captions (nothing to generate)."""
    if data.captions is None:
        return None
    entry = plugins.get("llms", cfg.llm.name)
    return entry.make(cfg.llm.params, BuildContext(data, cache_dir(cfg), cfg.seed))


def probe_encoder(cfg: RunConfig, data: EEGData) -> None:
    """Build the configured encoder once and run it on two training trials (the contract
    check, before any expensive step); the global RNG is left untouched."""
    entry = plugins.get("encoders", cfg.encoder.name)
    with torch.random.fork_rng():
        probe = build_encoder(entry, EncoderContext.of(data), cfg.encoder.params)
        check_encoder(entry, probe, data.X[data.splits["train"]])


def build_model(cfg: RunConfig, data: EEGData, dim: int) -> EEGClassifier:
    """The configured encoder with the embedding and classifier heads, seeded by ``seed``."""
    torch.manual_seed(cfg.seed)
    entry = plugins.get("encoders", cfg.encoder.name)
    encoder = build_encoder(entry, EncoderContext.of(data), cfg.encoder.params)
    return EEGClassifier(encoder, dim, data.n_classes)


def build_projector(cfg: RunConfig, dim: int, llm: CausalLM | None) -> Projector | None:
    """The projector into ``llm``'s embedding space (None without an LLM)."""
    if llm is None:
        return None
    return new_projector(cfg.seed, dim, llm, cfg.stage2)


def new_projector(seed: int, dim: int, llm: CausalLM, s2: Stage2Config) -> Projector:
    """A projector ``D -> n_soft_tokens x d_model``, initialised from seed ``seed + 1``."""
    torch.manual_seed(seed + 1)
    return Projector(dim, llm.d_model, s2.n_soft_tokens, normalize=s2.normalize_inputs)


def build_parts(
    cfg: RunConfig,
    data: EEGData | None = None,
    precision: Precision = FP32,
    step: Callable[[str], AbstractContextManager[Any]] = lambda name: nullcontext(),
) -> Parts:
    """Every part of ``cfg``'s pipeline, untrained, on ``precision``'s device: the one builder of
    ``eegbench run`` (which trains the parts) and ``load_run`` (which loads weights into them).

    ``data``: the dataset of this config, already loaded. ``step(name)`` wraps each step
    (``data``, ``targets``, ``llm``, ``model``), e.g. to time it. The encoder and the projector are
    initialised from their seeds; each records the torch RNG state its initialisation left, so
    that its training starts from the same state whatever is built in between (``Parts.rng``).
    """
    with step("data"):
        if data is None:
            data = load_dataset(cfg)
        probe_encoder(cfg, data)
    with step("targets"):
        targets, sources = embed_targets(cfg, data)
        dim = embed_dim(cfg, targets)
    with step("llm"):
        llm = build_llm(cfg, data)
        if llm is not None:
            llm = llm.to(precision.device)
            check_context(cfg, llm)
    with step("model"):
        model = build_model(cfg, data, dim).to(precision.device)
        encoder_rng = RNGState.now(precision.device)
        projector = build_projector(cfg, dim, llm)
        projector_rng = RNGState.now(precision.device)
    if projector is not None:
        projector = projector.to(precision.device)
    return Parts(
        cfg, data, targets, sources, dim, model, projector, llm, precision,
        InitRNG(encoder_rng, projector_rng),
    )  # fmt: skip


def check_context(cfg: RunConfig, llm: CausalLM) -> None:
    """ConfigError when the generated tokens and the prompt do not fit the LLM's context."""
    n_ctx, n_new = llm.context_length, cfg.eval.max_new_tokens
    if n_ctx is not None and n_new + cfg.stage2.n_soft_tokens >= n_ctx:
        raise ConfigError(
            f"eval.max_new_tokens={n_new} does not fit the LLM's context of {n_ctx} tokens with "
            f"the prompt; use eval.max_new_tokens={max(1, n_ctx // 2)} or less."
        )
