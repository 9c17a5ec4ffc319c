"""The prompt around the EEG soft tokens, as batched embeddings.

Each example is a sequence of token ids with *slot* positions. ``<image>`` slots receive the
projected EEG embedding (one position per soft token); all other positions get the LLM's token
embeddings. Training appends the caption; labels are -100 on the prompt when masked.

Two styles (``prompt.style``):

- plain (LMs without a chat template, e.g. GPT-2):
  ``BOS <image> <object> Describe this in one sentence:`` + `` caption`` + EOS. BOS is the
  tokenizer's BOS token (its EOS where it has none, as GPT-2's tokenizer does).
- chat (a tokenizer with a chat template, e.g. Mistral-7B-Instruct): the system and user turns
  (``prompt.system``, ``prompt.user`` with ``<image>`` and ``<object_string>``) rendered with
  the template and a generation prompt, exactly as ``apply_chat_template`` tokenizes them with
  the slot in place of ``<image>``; BOS and turn markers are whatever the template writes.
  The caption follows the generation prompt as the assistant's reply, ended by EOS (templates
  differ in how they render a finished reply, e.g. Mistral's drops the system turn then, so the
  reply is appended to the same prompt that generation sees).

``prompt.render=thought2text`` tokenizes a chat prompt as Thought2Text's code does
(:func:`thought2text_sequence`), with its departures from the above.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass
from typing import Any

import torch

from eegbench.config import PromptConfig
from eegbench.contract.errors import ConfigError, PluginError
from eegbench.contract.llm import INSTRUCTION, CausalLM

IGNORE = -100
IMAGE = "<image>"
OBJECT = "<object_string>"
SLOT_TOKEN = "<|eegbench_eeg_slot|>"
DEFAULT_PROMPT = PromptConfig()


@dataclass
class PromptBatch:
    inputs_embeds: torch.Tensor  # [B, L, d_model]
    attention_mask: torch.Tensor  # [B, L]
    labels: torch.Tensor | None  # [B, L] (-100 where no loss)
    input_ids: torch.Tensor  # [B, L]: token ids (slot positions hold a filler id)
    slots: torch.Tensor  # [B, L] bool: where the soft tokens are


@dataclass
class Sequence:
    ids: list[int]
    slot: list[bool]
    caption: list[bool]  # positions of the caption (the assistant turn)


def uses_chat(llm: CausalLM, prompt: PromptConfig = DEFAULT_PROMPT) -> bool:
    """Whether ``llm`` gets the chat prompt under ``prompt.style``."""
    has_template = bool(getattr(llm.tokenizer, "chat_template", None))
    if prompt.style == "chat" and not has_template:
        raise ConfigError(
            f"prompt.style=chat: the tokenizer of {llm.name or 'the LLM'!r} has no chat "
            "template; use prompt.style=plain or auto."
        )
    return has_template if prompt.style == "auto" else prompt.style == "chat"


def chat_messages(
    prompt: PromptConfig, label: str | None, with_slot: bool, n_soft: int = 1
) -> list[dict[str, str]]:
    """System and user turns; ``<image>`` becomes ``n_soft`` slot markers (or goes)."""
    if with_slot and prompt.user.count(IMAGE) != 1:
        raise ConfigError(f"prompt.user must contain {IMAGE} exactly once: {prompt.user!r}.")
    user = prompt.user.replace(OBJECT, label or "")
    user = " ".join(user.replace(IMAGE, "" if not with_slot else IMAGE).split())
    user = user.replace(IMAGE, SLOT_TOKEN * n_soft)
    system = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return [*system, {"role": "user", "content": user}]


_slot_tokenizers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _slot_tokenizer(tokenizer: Any) -> tuple[Any, int]:
    """A copy of ``tokenizer`` that knows the slot marker as a special token, and its id."""
    tok = _slot_tokenizers.get(tokenizer)
    if tok is None:
        tok = copy.deepcopy(tokenizer)
        tok.add_special_tokens({"additional_special_tokens": [SLOT_TOKEN]})
        _slot_tokenizers[tokenizer] = tok
    return tok, int(tok.convert_tokens_to_ids(SLOT_TOKEN))


def chat_sequence(
    llm: CausalLM, prompt: PromptConfig, n_soft: int, label: str | None, caption: str | None
) -> Sequence:
    """One chat-templated example; slots are where ``<image>`` renders."""
    tok, slot_id = _slot_tokenizer(llm.tokenizer)
    messages = chat_messages(prompt, label, n_soft > 0, n_soft)
    ids = list(
        tok.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=True, return_dict=True
        )["input_ids"]
    )
    slot = [i == slot_id for i in ids]
    if sum(slot) != n_soft:
        raise PluginError(f"the chat template kept {sum(slot)} of {n_soft} EEG slot tokens.")
    ids = [llm.eos_token_id if s else i for i, s in zip(ids, slot)]
    cap = [False] * len(ids)
    if caption is not None:
        cap_ids = llm.encode(caption.strip()) + [llm.eos_token_id]
        ids += cap_ids
        slot += [False] * len(cap_ids)
        cap += [True] * len(cap_ids)
    return Sequence(ids, slot, cap)


MAX_LEN = 512
"""Thought2Text's ``max_len``: each side of the slot is padded / truncated to it in training."""


