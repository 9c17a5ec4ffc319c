"""The exceptions of :mod:`eegbench.errors` under the plugin contract (``eegbench.api``).

They are defined below every other layer, so that the progress and I/O helpers can raise them
too; plugins import them from ``eegbench.api``.
"""

from eegbench.errors import (
    ConfigError,
    DataError,
    EegbenchError,
    MissingWeightsError,
    PluginError,
    UnknownNameError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "EegbenchError",
    "MissingWeightsError",
    "PluginError",
    "UnknownNameError",
]
