"""``example-wordlm``: a one-layer GPT-2 with a word-level vocabulary, built from a config and
trained for a few steps on the TRAINING captions, then loaded through ``load_pretrained`` (the
built-in LLM plugins' loader, which ships with eegbench as ``eegbench_plugins.llms.hf_loading``).

The smallest LLM backend that learns something: the vocabulary is the training captions'
words, so it writes captions in the dataset's language. Weights are cached by content.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from eegbench_plugins.llms.hf_loading import load_pretrained

from eegbench.api import BuildContext, CausalLM, DataError, atomic_dir, prompt_text
from eegbench_example.plugin import WordLMParams

SPECIAL = ("<pad>", "<unk>", "<eos>")


def _texts(ctx: BuildContext) -> list[str]:
    data = ctx.data
    if data is None or data.captions is None:
        raise DataError("example-wordlm trains on the dataset's captions, and it has none.")
    train = data.splits["train"]
    images, first = np.unique(data.image[train], return_index=True)
    labels = data.y[train][first]
    return [prompt_text(data.class_names[c], data.captions[i]) for i, c in zip(images, labels)]


def build_wordlm(ctx: BuildContext, p: WordLMParams) -> CausalLM:
    """The word-level LM of the training captions, trained once and cached by content."""
    texts = _texts(ctx)
    key = json.dumps(
        {"texts": texts, "n_embd": p.n_embd, "steps": p.steps, "lr": p.lr, "s": ctx.seed}
    )
    folder = (
        Path(ctx.cache_dir).expanduser()
        / "llms"
        / ("example-wordlm-" + hashlib.sha256(key.encode()).hexdigest()[:16])
    )
    if not (folder / "config.json").exists():
        atomic_dir(folder, lambda tmp: _train(texts, tmp, p, ctx.seed))
    return load_pretrained(str(folder))


def _train(texts: list[str], out: Path, p: WordLMParams, seed: int) -> None:
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()  # transformers imports torchvision, broken in some installs
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    words = sorted({w for t in texts for w, _ in core.pre_tokenizer.pre_tokenize_str(t.lower())})
    core.model = models.WordLevel({w: i for i, w in enumerate([*SPECIAL, *words])}, "<unk>")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>"
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=64,
        n_embd=p.n_embd,
        n_layer=1,
        n_head=p.n_head,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    enc = tok([t + "<eos>" for t in texts], padding=True, return_tensors="pt")
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr)
    model.train()
    for _ in range(p.steps):
        loss = model(**enc, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save_pretrained(out)
    tok.save_pretrained(out)
