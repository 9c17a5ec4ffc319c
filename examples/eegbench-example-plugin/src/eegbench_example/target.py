"""``example-bow``: bag-of-words target embeddings by feature hashing (no model weights).

Every lower-cased word of a caption adds a signed one-hot vector at ``hash(word) % dim``;
rows are scaled to unit length. Stable across runs and machines (an MD5 of the word).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from eegbench_example.plugin import BagOfWordsParams

WORD = re.compile(r"[a-z0-9']+")


class BagOfWords:
    """A text target: ``embed(captions) -> [n, dim]`` float32."""

    modality = "text"

    def __init__(self, p: BagOfWordsParams) -> None:
        from eegbench.api import ConfigError

        if p.dim < 2:
            raise ConfigError(f"target.dim={p.dim} must be >= 2.")
        self.dim = p.dim
        self.cache_key = f"example-bow-v1-{p.dim}"  # changes whenever the embedding would

    def _slot(self, word: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.md5(word.encode(), usedforsecurity=False).digest()[:8], "little")
        return h % self.dim, 1.0 if (h >> 63) & 1 else -1.0

    def embed(self, items: list[str]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, text in enumerate(items):
            for word in WORD.findall(text.lower()):
                j, sign = self._slot(word)
                out[i, j] += sign
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norm == 0, 1.0, norm)