def thought2text_render(
    llm: CausalLM,
    prompt: PromptConfig,
    label: str | None,
    caption: str | None = None,
    with_slot: bool = True,
) -> str:
    """The chat text as Thought2Text renders it, ``<image>`` still in it.

    Training (``caption`` given, datautils.py ``EEGFineTuningDataset``): the messages plus the
    assistant turn through the chat template without a generation prompt (Mistral-v0.3's
    template then leaves out the system turn), ``<label_string>`` replaced afterwards.
    Inference (inference.py): the messages with the generation prompt. No label (its ONLY_EEG,
    inference_only_eeg.py): the user turn without the placeholder. Without the slot
    (eegbench's ``only_obj``) ``<image>`` moves to the end of the user turn.
    """
    user = prompt.user if label else " ".join(prompt.user.replace(OBJECT, "").split())
    if not with_slot:
        user = " ".join(user.replace(IMAGE, "").split()) + IMAGE
    if user.count(IMAGE) != 1:
        raise ConfigError(f"prompt.user must contain {IMAGE} exactly once: {prompt.user!r}.")
    system = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages = [*system, {"role": "user", "content": user}]
    if caption is not None:
        messages.append({"role": "assistant", "content": caption})
    text = llm.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=caption is None
    )
    return text.replace(OBJECT, label or "")


def thought2text_texts(
    llm: CausalLM,
    prompt: PromptConfig,
    label: str | None,
    caption: str | None,
    with_slot: bool = True,
) -> tuple[str, str]:
    """The text before and after ``<image>`` (:func:`thought2text_render`); at inference the
    suffix is stripped, as inference.py does."""
    prefix, suffix = thought2text_render(llm, prompt, label, caption, with_slot).split(IMAGE)
    return prefix, suffix if caption is not None else suffix.strip()


def thought2text_ids(llm: CausalLM, text: str) -> list[int]:
    """Token ids of one side of the slot as model.py ``prepare_inputs`` keeps them: tokenized
    without special tokens (truncated to 512), then the last *effective length* ids, where the
    effective length counts ids that are not the pad token, which is EOS: a side that ends in
    EOS (a training reply) loses its FIRST token and keeps the EOS."""
    ids = list(
        llm.tokenizer(text, add_special_tokens=False, truncation=True, max_length=MAX_LEN)[
            "input_ids"
        ]
    )
    effective = sum(i != llm.eos_token_id for i in ids)
    return ids[len(ids) - effective :]


