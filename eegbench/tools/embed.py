"""``eegbench embed``: compute and cache a dataset's target embeddings ahead of ``eegbench run``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eegbench import plugins
from eegbench.api.target import cache_path, embed_cached, target_items
from eegbench.train.runner import load_dataset


@dataclass
class EmbedResult:
    path: Path
    shape: tuple[int, ...]
    reused: bool
    seconds: float


def embed_targets(cfg: dict[str, Any], chunk: int = 256) -> EmbedResult:
    """Target embeddings of the config's dataset, from the cache or computed and cached.

    Same cache as ``eegbench run`` (``runner.compute_targets``): a later run finds them.
    """
    start = time.perf_counter()
    data = load_dataset(cfg)
    params = {k: v for k, v in cfg["target"].items() if k != "name"}
    target = plugins.get("targets", cfg["target"]["name"]).build(**params)
    items = target_items(target, data)
    cache_dir = Path(cfg["cache_dir"]).expanduser()
    path = cache_path(target, items, cache_dir)
    reused = path.exists()
    emb = embed_cached(target, items, cache_dir, chunk=chunk)
    return EmbedResult(path, tuple(emb.shape), reused, time.perf_counter() - start)
