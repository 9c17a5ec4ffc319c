"""``--tryout``: a dataset of one's own runs offline with one flag (small models with settings that
fit them); the preflight asks only for what the run uses (no LLM without captions; an image
target needs images) and every line about missing reference weights names ``--tryout``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.config import build_config
from eegbench.config.preflight import TRYOUT_HINT, preflight, problems
from eegbench.contract.errors import ConfigError
from eegbench.results.record import RunRecord
from tests.conftest import WNIDS, cvpr_trials, epochs

NAMES = {"n03452741": "piano", "n02106662": "dog", "n13054560": "mushroom"}


def _cvpr(tmp_path, captions: bool) -> list[str]:
    trials, images = cvpr_trials()
    path = tmp_path / "eeg_55_95_std.pth"
    torch.save({"dataset": trials, "labels": WNIDS, "images": images}, path)
    args = ["dataset=cvpr40", f"dataset.path={path}"]
    if captions:
        caps = tmp_path / "captions"
        caps.mkdir()
        for i, img in enumerate(images):
            obj = NAMES[img.split("_")[0]]
            (caps / f"{img}_caption.txt").write_text(f"A {['red', 'blue'][i % 2]} {obj}.\n")
        args.append(f"dataset.caption_dir={caps}")
    return args


def _mne(tmp_path, captions: bool) -> list[str]:
    path = tmp_path / "sub01-epo.fif"
    epochs(36).save(path, verbose="error")
    args = ["dataset=mne_epochs", f"dataset.path={path}", "dataset.stratify=false"]
    if captions:
        rows = ["trial,image,caption"]
        rows += [f"{i},img{i % 18:02d}.png,A picture number {i % 18}." for i in range(36)]
        (tmp_path / "stimuli.csv").write_text("\n".join(rows) + "\n")
        args.append(f"dataset.stimuli_csv={tmp_path / 'stimuli.csv'}")
    return args


def _bids(tmp_path, captions: bool) -> list[str]:
    mne_bids = pytest.importorskip("mne_bids", reason="the bids extra is not installed")
    pytest.importorskip("pybv", reason="mne-bids writes BrainVision with pybv")
    import mne

    x = np.random.default_rng(0).normal(size=(3, 1500)) * 1e-6
    raw = mne.io.RawArray(x, mne.create_info(["O1", "Oz", "O2"], 100.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations(np.arange(1.0, 13.0), 0.0, ["face", "house", "car"] * 4))
    bp = mne_bids.BIDSPath(subject="01", task="view", root=tmp_path / "bids", datatype="eeg")
    mne_bids.write_raw_bids(raw, bp, allow_preload=True, format="BrainVision", verbose="error")
    assert not captions  # BIDS recordings carry captions only through a stimulus table
    return ["dataset=bids", f"dataset.bids_root={tmp_path / 'bids'}", "dataset.bids_subject=01"]


FORMATS = {"cvpr40": _cvpr, "mne": _mne, "bids": _bids}
CASES = [("cvpr40", True), ("cvpr40", False), ("mne", True), ("mne", False), ("bids", False)]


def _where(tmp_path) -> list[str]:
    return [f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}", "threads=1"]


@pytest.mark.parametrize(("fmt", "captions"), CASES)
def test_the_preflight_asks_only_for_what_the_run_uses(fmt, captions, tmp_path):
    """Without --tryout: the reference's weights are missing; the LLM is asked for only where
    the data has captions, CLIP's images where it has none is a problem of its own, and the
    line names --tryout. With --tryout: nothing is missing."""
    args = [*_where(tmp_path), *FORMATS[fmt](tmp_path, captions)]
    found = problems(build_config(args))
    assert any(p.startswith("target 'clip':") for p in found), found
    assert any(p.startswith("llm 'hf':") for p in found) == captions, found
    no_images = any("embeds images" in p for p in found)
    assert no_images == (fmt != "mne" or not captions), found  # mne's table names images
    with pytest.raises(ConfigError) as e:
        preflight(build_config(args))
    assert str(e.value).endswith(TRYOUT_HINT) and "--tryout" in TRYOUT_HINT
    assert problems(build_config([*args, "tryout=true"])) == []


def test_tryout_chooses_small_models_and_the_command_line_still_wins(tmp_path):
    cfg = build_config(["tryout=true", "dataset=cvpr40"])
    assert (cfg.target.name, cfg.llm.name, cfg.eval.max_new_tokens) == ("minilm", "tiny-gpt2", 24)
    assert cfg.origin("target").startswith("try-out")
    cfg = build_config(["tryout=true", "dataset=cvpr40", "eval.max_new_tokens=8", "llm.steps=5"])
    assert (cfg.eval.max_new_tokens, cfg.llm.params.steps, cfg.llm.name) == (8, 5, "tiny-gpt2")
    reference = build_config(["dataset=cvpr40"])
    assert (reference.target.name, reference.llm.name) == ("clip", "hf")
    # the synthetic benchmark's own settings stay above the try-out's
    assert build_config(["tryout=true"]).llm.params.prefix_tokens == 4


def _run(tmp_path, *args: str) -> RunRecord:
    res = CliRunner().invoke(cli, ["--quiet", "run", *_where(tmp_path), *args, "run_name=r"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return RunRecord.read(tmp_path / "runs" / "r")


@pytest.mark.slow
def test_a_cvpr40_file_with_captions_runs_offline_with_one_flag(tmp_path):
    """Only --tryout beyond the data (and sizes that keep the test short): the default
    eval.max_new_tokens=100 would not fit the tiny LM; the try-out's does."""
    small = ["encoder=linear", "stage1.epochs=1", "stage2.epochs=1", "llm.steps=20"]
    record = _run(tmp_path, "--tryout", *_cvpr(tmp_path, True), *small, "eval.metrics=[bleu]")
    assert record.config["tryout"] is True and record.config["llm"]["name"] == "tiny-gpt2"
    assert "bleu_4" in record.metrics


def test_an_mne_file_without_captions_runs_offline_with_one_flag_and_no_llm(tmp_path):
    record = _run(tmp_path, "--tryout", *_mne(tmp_path, False), "stage1.epochs=1")
    assert record.config["target"]["name"] == "minilm"
    assert record.training.stage2.skipped == "the dataset has no captions"
    assert "top1_accuracy" in record.metrics
