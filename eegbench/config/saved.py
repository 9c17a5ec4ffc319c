"""A tolerant reader of a saved config (a run's ``config.yaml``, a record's ``config``).

Readers of finished runs (leaderboards, the report page, ``compare``) meet configs written by
any eegbench version, which need not resolve today; they read the little they need here, so no
code outside ``eegbench/config`` indexes a config by string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eegbench.contract.registry import GROUPS


@dataclass(frozen=True)
class SavedConfig:
    """The plugin names, seed and metric settings of a saved config."""

    plugins: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    metrics: list[str] | None = None
    metric_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, config: Mapping[str, Any] | None) -> SavedConfig:
        config = config if isinstance(config, Mapping) else {}
        plugins = {}
        for group in GROUPS:
            section = config.get(group)
            name = section.get("name") if isinstance(section, Mapping) else None
            plugins[group] = str(name) if name is not None else "?"
        ev = config.get("eval")
        metrics = ev.get("metrics") if isinstance(ev, Mapping) else None
        params = config.get("metrics")
        seed = config.get("seed")
        return cls(
            plugins,
            seed if isinstance(seed, int) else None,
            list(metrics) if isinstance(metrics, list) else None,
            dict(params) if isinstance(params, Mapping) else {},
        )
