"""The prompt ``<image> <object_string> Describe this in one sentence:`` as batched embeddings.

Each example is a sequence of token ids with *slot* positions. ``<image>`` slots receive the
projected EEG embedding (one position per soft token); all other positions get the LLM's token
embeddings. Training appends the caption and EOS; labels are -100 on the prompt when masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from eegbench.api.llm import CausalLM

INSTRUCTION = " Describe this in one sentence:"
IGNORE = -100


def prompt_text(label: str | None, caption: str | None = None) -> str:
    """The text part of a prompt as a language model sees it (no soft tokens)."""
    text = (f" {label}" if label else "") + INSTRUCTION
    return text + (f" {caption.strip()}" if caption is not None else "")


@dataclass
class PromptBatch:
    inputs_embeds: torch.Tensor  # [B, L, d_model]
    attention_mask: torch.Tensor  # [B, L]
    labels: torch.Tensor | None  # [B, L] (-100 where no loss)


def build_batch(
    llm: CausalLM,
    soft: torch.Tensor | None,
    labels: list[str | None],
    captions: list[str] | None = None,
    mask_prompt: bool = True,
    padding_side: str = "right",
) -> PromptBatch:
    """Prompt embeddings for a batch.

    ``soft``: ``[B, n, d_model]`` soft tokens for the ``<image>`` slot, or None (no EEG slot).
    ``labels``: object strings (None: no label). ``captions``: targets for training, or None.
    """
    n_soft = 0 if soft is None else soft.shape[1]
    bos = llm.eos_token_id
    seqs, slot_masks, loss_masks = [], [], []
    for i, label in enumerate(labels):
        prompt_ids = llm.encode((f" {label}" if label else "") + INSTRUCTION)
        ids = [bos] + [bos] * n_soft + prompt_ids
        slot = [False] + [True] * n_soft + [False] * len(prompt_ids)
        loss = [not mask_prompt] * len(ids)
        if captions is not None:
            cap_ids = llm.encode(" " + captions[i].strip()) + [llm.eos_token_id]
            ids += cap_ids
            slot += [False] * len(cap_ids)
            loss += [True] * len(cap_ids)
        seqs.append(ids)
        slot_masks.append(slot)
        loss_masks.append(loss)
    length = max(len(s) for s in seqs)
    B = len(seqs)
    ids_t = torch.full((B, length), llm.tokenizer.pad_token_id, dtype=torch.long)
    attn = torch.zeros((B, length), dtype=torch.long)
    slot_t = torch.zeros((B, length), dtype=torch.bool)
    lab = torch.full((B, length), IGNORE, dtype=torch.long)
    for i, (ids, slot, loss) in enumerate(zip(seqs, slot_masks, loss_masks)):
        s = slice(0, len(ids)) if padding_side == "right" else slice(length - len(ids), length)
        ids_t[i, s] = torch.tensor(ids)
        attn[i, s] = 1
        slot_t[i, s] = torch.tensor(slot)
        keep = torch.tensor(loss) & ~torch.tensor(slot)
        lab[i, s] = torch.where(keep, torch.tensor(ids), torch.full_like(torch.tensor(ids), IGNORE))
    lab[:, 0] = IGNORE
    embeds = llm.input_embeddings(ids_t)
    if n_soft:
        embeds = embeds.masked_scatter(slot_t.unsqueeze(-1), soft.to(embeds.dtype))
    return PromptBatch(embeds, attn, lab if captions is not None else None)
