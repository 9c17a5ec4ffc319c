"""The LLM contract: a frozen causal LM with its tokenizer, built by an ``llms`` plugin.

``factory(ctx: BuildContext, **params) -> CausalLM``. ``CausalLM`` wraps any transformers
causal LM; plugins differ only in where the weights come from.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eegbench.api import hub
from eegbench.api.data import EEGData
from eegbench.api.errors import ConfigError, MissingWeightsError


@dataclass
class BuildContext:
    """What a plugin may need beyond its own parameters."""

    data: EEGData | None
    cache_dir: Path
    seed: int


INSTRUCTION = " Describe this in one sentence:"
"""The instruction of the plain prompt (``<image> <object> Describe this in one sentence:``)."""


def prompt_text(label: str | None, caption: str | None = None) -> str:
    """The text part of a plain prompt as a language model sees it (no soft tokens)."""
    text = (f" {label}" if label else "") + INSTRUCTION
    return text + (f" {caption.strip()}" if caption is not None else "")


class CausalLM:
    """A frozen causal LM: ``input_embeddings(ids)``, ``generate(inputs_embeds, mask)``."""

    def __init__(self, model: Any, tokenizer: Any, name: str = "", placed: bool = False) -> None:
        self.model = model.eval()
        self.placed = placed  # put on its devices when loaded (device_map, quantization)
        if getattr(model, "loss_type", "") is None:  # e.g. GPT2LMHeadModel: name has no loss hint
            model.loss_type = "ForCausalLM"
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.sources: tuple[hub.ModelFiles, ...] = ()  # the files read (results.json ``models``)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    @property
    def d_model(self) -> int:
        return int(self.model.get_input_embeddings().embedding_dim)

    @property
    def context_length(self) -> int | None:
        """Positions the model can attend to (prompt + generated tokens), when it declares them."""
        cfg = getattr(self.model, "config", None)
        for key in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def bos_token_id(self) -> int:
        """The tokenizer's BOS; its EOS where it has none (GPT-2 uses one token for both)."""
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self.eos_token_id

    @property
    def stop_token_ids(self) -> list[int]:
        """Tokens that end a generation: the tokenizer's EOS and the model's configured EOS ids
        (instruct models end a turn with e.g. ``<|eot_id|>``)."""
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        ids = configured if isinstance(configured, list) else [configured]
        eos = self.eos_token_id
        return [eos, *(int(i) for i in ids if i is not None and int(i) != eos)]

    @property
    def device(self) -> torch.device:
        """Where the input embeddings live (inputs go there)."""
        return self.model.get_input_embeddings().weight.device

    def to(self, device: torch.device) -> CausalLM:
        """Move the model to ``device`` unless it was placed when loaded."""
        if not self.placed:
            self.model.to(device)
        return self

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def input_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids)

    def loss(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor):
        """Mean CE over positions whose label is not -100."""
        return self.model(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels
        ).loss

    @torch.no_grad()
    def generate(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int = 32,
        repetition_penalty: float = 1.0,
        options: Mapping[str, Any] | None = None,
    ) -> list[list[int]]:
        """Decoding with KV cache from left-padded prompt embeddings; new tokens only.

        Greedy unless ``options`` (transformers ``GenerationConfig`` fields: ``num_beams``,
        ``do_sample``, ``top_p``, ...) say otherwise; they are laid over the model's own
        generation config. The repetition penalty (and ``no_repeat_ngram_size``) apply to
        generated tokens (the prompt is embeddings, not ids).
        """
        config = self.generation_config(max_new_tokens, repetition_penalty, options)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*(repetition_penalty|no_repeat_ngram_size).*inputs_embeds"
            )
            out = self._generate(inputs_embeds, attention_mask, config)
        stops = set(self.stop_token_ids)
        result = []
        for row in out.tolist():
            ends = [k for k, t in enumerate(row) if t in stops]
            result.append(row[: ends[0]] if ends else row)
        return result

    @torch.no_grad()
    def generate_from_ids(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        max_new_tokens: int = 32,
        repetition_penalty: float = 1.0,
    ) -> list[list[int]]:
        """Greedy decoding from left-padded token ids; each row's prompt (padding removed) and
        its new tokens up to and including the first stop token. The repetition penalty acts
        on the prompt's ids too, as ``model.generate(input_ids=...)`` does."""
        out = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            generation_config=self.generation_config(max_new_tokens, repetition_penalty),
        )
        stops, width, rows = set(self.stop_token_ids), input_ids.shape[1], []
        for row, mask in zip(out.tolist(), attention_mask.tolist()):
            new = row[width:]
            ends = [k for k, t in enumerate(new) if t in stops]
            rows.append(row[width - sum(mask) : width] + (new[: ends[0] + 1] if ends else new))
        return rows

    def generation_config(
        self,
        max_new_tokens: int,
        repetition_penalty: float,
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """The transformers ``GenerationConfig`` of a ``generate`` call: the model's own, then
        greedy decoding to ``max_new_tokens`` with ``repetition_penalty``, then ``options``."""
        import copy

        from transformers import GenerationConfig

        own = getattr(self.model, "generation_config", None)
        config = copy.deepcopy(own) if own is not None else GenerationConfig()
        settings = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "num_beams": 1,
            "repetition_penalty": repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.stop_token_ids,
        }
        unknown = config.update(**{**settings, **dict(options or {})})
        if unknown:
            raise ConfigError(
                f"generation options {sorted(unknown)} are not GenerationConfig fields."
            )
        return config

    def _generate(self, inputs_embeds, attention_mask, config):
        head = self.model.get_output_embeddings()
        hook = None if head is None else head.register_forward_pre_hook(_contiguous_input)
        try:
            return self.model.generate(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                generation_config=config,
                logits_processor=_penalty_of_generated_tokens(config),
            )
        finally:
            if hook is not None:
                hook.remove()


