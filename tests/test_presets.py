"""Shipped presets: ``--config thought2text`` is Thought2Text's setup, row by row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.config import build_config, presets

DOC = Path(__file__).resolve().parents[1] / "docs" / "reproducing-thought2text.md"

THOUGHT2TEXT = {
    # data (args.py, run_all_fine_tuning.sh)
    "dataset": "cvpr40",
    "dataset.subject": 0,
    "dataset.time_low": 20,
    "dataset.time_high": 460,
    "dataset.split_index": 0,
    "dataset.image_file": "sketch",  # datautils.py: <image>_sketch.JPEG
    # EEG-ChannelNet at full size (channelnet/model.py)
    "encoder": "dilated",
    "encoder.width": 1.0,
    "encoder.temporal_filters": 10,
    "encoder.temporal_kernel": 33,
    "encoder.dilations": [1, 2, 4, 8],
    "encoder.spatial_filters": 50,
    "encoder.n_spatial_layers": 4,
    "encoder.residual_blocks": 4,
    "encoder.out_filters": 50,
    "encoder.dropout": 0.2,
    # CLIP ViT-B/32 image_embeds, not normalised
    "target": "clip",
    "target.model": "ViT-B-32:openai",
    "target.modality": "image",
    "target.normalize": False,
    # stage 1 (train_eeg_classifier.py, loss.py, args.py)
    "stage1.loss": "mse",
    "stage1.w_mse": 1.0,
    "stage1.w_ce": 1.0,
    "stage1.center_targets": False,
    "stage1.epochs": 100,
    "stage1.batch_size": 16,
    "stage1.optimizer": "adamw",
    "stage1.lr": 2e-5,
    "stage1.weight_decay": 0.001,
    "stage1.grad_clip": 0.3,
    "stage1.schedule": "constant",
    "stage1.warmup_ratio": 0.0,  # transformers' "constant" scheduler ignores warmup_ratio
    "stage1.precision": "fp32",  # no --bf16 for the classifier, no autocast around it
    "precision": "bf16",  # run_all_fine_tuning.sh --bf16
    # the LLM (any causal LM, by hub name or folder)
    "llm": "hf",
    "llm.path": "mistralai/Mistral-7B-Instruct-v0.3",
    "llm.dtype": "bfloat16",
    # stages 2 and 3 (finetune_llm.py, datautils.py)
    "stage2.n_soft_tokens": 1,
    "stage2.normalize_inputs": False,
    "stage2.phases": ["target", "eeg"],
    "stage2.filter_correct": True,
    "stage2.encoder_mode": "train",  # finetune_llm.py: model.train() before the Filters
    "stage2.mask_prompt": False,
    "stage2.epochs": 5,
    "stage2.batch_size": 16,
    "stage2.grad_accum": 4,
    "stage2.lr": 2e-5,
    "stage2.weight_decay": 0.001,
    "stage2.grad_clip": 0.3,
    "stage2.schedule": "constant",
    "stage2.warmup_ratio": 0.0,
    "prompt.style": "chat",
    "prompt.render": "thought2text",
    "prompt.system": "You are a helpful assistant.",
    "prompt.user": "<image> <object_string> Describe this image in one sentence:",
    # generation and scoring (inference.py, the evaluation notebook)
    "eval.max_new_tokens": 100,
    "eval.repetition_penalty": 1.1,
    "eval.metrics": ["protocol:thought2text", "bertscore", "accuracy", "cosine", "retrieval"],
    "eval.controls": [
        "t2t_only_obj",
        "t2t_random_eeg",
        "only_eeg",
        "only_obj",
        "shuffled_eeg",
        "mean_eeg",
        "noise",
    ],  # fmt: skip
    "seed": 42,
}


CODE_PATHS = {"stage1.precision", "stage2.encoder_mode"}
"""Rows that are Thought2Text's code paths: the preset sets them, the defaults do not."""


