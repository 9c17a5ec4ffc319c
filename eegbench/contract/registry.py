"""Typed registries, one per plugin kind, with lazy factories and did-you-mean errors."""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from eegbench.contract.errors import ConfigError, PluginError, UnknownNameError

GROUPS: dict[str, str] = {
    "dataset": "datasets",
    "encoder": "encoders",
    "target": "targets",
    "llm": "llms",
}
"""The config groups that each choose one plugin (``encoder=NAME``), in data-path order, and the
plugin kind they choose from. Every list of groups or kinds in eegbench derives from this one."""
KINDS: tuple[str, ...] = (*GROUPS.values(), "metrics")
"""Every plugin kind (one registry each); metrics are listed in ``eval.metrics``."""


def did_you_mean(name: str, choices: list[str]) -> str:
    """A hint sentence naming the closest choices and listing them all."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Valid: {', '.join(sorted(choices)) or '(none)'}."


@dataclass(frozen=True)
class Param:
    """One typed parameter of a registered item."""

    name: str
    type: Any
    default: Any
    help: str = ""
    required: bool = False  # no default: the config must give it

    @property
    def type_name(self) -> str:
        return type_name(self.type)


_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _constraint_text(c: Any) -> list[str]:
    out = [f"{op} {getattr(c, a)!r}" for a, op in _BOUNDS if getattr(c, a, None) is not None]
    for attr, text in (("min_length", "len >="), ("max_length", "len <=")):
        if getattr(c, attr, None) is not None:
            out.append(f"{text} {getattr(c, attr)}")
    if not out and getattr(c, "description", None):
        out.append(str(c.description))
    return out


def type_name(tp: Any) -> str:
    """A readable type with its declared range, e.g. ``int >= 1`` or ``float > 0 | None``."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *extras = typing.get_args(tp)
        bounds = [t for c in extras for t in _constraint_text(c)]
        for c in extras:  # pydantic FieldInfo keeps its constraints in .metadata
            bounds += [t for m in getattr(c, "metadata", []) for t in _constraint_text(m)]
        return " ".join([type_name(base), ", ".join(bounds)]).strip()
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and args:
        return " | ".join(type_name(a) for a in args)
    if isinstance(tp, type) and not args:
        return "None" if tp is type(None) else tp.__name__
    origin = typing.get_origin(tp)
    if origin in (list, tuple, dict, set) and args:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    return str(tp).replace("typing.", "")


def params_of(params_cls: type | None) -> list[Param]:
    """The parameters a params dataclass declares (field metadata ``help`` is the description)."""
    if params_cls is None:
        return []
    hints = typing.get_type_hints(params_cls, include_extras=True)
    out = []
    for f in dataclasses.fields(params_cls):
        required = False
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default, required = None, True
        help_ = f.metadata.get("help", "")
        out.append(Param(f.name, hints.get(f.name, Any), default, help_, required))
    return out


def _unannotated(tp: Any) -> Any:
    """``Annotated[T, ...]`` -> ``T``; other types unchanged."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _from_command_line(value: Any, tp: Any) -> Any:
    """A command-line value (``config.Raw``): verbatim for text, ``a,b`` -> list for sequences."""
    if not hasattr(value, "parsed"):
        return value
    parsed = value.parsed
    tp = _unannotated(tp)
    if tp is str:
        return str(value)
    kinds = {typing.get_origin(t) for t in (tp, *typing.get_args(tp))}
    if kinds & {list, tuple} and isinstance(parsed, str) and "," in parsed:
        return [v.strip() for v in parsed.split(",")]
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        args = tuple(_unannotated(a) for a in typing.get_args(tp))
        if str in args and int not in args and float not in args:
            return str(value)
    return parsed


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Validate ``value`` against type ``tp`` (pydantic lax mode); raise ConfigError if it fails."""
    from pydantic import TypeAdapter, ValidationError

    value = _from_command_line(value, tp)
    try:
        return TypeAdapter(tp).validate_python(value)
    except ValidationError as e:
        error = e.errors()[0]
        if error["type"] == "value_error":  # a validator's own sentence says what is wanted
            msg = error["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{where}={value!r}: {msg}.") from None
        raise ConfigError(
            f"{where}={value!r}: expected {type_name(tp)} ({error['msg']})."
        ) from None


