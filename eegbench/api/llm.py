"""The LLM contract: a frozen causal LM with its tokenizer, built by an ``llms`` plugin.

``factory(ctx: BuildContext, **params) -> CausalLM``. ``CausalLM`` wraps any transformers
causal LM; plugins differ only in where the weights come from.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eegbench.api.data import EEGData
from eegbench.api.errors import MissingWeightsError


@dataclass
class BuildContext:
    """What a plugin may need beyond its own parameters."""

    data: EEGData | None
    cache_dir: Path
    seed: int


class CausalLM:
    """A frozen causal LM: ``input_embeddings(ids)``, ``generate(inputs_embeds, mask)``."""

    def __init__(self, model: Any, tokenizer: Any, name: str = "") -> None:
        self.model = model.eval()
        if getattr(model, "loss_type", "") is None:  # e.g. GPT2LMHeadModel: name has no loss hint
            model.loss_type = "ForCausalLM"
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
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
    ) -> list[list[int]]:
        """Greedy decoding with KV cache from left-padded prompt embeddings; new tokens only.

        The repetition penalty applies to generated tokens (the prompt is embeddings, not ids).
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*repetition_penalty.*inputs_embeds")
            out = self._generate(inputs_embeds, attention_mask, max_new_tokens, repetition_penalty)
        result = []
        for row in out.tolist():
            if self.eos_token_id in row:
                row = row[: row.index(self.eos_token_id)]
            result.append(row)
        return result

    def _generate(self, inputs_embeds, attention_mask, max_new_tokens, repetition_penalty):
        return self.model.generate(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            repetition_penalty=repetition_penalty,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.eos_token_id,
        )


def load_pretrained(name_or_path: str, download: bool = False, dtype: str = "float32") -> CausalLM:
    """``AutoModelForCausalLM`` + ``AutoTokenizer`` from a local folder or the hub cache.

    Without ``download`` nothing is fetched: weights must be a local folder or already cached.
    """
    from eegbench._compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    local = Path(name_or_path).expanduser()
    source = str(local) if local.exists() else name_or_path
    if local.exists() and not (local / "config.json").exists():
        raise MissingWeightsError(
            f"{source!r} has no config.json: not a transformers model folder."
        )
    offline = not download or os.environ.get("HF_HUB_OFFLINE") == "1"
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, local_files_only=offline, dtype=getattr(torch, dtype)
        )
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
    except OSError as e:
        if local.exists():
            raise MissingWeightsError(f"cannot load LLM from {source!r}: {e}") from None
        raise MissingWeightsError(
            f"weights of {name_or_path!r} are not available offline. Download them where there "
            f"is internet (e.g. `hf download {name_or_path} --local-dir DIR`), copy DIR here "
            "and pass llm.path=DIR (or llm.download=true on a machine with internet)."
        ) from None
    return CausalLM(model, tokenizer, name=name_or_path)
