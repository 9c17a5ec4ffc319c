"""The target contract and the on-disk embedding cache.

A target plugin's factory returns an object with ``dim`` (embedding size), ``cache_key`` (a
string that changes whenever the model or its weights change), ``modality`` (``"text"``: it
embeds captions or class names; ``"image"``: it embeds image files) and
``embed(items: list[str]) -> np.ndarray [n, dim]`` (float32). A target whose model is read
from files may also declare ``sources`` (a tuple of ``ModelFiles``, role ``target``): the run
records their revision and SHA-256 in ``results.json`` (``models.target``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from eegbench.contract.data import EEGData
from eegbench.contract.errors import DataError, PluginError
from eegbench.contract.hub import ModelFiles
from eegbench.io import atomic_write, atomic_writer, file_digest


class Target(Protocol):
    dim: int
    cache_key: str
    modality: str

    def embed(self, items: list[str]) -> np.ndarray: ...


def target_sources(target: Target) -> tuple[ModelFiles, ...]:
    """The model files a target declares it reads (``sources``, optional; none by default)."""
    return tuple(getattr(target, "sources", ()))


def target_items(target: Target, data: EEGData) -> list[str]:
    """The per-image items a target embeds: captions (text) or image file paths (image)."""
    if target.modality == "image":
        if data.image_paths is None or any(p is None for p in data.image_paths):
            raise DataError(
                f"target needs image files but dataset {data.name!r} has none; give the "
                "dataset an image folder or use a text target (target=minilm, or "
                "target.modality=text)."
            )
        return [str(p) for p in data.image_paths]
    if data.captions is None:
        return list(data.class_names[c] for c in _image_classes(data))
    return list(data.captions)


def _image_classes(data: EEGData) -> np.ndarray:
    cls = np.zeros(len(data.image_names), dtype=np.int64)
    cls[data.image] = data.y
    return cls


def items_digest(target: Target, items: list[str]) -> str:
    """Content hash of the inputs: the text itself, or the bytes of each image file."""
    d = hashlib.sha256(target.cache_key.encode())
    for it in items:
        if target.modality == "image":
            d.update(hashlib.sha256(Path(it).read_bytes()).digest())
        else:
            d.update(it.encode())
        d.update(b"\0")
    return d.hexdigest()[:24]


def cache_path(target: Target, items: list[str], cache_dir: str | os.PathLike) -> Path:
    return Path(cache_dir) / "targets" / f"{items_digest(target, items)}.npy"


def embed_cached(
    target: Target, items: list[str], cache_dir: str | os.PathLike, chunk: int = 256
) -> np.ndarray:
    """``target.embed(items)``, read from / written to the cache keyed by model and content.

    Embeds ``chunk`` items at a time behind a progress bar.
    """
    from eegbench.progress import task

    path = cache_path(target, items, cache_dir)
    if path.exists():
        cached = _read_cache(path, (len(items), target.dim))
        if cached is not None:
            return cached
    parts = []
    with task(f"embedding {len(items)} {target.modality} items", total=len(items)) as advance:
        for i in range(0, len(items), chunk):
            parts.append(np.asarray(target.embed(items[i : i + chunk]), dtype=np.float32))
            advance(len(parts[-1]))
    emb = np.concatenate(parts) if parts else np.zeros((0, target.dim), dtype=np.float32)
    if emb.shape != (len(items), target.dim):
        raise PluginError(
            f"target returned shape {list(emb.shape)} for {len(items)} items; the contract is "
            f"[n_items, dim] = [{len(items)}, {target.dim}]."
        )
    atomic_writer(path, lambda f: np.save(f, emb, allow_pickle=False))
    atomic_write(_sum_path(path), file_digest(path) + "\n")
    return emb


def _sum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_cache(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The cached embeddings, or None (after a one-line warning) when the entry is damaged."""
    from eegbench.progress import warn

    try:
        expected = _sum_path(path).read_text().strip()
    except OSError:
        expected = ""
    problem = None
    if file_digest(path) != expected:
        problem = "no checksum" if not expected else "checksum mismatch"
    else:
        try:
            emb = np.load(path, allow_pickle=False)
        except Exception as e:  # any reader failure is a corrupt entry
            problem = f"unreadable: {type(e).__name__}"
        else:
            if emb.shape == shape and emb.dtype == np.float32:
                return emb
            problem = f"holds {emb.dtype} {emb.shape}, expected float32 {shape}"
    warn(f"target cache {path} is damaged ({problem}); rebuilding it")
    path.unlink(missing_ok=True)
    _sum_path(path).unlink(missing_ok=True)
    return None
