"""Caption generation: batched decoding with a KV cache (greedy unless ``eval.generation`` says
otherwise), and the single-trial API."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from eegbench.config import GenerationSettings, PromptConfig
from eegbench.contract.llm import INSTRUCTION, CausalLM
from eegbench.progress import task
from eegbench.train.device import FP32, Precision, module_device
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.prompting import (
    DEFAULT_PROMPT,
    IMAGE,
    build_batch,
    thought2text_render,
    uses_chat,
)

GREEDY = GenerationSettings()
"""Thought2Text's decoding: greedy (with ``eval.repetition_penalty``)."""


@torch.no_grad()
def generate_captions(
    llm: CausalLM,
    projector: Projector | None,
    embeddings: np.ndarray | torch.Tensor | None,
    labels: list[str | None],
    batch_size: int = 64,
    max_new_tokens: int = 32,
    repetition_penalty: float = 1.1,
    description: str = "generating captions",
    precision: Precision = FP32,
    prompt: PromptConfig = DEFAULT_PROMPT,
    generation: GenerationSettings = GREEDY,
) -> list[str]:
    """One caption per row; ``embeddings=None`` leaves out the ``<image>`` slot (ONLY_OBJ).

    ``generation``: beam search, sampling and the other ``GenerationConfig`` settings
    (``eval.generation``); the default is greedy decoding."""
    options = generation.as_generation_config()
    captions: list[str] = []
    emb = None if embeddings is None else torch.as_tensor(embeddings, dtype=torch.float32)
    n = len(labels)
    with task(description, total=n) as advance:
        for i in range(0, n, batch_size):
            with precision.autocast():
                soft = None
                if emb is not None and projector is not None:
                    soft = projector(emb[i : i + batch_size].to(module_device(projector)))
                batch = build_batch(
                    llm, soft, labels[i : i + batch_size], padding_side="left", prompt=prompt
                )
                ids = llm.generate(
                    batch.inputs_embeds,
                    batch.attention_mask,
                    max_new_tokens,
                    repetition_penalty,
                    options,
                )
            captions.extend(llm.decode(row) for row in ids)
            advance(len(ids))
    return captions


ECHOES = ("This image depicts", "The image shows", "This image shows", "The image depicts")
"""Phrases Thought2Text's ONLY_OBJ removes from its captions (inference_chance.py)."""


def after_label(output: str, label: str) -> str:
    """inference_chance.py's caption: the decoded prompt and reply after the label's first
    occurrence, the echo phrases removed, stripped (the whole output where the label is not
    found, which the prompt's own text rules out)."""
    _, found, rest = output.partition(label)
    text = rest if found else output
    for phrase in ECHOES:
        text = text.replace(phrase, "")
    return text.strip()


@torch.no_grad()
def generate_with_literal_slot(
    llm: CausalLM,
    labels: list[str],
    prompt: PromptConfig,
    batch_size: int = 64,
    max_new_tokens: int = 32,
    repetition_penalty: float = 1.1,
    description: str = "generating captions",
    precision: Precision = FP32,
) -> list[str]:
    """Thought2Text's ONLY_OBJ (inference_chance.py): the inference render with the literal
    text ``<image>`` left in, tokenized without special tokens, greedy from the token ids (so
    the repetition penalty also sees the prompt), the whole output decoded and cut after the
    label (:func:`after_label`). Rows are left-padded with their own first token, which the
    penalty already counts, so a batch decodes as Thought2Text's one trial at a time."""
    captions: list[str] = []
    with task(description, total=len(labels)) as advance:
        for i in range(0, len(labels), batch_size):
            chunk = labels[i : i + batch_size]
            rows = [llm.encode(literal_slot_text(llm, prompt, label)) for label in chunk]
            width = max(len(r) for r in rows)
            ids = torch.tensor([[r[0]] * (width - len(r)) + r for r in rows])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
            with precision.autocast():
                out = llm.generate_from_ids(ids, mask, max_new_tokens, repetition_penalty)
            decoded = llm.tokenizer.batch_decode(out, skip_special_tokens=True)
            captions.extend(after_label(text, label) for text, label in zip(decoded, chunk))
            advance(len(chunk))
    return captions


def literal_slot_text(llm: CausalLM, prompt: PromptConfig, label: str) -> str:
    """inference_chance.py's prompt text: the chat render with ``<image>`` left as text; for
    an LM without a chat template, the plain prompt's text after BOS (``<image> label
    Describe this in one sentence:``)."""
    if uses_chat(llm, prompt):
        return thought2text_render(llm, prompt, label)
    bos = llm.tokenizer.decode([llm.bos_token_id])
    return f"{bos}{IMAGE} {label}{INSTRUCTION}"


def _as_llm(llm: Any, tokenizer: Any) -> CausalLM:
    return llm if isinstance(llm, CausalLM) else CausalLM(llm, tokenizer)


@torch.no_grad()
def generate_caption(
    eeg_sample: np.ndarray | torch.Tensor,
    object_label: str,
    eeg_classifier: EEGClassifier,
    projector: Projector,
    llm: Any,
    tokenizer: Any = None,
    max_new_tokens: int = 32,
    repetition_penalty: float = 1.1,
    prompt: PromptConfig = DEFAULT_PROMPT,
    generation: GenerationSettings = GREEDY,
) -> str:
    """Caption for one EEG trial ``[C, T]`` (or ``[1, C, T]``) and an object label.

    ``llm`` is a ``CausalLM`` or a transformers causal LM (then ``tokenizer`` is required).
    """
    x = torch.as_tensor(eeg_sample, dtype=torch.float32)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    eeg_classifier.eval()
    emb, _ = eeg_classifier(x.to(module_device(eeg_classifier)))
    lm = _as_llm(llm, tokenizer)
    soft = projector(emb.to(module_device(projector)))
    batch = build_batch(lm, soft, [object_label], padding_side="left", prompt=prompt)
    options = generation.as_generation_config()
    ids = lm.generate(
        batch.inputs_embeds, batch.attention_mask, max_new_tokens, repetition_penalty, options
    )
    return lm.decode(ids[0])
