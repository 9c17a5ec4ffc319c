"""Config resolution: layers of settings -> one frozen, validated :class:`RunConfig`.

The layers, lowest first (docs/configuration.md, "How a config is resolved"):

1. **plugin defaults**: each chosen plugin's declared parameters;
2. **eegbench defaults** (``schema.py``): the reference, Thought2Text's recipe and plugins;
   with ``tryout=true`` (``--tryout``), **the try-out** (``tryout.yaml``: small offline models)
   over them;
3. **the benchmark** (``benchmarks/<name>.yaml``, ``benchmark=NAME``, default ``synthetic``),
   only when the run's dataset is the benchmark's dataset;
4. **the config file** (``--config FILE`` or a shipped preset);
5. **the command line** (``group=name``, ``group.key=value``, ``key=value``).

Top-level values, core sections and metric parameters merge key by key, the higher layer
winning. A plugin group is different: the highest layer that names its plugin (``encoder=NAME``,
or ``name:`` in a file) starts it afresh from that plugin's defaults, plus the benchmark's
settings for that plugin when the benchmark applies and chose the same plugin; settings of lower
layers are dropped, also when the name is the one already chosen.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from eegbench import plugins
from eegbench.config.schema import (
    CORE_GROUPS,
    DEFAULT_PLUGINS,
    SCALARS,
    PluginChoice,
    RunConfig,
    Settings,
    control_names,
    freeze,
)
from eegbench.contract.errors import ConfigError, UnknownNameError
from eegbench.contract.registry import (
    GROUPS,
    RandomWeights,
    coerce,
    did_you_mean,
    params_of,
    values_of,
)
from eegbench.io import file_problem

METRICS = "metrics"  # the group of metric parameters: metrics.NAME.KEY=VALUE
BENCHMARK = "benchmark"
TRYOUT = "tryout"
PLUGIN_DEFAULT = "plugin default"
EEGBENCH_DEFAULT = "eegbench default"
COMMAND_LINE = "command line"


@dataclass
class Layer:
    """One source of settings: a nested mapping in the config-file format, its label, and the
    line of each dotted key when it came from a YAML file."""

    label: str
    values: dict[str, Any]
    path: str = ""  # the file it came from
    lines: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # command line: the override as typed
    sources: dict[str, str] = field(default_factory=dict)  # keys a merged layer took elsewhere

    def source(self, key: str) -> str:
        """Where ``key`` was set: ``label (path:line)``, or the override as typed."""
        if key in self.sources:
            return self.sources[key]
        if key in self.texts:
            return f"{self.label}: {self.texts[key]}"
        if not self.path:
            return self.label
        line = self.lines.get(key)
        return f"{self.label} ({self.path}:{line})" if line else f"{self.label} ({self.path})"

    def section(self, group: str) -> dict[str, Any] | None:
        """The layer's mapping for ``group`` (None when absent); a non-mapping is an error."""
        if group not in self.values:
            return None
        value = self.values[group]
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(
                f"{self.source(group)}: {group} must be a mapping of keys to values, got "
                f"{value!r} (e.g. {group}: {{name: NAME}} for a plugin group)."
            )
        return value


# ------------------------------------------------------------------------ files and presets


def _data_files(folder: str) -> list[str]:
    root = resources.files("eegbench.config").joinpath(folder)
    return sorted(f.name[: -len(".yaml")] for f in root.iterdir() if f.name.endswith(".yaml"))


def presets() -> list[str]:
    """Names of the shipped configs (``eegbench run --config NAME``)."""
    return _data_files("presets")


def benchmarks() -> list[str]:
    """Names of the shipped benchmarks (``benchmark=NAME``)."""
    return _data_files("benchmarks")


def _read_yaml(text: str, label: str) -> tuple[dict[str, Any], dict[str, int]]:
    """A YAML mapping and the line of every dotted key in it (for ``--explain``)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(_yaml_error(label, e)) from None
    if values is None:
        return {}, {}
    if not isinstance(values, dict):
        raise ConfigError(f"{label} must hold a mapping of groups to settings.")
    lines: dict[str, int] = {}

    def walk(n: Any, prefix: str, depth: int) -> None:
        if not isinstance(n, yaml.MappingNode) or depth > 3:
            return
        for k, v in n.value:
            key = f"{prefix}{k.value}"
            lines[key] = k.start_mark.line + 1
            walk(v, key + ".", depth + 1)

    walk(node, "", 1)
    return values, lines


def _yaml_error(label: str, e: yaml.YAMLError) -> str:
    """One line: file, line, column and what the parser expected."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    context = getattr(e, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"{where} is not valid YAML: {detail}."


