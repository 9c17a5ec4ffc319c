"""Shared by the tutorials: run an ``eegbench`` command in this process, and small settings.

``eegbench("run", "seed=1")`` does what ``eegbench run seed=1`` does in a shell (same output,
same exit status) without starting a new Python for every command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

# Small settings that make each run take seconds on a laptop CPU: MiniLM caption targets and a
# tiny GPT-2 trained on the training captions (both offline; the reference's CLIP ViT-B/32 and
# Mistral-7B need their weights), a 1-layer LM trained for a few steps, few epochs, short
# captions, 200 bootstrap resamples. Drop them for real numbers.
SMALL = [
    "threads=1",
    "target=minilm",
    "llm=tiny-gpt2",
    "stage1.epochs=3",
    "stage1.batch_size=16",
    "stage2.epochs=1",
    "llm.n_layer=1",
    "llm.n_embd=32",
    "llm.n_head=2",
    "llm.vocab_size=300",
    "llm.steps=10",
    "eval.max_new_tokens=8",
    "eval.bootstrap=200",
]


def eegbench(*args: str) -> None:
    """``eegbench ARGS`` in this process; stops the tutorial if the command fails."""
    from eegbench.cli import cli

    code = cli.main(list(args), prog_name="eegbench", standalone_mode=False)
    if code:
        raise SystemExit(f"`eegbench {' '.join(args)}` failed (exit code {code})")


def workdir(description: str) -> Path:
    """The tutorial's folder (``--out``, default a folder named after the script)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path("eegbench-tutorial"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    return out
