"""Batched caption generation vs the per-trial ``generate_caption`` loop (issue 14, item 6).

GPT-2-small's size (12 layers, 768 wide, 12 heads, 50,257 tokens: 124M parameters; random
weights, as no weights can be downloaded here) with a byte-level BPE tokenizer trained on
synthetic captions and the prompt's instruction, its vocabulary padded to GPT-2's size (the LM
head is read every step, and what batching saves is mostly those weight reads). The prompt is
10 positions long, as with GPT-2's own tokenizer (BOS, 2 soft tokens, the label, 6 tokens of
" Describe this in one sentence:"); until issue 22 the toy tokenizer spelt the instruction out
in 27 pieces, 31 positions whose prompt pass, the same work per trial on both sides, took a
third of the batched time. ``--quick`` uses a 2-layer model and the
tokenizer's own small vocabulary.
The baseline is what a user without eegbench writes: one ``generate_caption`` call per trial
(encoder forward, projector, prompt, greedy decoding with a KV cache). The candidate is the
batched path ``eegbench run`` uses: one encoder forward for all trials and ``generate_captions``
in left-padded batches. Both must produce identical captions; the benchmark checks it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks._harness import compare

TARGET = 10.0


def _llm(n_layer: int, n_embd: int, n_head: int, vocab: int | None = None, seed: int = 0):
    """A random GPT-2 with a BPE tokenizer; ``vocab`` pads the vocabulary with tokens that no
    merge reaches (GPT-2's 50,257: the LM head's size, which decoding reads every step)."""
    from eegbench.api import CausalLM, ensure_torchvision_importable

    ensure_torchvision_importable()
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    from eegbench.train.prompting import INSTRUCTION

    rng = np.random.default_rng(seed)
    words = "a small large red old dog cat piano car on the grass near table street".split()
    texts = [" ".join(rng.choice(words, size=8)) for _ in range(400)]
    texts += [INSTRUCTION] * 50  # the prompt in words, as GPT-2's BPE has them
    with tempfile.TemporaryDirectory() as tmp:
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(texts, vocab_size=600, special_tokens=["<|endoftext|>"])
        bpe.save_model(tmp)
        if vocab is not None:
            path = Path(tmp) / "vocab.json"
            table = json.loads(path.read_text())
            table.update({f"tok{i}": i for i in range(len(table), vocab)})
            path.write_text(json.dumps(table))
        tok = GPT2TokenizerFast.from_pretrained(
            tmp, eos_token="<|endoftext|>", bos_token="<|endoftext|>", unk_token="<|endoftext|>"
        )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=256,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.eos_token_id,
    )
    return CausalLM(GPT2LMHeadModel(config).eval(), tok, name="gpt2-small-random")


def measure(quick: bool) -> list[dict]:
    from eegbench.train.generation import generate_caption, generate_captions
    from eegbench.train.model import EEGClassifier, Projector

    if quick:
        n_layer, n_embd, n_head, vocab, n_trials, new = 2, 128, 4, None, 24, 12
    else:
        n_layer, n_embd, n_head, vocab, n_trials, new = 12, 768, 12, 50257, 64, 24
    llm = _llm(n_layer, n_embd, n_head, vocab)
    torch.manual_seed(1)
    n_chans, n_times = 8, 64
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(n_chans * n_times, 32))
    enc.n_features = 32
    clf = EEGClassifier(enc, 16, 4).eval()
    proj = Projector(16, n_embd, n_tokens=2).eval()
    x = torch.randn(n_trials, n_chans, n_times)
    labels = [["dog", "cat", "piano", "car"][i % 4] for i in range(n_trials)]
    out: dict[str, list[str]] = {}

    def loop() -> None:
        out["loop"] = [
            generate_caption(x[i], labels[i], clf, proj, llm, max_new_tokens=new)
            for i in range(n_trials)
        ]

    def batched() -> None:
        with torch.no_grad():
            emb, _ = clf(x)
        out["batched"] = generate_captions(
            llm, proj, emb, labels, batch_size=64, max_new_tokens=new, description="bench"
        )

    rec = compare(
        "generation",
        f"{n_trials} captions, {new} new tokens",
        ("per-trial generate_caption loop", loop),
        ("batched generate_captions", batched),
        repeats=2 if quick else 3,
        target=TARGET,
        params={
            "n_layer": n_layer,
            "n_embd": n_embd,
            "n_head": n_head,
            "vocab": len(llm.tokenizer),
            "threads": torch.get_num_threads(),
        },
    )
    if out["loop"] != out["batched"]:
        diff = sum(a != b for a, b in zip(out["loop"], out["batched"], strict=True))
        raise RuntimeError(f"batched captions differ from the per-trial loop in {diff} trials")
    rec["note"] = "identical captions"
    return [rec]