def _shipped(folder: str, name: str) -> tuple[str, str]:
    """The text of a shipped YAML file and its path relative to the package."""
    rel = f"{folder}/{name}.yaml" if folder else f"{name}.yaml"
    text = resources.files("eegbench.config").joinpath(rel).read_text()
    return text, f"eegbench/config/{rel}"


def file_layer(path: str | Path) -> Layer:
    """A config file (e.g. a run's ``config.yaml``) or a shipped preset's name, as a layer; a
    preset may ``extends`` another shipped preset (laid under it, key by key)."""
    p = Path(path)
    if not p.is_file() and str(path) in presets():
        text, rel = _shipped("presets", str(path))
        values, lines = _read_yaml(text, f"preset {path} ({rel})")
        parent = values.pop(EXTENDS, None)
        layer = Layer(f"preset {path}", values, rel, lines)
        return layer if parent is None else _extend(file_layer(str(parent)), layer)
    problem = file_problem(p)
    if problem:
        raise ConfigError(
            f"config file {str(p)!r} {problem} (shipped presets: {', '.join(presets())})."
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
    values, lines = _read_yaml(text, f"config file {p}")
    return Layer("config file", values, str(p), lines)


def load_config(path: str | Path) -> dict[str, Any]:
    """A config file or a shipped preset's name, as a plain mapping (not resolved)."""
    return file_layer(path).values


EXTENDS = "extends"


def benchmark_layer(name: str, seen: tuple[str, ...] = ()) -> Layer:
    """The settings of shipped benchmark ``name``: its file, laid over the benchmark it
    ``extends`` (if any) as a config file is laid over eegbench's defaults."""
    if name not in benchmarks():
        raise UnknownNameError(f"unknown benchmark {name!r}." + did_you_mean(name, benchmarks()))
    if name in seen:
        raise ConfigError(
            f"benchmarks extend each other in a circle: {' -> '.join([*seen, name])}."
        )
    text, rel = _shipped("benchmarks", name)
    label = f"benchmark {name} ({rel})"
    values, lines = _read_yaml(text, label)
    if BENCHMARK in values:
        raise ConfigError(f"{label}: a benchmark cannot name another benchmark.")
    layer = Layer(f"benchmark {name}", values, rel, lines)
    parent = values.pop(EXTENDS, None)
    if parent is not None:
        layer = _extend(benchmark_layer(str(parent), (*seen, name)), layer)
    dataset = (layer.values.get("dataset") or {}).get("name")
    if not dataset:
        raise ConfigError(f"{label} must choose its dataset (dataset: {{name: NAME}}).")
    return layer


def tryout_layer() -> Layer:
    """The offline try-out's settings (``tryout=true``, ``--tryout``): small models that need
    no download, over eegbench's defaults, under the benchmark, config file and command line."""
    text, rel = _shipped("", TRYOUT)
    values, lines = _read_yaml(text, f"try-out ({rel})")
    return Layer("try-out", values, rel, lines)


def _tryout(upper: list[Layer], base: Layer) -> bool:
    """Whether the try-out's layer applies: ``tryout`` as the highest layer setting it says."""
    value = base.values[TRYOUT]
    for layer in upper:
        value = layer.values.get(TRYOUT, value)
    return bool(coerce(value, SCALARS[TRYOUT], TRYOUT))


def _extend(base: Layer, top: Layer) -> Layer:
    """One layer of ``top`` over ``base``: key by key, a plugin group naming another plugin
    replacing the base's group; each key keeps the source it came from."""
    values = copy.deepcopy(base.values)
    sources = {k: base.source(k) for k in base.lines} | dict(base.sources)
    for key, value in top.values.items():
        old = values.get(key)
        renamed = isinstance(value, dict) and isinstance(old, dict) and key in GROUPS
        renamed = renamed and value.get("name") not in (None, old.get("name"))
        if isinstance(value, dict) and isinstance(old, dict) and not renamed:
            values[key] = {**old, **value}
        else:
            values[key] = copy.deepcopy(value)
            sources = {k: v for k, v in sources.items() if not k.startswith(f"{key}.")}
    sources |= {k: top.source(k) for k in top.lines}
    return Layer(top.label, values, top.path, {}, sources=sources)


def defaults_layer() -> Layer:
    """Layer 2: eegbench's own defaults, the reference."""
    values: dict[str, Any] = {
        f.name: f.default for f in dataclasses.fields(Settings) if f.name != BENCHMARK
    }
    values[BENCHMARK] = Settings.benchmark
    values.update(copy.deepcopy(DEFAULT_PLUGINS))
    return Layer(EEGBENCH_DEFAULT, values, "eegbench/config/schema.py")


# ------------------------------------------------------------------------------- overrides


class Raw(str):
    """An override value as typed: kept verbatim for text parameters, else its YAML value."""

    parsed: Any


_REGISTERED_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:+-]*")


