"""``tiny-gpt2``: a small GPT-2 trained here on the training captions, cached, then loaded
through the same ``from_pretrained`` path as ``gpt2``.

It learns the caption language and the instruction format from the TRAINING split only, so it
knows nothing about the test captions. With ``prefix_tokens=n`` it is also trained with ``n``
soft tokens after BOS (where the prompt's ``<image>`` slot sits): half of each batch carries a
prefix computed from the text's own caption (a linear map of the mean of the caption's token
embeddings, a quarter of the tokens dropped at random); the prefix encoder is then discarded.
The LM so learns to take soft tokens in the slot without being derailed (a plain tiny-gpt2 fed
soft tokens it never saw loses the caption language) - a local stand-in for a pretrained
multimodal LM. Measured: the mean-embedding prefix varies little between captions, so the LM
learns mostly to accept the slot, and little of reading its content; a vocabulary-space bag (own
word vectors) would carry more. Stage 2 still trains only the projector, and the prompt without
a slot (ONLY_OBJ) reads as before.

Its tokenizer is a byte-level BPE (GPT-2's scheme) trained on the same texts, which keeps the
vocabulary, and so CPU training, small.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from eegbench_plugins.llms.hf_loading import load_pretrained

from eegbench.api import (
    BuildContext,
    CausalLM,
    DataError,
    atomic_dir,
    check_manifest,
    make_schedule,
    prompt_text,
    task,
    warn,
)

EOS = "<|endoftext|>"
RECIPE = 2  # bump when the training procedure changes, so that cached models are not reused


def training_texts(ctx: BuildContext, captions_only: bool = False) -> list[str]:
    """One text per training image: ``<label> Describe this in one sentence: <caption>``.

    ``captions_only``: the captions alone, in the same order.
    """
    data = ctx.data
    if data is None or data.captions is None:
        raise DataError("tiny-gpt2 trains on the dataset's captions, and this dataset has none.")
    train = data.splits["train"]
    images, first = np.unique(data.image[train], return_index=True)
    labels = data.y[train][first]
    if captions_only:
        return [data.captions[i] for i in images]
    return [prompt_text(data.class_names[c], data.captions[i]) for i, c in zip(images, labels)]


def build_tiny(ctx: BuildContext, **params) -> CausalLM:
    texts = training_texts(ctx)
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()
    import transformers

    key = json.dumps(
        {
            "texts": texts,
            "params": params,
            "seed": ctx.seed,
            "tf": transformers.__version__,
            "recipe": RECIPE,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = Path(ctx.cache_dir).expanduser() / "llms" / f"tiny-gpt2-{digest}"
    if folder.exists():
        problem = check_manifest(folder)
        if problem is not None:
            warn(f"tiny-gpt2 cache {folder} is incomplete ({problem}); rebuilding it")
            shutil.rmtree(folder)
    if not folder.exists():

        def fill(tmp: Path) -> None:
            with torch.random.fork_rng():  # a cached model and a fresh one leave the same RNG
                train_tiny(
                    texts,
                    tmp,
                    seed=ctx.seed,
                    prefix_texts=training_texts(ctx, captions_only=True),
                    **params,
                )

        atomic_dir(folder, fill, manifest=True)
    return load_pretrained(str(folder))


def train_tiny(
    texts: list[str],
    out: Path,
    seed: int,
    n_layer: int,
    n_embd: int,
    n_head: int,
    vocab_size: int,
    steps: int,
    batch_size: int,
    lr: float,
    prefix_tokens: int = 0,
    prefix_texts: list[str] | None = None,
) -> torch.nn.Module | None:
    """Train tokenizer and model on ``texts`` and save both with ``save_pretrained``.

    ``prefix_tokens > 0``: also train with that many soft tokens after the first token, encoded
    from ``prefix_texts`` (one per text), see the module docstring; returns that prefix encoder
    (None without a prefix), which the caller may inspect and then drop.
    """
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()
    tok = _train_tokenizer(texts, out, vocab_size)
    ids, labels, mask = _padded(tok, texts)
    model = _new_model(tok, ids.shape[1], seed, n_layer=n_layer, n_embd=n_embd, n_head=n_head)
    prefix = None
    if prefix_tokens > 0:
        if prefix_texts is None or len(prefix_texts) != len(texts):
            raise DataError("tiny-gpt2: prefix_tokens needs one prefix text per training text.")
        prefix = _PrefixEncoder(tok, prefix_texts, n_embd, prefix_tokens)
    _fit(model, prefix, ids, mask, labels, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    model.eval()
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return prefix.eval() if prefix is not None else None


def _train_tokenizer(texts: list[str], out: Path, vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on ``texts``, its vocabulary saved in ``out``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=1, special_tokens=[EOS], show_progress=False
    )
    bpe.save_model(str(out))
    tok = GPT2TokenizerFast.from_pretrained(str(out), eos_token=EOS, bos_token=EOS, unk_token=EOS)
    if len(tok) <= 257:  # 256 bytes + EOS: no merge was learned
        raise DataError(f"tiny-gpt2 learned no tokens beyond bytes from {len(texts)} captions.")
    return tok


def _padded(tok: Any, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids ``[n, max_len]`` of ``EOS text EOS``, padded with EOS; their labels (-100 on
    the padding) and attention mask."""
    eos = tok.eos_token_id
    encoded = [[eos] + tok(t)["input_ids"] + [eos] for t in texts]
    max_len = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), max_len), eos, dtype=torch.long)
    labels = torch.full((len(encoded), max_len), -100, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
        labels[i, : len(e)] = torch.tensor(e)
    return ids, labels, (labels != -100).long()


def _new_model(
    tok: Any, max_len: int, seed: int, *, n_layer: int, n_embd: int, n_head: int
) -> torch.nn.Module:
    """A GPT-2 of the given size over ``tok``'s vocabulary, initialised from ``seed``."""
    from transformers import GPT2Config, GPT2LMHeadModel

    eos = tok.eos_token_id
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=max(64, 2 * max_len),
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        resid_pdrop=0.1,
        embd_pdrop=0.1,
        attn_pdrop=0.1,
    )
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the class name carries no loss hint for transformers
    return model