def flat(cfg) -> dict:
    """``{"stage1.lr": 2e-5, "encoder": "dilated", ...}`` of a resolved config."""
    out = {}
    for key, value in cfg.to_dict().items():
        if isinstance(value, dict) and key != "metrics":
            for sub, v in value.items():
                out[key if sub == "name" else f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def doc_rows() -> dict[str, str]:
    """``{key: preset cell}`` of the fidelity table in docs/reproducing-thought2text.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`[\w.]+`", cells[1]):
            rows[cells[1].strip("`")] = cells[3].strip("`")
    return rows


def cell_value(text: str):
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool, list)) else text


def test_thought2text_preset_matches_every_row_of_the_fidelity_table():
    resolved = flat(build_config([], base="thought2text"))
    mismatched = {k: (resolved.get(k), v) for k, v in THOUGHT2TEXT.items() if resolved.get(k) != v}
    assert not mismatched, mismatched
    rows = doc_rows()
    assert set(rows) == set(THOUGHT2TEXT), set(rows) ^ set(THOUGHT2TEXT)
    wrong = {k: rows[k] for k in rows if cell_value(rows[k]) != THOUGHT2TEXT[k]}
    assert not wrong, wrong


def test_thought2text_encoder_is_eeg_channelnet_at_full_size():
    import torch

    import eegbench

    cfg = build_config([], base="thought2text")
    with torch.no_grad():
        enc = eegbench.get("encoders", cfg.encoder.name).make(cfg.encoder.params, 128, 440)
    assert sum(p.numel() for p in enc.parameters()) == 4_949_938
    assert enc.n_features == 500


def test_the_reference_is_the_default_on_any_dataset_but_the_synthetic_one():
    """What was labelled the reference is the reference: the synthetic benchmark's tuning stays
    with the synthetic dataset."""
    ref = flat(build_config([], base="thought2text"))
    plain = flat(build_config(["dataset=cvpr40", "encoder=dilated"]))
    for key, value in THOUGHT2TEXT.items():
        if key in CODE_PATHS:  # Thought2Text's code paths are off by default elsewhere
            assert plain[key] != value, key
        elif key.startswith(("encoder", "target", "llm", "stage1", "stage2")):
            assert plain[key] == value, key
    assert plain["benchmark"] is None and ref["benchmark"] is None
    assert plain["eval.max_new_tokens"] == 100 and plain["eval.repetition_penalty"] == 1.1


def test_thought2text_preset_validates_in_a_dry_run(tmp_path):
    for folder in ("images", "captions", "Mistral-7B-Instruct-v0.3"):
        (tmp_path / folder).mkdir()
    (tmp_path / "Mistral-7B-Instruct-v0.3" / "config.json").write_text("{}")
    (tmp_path / "roberta-large").mkdir()
    (tmp_path / "roberta-large" / "config.json").write_text("{}")
    for name in ("eeg_55_95_std.pth", "block_splits_by_image_all.pth"):
        (tmp_path / name).write_bytes(b"")
    import torch
    from safetensors.torch import save_file

    clip = tmp_path / "open_clip_model.safetensors"  # a readable file where the weights go
    save_file({"w": torch.zeros(1)}, str(clip))
    res = CliRunner().invoke(
        cli,
        [
            "run",
            "--config",
            "thought2text",
            f"dataset.path={tmp_path / 'eeg_55_95_std.pth'}",
            f"dataset.splits_path={tmp_path / 'block_splits_by_image_all.pth'}",
            f"dataset.image_dir={tmp_path / 'images'}",
            f"dataset.caption_dir={tmp_path / 'captions'}",
            f"llm.path={tmp_path / 'Mistral-7B-Instruct-v0.3'}",
            f"target.model=ViT-B-32-quickgelu:{clip}",
            f"metrics.bertscore.model_path={tmp_path / 'roberta-large'}",
            "--dry-run",
        ],
    )
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load(res.output)
    assert cfg["dataset"]["path"].endswith("eeg_55_95_std.pth")
    # without the weights, the preflight names every missing model in one line (the LLM only
    # when the run has captions to use it on)
    captions = f"dataset.caption_dir={tmp_path / 'captions'}"
    res = CliRunner().invoke(cli, ["run", "--config", "thought2text", captions, "--dry-run"])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1
    assert "target 'clip': CLIP weights ViT-B-32:openai are not available" in res.output
    assert "llm 'hf': weights of 'mistralai/Mistral-7B-Instruct-v0.3' are not" in res.output
    assert "metric 'bertscore': model_path='roberta-large': 'roberta-large' is not in" in res.output
    assert "rehearse without it: --random-weights (HF_HUB_OFFLINE=1)" in res.output
    assert "add --tryout" in res.output
    assert cfg["llm"] == {**cfg["llm"], "name": "hf", "dtype": "bfloat16"}
    assert cfg["device"] == "auto" and cfg["precision"] == "bf16"


def test_unknown_config_names_the_presets(tmp_path):
    assert {"thought2text", "thought2text-clean"} <= set(presets())
    res = CliRunner().invoke(cli, ["run", "--config", "thought2txt", "--dry-run"])
    assert res.exit_code != 0
    assert "shipped presets: thought2text" in res.output


@pytest.mark.parametrize("name", ["gpt2", "hf"])
def test_llm_plugins_are_named_for_what_they_are(name, tmp_path):
    """``gpt2`` is GPT-2; any other causal LM is ``hf``, by hub name or folder."""
    folder = tmp_path / "mistral"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "mistral"}')
    from eegbench import plugins

    entry = plugins.get("llms", name)
    problems = entry.check({"path": str(folder)})
    if name == "gpt2":
        assert problems and "holds a 'mistral' model, not GPT-2; use llm=hf" in problems[0]
        assert entry.defaults()["path"] == "gpt2"
    else:
        assert problems == []
        assert entry.param_list()[0].required  # hf needs a path
