"""Shipped presets: ``eegbench run --config thought2text`` resolves to Thought2Text's setup."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.config import presets


def test_thought2text_preset_validates_in_a_dry_run(tmp_path):
    for folder in ("images", "captions", "Mistral-7B-Instruct-v0.3"):
        (tmp_path / folder).mkdir()
    (tmp_path / "Mistral-7B-Instruct-v0.3" / "config.json").write_text("{}")
    for name in ("eeg_55_95_std.pth", "block_splits_by_image_all.pth"):
        (tmp_path / name).write_bytes(b"")
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
            "--dry-run",
        ],
    )
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load(res.output)
    assert cfg["dataset"]["name"] == "cvpr40"
    assert cfg["dataset"]["time_high"] - cfg["dataset"]["time_low"] == 440
    assert cfg["dataset"]["path"].endswith("eeg_55_95_std.pth")
    assert cfg["encoder"] == {**cfg["encoder"], "name": "dilated", "width": 1.0}
    assert cfg["target"]["name"] == "clip" and cfg["target"]["model"].startswith("ViT-B-32")
    assert cfg["llm"]["name"] == "gpt2" and cfg["llm"]["path"].endswith("Instruct-v0.3")
    assert cfg["prompt"]["style"] == "chat"
    assert cfg["prompt"]["user"] == "<image> <object_string> Describe this image in one sentence:"
    s1 = cfg["stage1"]
    assert (s1["optimizer"], s1["lr"], s1["weight_decay"], s1["grad_clip"]) == (
        "adamw",
        2e-5,
        1e-3,
        0.3,
    )
    assert (s1["batch_size"], s1["epochs"], s1["w_mse"], s1["w_ce"]) == (16, 100, 1.0, 1.0)
    assert (s1["warmup_ratio"], s1["schedule"]) == (0.3, "constant")
    assert cfg["stage2"]["phases"] == ["target", "eeg"] and cfg["stage2"]["mask_prompt"] is False
    ev = cfg["eval"]
    assert (ev["max_new_tokens"], ev["repetition_penalty"]) == (100, 1.1)
    assert "protocol:thought2text" in ev["metrics"]
    assert cfg["device"] == "auto" and cfg["precision"] == "bf16"


def test_unknown_config_names_the_presets(tmp_path):
    assert "thought2text" in presets()
    res = CliRunner().invoke(cli, ["run", "--config", "thought2txt", "--dry-run"])
    assert res.exit_code != 0
    assert "shipped presets: thought2text" in res.output