@dataclass(frozen=True)
class Spec:
    """One registered item as a plugin declares it: the single place of its name, factory,
    parameters, citation, description and preflight.

    ``factory`` is a lazy ``"module:attr"`` string (or a callable); ``params`` the dataclass of
    its typed parameters (its ``__post_init__`` may check values; make it ``frozen=True``: a
    resolved config holds the instance); the factory gets the validated instance where it
    declares a parameter of that class (``def load(p: MyParams)``), else one keyword argument
    per field. ``preflight`` (optional, a
    callable or lazy ``"module:attr"``) takes the item's validated params instance and returns the
    problems that would stop it at run time (a missing program, weights or extra), each a
    sentence saying how to fix it. ``provides`` (datasets, optional, same form) gives, for the
    validated parameters, which of ``DATA_KINDS`` the data may carry (what it leaves out is
    certainly absent: the preflight then checks no LLM for a dataset without captions);
    ``needs`` (targets, optional) which of them the item embeds. A hook's ``register``
    callback takes Specs.
    """

    name: str
    factory: str | Callable[..., Any]
    params: type | None = None
    citation: str = ""
    description: str = ""
    preflight: str | Callable[[Any], list[str]] | None = None
    provides: str | Callable[[Any], Iterable[str] | None] | None = None
    needs: str | Callable[[Any], Iterable[str]] | None = None


DATA_KINDS = ("captions", "images")
"""What a dataset's trials may come with beyond the EEG (``Spec.provides``, ``Spec.needs``)."""


def as_spec(item: Spec | str, factory: Any = None, **fields: Any) -> Spec:
    """A registration as a ``Spec``: a Spec as it is, or the keyword form
    ``register(name, factory, params=..., citation=..., ...)`` with Spec's own fields."""
    if isinstance(item, Spec):
        if factory is not None or fields:
            raise PluginError(f"register({item.name!r}): pass a Spec alone, or name and factory.")
        return item
    return Spec(item, factory, **fields)


