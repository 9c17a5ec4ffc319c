"""The typed run config: pure data, the one home of every core default.

The core defaults are the reference: Thought2Text's recipe for the stages (Mishra et al.,
Findings of NAACL 2025; ``shared/REFERENCE.md``, its ``args.py``) and, for each plugin group, the
plugin Thought2Text used with that plugin's own declared defaults. Settings tuned for one
benchmark live in that benchmark's file (``eegbench/config/benchmarks/``), never here.

``resolve`` (``eegbench/config/resolve.py``) builds one frozen :class:`RunConfig`; nothing
outside ``eegbench/config`` reads a config by string key or supplies a default of its own.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Interval, Le, MinLen
from pydantic import AfterValidator

from eegbench.contract.registry import GROUPS, RandomWeights, values_of

Epochs = Annotated[int, Interval(ge=1, le=100_000)]
BatchSize = Annotated[int, Interval(ge=1, le=1_000_000)]
LearningRate = Annotated[float, Gt(0), Le(10)]
NonNegative = Annotated[float, Ge(0)]
Fraction = Annotated[float, Interval(ge=0, lt=1)]
RUN_NAME_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}")
# auto: CUDA, else MPS, else the CPU; availability is checked when a run starts (train/device.py)
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_run_name(name: str) -> str | None:
    """A run name is one safe path component: letters, digits and ``._+=-``, no ``..``.

    Empty means no name (the default name is used)."""
    if name == "":
        return None
    if not RUN_NAME_CHARS.fullmatch(name) or ".." in name:
        raise ValueError(
            "a run name is one folder name of letters, digits and ._+=- (no '/', no '..', "
            "not absolute, at most 200 characters)"
        )
    return name


def check_device(device: str) -> str:
    if not DEVICE_PATTERN.match(device):
        raise ValueError("use auto, cpu, cuda, cuda:N or mps")
    return device


def check_benchmark(name: str | None) -> str | None:
    """``none``/``null``/empty mean no benchmark."""
    return None if name in (None, "", "none", "null") else name


RunName = Annotated[str, AfterValidator(check_run_name)]
Device = Annotated[str, AfterValidator(check_device)]
BenchmarkName = Annotated[str | None, AfterValidator(check_benchmark)]


@dataclass(frozen=True)
class Stage1Config:
    """Stage 1: the encoder learns the target space (MSE) and the class (CE)."""

    epochs: Epochs = 100
    batch_size: BatchSize = 16
    lr: LearningRate = 2e-5
    weight_decay: NonNegative = 1e-3
    optimizer: Literal["adam", "adamw"] = "adamw"
    grad_clip: NonNegative = field(default=0.3, metadata={"help": "max gradient norm (0: off)"})
    warmup_ratio: Fraction = field(
        default=0.0, metadata={"help": "share of the steps with a linear learning-rate warm-up"}
    )
    schedule: Literal["constant", "cosine", "linear"] = "constant"
    w_mse: NonNegative = field(
        default=1.0, metadata={"help": "weight of the embedding loss (the one stage1.loss names)"}
    )
    w_ce: NonNegative = 1.0
    loss: Literal["mse", "cosine", "infonce"] = field(
        default="mse",
        metadata={
            "help": "embedding loss: mse (Thought2Text), cosine (1 - cos), or infonce "
            "(cross-entropy of cosine similarities to every training image's target)"
        },
    )
    temperature: Annotated[float, Gt(0)] = field(
        default=0.1, metadata={"help": "softmax temperature of stage1.loss=infonce"}
    )
    center_targets: bool = field(
        default=False,
        metadata={"help": "subtract the training images' mean target (and renormalise)"},
    )
    embed_dim: Annotated[int, Ge(1)] | None = field(
        default=None, metadata={"help": "EEG embedding size D; default: the target's size"}
    )
    precision: Literal["fp32", "bf16", "fp16"] | None = field(
        default=None,
        metadata={
            "help": "autocast of stage 1 and of every forward of the encoder (stage 2's filter, "
            "evaluation); null: the run's precision (Thought2Text: fp32, no autocast)"
        },
    )


@dataclass(frozen=True)
class Stage2Config:
    """Stage 2: only the projector trains; the LLM is frozen."""

    epochs: Epochs = field(default=5, metadata={"help": "epochs of each phase"})
    batch_size: BatchSize = field(default=16, metadata={"help": "rows per micro-batch"})
    grad_accum: Annotated[int, Interval(ge=1, le=100_000)] = field(
        default=4,
        metadata={"help": "micro-batches per optimiser step (gradient accumulation)"},
    )
    lr: LearningRate = 2e-5
    weight_decay: NonNegative = 1e-3
    grad_clip: NonNegative = field(default=0.3, metadata={"help": "max gradient norm (0: off)"})
    warmup_ratio: Fraction = field(
        default=0.0, metadata={"help": "share of each phase's steps with a linear warm-up"}
    )
    schedule: Literal["constant", "cosine", "linear"] = field(
        default="constant", metadata={"help": "learning-rate schedule of each phase"}
    )
    mask_prompt: bool = field(
        default=False,
        metadata={"help": "loss on caption tokens only (Thought2Text: false, prompt and caption)"},
    )
    n_soft_tokens: Annotated[int, Interval(ge=1, le=256)] = 1
    phases: Annotated[tuple[Literal["target", "eeg"], ...], MinLen(1)] = field(
        default=("target", "eeg"),
        metadata={"help": "projector inputs per phase: target embeddings, then EEG embeddings"},
    )
    filter_correct: bool = field(
        default=True,
        metadata={
            "help": "phase 'eeg' trains only on the training trials the encoder classifies "
            "correctly (Thought2Text)"
        },
    )
    normalize_inputs: bool = field(
        default=False,
        metadata={"help": "scale the projector's inputs (EEG embeddings, targets) to unit length"},
    )
    encoder_mode: Literal["eval", "train"] = field(
        default="eval",
        metadata={
            "help": "mode of the encoder for phase eeg: eval, or train as Thought2Text's "
            "finetune_llm.py (dropout on, batch statistics; passes over train, val and test "
            "update BatchNorm's running statistics, and that encoder is evaluated: test-split "
            "statistics LEAK into the test predictions)"
        },
    )
    optimizer: Literal["adamw", "paged_adamw_8bit"] = field(
        default="adamw",
        metadata={
            "help": "the projector's optimiser: adamw (torch), or bitsandbytes' paged 8-bit "
            "AdamW that Thought2Text's 8-bit runs switch to (CUDA)"
        },
    )


DEFAULT_METRICS = (
    "accuracy",
    "cosine",
    "retrieval",
    "bleu",
    "rouge",
    "meteor",
    "cider",
    "attributes",
    "probe",
)
T2T_CONTROLS: dict[str, str] = {
    "t2t_only_obj": "ONLY_OBJ as Thought2Text's inference_chance.py: the prompt with the literal "
    "text <image> as tokens, greedy from token ids, the caption after the label's echo",
    "t2t_random_eeg": "OBJ+RANDOM_EEG as Thought2Text's inference_chance2.py: U[0,1) noise of the "
    "EEG embedding's size through the projector",
}
"""Thought2Text's control rows, reproduced from its code (its table's ONLY_OBJ and
OBJ+RANDOM_EEG rows), beside eegbench's own."""