def _fit(
    model: torch.nn.Module,
    prefix: _PrefixEncoder | None,
    ids: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> None:
    """``steps`` AdamW steps (cosine schedule) on random batches of the texts; with a prefix
    encoder, half of each batch carries its soft tokens."""
    trainable = list(model.parameters())
    if prefix is not None:
        trainable += list(prefix.parameters())
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    sched = make_schedule(opt, steps, warmup_ratio=0.1, kind="cosine")
    g = torch.Generator().manual_seed(seed)
    model.train()
    with task("tiny-gpt2: training on captions", total=steps) as advance:
        for _ in range(steps):
            idx = torch.randint(0, len(ids), (batch_size,), generator=g)
            if prefix is None:
                loss = model(input_ids=ids[idx], attention_mask=mask[idx], labels=labels[idx]).loss
            else:  # half of the batch plain, half with a prefix: the cost of a plain step
                a, b = idx[: len(idx) // 2], idx[len(idx) // 2 :]
                plain = model(input_ids=ids[a], attention_mask=mask[a], labels=labels[a]).loss
                loss = 0.5 * (plain + prefix.loss(model, ids[b], mask[b], labels[b], b, g))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            advance(loss=loss.item())


class _PrefixEncoder(torch.nn.Module):
    """Soft tokens ``[B, n, d]`` from a caption: ``Linear(mean token embedding)``, used only while
    tiny-gpt2 trains (it teaches the LM to read soft tokens after the first position)."""

    def __init__(self, tok, captions: list[str], d: int, n_tokens: int, drop: float = 0.25):
        super().__init__()
        vocab = len(tok)
        bag = torch.zeros(len(captions), vocab)
        for i, cap in enumerate(captions):
            for t in tok(" " + cap.strip())["input_ids"]:
                bag[i, t] += 1.0
        self.register_buffer("bag", bag)
        self.n_tokens, self.d, self.drop = n_tokens, d, drop
        self.proj = torch.nn.Linear(d, n_tokens * d)

    def forward(self, wte: torch.Tensor, rows: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        bag = self.bag[rows]
        if self.training:
            bag = bag * (torch.rand(bag.shape, generator=g) >= self.drop).float()
        bag = bag / bag.sum(1, keepdim=True).clamp_min(1.0)
        return self.proj(bag @ wte.detach()).view(len(rows), self.n_tokens, self.d)

    def loss(self, model, ids, mask, labels, rows, g) -> torch.Tensor:
        wte = model.get_input_embeddings().weight
        soft = self(wte, rows, g)
        emb = model.get_input_embeddings()(ids)
        b, n = len(ids), self.n_tokens
        embeds = torch.cat([emb[:, :1], soft, emb[:, 1:]], dim=1)
        att = torch.cat([mask[:, :1], torch.ones(b, n, dtype=mask.dtype), mask[:, 1:]], dim=1)
        lab = torch.cat([labels[:, :1], torch.full((b, n), -100), labels[:, 1:]], dim=1)
        return model(inputs_embeds=embeds, attention_mask=att, labels=lab).loss
