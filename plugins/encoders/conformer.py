"""EEG Conformer (Song et al. 2022): conv patch embedding + transformer encoder.

The paper's classification MLP is left to the core heads; features are the flattened tokens.
Attention scores are scaled by 1/sqrt(embedding size), as in the authors' code.
Small inputs: the temporal kernel and the average pool shrink to the time steps left.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from eegbench_plugins.encoders.common import fit_pool, out_len
from eegbench_plugins.encoders.params import ConformerParams
from torch import nn

from eegbench.api import ConfigError, EEGEncoder, EncoderContext


class MultiHeadAttention(nn.Module):
    """Self-attention with separate query/key/value projections and an output projection."""

    def __init__(self, emb: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.queries = nn.Linear(emb, emb)
        self.keys = nn.Linear(emb, emb)
        self.values = nn.Linear(emb, emb)
        self.projection = nn.Linear(emb, emb)
        self.scale = emb**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, e = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, e // self.heads).transpose(1, 2)

        q, k, v = split(self.queries(x)), split(self.keys(x)), split(self.values(x))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, scale=self.scale
        )
        return self.projection(out.transpose(1, 2).reshape(b, n, e))


class TransformerBlock(nn.Module):
    """Pre-norm attention and feed-forward sublayers, each with dropout and a residual."""

    def __init__(self, emb: int, heads: int, dropout: float, expansion: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(emb)
        self.attn = MultiHeadAttention(emb, heads, dropout)
        self.norm2 = nn.LayerNorm(emb)
        self.ff = nn.Sequential(
            nn.Linear(emb, expansion * emb),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(expansion * emb, emb),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.ff(self.norm2(x)))


class EEGConformer(EEGEncoder):
    """Patch embedding (temporal conv, spatial conv, BN, ELU, avg pool, 1x1 projection), then
    a transformer over the pooled time steps; features ``[B, n_tokens * n_filters]``."""

    def __init__(
        self,
        n_chans: int,
        n_times: int,
        p: ConformerParams = ConformerParams(),
        *,
        context: EncoderContext | None = None,
    ) -> None:
        super().__init__(n_chans, n_times, context=context)
        if p.n_filters % p.heads:
            raise ConfigError(
                f"conformer: heads={p.heads} must divide n_filters={p.n_filters}; "
                "change encoder.heads or encoder.n_filters."
            )
        self.params = p
        k = min(p.kernel_length, n_times)
        t = out_len(n_times, k)
        pool, stride = fit_pool(t, p.pool_length, p.pool_stride)
        self.n_tokens = out_len(t, pool, stride)
        self.patch_embedding = nn.Sequential(
            nn.Conv2d(1, p.n_filters, (1, k)),
            nn.Conv2d(p.n_filters, p.n_filters, (n_chans, 1)),
            nn.BatchNorm2d(p.n_filters),
            nn.ELU(),
            nn.AvgPool2d((1, pool), (1, stride)),
            nn.Dropout(p.dropout),
            nn.Conv2d(p.n_filters, p.n_filters, 1),
        )
        self.transformer = nn.Sequential(
            *[TransformerBlock(p.n_filters, p.heads, p.dropout) for _ in range(p.depth)]
        )
        self.n_features = self.n_tokens * p.n_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        tokens = self.patch_embedding(x.unsqueeze(1)).flatten(2).transpose(1, 2)
        return self.transformer(tokens).flatten(1)
