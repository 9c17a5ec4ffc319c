"""Built-in metric and protocol plugins (registered lazily; heavy imports happen on build)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eegbench_plugins.metrics.citations import (
    ACCURACY_CITATION,
    BERTSCORE_CITATION,
    BLEU_CITATION,
    CIDER_CITATION,
    COCO_CITATION,
    COSINE_CITATION,
    METEOR_CITATION,
    RETRIEVAL_CITATION,
    ROUGE_CITATION,
    THOUGHT2TEXT_CITATION,
)

from eegbench.api import hookimpl

_MOD = "eegbench_plugins.metrics"


@dataclass
class BleuParams:
    tokenize: str = field(
        default="13a", metadata={"help": "sacrebleu tokenizer (13a, intl, none, ...)"}
    )
    lowercase: bool = field(default=False, metadata={"help": "lowercase before matching"})
    smooth_method: str = field(
        default="exp", metadata={"help": "sacrebleu smoothing: exp, floor, add-k, none"}
    )


@dataclass
class RougeParams:
    use_stemmer: bool = field(default=False, metadata={"help": "Porter-stem tokens first"})


@dataclass
class MeteorParams:
    alpha: float = field(default=0.9, metadata={"help": "precision/recall weight"})
    beta: float = field(default=3.0, metadata={"help": "fragmentation penalty shape"})
    gamma: float = field(default=0.5, metadata={"help": "fragmentation penalty weight"})


_PTB_TOKENIZER_HELP = (
    "PTB tokenizer: python (default, no Java) or java (pycocoevalcap's Stanford PTBTokenizer, "
    "for exact COCO parity)"
)


@dataclass
class CiderParams:
    tokenize: str = field(
        default="ptb",
        metadata={"help": "ptb (COCO's PTB tokenisation) or lower (lowercase + split)"},
    )
    tokenizer: str = field(default="python", metadata={"help": _PTB_TOKENIZER_HELP})


@dataclass
class CocoParams:
    tokenizer: str = field(default="python", metadata={"help": _PTB_TOKENIZER_HELP})


@dataclass
class BertScoreParams:
    model_path: str = field(default="", metadata={"help": "local Hugging Face model directory"})
    num_layers: int | None = field(
        default=None, metadata={"help": "layer whose embeddings are used (default: the last)"}
    )
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass"})
    idf: bool = field(
        default=False, metadata={"help": "IDF-weight tokens (IDF from the references)"}
    )
    baseline_path: str = field(default="", metadata={"help": "baseline TSV to rescale scores"})
    device: str = field(default="cpu", metadata={"help": "torch device"})


@hookimpl
def register_metrics(register) -> None:  # the core's register callback
    register(
        "bleu",
        f"{_MOD}.text:Bleu",
        params=BleuParams,
        citation=BLEU_CITATION,
        description="corpus BLEU-1..4 (sacrebleu), fractions 0..1",
    )
    register(
        "rouge",
        f"{_MOD}.text:Rouge",
        params=RougeParams,
        citation=ROUGE_CITATION,
        description="ROUGE-1/2/L F-measure (rouge-score), mean over pairs",
    )
    register(
        "meteor",
        f"{_MOD}.text:Meteor",
        params=MeteorParams,
        citation=METEOR_CITATION,
        description="METEOR (NLTK, offline WordNet 3.0), mean over pairs",
    )
    register(
        "cider",
        f"{_MOD}.text:Cider",
        params=CiderParams,
        citation=CIDER_CITATION,
        description="CIDEr-D (pycocoevalcap), 0..10 scale",
    )
    register(
        "bertscore",
        f"{_MOD}.text:BertScore",
        params=BertScoreParams,
        citation=BERTSCORE_CITATION,
        description="BERTScore P/R/F1 (bert-score) with a local model; needs model_path",
    )
    register(
        "accuracy",
        f"{_MOD}.decoding:Accuracy",
        citation=ACCURACY_CITATION,
        description="top-1, top-5 and balanced accuracy of the class logits",
    )
    register(
        "cosine",
        f"{_MOD}.decoding:Cosine",
        citation=COSINE_CITATION,
        description="mean cosine between EEG embeddings and their targets",
    )
    register(
        "retrieval",
        f"{_MOD}.decoding:Retrieval",
        citation=RETRIEVAL_CITATION,
        description="top-1/top-5 retrieval of each trial's target in the target bank",
    )
    register(
        "protocol:thought2text",
        f"{_MOD}.protocols:Thought2TextProtocol",
        citation=THOUGHT2TEXT_CITATION,
        description="Thought2Text's notebook: clean-up, per-pair BLEU/ROUGE/METEOR, accuracy",
    )
    register(
        "protocol:coco",
        f"{_MOD}.protocols:CocoProtocol",
        params=CocoParams,
        citation=COCO_CITATION,
        description="COCO caption eval: PTB tokens, BLEU-1..4, METEOR (Java), ROUGE-L, CIDEr",
    )
