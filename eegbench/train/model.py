"""Core heads around any encoder, and the projector into an LLM's embedding space."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from eegbench.train.device import FP32, Precision, module_device


class EEGClassifier(nn.Module):
    """encoder ``[B,C,T] -> [B,F]``, embedding ``Linear(F->D)``, classifier ``Linear(D->K)``."""

    def __init__(self, encoder: nn.Module, embed_dim: int, n_classes: int) -> None:
        super().__init__()
        n_features = getattr(encoder, "n_features", None)
        if not isinstance(n_features, int) or n_features <= 0:
            raise TypeError(f"encoder {type(encoder).__name__} must expose n_features (int > 0).")
        self.encoder = encoder
        self.embed = nn.Linear(n_features, embed_dim)
        self.classifier = nn.Linear(embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (embedding ``[B,D]``, logits ``[B,K]``)."""
        emb = self.embed(self.encoder(x))
        return emb, self.classifier(emb)

    @torch.no_grad()
    def predict(
        self, X: np.ndarray | torch.Tensor, batch_size: int = 256, precision: Precision = FP32
    ) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings ``[N,D]``, logits ``[N,K]``) of trials ``X`` ``[N,C,T]``, in eval mode,
        as float32 on the host; batches move to the model's device one at a time under
        ``precision``'s autocast."""
        self.eval()
        device = module_device(self)
        X = torch.as_tensor(X)
        embs, logits = [], []
        for i in range(0, len(X), batch_size):
            with precision.autocast():
                e, lg = self(X[i : i + batch_size].to(device, non_blocking=True))
            embs.append(e.float().cpu())
            logits.append(lg.float().cpu())
        return torch.cat(embs).numpy(), torch.cat(logits).numpy()


class Projector(nn.Module):
    """``Linear(D -> n_tokens * d_model)``: EEG embedding to soft tokens ``[B, n, d_model]``.

    ``normalize``: inputs are scaled to unit length first (for embeddings trained with a cosine
    or InfoNCE loss, whose length carries no meaning, next to unit-length targets).
    """

    def __init__(
        self, embed_dim: int, d_model: int, n_tokens: int = 1, normalize: bool = False
    ) -> None:
        super().__init__()
        self.n_tokens = n_tokens
        self.d_model = d_model
        self.normalize = normalize
        self.proj = nn.Linear(embed_dim, n_tokens * d_model)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            emb = nn.functional.normalize(emb, dim=-1)
        return self.proj(emb).view(emb.shape[0], self.n_tokens, self.d_model)
