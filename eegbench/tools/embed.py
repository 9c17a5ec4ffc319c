"""``eegbench embed``: compute and cache a dataset's target embeddings ahead of ``eegbench run``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

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


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("overrides", nargs=-1)
@click.option("--config", "config_path", type=click.Path(), help="Start from this config file.")
def embed(overrides: tuple[str, ...], config_path: str | None) -> None:
    """Compute and cache target embeddings (e.g. `eegbench embed dataset=cvpr40 target=clip`)."""
    from eegbench.config import build_config
    from eegbench.progress import silence_library_progress

    silence_library_progress()
    cfg = build_config(list(overrides), base=config_path)
    result = embed_targets(cfg)
    how = "reused the cache" if result.reused else f"computed in {result.seconds:.1f} s"
    click.echo(
        f"{cfg['target']['name']} embeddings of {cfg['dataset']['name']}: "
        f"{result.shape[0]} x {result.shape[1]}, {how}"
    )
    click.echo(f"cache: {result.path}")