def _well_formed(parts: list[str]) -> bool:
    if len(parts) == 3 and parts[0] == METRICS:  # metrics.NAME.KEY: NAME as registered
        return bool(_REGISTERED_NAME.fullmatch(parts[1])) and parts[2].isidentifier()
    if len(parts) == 3 and parts[0] in CORE_GROUPS:  # a nested section: eval.generation.KEY
        return all(p.isidentifier() for p in parts)
    return len(parts) <= 2 and all(p.isidentifier() for p in parts)


def _nested(tp: Any) -> type | None:
    """The section dataclass of a nested core key (``eval.generation``), else None."""
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


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


def known_keys() -> list[str]:
    return [*SCALARS, *GROUPS, *CORE_GROUPS, METRICS]


def overrides_layer(overrides: list[str] | tuple[str, ...]) -> Layer:
    """Layer 5: the command line's overrides in the config-file format."""
    layer = Layer(COMMAND_LINE, {})
    values = layer.values
    for text in overrides:
        parts, value = parse_override(text)
        head = parts[0]
        if head not in known_keys():
            raise ConfigError(f"unknown config key {head!r}." + did_you_mean(head, known_keys()))
        dotted = ".".join(parts)
        if head == METRICS:
            if len(parts) != 3:
                raise ConfigError(
                    "metrics holds metric parameters: set them as metrics.NAME.KEY=VALUE "
                    "(e.g. metrics.cider.tokenizer=java); choose metrics with eval.metrics=[...]."
                )
            values.setdefault(METRICS, {}).setdefault(parts[1], {})[parts[2]] = value
        elif len(parts) == 1:
            if head in CORE_GROUPS:
                raise ConfigError(f"{head} is a group: set its keys, e.g. {head}.epochs=3.")
            if head in GROUPS:
                values.setdefault(head, {})["name"] = value
                dotted = head
            else:
                values[head] = value
        else:
            if head in SCALARS:
                raise ConfigError(f"{head} is a single value: set it as {head}=VALUE.")
            if parts[1] == "name" and head in GROUPS:
                raise ConfigError(f"choose a {head} with {head}=NAME.")
            if len(parts) == 3:
                values.setdefault(head, {}).setdefault(parts[1], {})[parts[2]] = value
            else:
                values.setdefault(head, {})[parts[1]] = value
        layer.texts[dotted] = text
    return layer


# ------------------------------------------------------------------------------ resolution


def validate_scalar(key: str, value: Any) -> Any:
    """A top-level value checked against its declared type."""
    if key not in SCALARS:
        raise ConfigError(f"unknown config key {key!r}." + did_you_mean(key, list(SCALARS)))
    return coerce(value, SCALARS[key], key)


