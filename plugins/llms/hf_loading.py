"""Hugging Face loading for the LLM backends: a transformers causal LM and its tokenizer from a
local folder or the hub (``load_pretrained``, with a dtype, a device map or bitsandbytes
quantization), or an architecture with random weights to rehearse a run (``random_pretrained``).

``hf``, ``gpt2`` and ``tiny-gpt2`` load through here; a third-party LLM plugin may too
(``from eegbench_plugins.llms.hf_loading import load_pretrained``): eegbench ships this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from eegbench.api import CausalLM, ConfigError, MissingWeightsError, hub

DTYPES = ("float32", "bfloat16", "float16", "auto")
QUANTIZATIONS = ("none", "8bit", "4bit")

REHEARSAL_LAYERS = 2
"""Transformer layers a random-weights model keeps (``--random-weights``)."""


def check_loading(device_map: str | None = None, quantization: str = "none") -> None:
    """Raise one line when ``device_map`` or ``quantization`` cannot run here."""
    import importlib.util

    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"quantization={quantization!r}: use none, 8bit or 4bit.")
    if quantization != "none":
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(
                f"quantization={quantization} needs bitsandbytes: pip install 'eegbench[quant]'."
            )
        if not torch.cuda.is_available():
            raise ConfigError(
                f"quantization={quantization} (bitsandbytes) needs a CUDA GPU, and none is "
                "visible; use quantization=none."
            )
    if (device_map or quantization != "none") and importlib.util.find_spec("accelerate") is None:
        raise ConfigError(
            "device_map and quantization need accelerate: pip install 'eegbench[quant]'."
        )


def offline_message(name: str) -> str:
    """The one line for a hub LLM that is not cached and may not be fetched."""
    return (
        f"weights of {name!r} are not available offline (not in the Hugging Face cache); "
        f"download them where there is internet (`hf download {name} --local-dir DIR`) and "
        "pass llm.path=DIR"
    )


def model_files(name: str, folder: Path) -> tuple[hub.ModelFiles, hub.ModelFiles]:
    """What a run records of a causal LM loaded from ``folder``: the model and its tokenizer."""
    revision = hub.snapshot_commit(folder)
    weights = hub.files_matching(folder, (*hub.MODEL_FILES, *hub.PYTORCH_FILES))
    tokenizer = hub.files_matching(folder, hub.TOKENIZER_FILES)
    return (
        hub.ModelFiles("llm", name, folder, revision, weights),
        hub.ModelFiles("tokenizer", name, folder, revision, tokenizer),
    )


def load_pretrained(
    name_or_path: str,
    download: bool = True,
    dtype: str = "float32",
    device_map: str | None = None,
    quantization: str = "none",
    revision: str | None = None,
) -> CausalLM:
    """``AutoModelForCausalLM`` + ``AutoTokenizer`` from a local folder or a hub model.

    A hub model is read from the Hugging Face cache at ``revision`` (default: main), fetched
    into it first when missing (unless ``download`` is false or ``HF_HUB_OFFLINE=1``).
    ``dtype``: the weights' dtype (``auto``: as saved). ``device_map`` (e.g. ``auto``) spreads
    the model over the visible devices with accelerate; ``quantization`` (8bit, 4bit) loads it
    with bitsandbytes (CUDA only). The result's ``sources`` name the files read.
    """
    _check_dtype(dtype)
    check_loading(device_map, quantization)
    folder = _model_folder(name_or_path, revision, download)
    _quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = _loading_options(dtype, device_map, quantization)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except OSError as e:
        raise MissingWeightsError(f"cannot load LLM from {str(folder)!r}: {e}") from None
    llm = CausalLM(
        model, tokenizer, name=name_or_path, placed=bool(device_map) or quantization != "none"
    )
    llm.sources = model_files(name_or_path, folder)
    return llm


def _check_dtype(dtype: str) -> None:
    """Raise one line when ``dtype`` is not one of ``DTYPES``."""
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype!r}: use one of {', '.join(DTYPES)}.")


def _model_folder(name_or_path: str, revision: str | None, download: bool) -> Path:
    """The transformers model folder of ``name_or_path``: a local folder as it is, a hub model
    from the Hugging Face cache at ``revision`` (fetched first when missing and ``download``)."""
    local = Path(name_or_path).expanduser()
    if not local.exists():
        return hub.model_snapshot(
            name_or_path, revision, offline_message(name_or_path) + ".", download
        )
    if revision:
        raise ConfigError(
            f"llm.revision={revision!r} pins a hub model, but {name_or_path!r} is a local "
            "folder; drop llm.revision."
        )
    if not (local / "config.json").exists():
        raise MissingWeightsError(
            f"{str(local)!r} has no config.json: not a transformers model folder."
        )
    return local


def _quiet_transformers() -> None:
    """Make transformers importable here and silence its logging below errors."""
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _loading_options(dtype: str, device_map: str | None, quantization: str) -> dict[str, Any]:
    """The keyword arguments of ``from_pretrained`` for a dtype, device map and quantization."""
    kwargs: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
    if device_map:
        kwargs["device_map"] = device_map
    if quantization != "none":
        kwargs["quantization_config"] = _quantization_config(quantization, dtype)
    return kwargs


def _quantization_config(quantization: str, dtype: str) -> Any:
    """bitsandbytes settings: 8-bit weights, or 4-bit NF4 computing in ``dtype`` (``auto``:
    bfloat16)."""
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16 if dtype == "auto" else getattr(torch, dtype),
    )


def _architecture_from_name(name: str) -> str | None:
    """The transformers ``model_type`` a hub name spells (``mistralai/Mistral-7B-...`` ->
    ``mistral``): the longest registered model type found in the name, else None."""
    from transformers import CONFIG_MAPPING

    flat = name.lower().replace("-", "").replace("_", "").rsplit("/", 1)[-1]
    found = [t for t in CONFIG_MAPPING if t.replace("-", "").replace("_", "") in flat]
    return max(found, key=len) if found else None


def _layer_key(config: Any) -> str:
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if isinstance(getattr(config, key, None), int):
            return key
    raise ConfigError(f"cannot tell how many layers a {type(config).__name__} has.")


def random_pretrained(
    name_or_path: str, seed: int, dtype: str = "float32", layers: int = REHEARSAL_LAYERS
) -> tuple[CausalLM, str]:
    """The architecture of ``name_or_path`` with random weights (seeded by ``seed``), cut to
    ``layers`` transformer layers: for rehearsing a run where the weights are not at hand.

    The config is the folder's (or hub cache's) ``config.json``, else the defaults of the
    transformers config class the name spells; the tokenizer (and its chat template) must be
    in the folder or the cache. Returns the model and one line saying what was built.
    """
    _check_dtype(dtype)
    _quiet_transformers()
    from transformers import AutoModelForCausalLM

    local = Path(name_or_path).expanduser()
    source = str(local) if local.exists() else name_or_path
    config, where = _rehearsal_config(source, name_or_path)
    tokenizer = _rehearsal_tokenizer(source, name_or_path, config)
    key = _layer_key(config)
    full = getattr(config, key)
    setattr(config, key, min(layers, full))
    if len(tokenizer) > config.vocab_size:
        raise ConfigError(
            f"the tokenizer of {name_or_path!r} has {len(tokenizer)} tokens, more than the "
            f"{config.vocab_size} of its config; they do not belong together."
        )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(
            config, dtype=torch.float32 if dtype == "auto" else getattr(torch, dtype)
        )
    arch = type(model).__name__
    line = f"{arch} with RANDOM weights from {where}, {getattr(config, key)} of {full} layers"
    return CausalLM(model, tokenizer, name=name_or_path), line


def _rehearsal_config(source: str, name_or_path: str) -> tuple[Any, str]:
    """The transformers config of ``source`` (its ``config.json``), else the defaults of the
    config class ``name_or_path`` spells; with where it came from, in words."""
    from transformers import CONFIG_MAPPING, AutoConfig

    try:
        return AutoConfig.from_pretrained(source, local_files_only=True), "its config.json"
    except (OSError, ValueError):
        model_type = _architecture_from_name(name_or_path)
        if model_type is None:
            raise MissingWeightsError(
                f"--random-weights cannot tell the architecture of {name_or_path!r}: give a "
                "folder holding its config.json and tokenizer (llm.path=DIR)."
            ) from None
        config = CONFIG_MAPPING[model_type]()
        return config, f"{type(config).__name__}'s defaults (no config.json here)"


def _rehearsal_tokenizer(source: str, name_or_path: str, config: Any) -> Any:
    """The tokenizer of ``source`` (a folder or the hub cache), which a rehearsal cannot invent."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, TypeError):
        raise MissingWeightsError(
            f"--random-weights builds {type(config).__name__} for {name_or_path!r} but needs its "
            "tokenizer: put the tokenizer files (tokenizer.json, tokenizer_config.json) in a "
            "folder and pass llm.path=DIR."
        ) from None
