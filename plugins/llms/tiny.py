"""``tiny-gpt2``: a small GPT-2 trained here on the training captions, cached, then loaded
through the same ``from_pretrained`` path as ``gpt2``.

It learns the caption language and the instruction format from the TRAINING split only, so it
knows nothing about the test captions. Its tokenizer is a byte-level BPE (GPT-2's scheme) trained
on the same texts, which keeps the vocabulary, and so CPU training, small.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from eegbench.api import (
    BuildContext,
    CausalLM,
    DataError,
    atomic_dir,
    check_manifest,
    load_pretrained,
    make_schedule,
    prompt_text,
    task,
    warn,
)

EOS = "<|endoftext|>"


def training_texts(ctx: BuildContext) -> list[str]:
    """One text per training image: ``<label> Describe this in one sentence: <caption>``."""
    data = ctx.data
    if data is None or data.captions is None:
        raise DataError("tiny-gpt2 trains on the dataset's captions, and this dataset has none.")
    train = data.splits["train"]
    images, first = np.unique(data.image[train], return_index=True)
    labels = data.y[train][first]
    return [prompt_text(data.class_names[c], data.captions[i]) for i, c in zip(images, labels)]


def build_tiny(ctx: BuildContext, **params) -> CausalLM:
    texts = training_texts(ctx)
    import transformers

    key = json.dumps(
        {"texts": texts, "params": params, "seed": ctx.seed, "tf": transformers.__version__},
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
                train_tiny(texts, tmp, seed=ctx.seed, **params)

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
) -> None:
    """Train tokenizer and model on ``texts`` and save both with ``save_pretrained``."""
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=1, special_tokens=[EOS])
    bpe.save_model(str(out))
    tok = GPT2TokenizerFast.from_pretrained(str(out), eos_token=EOS, bos_token=EOS, unk_token=EOS)
    if len(tok) <= 257:  # 256 bytes + EOS: no merge was learned
        raise DataError(f"tiny-gpt2 learned no tokens beyond bytes from {len(texts)} captions.")
    eos = tok.eos_token_id
    encoded = [[eos] + tok(t)["input_ids"] + [eos] for t in texts]
    max_len = max(len(e) for e in encoded)
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
    ids = torch.full((len(encoded), max_len), eos, dtype=torch.long)
    labels = torch.full((len(encoded), max_len), -100, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
        labels[i, : len(e)] = torch.tensor(e)
    mask = (labels != -100).long()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = make_schedule(opt, steps, warmup_ratio=0.1, kind="cosine")
    g = torch.Generator().manual_seed(seed)
    model.train()
    with task("tiny-gpt2: training on captions", total=steps) as advance:
        for _ in range(steps):
            idx = torch.randint(0, len(encoded), (batch_size,), generator=g)
            loss = model(input_ids=ids[idx], attention_mask=mask[idx], labels=labels[idx]).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            advance(loss=loss.item())
    model.eval()
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
