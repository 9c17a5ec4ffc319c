"""Exceptions shown to users as one line by the CLI (``--debug`` shows the traceback).

The lowest layer of eegbench: every module may raise them; plugins import them from
``eegbench.api``."""

from __future__ import annotations


class EegbenchError(Exception):
    """Base class: a problem the user can fix. The message says what is wrong and how to fix it."""

    exit_code = 1


class ConfigError(EegbenchError):
    """A malformed override, unknown group/name/key, or a value of the wrong type."""

    exit_code = 2


class UnknownNameError(ConfigError):
    """A name that no registry holds; the message lists the valid names."""


class PluginError(EegbenchError):
    """A plugin broke its contract (duplicate name, bad registration)."""


class DataError(EegbenchError):
    """Input data with the wrong shape, NaNs, empty or corrupt files."""


class MissingWeightsError(EegbenchError):
    """Pretrained weights were asked for but are not available offline."""
