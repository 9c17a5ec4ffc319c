"""A braindecode model wrapped as an eegbench encoder (imports torch; the bridge does not)."""

from __future__ import annotations

import torch
from torch import nn

from eegbench.api import ConfigError, EEGEncoder, EncoderContext


class BraindecodeEncoder(EEGEncoder):
    """``[B, C, T]`` -> the braindecode model's ``n_outputs`` outputs, used as features."""

    def __init__(
        self,
        model: nn.Module,
        name: str,
        n_chans: int,
        n_times: int,
        n_outputs: int,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        self.model = model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(torch.zeros(2, n_chans, n_times))
        except Exception as e:  # shape errors surface here for many models
            raise ConfigError(
                f"{name} fails on {n_chans} channels x {n_times} samples: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            ) from e
        finally:
            model.train(was_training)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_outputs):
            shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(
                f"{name} returns {shape} for a batch of 2, not [B, {n_outputs}]; "
                "it is not a per-trial encoder, pick another model."
            )
        self.n_features = n_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.model(x)
