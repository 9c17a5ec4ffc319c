"""CLIP targets through open_clip: the image tower over image files, the text tower over text.

A pretrained tag whose weights are on the Hugging Face hub, and an ``hf-hub:ORG/REPO`` model,
are read from the Hugging Face cache, fetched into it (through open_clip's own hub loading)
when missing, unless ``HF_HUB_OFFLINE=1``: then a missing file fails at once with how to provide
it. ``target.revision`` pins the hub revision. The model is loaded on the first ``embed``.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import logging
import os
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from eegbench.api import (
    ConfigError,
    DataError,
    MissingWeightsError,
    ModelFiles,
    did_you_mean,
    file_digest,
    file_problem,
    folder_problem,
    hub,
    warn,
)

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"
_HF_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_LOCAL_DIR_WEIGHTS = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
)
_PREPROCESS_KEYS = {
    "mean": "image_mean",
    "std": "image_std",
    "interpolation": "image_interpolation",
    "resize_mode": "image_resize_mode",
}


def open_clip_module() -> ModuleType:
    """``open_clip``, imported after making the CPU-torch/CUDA-torchvision pair importable."""
    from eegbench.api import ensure_torchvision_importable

    ensure_torchvision_importable()
    try:
        import open_clip
    except ImportError:
        from eegbench_plugins.targets import CLIP_EXTRA

        from eegbench.api import ConfigError

        raise ConfigError(
            f"target clip needs the 'open_clip_torch' package: {CLIP_EXTRA}."
        ) from None
    return open_clip


@dataclass
class Resolved:
    """Where a model spec's weights lie and how open_clip must build the model for them."""

    arch: str
    model_name: str
    checkpoint: Path | None  # None: random weights (--random-weights)
    model_cfg: dict[str, Any]
    quick_gelu: bool = False
    torchscript: bool = False
    preprocess: dict[str, Any] = field(default_factory=dict)
    config_file: Path | None = None  # a model folder's open_clip_config.json

    def sources(self, spec: str) -> tuple[ModelFiles, ...]:
        """What a run records of the weights read (none for random weights)."""
        if self.checkpoint is None:
            return ()
        files = (
            (self.checkpoint,) if self.config_file is None else (self.config_file, self.checkpoint)
        )
        where = self.checkpoint.parent if self.config_file is not None else self.checkpoint
        return (ModelFiles("target", spec, where, hub.snapshot_commit(self.checkpoint), files),)


def parse_model(spec: str) -> tuple[str, str]:
    """Split ``ARCH:TAG`` (the tag may itself be a path containing ``:``)."""
    arch, sep, tag = spec.partition(":")
    if not sep or not arch or not tag:
        raise ConfigError(
            f"target.model={spec!r}: expected ARCH:TAG, e.g. ViT-B-32:openai, "
            "ViT-B-32-quickgelu:/path/to/open_clip_pytorch_model.bin or local-dir:/folder."
        )
    return arch, tag


def _is_path(tag: str) -> bool:
    return tag.lower().endswith(WEIGHT_SUFFIXES) or "/" in tag or os.sep in tag


