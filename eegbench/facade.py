"""The Python entry point for notebooks and scripts: ``eegbench.run(...)``.

The top of the layers (it may import any package below); ``eegbench/__init__.py`` exports
``run`` lazily, so ``import eegbench`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eegbench.config import RunConfig, build_config
from eegbench.contract.errors import ConfigError
from eegbench.results.record import RunRecord


def run(
    config: str | Path | RunConfig | Mapping[str, Any] | Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    *,
    keep_failed: bool = False,
) -> RunRecord:
    """Run one configuration end to end, as ``eegbench run`` does, and return its record.

    ``config``: a shipped preset's name or a config file (as ``--config``), a resolved
    :class:`~eegbench.config.RunConfig`, a mapping in ``config.yaml``'s form, or a list of
    overrides (``["encoder=eegnet", "stage1.epochs=2"]``); ``overrides`` are laid over it. The
    run folder is written as by the command line (``record.run_dir``; ``eegbench.load_run`` loads
    its modules back). A bad config raises ConfigError with the command line's one-line message.
    """
    from eegbench.runner import run as run_config

    record = run_config(_config(config, overrides), keep_failed=keep_failed)
    if record is None:  # a rank other than 0 of a launcher
        raise ConfigError("eegbench.run() runs in one process; launch several with the CLI.")
    return record


def _config(config: Any, overrides: Sequence[str]) -> RunConfig:
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a list of key=value strings, got {overrides!r}.")
    if isinstance(config, (list, tuple)):
        return build_config([*config, *overrides])
    if isinstance(config, RunConfig):
        return build_config(list(overrides), base=config.to_dict()) if overrides else config
    return build_config(list(overrides), base=config)
