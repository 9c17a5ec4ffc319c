"""The encoder contract: a module mapping ``[B, C, T]`` trials to ``[B, n_features]`` features,
built from the data's context (braindecode's ``EEGModuleMixin`` arguments: channels, samples,
sampling rate, channel names).

``factory(n_chans, n_times, **params)`` builds an encoder. A factory that also declares a
keyword parameter ``context`` receives the :class:`EncoderContext` (``sfreq``, ``ch_names``),
so a plugin never asks the user for what the data already knows; factories written before it
keep working unchanged. :class:`EEGEncoder` is the base class the built-in encoders use: it
takes the context, checks input shapes and holds ``sfreq`` and ``ch_names``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from eegbench.contract.errors import ConfigError, DataError

if TYPE_CHECKING:
    from eegbench.contract.data import EEGData
    from eegbench.contract.registry import Entry


@dataclass(frozen=True)
class EncoderContext:
    """What the data tells an encoder: its input shape, sampling rate and channel names."""

    n_chans: int
    n_times: int
    sfreq: float | None = None
    ch_names: tuple[str, ...] | None = None

    @classmethod
    def of(cls, data: EEGData) -> EncoderContext:
        names = tuple(data.ch_names) if data.ch_names else None
        return cls(data.n_chans, data.n_times, float(data.sfreq), names)


class EEGEncoder(nn.Module):
    """Base class: maps ``[B, C, T]`` to ``[B, n_features]``; checks the input shape.

    ``context`` (passed by the core) gives ``sfreq`` and ``ch_names``; without it they are None.
    """

    n_features: int

    def __init__(
        self, n_chans: int, n_times: int, *, context: EncoderContext | None = None
    ) -> None:
        super().__init__()
        if n_chans < 1 or n_times < 1:
            raise ConfigError(
                f"an encoder needs n_chans >= 1 and n_times >= 1, got {n_chans} x {n_times}."
            )
        self.n_chans = int(n_chans)
        self.n_times = int(n_times)
        self.sfreq = context.sfreq if context is not None else None
        self.ch_names = context.ch_names if context is not None else None

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1] != self.n_chans or x.shape[2] != self.n_times:
            raise DataError(
                f"{type(self).__name__} was built for [B, {self.n_chans}, {self.n_times}] input, "
                f"got {list(x.shape)}; rebuild the encoder for this data shape."
            )


def takes_context(factory: Callable[..., Any]) -> bool:
    """Whether ``factory``'s signature declares a ``context`` keyword parameter."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    p = params.get("context")
    return p is not None and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)


def build_encoder(entry: Entry, context: EncoderContext, params: Any) -> nn.Module:
    """Encoder ``entry`` for ``context`` with its validated ``params`` (the instance from
    ``Entry.parse``); the context goes to a factory that declares it."""
    extra = {"context": context} if takes_context(entry.load()) else {}
    return entry.make(params, context.n_chans, context.n_times, **extra)