CONTROLS: dict[str, str] = {
    "only_obj": "ONLY_OBJ: predicted label, no EEG slot",
    "obj_random_eeg": "OBJ+RANDOM_EEG: random vector of the EEG embedding's norm",
    "only_eeg": "ONLY_EEG: EEG slot, no label",
    "shuffled_eeg": "SHUFFLED_EEG: own label, the EEG embedding of a test trial of another image",
    "mean_eeg": "MEAN_EEG: own label, the mean training EEG embedding",
    "noise": "NOISE: encoder fed with noise of the training data's statistics",
    **T2T_CONTROLS,
}
"""Every control a run can ask for (``eval.controls``) and what it feeds the pipeline; each is
implemented in ``eegbench/evaluation/controls.py`` under the same name."""

DEFAULT_CONTROLS = ("only_obj", "shuffled_eeg", "mean_eeg", "noise")
"""The controls of every run: the label alone, two that keep label, projector and its tokens but
remove the trial's EEG information (another image's trial; the mean training embedding), and
noise through the encoder."""


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding beyond greedy: transformers ``GenerationConfig`` fields (the defaults are
    Thought2Text's greedy decoding)."""

    num_beams: Annotated[int, Interval(ge=1, le=256)] = field(
        default=1, metadata={"help": "beam search with this many beams (1: no beam search)"}
    )
    do_sample: bool = field(
        default=False, metadata={"help": "sample the next token (seeded by seed) instead of argmax"}
    )
    temperature: Annotated[float, Gt(0)] = field(
        default=1.0, metadata={"help": "sampling temperature (with do_sample)"}
    )
    top_k: Annotated[int, Ge(0)] = field(
        default=50, metadata={"help": "sample among the k likeliest tokens (0: all; do_sample)"}
    )
    top_p: Annotated[float, Interval(gt=0, le=1)] = field(
        default=1.0, metadata={"help": "nucleus sampling: the smallest set of this mass"}
    )
    no_repeat_ngram_size: Annotated[int, Ge(0)] = field(
        default=0, metadata={"help": "no n-gram of this size twice in a caption (0: off)"}
    )
    length_penalty: float = field(
        default=1.0,
        metadata={"help": "beam search: scores divided by length**length_penalty (>1: longer)"},
    )

    def as_generation_config(self) -> dict[str, Any]:
        """The transformers ``GenerationConfig`` fields these settings set."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation on the test split: metrics, controls, decoding (Thought2Text's greedy
    decoding to 100 tokens with repetition penalty 1.1)."""

    metrics: tuple[str, ...] = field(
        default=DEFAULT_METRICS,
        metadata={
            "help": "metric plugins to report, in order; their parameters: metrics.NAME "
            "(those a dataset cannot feed are skipped: attributes and probe need "
            "EEGData.attributes)"
        },
    )
    controls: tuple[str, ...] | str = field(
        default=DEFAULT_CONTROLS,
        metadata={
            "help": "control rows: names, or 'all' (only_obj, obj_random_eeg, only_eeg, "
            "shuffled_eeg, mean_eeg, noise, t2t_only_obj, t2t_random_eeg)"
        },
    )
    split: Literal["test", "val"] = field(
        default="test",
        metadata={
            "help": "the split evaluated: test, or val to choose settings without looking at "
            "the test split (benchmarks/select_on_val.py)"
        },
    )
    max_new_tokens: Annotated[int, Interval(ge=1, le=100_000)] = field(
        default=100,
        metadata={"help": "caption length limit; also checked against the LLM's context"},
    )
    repetition_penalty: Annotated[float, Gt(0)] = 1.1
    generation: GenerationSettings = field(
        default_factory=GenerationSettings,
        metadata={"help": "beam search, sampling, n-gram blocking: eval.generation.KEY=VALUE"},
    )
    batch_size: BatchSize = 64
    bootstrap: Annotated[int, Interval(ge=0, le=1_000_000)] = field(
        default=1000,
        metadata={
            "help": "bootstrap resamples of whole clusters, and permutations of each paired "
            "control test (0: no CIs and no control deltas)"
        },
    )


@dataclass(frozen=True)
class PromptConfig:
    """The prompt around the EEG soft tokens (``<image>``) and the object label."""

    style: Literal["auto", "chat", "plain"] = field(
        default="auto",
        metadata={
            "help": "chat: the tokenizer's chat template with system and user turns; plain: "
            "'<image> <object> Describe this in one sentence:'; auto: chat when the tokenizer "
            "has a chat template"
        },
    )
    system: str = field(
        default="You are a helpful assistant.",
        metadata={"help": "system turn of a chat prompt ('' for none, e.g. Gemma)"},
    )
    user: str = field(
        default="<image> <object_string> Describe this image in one sentence:",
        metadata={
            "help": "user turn of a chat prompt: <image> is the EEG, <object_string> the label"
        },
    )
    render: Literal["eegbench", "thought2text"] = field(
        default="eegbench",
        metadata={
            "help": "how a chat prompt becomes tokens: eegbench (one render with the generation "
            "prompt, the reply appended, loss as prompt.mask says) or thought2text (its "
            "datautils.py and model.py: training renders the reply through the template, "
            "text split at <image>, pad = EOS slice, left padding)"
        },
    )


TRACKER_PACKAGES: dict[str, str] = {
    "tensorboard": "tensorboard",
    "mlflow": "mlflow",
    "wandb": "wandb",
}
"""The package each ``report_to`` tracker needs (installed by the extra of the same name)."""


def control_names(requested: tuple[str, ...] | list[str] | str) -> list[str]:
    """The control names ``eval.controls`` asks for (``all`` expanded); unknown ones raise."""
    from eegbench.contract.errors import ConfigError
    from eegbench.contract.registry import did_you_mean

    requested = [requested] if isinstance(requested, str) else list(requested)
    names = list(CONTROLS) if "all" in requested else requested
    for n in names:
        if not isinstance(n, str) or n not in CONTROLS:
            raise ConfigError(f"unknown control {n!r}." + did_you_mean(str(n), [*CONTROLS, "all"]))
    return names


CORE_GROUPS: dict[str, type] = {
    "stage1": Stage1Config,
    "stage2": Stage2Config,
    "eval": EvalConfig,
    "prompt": PromptConfig,
}
"""The core sections, each a frozen dataclass whose field defaults are the reference."""


@dataclass(frozen=True)
class Settings:
    """Top-level values: where a run writes, on what it runs, and its seed."""

    seed: Annotated[int, Interval(ge=0, lt=2**32)] = field(
        default=42, metadata={"help": "fixes every random draw of the run (on the CPU)"}
    )
    output_dir: Annotated[str, MinLen(1)] = field(
        default="runs", metadata={"help": "folder the run directory is written under"}
    )
    run_name: RunName | None = field(
        default=None, metadata={"help": "the run directory's name (null: dataset-encoder-...)"}
    )
    cache_dir: Annotated[str, MinLen(1)] = field(
        default="~/.cache/eegbench",
        metadata={"help": "target embeddings, preprocessed trials, the tiny LM"},
    )
    device: Device = field(default="cpu", metadata={"help": "auto | cpu | cuda | cuda:N | mps"})
    precision: Literal["fp32", "bf16", "fp16"] = field(
        default="fp32", metadata={"help": "autocast; fp16 with a gradient scaler"}
    )
    threads: Annotated[int, Interval(ge=1, le=1024)] | None = field(
        default=None,
        metadata={"help": "torch CPU threads (null: the cores other processes leave free)"},
    )
    report_to: Literal["none", "tensorboard", "mlflow", "wandb"] = field(
        default="none", metadata={"help": "experiment tracking (offline)"}
    )
    tracking_uri: str | None = field(
        default=None,
        metadata={"help": "TensorBoard folder, MLflow URI/folder or wandb folder (null: default)"},
    )
    fast_dev_run: bool = field(
        default=False,
        metadata={
            "help": "rehearse the run: one batch per stage, a few test trials, every metric and "
            "control (--fast-dev-run); results.json marks it and leaderboards leave it out"
        },
    )
    random_weights: bool = field(
        default=False,
        metadata={
            "help": "every chosen plugin with a random_weights parameter (CLIP, hf, gpt2, "
            "bertscore) builds "
            "its architecture with random weights, cut to 2 layers (--random-weights); "
            "results.json marks it and leaderboards leave it out"
        },
    )
    tryout: bool = field(
        default=False,
        metadata={
            "help": "try a dataset offline (--tryout): small models in place of the reference's "
            "CLIP and Mistral-7B (MiniLM caption targets, a tiny GPT-2 trained on the training "
            "captions) with settings that fit them (eegbench/config/tryout.yaml); a config file "
            "and the command line still override them"
        },
    )
    benchmark: BenchmarkName = field(
        default="synthetic",
        metadata={
            "help": "the benchmark whose tuned settings apply (eegbench/config/benchmarks/); "
            "it applies only to runs on its dataset (none: no benchmark)"
        },
    )


SCALARS: dict[str, Any] = typing.get_type_hints(Settings, include_extras=True)
"""Each top-level key and its declared type."""

DEFAULT_PLUGINS: dict[str, dict[str, Any]] = {
    "dataset": {"name": "synthetic"},
    "encoder": {"name": "dilated"},
    "target": {"name": "clip"},
    "llm": {"name": "hf", "path": "mistralai/Mistral-7B-Instruct-v0.3", "dtype": "bfloat16"},
}
"""The reference choice of each plugin group (Thought2Text: EEG-ChannelNet, CLIP ViT-B/32 image
embeddings, Mistral-7B-Instruct-v0.3 in bfloat16), with the settings the choice carries beyond
the plugin's own defaults. The dataset defaults to the embedded synthetic benchmark's."""


class FrozenMap(Mapping):
    """A read-only mapping that pickles (``MappingProxyType`` does not): configs travel to
    data-parallel processes and Ray tasks."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a resolved config is frozen")

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_data", state)

    def __repr__(self) -> str:
        return repr(self._data)


def freeze(value: Any) -> Any:
    """Lists -> tuples and dicts -> read-only mappings, all the way down."""
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain YAML/JSON form of a frozen value: tuples -> lists, mappings -> dicts."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


REHEARSAL_TEST_TRIALS = 6
"""Test trials a rehearsal (``fast_dev_run``) evaluates, of distinct images where there are
enough."""


@dataclass(frozen=True)
class Limits:
    """What a rehearsal (``fast_dev_run``) runs: trials per split and epochs per stage."""

    train_trials: int
    val_trials: int
    test_trials: int
    epochs: int = 1


@dataclass(frozen=True)
class PluginChoice:
    """One plugin group's choice: the registered name and its validated parameters, the
    instance of the item's params dataclass (``Entry.parse``; None for an item without
    parameters) that its factory gets."""

    name: str
    params: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **thaw(values_of(self.params))}


@dataclass(frozen=True)
class RunConfig(Settings):
    """One resolved, validated, frozen run configuration (``eegbench.config.resolve``).

    ``to_dict`` gives the plain form saved as ``config.yaml`` (and hashed by ``bench``);
    ``from_dict`` reads it back. ``origins`` maps each dotted key to where its value came from
    (``eegbench config --explain``); it is not part of the config's identity.
    """

    dataset: PluginChoice = PluginChoice("synthetic")
    encoder: PluginChoice = PluginChoice("dilated")
    target: PluginChoice = PluginChoice("clip")
    llm: PluginChoice = PluginChoice("hf")
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    eval: EvalConfig = field(default_factory=EvalConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    metrics: Mapping[str, Any] = field(default_factory=lambda: FrozenMap())  # name -> params
    origins: Mapping[str, str] = field(
        default_factory=lambda: FrozenMap(), compare=False, repr=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The plain nested form (config.yaml): scalars, plugin groups as ``{name, **params}``,
        core sections, and ``metrics`` as ``{name: params}``."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in dataclasses.fields(Settings)}
        for group in ("dataset", "encoder", "target", "llm"):
            out[group] = getattr(self, group).to_dict()
        for group in CORE_GROUPS:
            out[group] = thaw(dataclasses.asdict(getattr(self, group)))
        out["metrics"] = {name: thaw(values_of(p)) for name, p in self.metrics.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "config") -> RunConfig:
        """A config from its plain form (validated as a config file named ``where``)."""
        from eegbench.config.resolve import resolve

        return resolve(dict(data), where=where)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with top-level values changed (validated)."""
        from eegbench.config.resolve import validate_scalar

        checked = {k: validate_scalar(k, v) for k, v in changes.items()}
        return dataclasses.replace(self, **checked)

    @property
    def limits(self) -> Limits | None:
        """A rehearsal's limits (None: a real run): one training batch, as many validation
        trials, ``REHEARSAL_TEST_TRIALS`` test trials and one epoch per stage (already the
        stages' ``epochs``: the config resolves them so)."""
        if not self.fast_dev_run:
            return None
        batch = self.stage1.batch_size
        return Limits(batch, batch, REHEARSAL_TEST_TRIALS, self.stage1.epochs)

    def rehearsal(self) -> dict[str, Any] | None:
        """What makes this run a rehearsal rather than a result (None: a real run):
        ``fast_dev_run`` and the plugin groups built with random weights."""
        chosen = {group: getattr(self, group).params for group in GROUPS}
        chosen |= {f"metrics.{name}": params for name, params in self.metrics.items()}
        randomized = [
            name
            for name, params in chosen.items()
            if isinstance(params, RandomWeights) and params.random_weights
        ]
        if not self.fast_dev_run and not randomized:
            return None
        out: dict[str, Any] = {"fast_dev_run": self.fast_dev_run, "random_weights": randomized}
        if self.limits is not None:
            out["limits"] = dataclasses.asdict(self.limits)
        return out

    def leaks(self) -> list[str]:
        """What of the evaluated split reaches its own predictions in this run (empty: none):
        ``stage2.encoder_mode=train`` with phase eeg (Thought2Text's stage-3 encoder)."""
        if self.stage2.encoder_mode == "train" and "eeg" in self.stage2.phases:
            return [
                "batchnorm_statistics: stage2.encoder_mode=train updates the encoder's "
                "BatchNorm running statistics over the train, val and test splits before "
                "evaluation (Thought2Text's finetune_llm.py)"
            ]
        return []

    def origin(self, key: str) -> str:
        """Where the value of dotted ``key`` came from (empty when unknown)."""
        return self.origins.get(key, "")