@dataclass(frozen=True)
class Entry:
    """A registered item: its ``Spec``, the kind it is registered as and the plugin that
    registered it. The Spec's fields read through (``entry.name``, ``entry.params``, ...)."""

    kind: str
    spec: Spec
    plugin: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def factory(self) -> str | Callable[..., Any]:
        return self.spec.factory

    @property
    def params(self) -> type | None:
        return self.spec.params

    @property
    def citation(self) -> str:
        return self.spec.citation

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def preflight(self) -> str | Callable[[Any], list[str]] | None:
        return self.spec.preflight

    def load(self) -> Callable[..., Any]:
        """The factory, importing ``"module:attr"`` on first use."""
        return self._resolve(self.factory)

    def _resolve(self, ref: str | Callable[..., Any]) -> Callable[..., Any]:
        if callable(ref):
            return ref
        module, _, attr = ref.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ImportError as e:
            raise PluginError(
                f"{self.kind[:-1]} {self.name!r} needs a module that is not installed: {e}"
            ) from e
        return obj

    def instance(self, params: Any, where: str | None = None) -> Any:
        """``params`` as the item's params instance: an instance as it is, a mapping of values
        (a saved run's, a script's) validated by ``parse``."""
        return self.parse(params, where) if isinstance(params, Mapping) else params

    def provides(self, params: Any) -> frozenset[str] | None:
        """Which of ``DATA_KINDS`` the item's data may carry with these parameters (its params
        instance, or values; None: not declared, or not knowable before loading)."""
        if self.spec.provides is None:
            return None
        kinds = self._resolve(self.spec.provides)(self.instance(params))
        return None if kinds is None else frozenset(kinds)

    def needs(self, params: Any) -> frozenset[str]:
        """Which of ``DATA_KINDS`` the item needs from the data with these parameters."""
        if self.spec.needs is None:
            return frozenset()
        return frozenset(self._resolve(self.spec.needs)(self.instance(params)))

    def check(self, params: Any, where: str | None = None) -> list[str]:
        """The declared preflight's problems for these parameters, each naming the item."""
        if self.preflight is None:
            return []
        problems = self._resolve(self.preflight)(self.instance(params, where))
        return [f"{where or self.kind[:-1]} {self.name!r}: {p}" for p in problems]

    def param_list(self) -> list[Param]:
        return params_of(self.params)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.param_list()}

    def parse(self, values: Mapping[str, Any], where: str | None = None) -> Any:
        """The params dataclass instance of ``values`` over the defaults (None for an item that
        declares no parameters); unknown keys and wrong types raise ConfigError.

        The instance is what travels from the config to the factory: validated here, once.
        Checks in the dataclass's ``__post_init__`` (value ranges, combinations) run here.
        """
        where = where or self.kind[:-1]
        params = {p.name: p for p in self.param_list()}
        out = self.defaults()
        for key, value in values.items():
            if key not in params:
                raise ConfigError(
                    f"{where} {self.name!r} has no parameter {key!r}."
                    + did_you_mean(key, list(params))
                )
            out[key] = coerce(value, params[key].type, f"{where}.{key}")
        return None if self.params is None else self.params(**out)

    def make(self, params: Any, *args: Any, **context: Any) -> Any:
        """Call the factory with ``args``, ``context`` and the validated ``params`` (from
        ``parse``; a mapping of values is parsed first): as the instance where the factory
        declares a parameter of the params class, else as keyword arguments, one per field."""
        params = self.instance(params)
        factory = self.load()
        if params is not None and takes_params(factory, self.params):
            return factory(*args, params, **context)
        return factory(*args, **values_of(params), **context)

    def build(self, *args: Any, **values: Any) -> Any:
        """Call the factory with ``args`` and the parameters ``values`` (validated first)."""
        return self.make(self.parse(values), *args)


def values_of(params: Any) -> dict[str, Any]:
    """A params instance's fields by name (``{}`` for None): its plain form, as config.yaml
    writes it."""
    if params is None:
        return {}
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def takes_params(factory: Callable[..., Any], params_cls: type | None) -> bool:
    """Whether ``factory`` (a function, a class by its ``__init__``, or a ``functools.partial``
    of one) declares a parameter annotated with ``params_cls`` (the class, or its name as a
    postponed annotation): it then gets the params instance itself."""
    if params_cls is None:
        return False
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature
        return False
    name = params_cls.__name__
    for param in signature.parameters.values():
        ann = param.annotation
        if ann is params_cls or (isinstance(ann, str) and ann.split(".")[-1] == name):
            return True
    return False


@typing.runtime_checkable
class RunSeeded(typing.Protocol):
    """Parameters with a ``seed`` (a simulated dataset's world): left None, the run's seed is
    used, so every seed of a run draws another world."""

    seed: int | None


@typing.runtime_checkable
class RandomWeights(typing.Protocol):
    """Parameters with ``random_weights``: the item builds its architecture with random weights
    (``random_weights=true``, ``--random-weights``), and the run is marked a rehearsal."""

    random_weights: bool


def register_all(register: Callable[..., None], specs: Iterable[Spec]) -> None:
    """Pass every spec of a family's table to a hook's ``register`` callback."""
    for spec in specs:
        register(spec)


@dataclass
class Registry:
    """All registered items of one kind."""

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        if entry.name in self._entries:
            other = self._entries[entry.name].plugin
            raise PluginError(
                f"{self.kind[:-1]} {entry.name!r} is registered twice "
                f"(by {other!r} and {entry.plugin!r}); rename one of them."
            )
        self._entries[entry.name] = entry

    def get(self, name: str) -> Entry:
        if name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind[:-1]} {name!r}." + did_you_mean(name, list(self._entries))
            )
        return self._entries[name]

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)
