"""Hook specifications. Each hook hands the plugin a ``register`` callback.

A plugin module implements any of these with ``@eegbench.hookimpl`` and is listed under the
``eegbench`` entry-point group of its distribution::

    [project.entry-points.eegbench]
    my_plugin = "my_package.plugin"

``register(Spec(name, factory, params=None, citation="", description="", preflight=None))``:
``factory`` is a callable or a lazy ``"module:attr"`` string (imported on first use, so heavy
dependencies load only when the item is chosen); ``params`` is a dataclass whose fields are the
item's typed parameters with their defaults (frozen: a resolved config holds the instance; its
``__post_init__`` may check values, once, when the config resolves). The factory gets that
validated instance where it declares a parameter of the params class (``def load(p:
MyParams)``), else one keyword argument per field (``params`` written below). ``preflight``
(callable or ``"module:attr"``, kept light) maps the validated params instance to a list of
problems known before any training (a missing program,
weights or optional extra), each one sentence saying how to fix it. ``Spec`` is the one place
these fields are written: the built-ins keep one table of Specs per kind and call
``register_all(register, TABLE)``; the registry keeps each Spec in its ``Entry``. The keyword
form ``register(name, factory, params=..., ...)`` builds the same Spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("eegbench")
hookimpl = pluggy.HookimplMarker("eegbench")

Register = Callable[..., None]


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset factories: ``factory(params) -> EEGData``."""


@hookspec
def register_encoders(register: Register) -> None:
    """Register EEG encoders: ``factory(n_chans, n_times, params) -> nn.Module``.

    The module maps ``[B, C, T]`` to features ``[B, F]`` and exposes ``n_features`` (= F).
    It holds no task head: the core adds the embedding and classifier heads.
    """


@hookspec
def register_targets(register: Register) -> None:
    """Register target embedders: ``factory(params) -> Target`` (``eegbench.api.Target``)."""


@hookspec
def register_llms(register: Register) -> None:
    """Register LLM backends: ``factory(ctx: BuildContext, params) -> CausalLM``."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics and protocols: ``factory(params) -> Metric`` (``eegbench.api.Metric``).

    A metric's parameters are set as ``metrics.NAME.KEY=VALUE``; a protocol is named
    ``protocol:NAME``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``eegbench`` click group."""


@hookspec(firstresult=True)
def unknown_name_hint(kind: str, name: str) -> str | None:
    """A sentence explaining an unknown name (e.g. "install the braindecode extra"), or None."""
