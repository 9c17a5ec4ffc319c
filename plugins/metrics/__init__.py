"""Built-in metric and protocol plugins: one table, ``METRICS``, declares each of them once.

Factories are lazy ``"module:Class"`` strings (the metric libraries load when a metric is
built). Each params dataclass's fields are the metric's settings, ``metrics.NAME.KEY=VALUE``;
their types and ``__post_init__`` checks run when the config resolves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from eegbench.api import (
    ConfigError,
    Ge,
    Gt,
    Interval,
    MissingWeightsError,
    Register,
    Spec,
    hookimpl,
    register_all,
)

_MOD = "eegbench_plugins.metrics"

PTBTokenizer = Literal["python", "java"]
_PTB_TOKENIZER_HELP = (
    "PTB tokenizer: python (default, no Java) or java (pycocoevalcap's Stanford PTBTokenizer, "
    "for exact COCO parity)"
)


@dataclass(frozen=True)
class BleuParams:
    tokenize: str = field(
        default="13a", metadata={"help": "sacrebleu tokenizer (13a, intl, none, char, ...)"}
    )
    lowercase: bool = field(default=False, metadata={"help": "lowercase before matching"})
    smooth_method: str = field(
        default="exp", metadata={"help": "sacrebleu smoothing: exp, floor, add-k, none"}
    )

    def __post_init__(self) -> None:
        from sacrebleu.metrics import BLEU

        if self.tokenize not in BLEU.TOKENIZERS:
            raise ConfigError(
                f"metrics.bleu.tokenize={self.tokenize!r} is not a sacrebleu tokenizer; "
                f"valid: {', '.join(sorted(BLEU.TOKENIZERS))}."
            )
        if self.smooth_method not in BLEU.SMOOTH_DEFAULTS:
            raise ConfigError(
                f"metrics.bleu.smooth_method={self.smooth_method!r}; "
                f"valid: {', '.join(BLEU.SMOOTH_DEFAULTS)}."
            )


@dataclass(frozen=True)
class RougeParams:
    use_stemmer: bool = field(default=False, metadata={"help": "Porter-stem tokens first"})


@dataclass(frozen=True)
class MeteorParams:
    alpha: Annotated[float, Interval(ge=0, le=1)] = field(
        default=0.9, metadata={"help": "precision/recall weight"}
    )
    beta: Annotated[float, Gt(0)] = field(
        default=3.0, metadata={"help": "fragmentation penalty shape"}
    )
    gamma: Annotated[float, Interval(ge=0, le=1)] = field(
        default=0.5, metadata={"help": "fragmentation penalty weight"}
    )

    def __post_init__(self) -> None:
        for key, ok in (
            ("alpha", 0 <= self.alpha <= 1),
            ("beta", self.beta > 0),
            ("gamma", 0 <= self.gamma <= 1),
        ):
            if not ok:
                raise ConfigError(
                    f"metrics.meteor.{key}={getattr(self, key)!r} is out of range "
                    "(alpha and gamma in 0..1, beta > 0)."
                )


@dataclass(frozen=True)
class CiderParams:
    tokenize: Literal["ptb", "lower"] = field(
        default="ptb",
        metadata={"help": "ptb (COCO's PTB tokenisation) or lower (lowercase + split)"},
    )
    tokenizer: PTBTokenizer = field(default="python", metadata={"help": _PTB_TOKENIZER_HELP})


@dataclass(frozen=True)
class CocoParams:
    tokenizer: PTBTokenizer = field(default="python", metadata={"help": _PTB_TOKENIZER_HELP})


@dataclass(frozen=True)
class BertScoreParams:
    model_path: str = field(
        default="",
        metadata={
            "help": "a Hugging Face model directory, or a hub model name (fetched into the "
            "Hugging Face cache when missing, unless HF_HUB_OFFLINE=1) (required)"
        },
    )
    revision: str = field(
        default="",
        metadata={"help": "hub commit, branch or tag of a hub model_path (default: main)"},
    )
    num_layers: int | None = field(
        default=None, metadata={"help": "layer whose embeddings are used (default: the last)"}
    )
    batch_size: Annotated[int, Ge(1)] = field(
        default=64, metadata={"help": "sentences per forward pass"}
    )
    idf: bool = field(
        default=False, metadata={"help": "IDF-weight tokens (IDF from the references)"}
    )
    baseline_path: str = field(default="", metadata={"help": "baseline TSV to rescale scores"})
    device: str = field(default="cpu", metadata={"help": "torch device"})
    random_weights: bool = field(
        default=False,
        metadata={
            "help": "the model_path's architecture with random weights, 2 layers, a byte-level "
            "tokenizer (--random-weights: rehearsal only)"
        },
    )

    def __post_init__(self) -> None:
        if not self.model_path:
            raise MissingWeightsError(
                "bertscore needs a model: set metrics.bertscore.model_path=/path/to/dir (a "
                "Hugging Face model directory) or a hub name such as roberta-large."
            )
        if self.batch_size < 1:
            raise ConfigError(f"metrics.bertscore.batch_size={self.batch_size} must be >= 1.")


@dataclass(frozen=True)
class ProbeParams:
    C: float = field(default=1.0, metadata={"help": "inverse L2 regularisation of the probe, > 0"})
    max_iter: int = field(default=1000, metadata={"help": "solver iterations, >= 1"})

    def __post_init__(self) -> None:
        if not self.C > 0:
            raise ConfigError(f"metrics.probe.C={self.C} must be > 0.")
        if self.max_iter < 1:
            raise ConfigError(f"metrics.probe.max_iter={self.max_iter} must be >= 1.")


METRICS: tuple[Spec, ...] = (
    Spec(
        "bleu",
        f"{_MOD}.text:Bleu",
        params=BleuParams,
        citation=(
            "Papineni et al. 2002, BLEU: a Method for Automatic Evaluation of Machine "
            "Translation, ACL; Post 2018, A Call for Clarity in Reporting BLEU Scores, WMT "
            "(sacrebleu)"
        ),
        description="corpus BLEU-1..4 (sacrebleu), fractions 0..1",
    ),
    Spec(
        "rouge",
        f"{_MOD}.text:Rouge",
        params=RougeParams,
        citation=(
            "Lin 2004, ROUGE: A Package for Automatic Evaluation of Summaries, ACL Workshop "
            "(Google rouge-score implementation)"
        ),
        description="ROUGE-1/2/L F-measure (rouge-score), mean over pairs",
    ),
    Spec(
        "meteor",
        f"{_MOD}.text:Meteor",
        params=MeteorParams,
        preflight=f"{_MOD}.nltk_data:wordnet_preflight",
        citation=(
            "Banerjee & Lavie 2005, METEOR: An Automatic Metric for MT Evaluation with Improved "
            "Correlation with Human Judgments, ACL Workshop (NLTK implementation, WordNet 3.0)"
        ),
        description="METEOR (NLTK, offline WordNet 3.0), mean over pairs",
    ),
    Spec(
        "cider",
        f"{_MOD}.text:Cider",
        params=CiderParams,
        preflight=f"{_MOD}._common:cider_preflight",
        citation=(
            "Vedantam et al. 2015, CIDEr: Consensus-based Image Description Evaluation, CVPR "
            "(pycocoevalcap CIDEr-D)"
        ),
        description="CIDEr-D (pycocoevalcap), 0..10 scale",
    ),
    Spec(
        "bertscore",
        f"{_MOD}.text:BertScore",
        params=BertScoreParams,
        preflight=f"{_MOD}._common:bertscore_preflight",
        citation=(
            "Zhang et al. 2020, BERTScore: Evaluating Text Generation with BERT, ICLR (bert-score)"
        ),
        description="BERTScore P/R/F1 (bert-score) with a local model; needs model_path",
    ),
    Spec(
        "accuracy",
        f"{_MOD}.decoding:Accuracy",
        citation=(
            "Pedregosa et al. 2011, Scikit-learn: Machine Learning in Python, JMLR "
            "(accuracy_score, top_k_accuracy_score, balanced_accuracy_score)"
        ),
        description="top-1, top-5 and balanced accuracy of the class logits",
    ),
    Spec(
        "cosine",
        f"{_MOD}.decoding:Cosine",
        citation="Mishra et al. 2025, Thought2Text, Findings of NAACL (EEG-to-CLIP alignment)",
        description="mean cosine between EEG embeddings and their targets",
    ),
    Spec(
        "retrieval",
        f"{_MOD}.decoding:Retrieval",
        citation=(
            "Song et al. 2024, Decoding Natural Images from EEG for Object Recognition (NICE), "
            "ICLR: 200-way zero-shot retrieval top-1/top-5"
        ),
        description="top-1/top-5 retrieval of each trial's target in the target bank",
    ),
    Spec(
        "attributes",
        f"{_MOD}.ground_truth:AttributeHits",
        citation=(
            "eegbench ground-truth attribute hit rates and oracle captions (docs/science.md); "
            "attribute words and captions declared by the dataset (EEGData.attributes, "
            "attribute_words, describe)"
        ),
        description="ground truth: attribute hit rates in captions, and the oracle rows",
    ),
    Spec(
        "probe",
        f"{_MOD}.ground_truth:Probe",
        params=ProbeParams,
        citation=(
            "Alain & Bengio 2017, Understanding intermediate layers using linear classifier "
            "probes, ICLR Workshop; Pedregosa et al. 2011, Scikit-learn, JMLR (LogisticRegression)"
        ),
        description="ground truth: attributes decoded from EEG embeddings by a linear probe",
    ),
    Spec(
        "protocol:thought2text",
        f"{_MOD}.protocols:Thought2TextProtocol",
        preflight=f"{_MOD}.nltk_data:wordnet_preflight",
        citation=(
            "Mishra et al. 2025, Thought2Text: Text Generation from EEG Signal using Large "
            "Language Models, Findings of NAACL (eval/metrics_based_evaluation_notebook.ipynb)"
        ),
        description="Thought2Text's notebook: clean-up, per-pair BLEU/ROUGE/METEOR, accuracy",
    ),
    Spec(
        "protocol:coco",
        f"{_MOD}.protocols:CocoProtocol",
        params=CocoParams,
        preflight=f"{_MOD}._common:coco_preflight",
        citation=(
            "Chen et al. 2015, Microsoft COCO Captions: Data Collection and Evaluation Server, "
            "arXiv:1504.00325 (pycocoevalcap)"
        ),
        description="COCO caption eval: PTB tokens, BLEU-1..4, METEOR (Java), ROUGE-L, CIDEr",
    ),
)


@hookimpl
def register_metrics(register: Register) -> None:
    register_all(register, METRICS)