def _is_torchscript(path: Path) -> bool:
    """OpenAI's original ``.pt`` releases are TorchScript archives (they hold ``constants.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/constants.pkl") for n in z.namelist())


def check_weight_file(path: Path) -> None:
    """Raise DataError unless ``path`` looks like a complete safetensors or PyTorch file."""
    ok = True
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                f.keys()
        except Exception:  # safetensors raises several error types
            ok = False
    else:
        with open(path, "rb") as f:
            head = f.read(2)
        # torch.save writes a zip archive; files from torch < 1.6 are a raw pickle (0x80 proto).
        ok = zipfile.is_zipfile(path) or head[:1] == b"\x80"
    if not ok:
        raise DataError(
            f"CLIP weight file {path} is not a complete PyTorch or safetensors file (truncated "
            "or corrupt?); download it again."
        )


def _howto(arch: str, tag: str, pcfg: dict[str, Any], oc: ModuleType) -> str:
    file_arch = arch
    if pcfg.get("quick_gelu") and not arch.endswith("-quickgelu"):
        if f"{arch}-quickgelu" in oc.list_models():
            file_arch = f"{arch}-quickgelu"
    hub = pcfg.get("hf_hub", "")
    repo, fname = os.path.split(hub) if hub else ("", "")
    if repo:
        where = f"{fname or _HF_WEIGHTS[1]} from https://huggingface.co/{repo}"
    else:
        where = f"{pcfg['url']}"
    return (
        f"CLIP weights {arch}:{tag} are not available offline (nothing in the local cache); "
        f"download {where} on a machine with internet, copy it here and pass "
        f"target.model={file_arch}:/path/to/{os.path.basename(where.split(' ')[0])}"
    )


def _tag_files(pcfg: dict[str, Any]) -> tuple[str, list[str]]:
    """The hub repository of a pretrained tag and its weight file names, best first."""
    repo, fname = os.path.split(pcfg.get("hf_hub", ""))
    names = list(_HF_WEIGHTS)
    if fname:
        stem, ext = os.path.splitext(fname)
        names = ([stem + ".safetensors"] if ext in (".bin", ".pth") else []) + [fname]
    return repo, names


def _cached_tag_weights(pcfg: dict[str, Any], weights_dir: str, revision: str = "") -> Path | None:
    """The already-downloaded weight file of a pretrained tag, looked up without the network."""
    repo, names = _tag_files(pcfg)
    if repo:
        from huggingface_hub import try_to_load_from_cache

        for name in names:
            hit = try_to_load_from_cache(
                repo, name, cache_dir=weights_dir or None, revision=revision or None
            )
            if isinstance(hit, str) and os.path.isfile(hit):
                return Path(hit)
    url = pcfg.get("url", "")
    if url:
        folder = Path(weights_dir) if weights_dir else Path.home() / ".cache" / "clip"
        hit = folder / os.path.basename(url)
        if hit.is_file():
            return hit
    return None


def _read_local_dir(folder: Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    cfg_file = folder / "open_clip_config.json"
    if not cfg_file.is_file():
        raise MissingWeightsError(
            f"{folder} has no open_clip_config.json; a local-dir: model folder needs the config "
            "and a weight file, as in the model's Hugging Face repository."
        )
    try:
        cfg = json.loads(cfg_file.read_text())
        model_cfg = cfg["model_cfg"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"{cfg_file} is not an open_clip config with 'model_cfg': {e}.") from None
    weights = next((folder / n for n in _LOCAL_DIR_WEIGHTS if (folder / n).is_file()), None)
    if weights is None:
        raise MissingWeightsError(
            f"no weight file in {folder}; expected one of {', '.join(_LOCAL_DIR_WEIGHTS)}."
        )
    preprocess = {k: v for k, v in cfg.get("preprocess_cfg", {}).items() if k in _PREPROCESS_KEYS}
    return model_cfg, preprocess, weights


def resolve(
    spec: str, weights_dir: str = "", model_config: str = "", revision: str = "", fetch: bool = True
) -> Resolved | None:
    """Find the weights a model spec names and its config: local files, the caches, and (with
    ``fetch``, unless ``HF_HUB_OFFLINE=1``) the hub. Without ``fetch`` (the preflight) weights
    still to be fetched are checked with one bounded request and None is returned."""
    if spec.startswith(HF_HUB):
        folder = _hub_folder(spec, revision, weights_dir, fetch)
        return None if folder is None else _resolve_folder(folder, f"{LOCAL_DIR}{folder}")
    if spec.startswith(LOCAL_DIR):
        folder = Path(spec[len(LOCAL_DIR) :]).expanduser()
        problem = folder_problem(folder)
        if problem:
            raise MissingWeightsError(f"target.model={spec!r}: folder {folder} {problem}.")
        return _resolve_folder(folder, f"{LOCAL_DIR}{folder}")
    arch, tag = parse_model(spec)
    oc = open_clip_module()
    if model_config:
        _add_model_config(oc, Path(model_config).expanduser())
    model_cfg = oc.get_model_config(arch)
    if model_cfg is None:
        close = difflib.get_close_matches(arch, oc.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown open_clip architecture {arch!r} in target.model.{hint} "
            "List them with: python -c 'import open_clip; print(open_clip.list_models())'."
        )
    if _is_path(tag):
        path = Path(tag).expanduser()
        problem = file_problem(path)
        if problem:
            raise MissingWeightsError(
                f"CLIP weight file {path} {problem}; pass the path of a downloaded "
                f"{'/'.join(WEIGHT_SUFFIXES)} file as target.model={arch}:/path/to/file."
            )
        check_weight_file(path)
        torchscript = _is_torchscript(path)
        # OpenAI's TorchScript releases were trained with QuickGELU.
        quick_gelu = bool(model_cfg.get("quick_gelu")) or torchscript
        return Resolved(arch, arch, path, model_cfg, quick_gelu, torchscript)
    pcfg = oc.get_pretrained_cfg(arch, tag)
    if not pcfg:
        tags = oc.list_pretrained_tags_by_model(arch)
        raise ConfigError(
            f"{tag!r} is neither a pretrained tag of {arch} nor a weight file path "
            f"(.pt/.pth/.bin/.safetensors)." + did_you_mean(tag, tags)
        )
    path = _cached_tag_weights(pcfg, weights_dir, revision) or _fetch_tag(
        pcfg, weights_dir, revision, fetch, _howto(arch, tag, pcfg, oc)
    )
    if path is None:
        return None
    check_weight_file(path)
    preprocess = {k: pcfg[k] for k in _PREPROCESS_KEYS if k in pcfg}
    quick_gelu = bool(pcfg.get("quick_gelu")) or bool(model_cfg.get("quick_gelu"))
    return Resolved(arch, arch, path, model_cfg, quick_gelu, _is_torchscript(path), preprocess)


def _resolve_folder(folder: Path, model_name: str) -> Resolved:
    """A model folder holding open_clip_config.json and a weight file (local-dir:, hf-hub:)."""
    model_cfg, preprocess, weights = _read_local_dir(folder)
    check_weight_file(weights)
    return Resolved(
        folder.name,
        model_name,
        weights,
        model_cfg,
        quick_gelu=bool(model_cfg.get("quick_gelu")),
        preprocess=preprocess,
        config_file=folder / "open_clip_config.json",
    )


def _unavailable(howto: str, fetch: bool, repo: str, revision: str) -> None:
    """Raise MissingWeightsError when weights to be fetched cannot be: requests forbidden
    (``howto``, the offline line), or (preflight, without ``fetch``) the hub does not answer."""
    if hub.offline():
        raise MissingWeightsError(howto)
    if not fetch:
        problem = hub.probe(repo, revision or None)
        if problem is not None:
            raise MissingWeightsError(f"{problem}; {howto}")


def _hub_folder(spec: str, revision: str, weights_dir: str, fetch: bool) -> Path | None:
    """The cached (or, with ``fetch``, fetched) snapshot of an ``hf-hub:`` model's folder."""
    repo = spec[len(HF_HUB) :]
    if not hub.is_repo_id(repo):
        raise ConfigError(f"target.model={spec!r}: {repo!r} is not a hub repository id.")
    files = ("open_clip_config.json", *_LOCAL_DIR_WEIGHTS)
    found = hub.cached_snapshot(repo, revision or None, files, weights_dir or None)
    if found is not None and (found / "open_clip_config.json").is_file():
        return found
    howto = (
        f"target.model={spec!r} is not in the Hugging Face cache; download the repository's "
        "files where there is internet and pass target.model=local-dir:/path/to/folder"
    )
    _unavailable(howto, fetch, repo, revision)
    if not fetch:
        return None
    return hub.fetch_snapshot(repo, revision or None, files, weights_dir or None)