def _entry(kind: str, name: Any, where: str):
    """The registry entry ``name`` of ``kind``; unknown names list the valid ones."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} must name a registered {kind[:-1]}, got {name!r}.")
    try:
        return plugins.get(kind, name)
    except UnknownNameError as e:
        hint = plugins.plugin_manager().hook.unknown_name_hint(kind=kind, name=name)
        raise UnknownNameError(f"{e} {hint}" if hint else str(e)) from None


def _check_keys(layer: Layer) -> None:
    for key in layer.values:
        if key not in known_keys():
            raise ConfigError(
                f"{layer.source(key)}: unknown config key {key!r}."
                + did_you_mean(key, known_keys())
            )


def _check_named(layers: list[Layer], group: str) -> None:
    """An empty name (``encoder=``, what ``encoder=$UNSET`` gives) chooses nothing: an error,
    not the layer below's choice."""
    for layer in layers:
        section = layer.section(group) or {}
        if "name" in section and section["name"] in ("", None):
            where = layer.source(f"{group}.name" if layer.lines else group)
            raise ConfigError(f"{where}: no {group} chosen (the name is empty): add {group}=NAME.")


class _Resolver:
    """Resolves a stack of layers (lowest first) into a RunConfig with the origin of each value."""

    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.origins: dict[str, str] = {}

    def scalars(self) -> dict[str, Any]:
        out = {}
        for key, tp in SCALARS.items():
            value, src = None, ""
            for layer in self.layers:
                if key in layer.values:
                    value, src = layer.values[key], layer.source(key)
            out[key] = coerce(value, tp, key)
            self.origins[key] = src
        return out

    def plugin(
        self, group: str, kind: str, benchmark: Layer | None, random_weights: bool
    ) -> PluginChoice:
        chooser = max(
            (i for i, lay in enumerate(self.layers) if (lay.section(group) or {}).get("name")),
            default=None,
        )
        if chooser is None:
            raise ConfigError(f"no {group} chosen: add {group}=NAME.")
        _check_named(self.layers[chooser:], group)
        top = self.layers[chooser]
        entry = _entry(kind, top.section(group)["name"], group)
        self.origins[group] = top.source(f"{group}.name" if top.lines or top.sources else group)
        merged: dict[str, Any] = {}
        sources: dict[str, str] = {}
        stack = self.layers[chooser:]
        if benchmark is not None and benchmark not in stack:
            if (benchmark.section(group) or {}).get("name") == entry.name:
                stack = [benchmark, *stack]
        for layer in stack:
            for key, value in (layer.section(group) or {}).items():
                if key != "name":
                    merged[key] = value
                    sources[f"{group}.{key}"] = layer.source(f"{group}.{key}")
        params = entry.parse(merged, where=group)
        for key in values_of(params):
            dotted = f"{group}.{key}"
            self.origins[dotted] = sources.get(dotted, f"{PLUGIN_DEFAULT} ({entry.name})")
        if random_weights and isinstance(params, RandomWeights):
            params = dataclasses.replace(params, random_weights=True)
            self.origins[f"{group}.random_weights"] = self.origins["random_weights"]
        return PluginChoice(entry.name, params)

    def core(self, group: str, cls: type) -> Any:
        """A core section from every layer, key by key; a nested section (``eval.generation``)
        key by key too."""
        params = {p.name: p for p in params_of(cls)}
        values: dict[str, Any] = {}
        for key, param in params.items():
            self.origins[f"{group}.{key}"] = self.layers[0].source(group)
            nested = _nested(param.type)
            if nested is not None:
                values[key] = {}
                for sub in params_of(nested):
                    self.origins[f"{group}.{key}.{sub.name}"] = self.layers[0].source(group)
        for layer in self.layers:
            for key, value in (layer.section(group) or {}).items():
                if key not in params:
                    raise ConfigError(
                        f"{group} has no key {key!r}." + did_you_mean(key, list(params))
                    )
                dotted = f"{group}.{key}"
                nested = _nested(params[key].type)
                if nested is not None:
                    self._nested_keys(layer, dotted, nested, value, values[key])
                    continue
                values[key] = coerce(value, params[key].type, dotted)
                self.origins[dotted] = layer.source(dotted)
        for key, param in params.items():
            nested = _nested(param.type)
            if nested is not None:
                values[key] = nested(**values[key])
        return cls(**values)

    def _nested_keys(
        self, layer: Layer, dotted: str, cls: Any, section: Any, into: dict[str, Any]
    ) -> None:
        """The keys ``layer`` sets in the nested section ``dotted``, validated into ``into``."""
        if section is None:
            return
        if not isinstance(section, dict):
            raise ConfigError(
                f"{layer.source(dotted)}: {dotted} must be a mapping of keys to values, got "
                f"{section!r} (e.g. {dotted}.KEY=VALUE)."
            )
        params = {p.name: p for p in params_of(cls)}
        for key, value in section.items():
            if key not in params:
                raise ConfigError(
                    f"{dotted} has no key {key!r}." + did_you_mean(str(key), list(params))
                )
            into[key] = coerce(value, params[key].type, f"{dotted}.{key}")
            self.origins[f"{dotted}.{key}"] = layer.source(f"{dotted}.{key}")

    def metrics(
        self, chosen: tuple[str, ...], random_weights: bool = False
    ) -> dict[str, dict[str, Any]]:
        """``{name: params}`` for each chosen metric, in order, every parameter validated.

        Parameters of metrics that ``eval.metrics`` does not choose are validated too, then
        left out.
        """
        if len(set(chosen)) != len(chosen):
            twice = sorted({n for n in chosen if chosen.count(n) > 1})
            raise ConfigError(f"eval.metrics lists {', '.join(map(repr, twice))} more than once.")
        if not chosen:
            raise ConfigError("eval.metrics is empty: list at least one metric, e.g. [accuracy].")
        merged: dict[str, dict[str, Any]] = {}
        sources: dict[str, str] = {}
        for layer in self.layers:
            section = layer.values.get(METRICS)
            if section is None:
                continue
            if not isinstance(section, dict):
                raise ConfigError(
                    "metrics must map metric names to their parameters, e.g. "
                    "metrics: {cider: {tokenizer: java}}."
                )
            for name, params in section.items():
                if params is None:
                    params = {}
                if not isinstance(params, dict):
                    raise ConfigError(
                        f"metrics.{name} must map parameter names to values, got {params!r}."
                    )
                merged.setdefault(name, {}).update(params)
                for key in params:
                    dotted = f"{METRICS}.{name}.{key}"
                    sources[dotted] = layer.source(dotted)
        out: dict[str, Any] = {}
        for name in [*chosen, *(n for n in merged if n not in chosen)]:
            entry = _entry(METRICS, name, "eval.metrics")
            params = entry.parse(merged.get(name, {}), where=f"{METRICS}.{name}")
            if name in chosen:
                if random_weights and isinstance(params, RandomWeights):
                    params = dataclasses.replace(params, random_weights=True)
                out[name] = params
                self.origins[f"{METRICS}.{name}"] = self.origins["eval.metrics"]
                for key in values_of(params):
                    dotted = f"{METRICS}.{name}.{key}"
                    self.origins[dotted] = sources.get(dotted, f"{PLUGIN_DEFAULT} ({name})")
        return out


