"""Config resolution: defaults, then ``group=name`` and ``group.key=value`` overrides.

A resolved config is a plain nested dict: top-level scalars (``seed``, ``output_dir``, ...),
plugin groups (``dataset``, ``encoder``, ``target``, ``llm``: ``{"name": ..., **params}``),
core groups (``stage1``, ``stage2``, ``eval``) and ``metrics``: ``{name: params}`` for every
metric plugin that ``eval.metrics`` selects, in that order (set one with
``metrics.NAME.KEY=VALUE``). Every value is validated against its declared type, and every
check the config alone allows (names, keys, types, value ranges, controls, device syntax) runs
here, so ``--dry-run`` catches it; the resolved dict, saved as ``config.yaml``, reproduces a run.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from annotated_types import Ge, Gt, Interval, Le, MinLen
from pydantic import AfterValidator

from eegbench import plugins
from eegbench.api.errors import ConfigError, UnknownNameError
from eegbench.api.registry import GROUPS, coerce, did_you_mean, params_of
from eegbench.evaluation.controls import DEFAULT_CONTROLS, control_names

PLUGIN_GROUPS: dict[str, str] = GROUPS


Epochs = Annotated[int, Interval(ge=1, le=100_000)]
BatchSize = Annotated[int, Interval(ge=1, le=1_000_000)]
LearningRate = Annotated[float, Gt(0), Le(10)]
NonNegative = Annotated[float, Ge(0)]
Fraction = Annotated[float, Interval(ge=0, lt=1)]
RUN_NAME_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}")


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


RunName = Annotated[str, AfterValidator(check_run_name)]


@dataclass
class Stage1Config:
    """Stage 1: the encoder learns the target space (MSE) and the class (CE)."""

    epochs: Epochs = 30
    batch_size: BatchSize = 32
    lr: LearningRate = 1e-3
    weight_decay: NonNegative = 1e-3
    optimizer: Literal["adam", "adamw"] = "adamw"
    grad_clip: NonNegative = field(default=1.0, metadata={"help": "max gradient norm (0: off)"})
    warmup_ratio: Fraction = 0.1
    schedule: Literal["constant", "cosine", "linear"] = "cosine"
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


@dataclass
class Stage2Config:
    """Stage 2: only the projector trains; the LLM is frozen."""

    epochs: Epochs = 5
    batch_size: BatchSize = 16
    lr: LearningRate = 1e-3
    weight_decay: NonNegative = 0.0
    grad_clip: NonNegative = field(default=1.0, metadata={"help": "max gradient norm (0: off)"})
    warmup_ratio: Fraction = 0.1
    mask_prompt: bool = field(
        default=True, metadata={"help": "loss on caption tokens only (Thought2Text: false)"}
    )
    n_soft_tokens: Annotated[int, Interval(ge=1, le=256)] = 1
    phases: Annotated[list[Literal["target", "eeg"]], MinLen(1)] = field(
        default_factory=lambda: ["target", "eeg"],
        metadata={"help": "projector inputs per phase: target embeddings, then EEG embeddings"},
    )
    filter_correct: bool = field(
        default=False,
        metadata={
            "help": "phase 'eeg' trains only on the training trials the encoder classifies "
            "correctly (Thought2Text)"
        },
    )
    normalize_inputs: bool = field(
        default=False,
        metadata={"help": "scale the projector's inputs (EEG embeddings, targets) to unit length"},
    )


@dataclass
class EvalConfig:
    """Evaluation on the test split, or on val (``split``); ``metrics``: in defaults.yaml."""

    metrics: list[str] = field(
        metadata={
            "help": "metric plugins to report, in order; their parameters: metrics.NAME "
            "(those a dataset cannot feed are skipped: attributes and probe need "
            "EEGData.attributes)"
        }
    )
    controls: list[str] | str = field(
        default_factory=lambda: list(DEFAULT_CONTROLS),
        metadata={
            "help": "control rows: names, or 'all' (only_obj, obj_random_eeg, only_eeg, "
            "shuffled_eeg, mean_eeg, noise)"
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
        default=32,
        metadata={"help": "caption length limit; also checked against the LLM's context"},
    )
    repetition_penalty: Annotated[float, Gt(0)] = 1.1
    batch_size: BatchSize = 64
    bootstrap: Annotated[int, Interval(ge=0, le=1_000_000)] = field(
        default=1000,
        metadata={
            "help": "bootstrap resamples of whole clusters, and permutations of each paired "
            "control test (0: no CIs and no control deltas)"
        },
    )


@dataclass
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


CORE_GROUPS: dict[str, type] = {
    "stage1": Stage1Config,
    "stage2": Stage2Config,
    "eval": EvalConfig,
    "prompt": PromptConfig,
}

METRICS = "metrics"  # the group of metric parameters: metrics.NAME.KEY=VALUE

SCALARS: dict[str, Any] = {
    "seed": Annotated[int, Interval(ge=0, lt=2**32)],
    "output_dir": Annotated[str, MinLen(1)],
    "run_name": RunName | None,
    "cache_dir": Annotated[str, MinLen(1)],
    "device": str,
    "precision": Literal["fp32", "bf16", "fp16"],
    "threads": Annotated[int, Interval(ge=1, le=1024)] | None,
    "report_to": Literal["none", "tensorboard", "mlflow", "wandb"],
    "tracking_uri": str | None,
}

# auto: CUDA, else MPS, else the CPU; availability is checked when a run starts (train/device.py)
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def default_config() -> dict[str, Any]:
    """The embedded default benchmark (``eegbench/defaults.yaml``), unresolved."""
    text = resources.files("eegbench.config").joinpath("defaults.yaml").read_text()
    return yaml.safe_load(text)


def presets() -> list[str]:
    """Names of the shipped configs (``eegbench run --config NAME``)."""
    folder = resources.files("eegbench.config").joinpath("presets")
    return sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))


def load_config(path: str | Path) -> dict[str, Any]:
    """A config file (e.g. a run's ``config.yaml``) or a shipped preset's name, as a dict."""
    p = Path(path)
    if not p.is_file() and str(path) in presets():
        text = resources.files("eegbench.config").joinpath(f"presets/{path}.yaml").read_text()
        return yaml.safe_load(text)
    if not p.is_file():
        raise ConfigError(
            f"config file {str(p)!r} does not exist (shipped presets: {', '.join(presets())})."
        )
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(p)!r}: {e.strerror}.") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {str(p)!r} is not UTF-8 text (byte {e.start}); give a YAML file."
        ) from None
    if "\x00" in text:
        raise ConfigError(f"config file {str(p)!r} is binary, not YAML text; give a YAML file.")
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(_yaml_error(p, e)) from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of groups to settings.")
    return cfg


def _yaml_error(path: Path, e: yaml.YAMLError) -> str:
    """One line: file, line, column and what the parser expected."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    context = getattr(e, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"config file {where} is not valid YAML: {detail}."


def layer(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` laid over ``base``: scalars replace; groups merge key by key, except that a
    plugin group naming another plugin replaces the group (the old plugin's keys do not apply)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            if key in PLUGIN_GROUPS and value.get("name") not in (None, old.get("name")):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = {**old, **copy.deepcopy(value)}
        else:
            out[key] = copy.deepcopy(value)
    return out


class Raw(str):
    """An override value as typed: kept verbatim for text parameters, else its YAML value."""

    parsed: Any


_REGISTERED_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:+-]*")


def _well_formed(parts: list[str]) -> bool:
    if len(parts) == 3 and parts[0] == METRICS:  # metrics.NAME.KEY: NAME as registered
        return bool(_REGISTERED_NAME.fullmatch(parts[1])) and parts[2].isidentifier()
    return len(parts) <= 2 and all(p.isidentifier() for p in parts)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"encoder.dropout=0.3"`` -> (["encoder", "dropout"], Raw("0.3") with ``parsed`` 0.3).

    Metric parameters take three parts: ``metrics.cider.tokenizer=java`` ->
    (["metrics", "cider", "tokenizer"], ...); the metric name may hold ``:`` and ``-``.
    """
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip() or not _well_formed(parts):
        raise ConfigError(
            f"malformed override {text!r}: use group=name, group.key=value, key=value or "
            "metrics.NAME.key=value (e.g. encoder=dilated encoder.dropout=0.3 seed=1 "
            "metrics.cider.tokenizer=java)."
        )
    try:
        parsed = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        parsed = raw
    value = Raw(raw)
    value.parsed = parsed
    return parts, value


def _known_keys() -> list[str]:
    return [*SCALARS, *PLUGIN_GROUPS, *CORE_GROUPS, METRICS]


def _entry(kind: str, name: Any, where: str):
    """The registry entry ``name`` of ``kind``; unknown names list the valid ones."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} must name a registered {kind[:-1]}, got {name!r}.")
    try:
        return plugins.get(kind, name)
    except UnknownNameError as e:
        hint = plugins.plugin_manager().hook.unknown_name_hint(kind=kind, name=name)
        raise UnknownNameError(f"{e} {hint}" if hint else str(e)) from None


def apply_overrides(cfg: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of ``cfg`` with the overrides applied; selections first, then keys."""
    cfg = copy.deepcopy(cfg)
    parsed = [parse_override(o) for o in overrides]
    for parts, _ in parsed:
        if parts[0] not in _known_keys():
            raise ConfigError(
                f"unknown config key {parts[0]!r}." + did_you_mean(parts[0], _known_keys())
            )
    for parts, value in parsed:
        if len(parts) == 1 and parts[0] in PLUGIN_GROUPS:
            current = cfg.get(parts[0]) or {}
            if current.get("name") != value:
                cfg[parts[0]] = {"name": value}
    for parts, value in parsed:
        if len(parts) == 1 and parts[0] in PLUGIN_GROUPS:
            continue
        if parts[0] == METRICS:
            if len(parts) != 3:
                raise ConfigError(
                    "metrics holds metric parameters: set them as metrics.NAME.KEY=VALUE "
                    "(e.g. metrics.cider.tokenizer=java); choose metrics with eval.metrics=[...]."
                )
            section = cfg.get(METRICS) or {}
            params = (section.get(parts[1]) or {}) if isinstance(section, dict) else None
            if not isinstance(params, dict):
                raise ConfigError(
                    f"cannot set {'.'.join(parts)}: the config's metrics must map metric names "
                    "to parameter mappings, e.g. metrics: {cider: {tokenizer: java}}."
                )
            cfg[METRICS] = {**section, parts[1]: {**params, parts[2]: value}}
            continue
        if len(parts) == 1:
            if parts[0] in CORE_GROUPS:
                raise ConfigError(f"{parts[0]} is a group: set its keys, e.g. {parts[0]}.epochs=3.")
            cfg[parts[0]] = value
        else:
            if parts[0] in SCALARS:
                raise ConfigError(f"{parts[0]} is a single value: set it as {parts[0]}=VALUE.")
            cfg.setdefault(parts[0], {})
            if parts[1] == "name" and parts[0] in PLUGIN_GROUPS:
                raise ConfigError(f"choose a {parts[0]} with {parts[0]}=NAME.")
            cfg[parts[0]][parts[1]] = value
    _check_metric_overrides(cfg, [parts for parts, _ in parsed])
    return cfg


def _check_metric_overrides(cfg: dict[str, Any], keys: list[list[str]]) -> None:
    """A metric parameter set on the command line must belong to a selected metric."""
    chosen = (cfg.get("eval") or {}).get("metrics")
    if chosen is None:
        return  # resolve() reports the missing list
    chosen = coerce(chosen, list[str], "eval.metrics")
    known = plugins.registry("metrics")
    for parts in keys:
        if parts[0] == METRICS and parts[1] not in chosen and parts[1] in known:
            raise ConfigError(
                f"metrics.{parts[1]}.{parts[2]} is set but eval.metrics does not list "
                f"{parts[1]!r}; add it, e.g. eval.metrics=[{','.join([*chosen, parts[1]])}]."
            )


def resolve(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill every default and validate every value; unknown names, keys and types raise."""
    unknown = [k for k in cfg if k not in _known_keys()]
    if unknown:
        raise ConfigError(
            f"unknown config key {unknown[0]!r}." + did_you_mean(unknown[0], _known_keys())
        )
    out: dict[str, Any] = {}
    for key, tp in SCALARS.items():
        default = {
            "seed": 42,
            "output_dir": "runs",
            "cache_dir": "~/.cache/eegbench",
            "device": "cpu",
            "precision": "fp32",
            "report_to": "none",
        }
        out[key] = coerce(cfg.get(key, default.get(key)), tp, key)
    if not DEVICE_PATTERN.match(out["device"]):
        raise ConfigError(f"device={out['device']!r}: use auto, cpu, cuda, cuda:N or mps.")
    for group in PLUGIN_GROUPS:
        section = dict(cfg.get(group) or {})
        if not section.get("name"):
            raise ConfigError(f"no {group} chosen: add {group}=NAME.")
        entry = _entry(PLUGIN_GROUPS[group], section.pop("name"), group)
        out[group] = {"name": entry.name, **entry.validate(section, where=group)}
    for group, cls in CORE_GROUPS.items():
        section = dict(cfg.get(group) or {})
        params = {p.name: p for p in params_of(cls)}
        values = {p.name: p.default for p in params.values()}
        for key, value in section.items():
            if key not in params:
                raise ConfigError(f"{group} has no key {key!r}." + did_you_mean(key, list(params)))
            values[key] = coerce(value, params[key].type, f"{group}.{key}")
        for f in dataclasses.fields(cls):
            if f.name not in section and f.default is f.default_factory is dataclasses.MISSING:
                raise ConfigError(
                    f"{group}.{f.name} is not set: the config must give it "
                    f"({f.metadata.get('help', '')}; eegbench's defaults.yaml has an example)."
                )
        out[group] = values
    control_names(out["eval"]["controls"])
    out[METRICS] = _resolve_metrics(out["eval"]["metrics"], cfg.get(METRICS))
    return out


def _resolve_metrics(chosen: list[str], section: Any) -> dict[str, dict[str, Any]]:
    """``{name: params}`` for each chosen metric, in order, every parameter validated.

    Entries of ``section`` (the config's ``metrics`` mapping) for metrics that ``eval.metrics``
    does not choose are validated too, then left out.
    """
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(
            "metrics must map metric names to their parameters, e.g. "
            "metrics: {cider: {tokenizer: java}}."
        )
    if len(set(chosen)) != len(chosen):
        twice = sorted({n for n in chosen if chosen.count(n) > 1})
        raise ConfigError(f"eval.metrics lists {', '.join(map(repr, twice))} more than once.")
    if not chosen:
        raise ConfigError("eval.metrics is empty: list at least one metric, e.g. [accuracy].")
    out: dict[str, dict[str, Any]] = {}
    for name in [*chosen, *(n for n in section if n not in chosen)]:
        entry = _entry(METRICS, name, "eval.metrics")
        params = section.get(name) or {}
        if not isinstance(params, dict):
            raise ConfigError(f"metrics.{name} must map parameter names to values, got {params!r}.")
        values = entry.validate(params, where=f"{METRICS}.{name}")
        if name in chosen:
            out[name] = values
    return out


def build_config(overrides: list[str] = (), base: str | Path | None = None) -> dict[str, Any]:
    """The resolved config: the defaults, the ``base`` file laid over them, then ``overrides``."""
    cfg = default_config()
    if base is not None:
        cfg = layer(cfg, load_config(base))
    return resolve(apply_overrides(cfg, list(overrides)))


def core_section(cfg: dict[str, Any], group: str) -> Any:
    """The validated dataclass instance of a core group."""
    cls = CORE_GROUPS[group]
    return cls(**{f.name: cfg[group][f.name] for f in dataclasses.fields(cls)})


def dump(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)