def _fetch_tag(
    pcfg: dict[str, Any], weights_dir: str, revision: str, fetch: bool, howto: str
) -> Path | None:
    """A pretrained tag's weight file fetched through open_clip's hub loading; None in the
    preflight when the hub answers (the run fetches it)."""
    repo, names = _tag_files(pcfg)
    if not repo:  # weights only at a URL: never fetched here
        raise MissingWeightsError(howto)
    _unavailable(howto, fetch, repo, revision)
    if not fetch:
        return None
    oc = open_clip_module()
    with hub.fetching(repo, revision or None):
        path = oc.pretrained.download_pretrained_from_hf(
            repo, filename=names[-1], revision=revision or None, cache_dir=weights_dir or None
        )
    return Path(path)


REHEARSAL_LAYERS = 2
"""Transformer layers per tower a random-weights CLIP keeps (``--random-weights``)."""


def resolve_random(spec: str, model_config: str = "") -> Resolved:
    """The architecture ``spec`` names, for random weights: no weight file is looked up, each
    tower is cut to ``REHEARSAL_LAYERS`` layers; the tag's preprocessing is kept."""
    if spec.startswith((LOCAL_DIR, HF_HUB)):
        raise ConfigError(
            f"target.model={spec!r}: a model folder holds its weights; use them, or name "
            "the architecture (e.g. target.model=ViT-B-32:openai) for random weights."
        )
    arch, tag = parse_model(spec)
    oc = open_clip_module()
    if model_config:
        _add_model_config(oc, Path(model_config).expanduser())
    model_cfg = oc.get_model_config(arch)
    if model_cfg is None:
        raise ConfigError(f"unknown open_clip architecture {arch!r} in target.model.")
    model_cfg = json.loads(json.dumps(model_cfg))
    cut = []
    for tower in ("vision_cfg", "text_cfg"):
        layers = model_cfg.get(tower, {}).get("layers")
        if isinstance(layers, int):
            model_cfg[tower]["layers"] = min(layers, REHEARSAL_LAYERS)
            cut.append(f"{tower[:-4]} {model_cfg[tower]['layers']} of {layers} layers")
    warn(
        f"target {arch}: RANDOM weights ({', '.join(cut) or 'full towers'}); a rehearsal, its "
        "numbers mean nothing"
    )
    pcfg = {} if _is_path(tag) else (oc.get_pretrained_cfg(arch, tag) or {})
    preprocess = {k: pcfg[k] for k in _PREPROCESS_KEYS if k in pcfg}
    quick_gelu = bool(pcfg.get("quick_gelu")) or bool(model_cfg.get("quick_gelu"))
    return Resolved(arch, arch, None, model_cfg, quick_gelu, preprocess=preprocess)