def _check_metric_overrides(cli: Layer, chosen: tuple[str, ...]) -> None:
    """A metric parameter set on the command line must belong to a selected metric."""
    known = plugins.registry("metrics")
    for name, params in (cli.values.get(METRICS) or {}).items():
        if name not in chosen and name in known:
            key = next(iter(params))
            raise ConfigError(
                f"metrics.{name}.{key} is set but eval.metrics does not list "
                f"{name!r}; add it, e.g. eval.metrics=[{','.join([*chosen, name])}]."
            )


def _benchmark(upper: list[Layer], base: Layer) -> tuple[Layer | None, str]:
    """The benchmark layer that applies (None: none) and why (for ``--explain``)."""
    name, src, explicit = base.values[BENCHMARK], base.source(BENCHMARK), False
    for layer in upper:
        if BENCHMARK in layer.values:
            name, src, explicit = layer.values[BENCHMARK], layer.source(BENCHMARK), True
    name = coerce(name, SCALARS[BENCHMARK], BENCHMARK)
    if name is None:
        return None, src
    bench = benchmark_layer(name)
    ours = bench.values["dataset"]["name"]
    chosen = [(lay.section("dataset") or {}).get("name") for lay in upper]
    chosen = [(n, lay) for n, lay in zip(chosen, upper, strict=True) if n]
    if chosen and chosen[-1][0] != ours:
        dataset, layer = chosen[-1]
        if explicit:
            raise ConfigError(
                f"benchmark={name} is a benchmark on dataset {ours!r}, but the config chooses "
                f"dataset {dataset!r}; drop benchmark={name} or set benchmark=none."
            )
        where = layer.source("dataset.name" if layer.lines else "dataset")
        return None, f"{src}: benchmark {name!r} dropped, the dataset is not {ours!r} ({where})"
    return bench, src


