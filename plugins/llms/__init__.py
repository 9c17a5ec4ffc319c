"""Built-in LLM backends (one table, ``LLMS``): any transformers causal LM (``gpt2``), and
``tiny-gpt2`` trained here."""

from __future__ import annotations

from dataclasses import dataclass, field

from eegbench.api import Register, Spec, hookimpl, register_all


@dataclass
class HFParams:
    path: str = field(default="gpt2", metadata={"help": "hub name or local model folder"})
    download: bool = field(default=False, metadata={"help": "allow fetching from the hub"})
    dtype: str = "float32"


@dataclass
class TinyParams:
    n_layer: int = 2
    n_embd: int = 128
    n_head: int = 4
    vocab_size: int = field(default=1024, metadata={"help": "byte-level BPE trained on captions"})
    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3


LLMS: tuple[Spec, ...] = (
    Spec(
        "gpt2",
        "eegbench_plugins.llms.hf:build_hf",
        params=HFParams,
        citation=(
            "Radford et al. 2019, Language Models are Unsupervised Multitask Learners, OpenAI."
        ),
        description="any transformers causal LM by hub name or local folder (llm.path=)",
    ),
    Spec(
        "tiny-gpt2",
        "eegbench_plugins.llms.tiny:build_tiny",
        params=TinyParams,
        citation="eegbench: GPT-2 architecture (Radford et al. 2019) trained on training captions.",
        description="small GPT-2 trained offline on the TRAINING captions, via from_pretrained",
    ),
)


@hookimpl
def register_llms(register: Register) -> None:
    register_all(register, LLMS)
