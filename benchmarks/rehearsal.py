"""Files for a reference-shape rehearsal of the ``thought2text`` preset, in the real formats:
Thought2Text's data folder as downloaded (``data/block/eeg_55_95_std.pth`` at 128 channels x
500 samples, ``data/block/block_splits_by_image_all.pth``, ``data/images/<wnid>/`` holding
``<image>_sketch.JPEG`` and ``<image>_caption.txt`` with a marker-wrapped first line and a
second line; no photos), and a
Mistral-7B-Instruct-v0.3 folder holding its config.json and a chat-template tokenizer but no
weights (``--random-weights`` builds the architecture). Used by tests/test_rehearsal.py and by
``python -m benchmarks.gpu``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tests.chat_models import FAMILIES, make_tokenizer

WNIDS = ["n02106662", "n02124075", "n02281787"]  # dog, cat, butterfly
IMAGES_PER_CLASS = 4
MISTRAL_7B_V03 = {  # config.json of mistralai/Mistral-7B-Instruct-v0.3
    "architectures": ["MistralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 14336,
    "max_position_embeddings": 32768,
    "model_type": "mistral",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000.0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "vocab_size": 32768,
}


def cvpr40_files(root: Path) -> dict[str, Path]:
    """Thought2Text's ``data`` folder: EEG ``.pth`` (128 channels x 500 samples), splits file,
    sketches and caption files."""
    from PIL import Image

    images = [f"{w}_{k}" for w in WNIDS for k in range(IMAGES_PER_CLASS)]
    rng = np.random.default_rng(0)
    trials = [
        {
            "eeg": torch.from_numpy(rng.normal(size=(128, 500)).astype(np.float32)),
            "image": i,
            "label": WNIDS.index(name.split("_")[0]),
            "subject": 1,
        }
        for i, name in enumerate(images)
    ]
    block = root / "data" / "block"
    block.mkdir(parents=True)
    eeg = block / "eeg_55_95_std.pth"
    torch.save({"dataset": trials, "labels": WNIDS, "images": images}, eeg)
    split = {"train": [], "val": [], "test": []}
    for i in range(len(images)):
        split[["train", "train", "val", "test"][i % IMAGES_PER_CLASS]].append(i)
    splits = block / "block_splits_by_image_all.pth"
    torch.save({"splits": [split]}, splits)
    image_dir = root / "data" / "images"
    for i, name in enumerate(images):
        folder = image_dir / name.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        colour = (40 * i % 255, 90, 200)
        Image.new("RGB", (32, 24), colour).save(folder / f"{name}_sketch.JPEG")
        (folder / f"{name}_caption.txt").write_text(
            f"<s> A sketch of animal number {i}. </s>\nA second line Thought2Text never reads.\n"
        )
    return {"eeg": eeg, "splits": splits, "images": image_dir, "captions": image_dir}


def mistral_folder(root: Path) -> Path:
    """Mistral-7B-Instruct-v0.3's config.json and a chat-template tokenizer, no weights."""
    folder = root / "Mistral-7B-Instruct-v0.3"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(MISTRAL_7B_V03))
    make_tokenizer(**FAMILIES["mistral"]).save_pretrained(folder)
    return folder


def rehearsal_args(root: Path, device: str, precision: str, **sizes: object) -> list[str]:
    """``eegbench run`` arguments rehearsing ``--config thought2text`` on files under ``root``."""
    files = cvpr40_files(root)
    args = [
        "--config",
        "thought2text",
        "--fast-dev-run",
        "--random-weights",
        f"dataset.path={files['eeg']}",
        f"dataset.splits_path={files['splits']}",
        f"dataset.image_dir={files['images']}",
        f"dataset.caption_dir={files['captions']}",
        f"llm.path={mistral_folder(root)}",
        f"output_dir={root / 'runs'}",
        f"cache_dir={root / 'cache'}",
        f"device={device}",
        f"precision={precision}",
    ]
    return args + [f"{k.replace('__', '.')}={v}" for k, v in sizes.items()]
