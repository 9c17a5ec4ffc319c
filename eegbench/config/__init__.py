"""The run config: a typed schema (``schema``), its resolution from layers (``resolve``) and
the preflight checks (``preflight``).

``build_config(overrides, base)`` returns one frozen :class:`RunConfig`; the layering order is
described in ``resolve``'s docstring and docs/configuration.md. Every default has one home: core
values in ``schema.py``, plugin parameters in each plugin's params dataclass, a benchmark's tuned
settings in ``benchmarks/<name>.yaml``.
"""

from eegbench.config.resolve import (
    METRICS,
    Layer,
    Raw,
    benchmarks,
    build_config,
    dump,
    explain,
    load_config,
    parse_override,
    presets,
    resolve,
)
from eegbench.config.schema import (
    CORE_GROUPS,
    DEFAULT_PLUGINS,
    DEVICE_PATTERN,
    SCALARS,
    EvalConfig,
    GenerationSettings,
    PluginChoice,
    PromptConfig,
    RunConfig,
    Settings,
    Stage1Config,
    Stage2Config,
    check_run_name,
)

__all__ = [
    "CORE_GROUPS",
    "DEFAULT_PLUGINS",
    "DEVICE_PATTERN",
    "METRICS",
    "SCALARS",
    "EvalConfig",
    "GenerationSettings",
    "Layer",
    "PluginChoice",
    "PromptConfig",
    "Raw",
    "RunConfig",
    "Settings",
    "Stage1Config",
    "Stage2Config",
    "benchmarks",
    "build_config",
    "check_run_name",
    "dump",
    "explain",
    "load_config",
    "parse_override",
    "presets",
    "resolve",
]
