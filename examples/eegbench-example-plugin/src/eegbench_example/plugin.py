"""Hook implementations: one table per plugin kind, each item declared once with its typed
parameters, citation and description.

This module is imported whenever eegbench loads its plugins (every CLI call), so it stays
light: factories are lazy ``"module:attr"`` strings, so torch, transformers and numpy load
only when an item is built. A params dataclass's fields are the item's settings
(``encoder.hidden=64``, ``metrics.distinct.lowercase=false``); their defaults live here only,
and ``__post_init__`` checks run when the config resolves (so ``--dry-run`` catches them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eegbench.api import ConfigError, Register, Spec, hookimpl, register_all

_PKG = "eegbench_example"


@dataclass(frozen=True)
class TCNParams:
    """Parameters of ``example-tcn`` (``encoder.hidden=64`` on the command line)."""

    hidden: int = field(default=32, metadata={"help": "channels of every temporal conv"})
    kernel: int = field(default=7, metadata={"help": "temporal kernel length (odd)"})
    levels: int = field(default=3, metadata={"help": "residual blocks, dilation 1, 2, 4, ..."})
    dropout: float = field(default=0.1, metadata={"help": "dropout after each conv"})

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0:
            raise ConfigError(f"encoder.kernel={self.kernel} must be odd (same-length convs).")


@dataclass(frozen=True)
class ShapesParams:
    n_classes: int = field(default=3, metadata={"help": "shapes (classes), 2..4"})
    images_per_class: int = field(default=6, metadata={"help": "images per shape, >= 3"})
    repetitions: int = field(default=4, metadata={"help": "trials per image"})
    n_chans: int = 8
    n_times: int = 64
    snr: float = field(default=2.0, metadata={"help": "evoked amplitude / noise std"})
    seed: int = 0


@dataclass(frozen=True)
class BagOfWordsParams:
    dim: int = field(default=64, metadata={"help": "embedding size (hash buckets)"})


@dataclass(frozen=True)
class WordLMParams:
    n_embd: int = field(default=32, metadata={"help": "model width"})
    n_head: int = field(default=2, metadata={"help": "attention heads (divide n_embd)"})
    steps: int = field(default=30, metadata={"help": "full-batch training steps"})
    lr: float = 1e-2

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ConfigError(f"llm.n_head={self.n_head} must divide llm.n_embd={self.n_embd}.")


@dataclass(frozen=True)
class DistinctParams:
    lowercase: bool = field(default=True, metadata={"help": "lowercase before counting"})


ENCODERS = (
    Spec(
        "example-tcn",
        f"{_PKG}.encoder:TemporalConvNet",
        params=TCNParams,
        citation=(
            "Bai, Kolter, Koltun (2018). An Empirical Evaluation of Generic Convolutional and "
            "Recurrent Networks for Sequence Modeling. arXiv:1803.01271"
        ),
        description="example plugin: dilated residual temporal convs, mean over time",
    ),
)

DATASETS = (
    Spec(
        "example-shapes",
        f"{_PKG}.dataset:make_shapes",
        params=ShapesParams,
        citation="eegbench-example-plugin: simulated shapes (no publication)",
        description="example plugin: tiny simulated EEG of coloured shapes, captions, colours",
    ),
)

TARGETS = (
    Spec(
        "example-bow",
        f"{_PKG}.target:BagOfWords",
        params=BagOfWordsParams,
        citation=(
            "Weinberger, Dasgupta, Langford, Smola, Attenberg (2009). Feature Hashing for Large "
            "Scale Multitask Learning. ICML 2009"
        ),
        description="example plugin: hashed bag-of-words caption embeddings (no weights)",
    ),
)

LLMS = (
    Spec(
        "example-wordlm",
        f"{_PKG}.llm:build_wordlm",
        params=WordLMParams,
        citation="Radford et al. 2019, Language Models are Unsupervised Multitask Learners",
        description="example plugin: 1-layer word-level GPT-2 trained on the training captions",
    ),
)

METRICS = (
    Spec(
        "distinct",
        f"{_PKG}.metric:Distinct",
        params=DistinctParams,
        citation=(
            "Li, Galley, Brockett, Gao, Dolan (2016). A Diversity-Promoting Objective Function "
            "for Neural Conversation Models. NAACL-HLT 2016, pp. 110-119. "
            "doi:10.18653/v1/N16-1014"
        ),
        description="example plugin: Distinct-1/2, unique n-grams / all n-grams of the captions",
    ),
)


@hookimpl
def register_encoders(register: Register) -> None:
    register_all(register, ENCODERS)


@hookimpl
def register_datasets(register: Register) -> None:
    register_all(register, DATASETS)


@hookimpl
def register_targets(register: Register) -> None:
    register_all(register, TARGETS)


@hookimpl
def register_llms(register: Register) -> None:
    register_all(register, LLMS)


@hookimpl
def register_metrics(register: Register) -> None:
    register_all(register, METRICS)