def _penalty_of_generated_tokens(config: Any) -> Any:
    """transformers' repetition penalty over every generated token of each row.

    Given ``inputs_embeds`` alone, the ids ``generate`` hands the penalty are the generated
    tokens only, but transformers takes each row's left padding as a prompt to skip in them, so
    a padded row left its first tokens unpenalised: a caption depended on the batch it was
    generated in. This processor (same class, no prompt to skip) takes the default's place.
    """
    from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

    penalty = config.repetition_penalty
    if penalty is None or penalty == 1.0:
        return LogitsProcessorList()
    return LogitsProcessorList([RepetitionPenaltyLogitsProcessor(penalty)])


def _contiguous_input(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The LM head's input as one contiguous block: after the prompt, generation hands it the
    last position of every row (a strided view), which a batched matmul reads 8x slower than
    a copy (0.8 s of a 64-row GPT-2-small generation on a CPU)."""
    return (args[0].contiguous(), *args[1:])


DTYPES = ("float32", "bfloat16", "float16", "auto")
QUANTIZATIONS = ("none", "8bit", "4bit")


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
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype!r}: use one of {', '.join(DTYPES)}.")
    check_loading(device_map, quantization)
    local = Path(name_or_path).expanduser()
    if local.exists():
        if revision:
            raise ConfigError(
                f"llm.revision={revision!r} pins a hub model, but {name_or_path!r} is a local "
                "folder; drop llm.revision."
            )
        if not (local / "config.json").exists():
            raise MissingWeightsError(
                f"{str(local)!r} has no config.json: not a transformers model folder."
            )
        folder = local
    else:
        folder = hub.model_snapshot(
            name_or_path, revision, offline_message(name_or_path) + ".", download
        )
    from eegbench._compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    kwargs: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
    if device_map:
        kwargs["device_map"] = device_map
    if quantization != "none":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_8bit=True)
            if quantization == "8bit"
            else BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=torch.bfloat16 if dtype == "auto" else getattr(torch, dtype),
            )
        )
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


REHEARSAL_LAYERS = 2
"""Transformer layers a random-weights model keeps (``--random-weights``)."""


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
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype!r}: use one of {', '.join(DTYPES)}.")
    from eegbench._compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers import CONFIG_MAPPING, AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    local = Path(name_or_path).expanduser()
    source = str(local) if local.exists() else name_or_path
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
        where = "its config.json"
    except (OSError, ValueError):
        model_type = _architecture_from_name(name_or_path)
        if model_type is None:
            raise MissingWeightsError(
                f"--random-weights cannot tell the architecture of {name_or_path!r}: give a "
                "folder holding its config.json and tokenizer (llm.path=DIR)."
            ) from None
        config = CONFIG_MAPPING[model_type]()
        where = f"{type(config).__name__}'s defaults (no config.json here)"
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, TypeError):
        raise MissingWeightsError(
            f"--random-weights builds {type(config).__name__} for {name_or_path!r} but needs its "
            "tokenizer: put the tokenizer files (tokenizer.json, tokenizer_config.json) in a "
            "folder and pass llm.path=DIR."
        ) from None
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
