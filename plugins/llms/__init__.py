"""Built-in LLM backends (one table, ``LLMS``): any transformers causal LM (``hf``), GPT-2
(``gpt2``), and ``tiny-gpt2`` trained here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from eegbench.api import Ge, Gt, Register, Spec, hookimpl, register_all


@dataclass(frozen=True)
class HFParams:
    path: str = field(metadata={"help": "hub name or local model folder (required)"})
    revision: str | None = field(
        default=None,
        metadata={
            "help": "hub commit, branch or tag to load (default: main); the commit a run used "
            "is recorded in results.json (models.llm.revision): pass it here to pin it"
        },
    )
    download: bool = field(
        default=True,
        metadata={
            "help": "false: never fetch this LLM (it must be a local folder or in the Hugging "
            "Face cache); HF_HUB_OFFLINE=1 does that for every model"
        },
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = field(
        default="float32", metadata={"help": "weights' dtype (auto: as saved)"}
    )
    device_map: str | None = field(
        default=None,
        metadata={"help": "accelerate device map, e.g. auto (spread over the GPUs); null: device="},
    )
    quantization: Literal["none", "8bit", "4bit"] = field(
        default="none", metadata={"help": "bitsandbytes weight quantization (CUDA; extra 'quant')"}
    )
    random_weights: bool = field(
        default=False,
        metadata={
            "help": "the architecture with RANDOM weights, cut to 2 transformer layers, to "
            "rehearse a run without the weights (set by random_weights=true / --random-weights)"
        },
    )


@dataclass(frozen=True)
class GPT2Params(HFParams):
    path: str = field(
        default="gpt2",
        metadata={
            "help": "a GPT-2 checkpoint: gpt2, gpt2-medium, gpt2-large, gpt2-xl (hub names, "
            "from the cache) or a local folder holding one"
        },
    )


@dataclass(frozen=True)
class TinyParams:
    n_layer: Annotated[int, Ge(1)] = 2
    n_embd: Annotated[int, Ge(1)] = 128
    n_head: Annotated[int, Ge(1)] = 4
    vocab_size: Annotated[int, Ge(258)] = field(
        default=1024, metadata={"help": "byte-level BPE trained on captions"}
    )
    steps: Annotated[int, Ge(1)] = 400
    batch_size: Annotated[int, Ge(1)] = 32
    lr: Annotated[float, Gt(0)] = 3e-3
    prefix_tokens: Annotated[int, Ge(0)] = field(
        default=0,
        metadata={
            "help": "0: a plain LM. n > 0: also train it with n soft tokens after BOS that "
            "encode the caption (a linear map of its mean token embedding), so that a frozen "
            "tiny-gpt2 takes the projector's soft tokens; the encoder is thrown away"
        },
    )


def hf_preflight(params: Any) -> list[str]:
    """A local folder with config.json, or a hub model that is cached or can be fetched now
    (one bounded request to the hub; none when it is cached or requests are forbidden)."""
    from eegbench_plugins.llms.hf_loading import check_loading, offline_message

    from eegbench.api import ConfigError, hub, path_kind

    if params.random_weights:
        return []  # needs only a config and a tokenizer, checked when the LLM is built
    try:
        check_loading(params.device_map, params.quantization)
    except ConfigError as e:
        return [str(e).rstrip(".")]
    path, revision = params.path, params.revision
    local = Path(path).expanduser()
    kind = path_kind(local)
    if kind is not None and kind != "a directory":
        return [f"path={path!r} is {kind}, not a transformers model folder"]
    if kind is not None:
        if revision:
            return [f"revision={revision!r} pins a hub model, but path={path!r} is a local folder"]
        if not (local / "config.json").is_file():
            return [f"path={path!r} has no config.json: not a transformers model folder"]
        return []
    if not hub.is_repo_id(path):
        return [f"path={path!r} is neither a local folder nor a hub model name"]
    if hub.cached_model(path, revision) is not None:
        return []
    if not params.download or hub.offline():
        return [offline_message(path)]
    problem = hub.probe(path, revision)
    return [] if problem is None else [f"{problem}; {offline_message(path)}"]


def gpt2_preflight(params: Any) -> list[str]:
    """``hf``'s checks, and a local folder must hold a GPT-2 (``model_type: gpt2``)."""
    import json

    problems = hf_preflight(params)
    config = Path(params.path).expanduser() / "config.json"
    if problems or not config.is_file():
        return problems
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return [f"path={params.path!r}: config.json is not a JSON object"]
    if model_type != "gpt2":
        return [
            f"path={params.path!r} holds a {model_type!r} model, not GPT-2; use "
            f"llm=hf llm.path={params.path} for any other causal LM"
        ]
    return []


LLMS: tuple[Spec, ...] = (
    Spec(
        "hf",
        "eegbench_plugins.llms.hf:build_hf",
        params=HFParams,
        preflight=hf_preflight,
        citation=(
            "Wolf et al. 2020, Transformers: State-of-the-Art Natural Language Processing, "
            "EMNLP System Demonstrations; cite the model you load as well."
        ),
        description="any transformers causal LM by hub name or local folder (llm.path=)",
    ),
    Spec(
        "gpt2",
        "eegbench_plugins.llms.hf:build_gpt2",
        params=GPT2Params,
        preflight=gpt2_preflight,
        citation=(
            "Radford et al. 2019, Language Models are Unsupervised Multitask Learners, OpenAI."
        ),
        description="GPT-2 (gpt2 ... gpt2-xl) from the hub cache or a local folder",
    ),
    Spec(
        "tiny-gpt2",
        "eegbench_plugins.llms.tiny:build_tiny",
        params=TinyParams,
        citation="eegbench: GPT-2 architecture (Radford et al. 2019) trained on training captions.",
        description="small GPT-2 trained offline on the TRAINING captions, via from_pretrained",
    ),
)


@hookimpl
def register_llms(register: Register) -> None:
    register_all(register, LLMS)
