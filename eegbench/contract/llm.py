"""The LLM contract: a frozen causal LM with its tokenizer, built by an ``llms`` plugin.

``factory(ctx: BuildContext, **params) -> CausalLM``. ``CausalLM`` wraps any transformers
causal LM; plugins differ only in where the weights come from. Loading one from a folder or
the Hugging Face hub is the built-in plugins' code (``eegbench_plugins.llms.hf_loading``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eegbench.contract import hub
from eegbench.contract.data import EEGData
from eegbench.contract.errors import ConfigError


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