def _add_model_config(oc: ModuleType, path: Path) -> None:
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"target.model_config={str(path)!r}: cannot read JSON ({e}).") from None
    needed = ("embed_dim", "vision_cfg", "text_cfg")
    if not isinstance(cfg, dict) or any(k not in cfg for k in needed):
        raise ConfigError(
            f"target.model_config={str(path)!r}: an open_clip config needs embed_dim, vision_cfg "
            "and text_cfg."
        )
    oc.add_model_config(path)


@contextlib.contextmanager
def _quiet_random_init_warning() -> Iterator[None]:
    """Hide open_clip's "initialized randomly" warning while weights are loaded separately."""

    def keep(record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _load_torchscript_weights(model: Any, path: Path) -> None:
    """Copy the parameters of a TorchScript CLIP archive (OpenAI's ``.pt`` files) into ``model``."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # jit.load: still how these are read
        state = torch.jit.load(str(path), map_location="cpu").state_dict()
    own = model.state_dict()
    # OpenAI archives carry scalars and the text mask as state; open_clip derives them.
    extra = {"input_resolution", "context_length", "vocab_size", "attn_mask"}
    model.load_state_dict({k: v for k, v in state.items() if k in own or k not in extra})


class ClipTarget:
    """CLIP embeddings of image files (``modality="image"``) or of text (``"text"``)."""

    def __init__(
        self,
        model: str = "ViT-B-32:openai",
        modality: str = "image",
        batch_size: int = 32,
        normalize: bool = False,
        weights_dir: str = "",
        model_config: str = "",
        random_weights: bool = False,
        revision: str = "",
    ) -> None:
        if modality not in ("image", "text"):
            raise ConfigError(f"target.modality={modality!r}: expected 'image' or 'text'.")
        if batch_size < 1:
            raise ConfigError(f"target.batch_size={batch_size}: must be at least 1.")
        self.spec = model
        self.modality = modality
        self.batch_size = batch_size
        self.normalize = normalize
        self.random_weights = random_weights
        if random_weights:
            self.resolved = resolve_random(model, model_config)
        else:
            resolved = resolve(model, weights_dir, model_config, revision)
            assert resolved is not None  # resolve gives None only without fetch
            self.resolved = resolved
        self.sources = self.resolved.sources(model)
        self.dim = int(self.resolved.model_cfg["embed_dim"])
        r = self.resolved
        build = json.dumps(
            {"cfg": r.model_cfg, "quick_gelu": r.quick_gelu, "pre": r.preprocess}, sort_keys=True
        )
        self.cache_key = (
            f"open_clip=={metadata.version('open_clip_torch')}|{r.arch}|{modality}"
            f"|normalize={normalize}|build={hashlib.sha256(build.encode()).hexdigest()[:12]}"
            f"|weights={'random:0' if r.checkpoint is None else file_digest(r.checkpoint)[:16]}"
        )
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        oc = open_clip_module()
        r = self.resolved
        kwargs: dict[str, Any] = {_PREPROCESS_KEYS[k]: v for k, v in r.preprocess.items()}
        if not r.model_name.startswith(LOCAL_DIR):
            kwargs["force_quick_gelu"] = r.quick_gelu
            if r.checkpoint is None:  # random weights: the towers as resolve_random cut them
                kwargs.update({k: r.model_cfg[k] for k in ("vision_cfg", "text_cfg")})
            elif not r.torchscript:
                kwargs["pretrained"] = str(r.checkpoint)
        try:
            import torch

            with _quiet_random_init_warning(), torch.random.fork_rng():
                torch.manual_seed(0)
                model, _, preprocess = oc.create_model_and_transforms(
                    r.model_name, device="cpu", **kwargs
                )
            if r.torchscript:
                _load_torchscript_weights(model, r.checkpoint)
        except Exception as e:  # any loader failure means unusable weights
            reason = " ".join(str(e).split())[:300] or type(e).__name__
            raise DataError(
                f"cannot load CLIP weights {r.checkpoint} as {r.arch} ({type(e).__name__}: "
                f"{reason}); re-download the file if it is truncated, and check ARCH is the "
                "architecture it was saved from (OpenAI weights need ARCH-quickgelu)."
            ) from e
        self._model = model.eval()
        self._preprocess = preprocess
        if self.modality == "text":
            self._tokenizer = oc.get_tokenizer(r.model_name)

    def _encode_images(self, paths: list[str]) -> Any:
        import torch
        from PIL import Image

        pixels = []
        for p in paths:
            try:
                with Image.open(p) as im:
                    pixels.append(self._preprocess(im.convert("RGB")))
            except OSError as e:
                raise DataError(f"cannot read image {p}: {e}; replace or remove the file.") from e
        return self._model.encode_image(torch.stack(pixels), normalize=self.normalize)

    def _encode_texts(self, texts: list[str]) -> Any:
        return self._model.encode_text(self._tokenizer(texts), normalize=self.normalize)

    def embed(self, items: list[str]) -> np.ndarray:
        """Embeddings ``[n, dim]`` of image file paths or texts (per ``modality``)."""
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        from eegbench.api import task

        if self._model is None:
            self._load()
        encode = self._encode_images if self.modality == "image" else self._encode_texts
        out = []
        with torch.inference_mode(), task(f"CLIP {self.modality} embeddings", len(items)) as adv:
            for i in range(0, len(items), self.batch_size):
                batch = list(items[i : i + self.batch_size])
                out.append(encode(batch).float().numpy())
                adv(len(batch))
        return np.concatenate(out).astype(np.float32, copy=False)


def clip_text(
    model: str = "ViT-B-32:openai",
    batch_size: int = 32,
    normalize: bool = True,
    weights_dir: str = "",
    model_config: str = "",
    random_weights: bool = False,
    revision: str = "",
) -> ClipTarget:
    """CLIP text-tower target over captions or class names."""
    return ClipTarget(
        model, "text", batch_size, normalize, weights_dir, model_config, random_weights, revision
    )