def thought2text_sequence(
    llm: CausalLM, prompt: PromptConfig, n_soft: int, label: str | None, caption: str | None
) -> Sequence:
    """One example as Thought2Text's code builds it: prefix ids, the soft tokens, suffix ids
    (:func:`thought2text_texts`, :func:`thought2text_ids`); the loss is on every token but the
    soft ones (no prompt masking)."""
    prefix, suffix = thought2text_texts(llm, prompt, label, caption, with_slot=n_soft > 0)
    before, after = thought2text_ids(llm, prefix), thought2text_ids(llm, suffix)
    ids = before + [llm.eos_token_id] * n_soft + after
    slot = [False] * len(before) + [True] * n_soft + [False] * len(after)
    return Sequence(ids, slot, [not s for s in slot])


def plain_sequence(llm: CausalLM, n_soft: int, label: str | None, caption: str | None) -> Sequence:
    """``BOS <slots> label instruction`` (+ `` caption`` EOS)."""
    bos = llm.bos_token_id
    prompt_ids = llm.encode((f" {label}" if label else "") + INSTRUCTION)
    ids = [bos] + [bos] * n_soft + prompt_ids
    slot = [False] + [True] * n_soft + [False] * len(prompt_ids)
    cap = [False] * len(ids)
    if caption is not None:
        cap_ids = llm.encode(" " + caption.strip()) + [llm.eos_token_id]
        ids += cap_ids
        slot += [False] * len(cap_ids)
        cap += [True] * len(cap_ids)
    return Sequence(ids, slot, cap)


def build_batch(
    llm: CausalLM,
    soft: torch.Tensor | None,
    labels: list[str | None],
    captions: list[str] | None = None,
    mask_prompt: bool = True,
    padding_side: str = "right",
    prompt: PromptConfig = DEFAULT_PROMPT,
) -> PromptBatch:
    """Prompt embeddings for a batch, on the LLM's device.

    ``soft``: ``[B, n, d_model]`` soft tokens for the ``<image>`` slot, or None (no EEG slot).
    ``labels``: object strings (None: no label). ``captions``: targets for training, or None.
    """
    n_soft = 0 if soft is None else soft.shape[1]
    t2t = prompt.render == "thought2text"
    if t2t and not uses_chat(llm, prompt):
        raise ConfigError(
            "prompt.render=thought2text renders through the tokenizer's chat template; use "
            "prompt.style=chat with a chat model (or prompt.render=eegbench)."
        )
    sequence = thought2text_sequence if t2t else chat_sequence if uses_chat(llm, prompt) else None
    seqs = [
        sequence(llm, prompt, n_soft, label, None if captions is None else captions[i])
        if sequence is not None
        else plain_sequence(llm, n_soft, label, None if captions is None else captions[i])
        for i, label in enumerate(labels)
    ]
    if t2t:  # model.py: left padding in training too, padded positions zero embeddings
        padding_side = "left"
    length = max(len(s.ids) for s in seqs)
    B = len(seqs)
    ids_t = torch.full((B, length), llm.tokenizer.pad_token_id, dtype=torch.long)
    attn = torch.zeros((B, length), dtype=torch.long)
    slot_t = torch.zeros((B, length), dtype=torch.bool)
    lab = torch.full((B, length), IGNORE, dtype=torch.long)
    for i, seq in enumerate(seqs):
        n = len(seq.ids)
        s = slice(0, n) if padding_side == "right" else slice(length - n, length)
        ids = torch.tensor(seq.ids)
        ids_t[i, s] = ids
        attn[i, s] = 1
        slot_t[i, s] = torch.tensor(seq.slot)
        keep = (torch.tensor(seq.caption) | (not mask_prompt)) & ~torch.tensor(seq.slot)
        lab[i, s] = torch.where(keep, ids, torch.full_like(ids, IGNORE))
    lab[:, 0] = IGNORE
    device = llm.device
    ids_t, attn, slot_t, lab = (t.to(device) for t in (ids_t, attn, slot_t, lab))
    embeds = llm.input_embeddings(ids_t)
    if t2t:
        embeds = embeds * attn.unsqueeze(-1).to(embeds.dtype)
    if n_soft:
        embeds = embeds.masked_scatter(slot_t.unsqueeze(-1), soft.to(device, embeds.dtype))
    return PromptBatch(embeds, attn, lab if captions is not None else None, ids_t, slot_t)
