"""The one plugin manager: loads the ``eegbench`` entry points and fills the registries.

Built-in plugins are ordinary entry points of this distribution. A plugin whose import or hook
raises is recorded in ``failures()`` and skipped; everything else keeps working.
Set ``EEGBENCH_BLOCK_PLUGINS=name1,name2`` to skip plugins by entry-point name.
"""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from eegbench.contract import hooks as hookspecs
from eegbench.contract.errors import PluginError, UnknownNameError
from eegbench.contract.registry import KINDS, Entry, Registry, Spec, as_spec

GROUP = "eegbench"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    dist: str
    version: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class PluginFailure:
    name: str
    dist: str
    error: str
    detail: str


class _State:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.dists: dict[str, tuple[str, str]] = {}
        self.failures: list[PluginFailure] = []
        self.registries: dict[str, Registry] | None = None


def _blocked() -> set[str]:
    return {b.strip() for b in os.environ.get("EEGBENCH_BLOCK_PLUGINS", "").split(",")} - {""}


@functools.cache
def _state() -> _State:
    st = _State()
    blocked = _blocked()
    for ep in metadata.entry_points(group=GROUP):
        if ep.name in blocked or st.pm.get_plugin(ep.name) is not None:
            continue
        dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("?", "?")
        try:
            register_plugin(ep.load(), ep.name, dist, st)
        except Exception as e:  # a broken plugin must not break the CLI
            st.failures.append(_failure(ep.name, dist[0], e))
    return st


def _failure(name: str, dist: str, e: BaseException) -> PluginFailure:
    detail = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return PluginFailure(name, dist, f"{type(e).__name__}: {e}", detail)


def register_plugin(
    module: ModuleType | object,
    name: str,
    dist: tuple[str, str] = ("(local)", ""),
    st: _State | None = None,
) -> None:
    """Register a plugin object (as an entry point would); registries are rebuilt on next use."""
    st = st or _state()
    st.pm.register(module, name=name)
    st.pm.check_pending()
    st.dists[name] = dist
    st.registries = None


def plugin_manager() -> pluggy.PluginManager:
    return _state().pm


def _registrar(reg: Registry, plugin: str) -> Callable[..., None]:
    """The ``register`` callback a hook of ``plugin`` gets: ``register(Spec(...))`` (or the
    keyword form ``register(name, factory, params=..., ...)`` with Spec's fields)."""

    def register(item: Spec | str, factory: Any = None, /, **fields: Any) -> None:
        reg.add(Entry(reg.kind, as_spec(item, factory, **fields), plugin))

    return register


def _build_registries(st: _State) -> dict[str, Registry]:
    regs = {kind: Registry(kind) for kind in KINDS}
    failed = {f.name for f in st.failures}
    for kind in KINDS:
        hook = getattr(st.pm.hook, f"register_{kind}")
        for impl in reversed(hook.get_hookimpls()):
            reg = regs[kind]

            try:
                impl.function(register=_registrar(reg, impl.plugin_name))
            except Exception as e:
                if impl.plugin_name not in failed:
                    failed.add(impl.plugin_name)
                    dist = st.dists.get(impl.plugin_name, ("?", "?"))[0]
                    st.failures.append(_failure(impl.plugin_name, dist, e))
    return regs


def registry(kind: str) -> Registry:
    """The registry of one kind (``datasets``, ``encoders``, ``targets``, ``llms``, ``metrics``)."""
    if kind not in KINDS:
        raise PluginError(f"unknown plugin kind {kind!r}; valid: {', '.join(KINDS)}.")
    return _registries(_state())[kind]


def _registries(st: _State) -> dict[str, Registry]:
    """Every registry, filled by running the plugins' hooks on first use."""
    if st.registries is None:
        st.registries = _build_registries(st)
    return st.registries


def get(kind: str, name: str) -> Entry:
    """The entry ``name`` of ``kind``; an unknown name says if a blocked plugin provides it."""
    try:
        return registry(kind).get(name)
    except UnknownNameError as e:
        blocker = _blocked_provider(kind, name)
        if blocker is None:
            raise
        raise UnknownNameError(
            f"{kind[:-1]} {name!r} is provided by plugin {blocker}, which EEGBENCH_BLOCK_PLUGINS "
            "blocks; remove it from EEGBENCH_BLOCK_PLUGINS to use it."
        ) from e


def _blocked_provider(kind: str, name: str) -> str | None:
    """``"'plugin' (distribution)"`` of a blocked, installed plugin registering ``name``."""
    for ep in metadata.entry_points(group=GROUP):
        if ep.name not in _blocked():
            continue
        names: list[str] = []
        try:
            pm = pluggy.PluginManager(GROUP)
            pm.add_hookspecs(hookspecs)
            pm.register(ep.load(), name=ep.name)
            for impl in getattr(pm.hook, f"register_{kind}").get_hookimpls():
                impl.function(
                    register=lambda item, *a, _names=names, **kw: _names.append(
                        as_spec(item, *a, **kw).name
                    )
                )
        except Exception:
            continue
        if name in names:
            return f"{ep.name!r} ({ep.dist.name if ep.dist is not None else '?'})"
    return None


def distribution(plugin: str) -> str:
    """``"name version"`` of the distribution that installed ``plugin``."""
    dist, version = _state().dists.get(plugin, ("?", ""))
    return f"{dist} {version}".strip()


def plugins() -> list[PluginInfo]:
    st = _state()
    out = []
    for name, plugin in st.pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in st.pm.get_hookcallers(plugin) or []))
        dist, version = st.dists.get(name, ("?", "?"))
        out.append(PluginInfo(name, dist, version, hooks))
    return sorted(out, key=lambda p: p.name)


def failures() -> list[PluginFailure]:
    """Plugins that failed to load or whose hooks raised (the hooks run to find out)."""
    st = _state()
    _registries(st)
    return list(st.failures)


def reset() -> None:
    """Forget loaded plugins (tests use this after faking an installed distribution)."""
    _state.cache_clear()