def resolve_layers(upper: list[Layer]) -> RunConfig:
    """The RunConfig of eegbench's defaults, the benchmark, and ``upper`` (lowest first)."""
    for layer in upper:
        _check_keys(layer)
    base = defaults_layer()
    bench, bench_src = _benchmark(upper, base)
    tryout = [tryout_layer()] if _tryout(upper, base) else []
    layers = [base, *tryout, *([bench] if bench is not None else []), *upper]
    r = _Resolver(layers)
    values: dict[str, Any] = r.scalars()
    values[BENCHMARK] = None if bench is None else values[BENCHMARK]
    r.origins[BENCHMARK] = bench_src if bench is None else r.origins[BENCHMARK]
    for group, kind in GROUPS.items():
        values[group] = r.plugin(group, kind, bench, values["random_weights"])
    for group, cls in CORE_GROUPS.items():
        values[group] = r.core(group, cls)
    if values["fast_dev_run"]:
        _rehearse(values, r.origins)
    controls = values["eval"].controls
    control_names(controls if isinstance(controls, str) else list(controls))
    if values["prompt"].render == "thought2text" and values["stage2"].mask_prompt:
        raise ConfigError(
            "prompt.render=thought2text puts the loss on every token, as Thought2Text does; "
            "use stage2.mask_prompt=false with it (or prompt.render=eegbench)."
        )
    cli = [lay for lay in upper if lay.label == COMMAND_LINE]
    if cli:
        _check_metric_overrides(cli[0], values["eval"].metrics)
    values[METRICS] = freeze(r.metrics(values["eval"].metrics, values["random_weights"]))
    return RunConfig(**values, origins=freeze(r.origins))


def _rehearse(values: dict[str, Any], origins: dict[str, str]) -> None:
    """``fast_dev_run``'s limits resolved into the config: one epoch per stage (what ran is
    what ``config.yaml`` and results.json say; the data limits are ``RunConfig.limits``)."""
    for stage in ("stage1", "stage2"):
        values[stage] = dataclasses.replace(values[stage], epochs=1)
        origins[f"{stage}.epochs"] = origins["fast_dev_run"]


def build_config(
    overrides: list[str] | tuple[str, ...] = (), base: str | Path | Mapping | None = None
):
    """The resolved config: eegbench's defaults, the benchmark, the ``base`` file (a path or a
    shipped preset's name, or a mapping in config.yaml's form), then the command-line
    ``overrides``."""
    cli = overrides_layer(list(overrides))
    if isinstance(base, Mapping):
        upper = [Layer("config", copy.deepcopy(dict(base)))]
    else:
        upper = [file_layer(base)] if base is not None else []
    return resolve_layers([*upper, cli])


def resolve(values: dict[str, Any], where: str = "config") -> RunConfig:
    """A config mapping (e.g. a saved ``config.yaml``) resolved like a config file."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must hold a mapping of groups to settings.")
    return resolve_layers([Layer(where, copy.deepcopy(values))])


def dump(cfg: RunConfig) -> str:
    """``config.yaml``'s text."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def explain(cfg: RunConfig) -> str:
    """Every resolved value, one per line, with where it came from."""
    rows = []

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                key = f"{prefix}.{k}" if prefix else str(k)
                if k == "name" and prefix in GROUPS:
                    key = prefix
                walk(v, key)
            return
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
        rows.append((prefix, text, cfg.origin(prefix)))

    walk(cfg.to_dict(), "")
    width = min(48, max(len(f"{k}: {v}") for k, v, _ in rows))
    return "\n".join(f"{f'{k}: {v}':<{width}}  # {src}" for k, v, src in rows) + "\n"
