"""``eegbench embed``: compute and cache a dataset's target embeddings ahead of ``eegbench run``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eegbench.contract.target import cache_path, embed_cached, target_items
from eegbench.train.parts import build_target, cache_dir, load_dataset


@dataclass
class EmbedResult:
    path: Path
    shape: tuple[int, ...]
    reused: bool
    seconds: float


def embed_targets(cfg: dict[str, Any], chunk: int = 256) -> EmbedResult:
    """Target embeddings of the config's dataset, from the cache or computed and cached.

    Same cache as ``eegbench run`` (``pipeline.build_targets``): a later run finds them.
    """
    start = time.perf_counter()
    data = load_dataset(cfg)
    target = build_target(cfg)
    items = target_items(target, data)
    path = cache_path(target, items, cache_dir(cfg))
    reused = path.exists()
    emb = embed_cached(target, items, cache_dir(cfg), chunk=chunk)
    return EmbedResult(path, tuple(emb.shape), reused, time.perf_counter() - start)
