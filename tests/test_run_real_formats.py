"""`eegbench run` end to end on files the tests write in each real format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.evaluation.predictions import read_predictions
from eegbench.results.record import RunRecord
from tests.conftest import (
    N_TEST,
    N_TRAIN,
    R_TEST,
    R_TRAIN,
    TEST_CONCEPTS,
    TRAIN_CONCEPTS,
    WNIDS,
    cvpr_trials,
    epochs,
    things_eeg,
    tiny_overrides,
)

NAMES = {"n03452741": "piano", "n02106662": "dog", "n13054560": "mushroom"}
COLOURS = ["red", "blue", "green", "black", "white", "yellow"]


def _common(tmp_path) -> list[str]:
    """The tiny run without the synthetic-dataset keys; a linear encoder keeps it fast."""
    keep = [o for o in tiny_overrides(tmp_path) if not o.startswith("dataset.")]
    return [*keep, "encoder=linear", "eval.controls=all"]


def _run(tmp_path, *args: str) -> RunRecord:
    res = CliRunner().invoke(cli, ["--quiet", "run", *_common(tmp_path), *args, "run_name=r"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return RunRecord.read(tmp_path / "runs" / "r")


def test_cvpr40_file_with_captions_runs_to_results(tmp_path):
    trials, images = cvpr_trials()
    path = tmp_path / "eeg_55_95_std.pth"
    torch.save({"dataset": trials, "labels": WNIDS, "images": images}, path)
    caps = tmp_path / "captions"
    caps.mkdir()
    for i, img in enumerate(images):
        obj = NAMES[img.split("_")[0]]
        (caps / f"{img}_caption.txt").write_text(f"A {COLOURS[i % 6]} {obj} on a table.\n")
    results = _run(
        tmp_path, "dataset=cvpr40", f"dataset.path={path}", f"dataset.caption_dir={caps}"
    )
    assert results.dataset.name == "cvpr40"
    assert results.dataset.n_chans == 8 and results.dataset.n_times == 440
    # the recorded accuracy is the share of test rows whose predicted object is the expected one
    preds = read_predictions(tmp_path / "runs" / "r" / "predictions.csv")
    assert len(preds) == results.dataset.splits["test"]
    hits = [e == p for e, p in zip(preds.expected_object, preds.predicted_object)]
    assert results.metrics["top1_accuracy"].value == pytest.approx(np.mean(hits))
    assert "bleu_4" in results.metrics and "bleu_4" in results.controls["only_obj"].metrics
    assert any("block" in w for w in results.dataset.leakage)  # Li et al. warning kept


def test_things_eeg2_files_run_without_captions(tmp_path, monkeypatch):
    from eegbench.evaluation.controls import Encoded

    def never(self):  # a classification-only evaluation costs the test trials' forward passes
        raise AssertionError("a caption-less evaluation embedded every training trial")

    monkeypatch.setattr(Encoded, "train_embeddings", never)
    root = tmp_path / "things"
    sub = root / "sub-01"
    sub.mkdir(parents=True)
    np.save(sub / "preprocessed_eeg_training.npy", things_eeg(N_TRAIN, R_TRAIN, 0, 1))
    np.save(sub / "preprocessed_eeg_test.npy", things_eeg(N_TEST, R_TEST, N_TRAIN, 1))
    meta = {
        "train_img_concepts": TRAIN_CONCEPTS,
        "train_img_files": [f"{c[6:]}_{i:02d}s.jpg" for i, c in enumerate(TRAIN_CONCEPTS)],
        "test_img_concepts": TEST_CONCEPTS,
        "test_img_files": [f"{c[6:]}_01b.jpg" for c in TEST_CONCEPTS],
    }
    np.save(root / "image_metadata.npy", meta, allow_pickle=True)
    results = _run(
        tmp_path, "dataset=things_eeg2", f"dataset.root={root}", "dataset.val_fraction=0.5"
    )
    m = results.metrics
    assert {"retrieval_top1", "retrieval_top5", "cosine"} <= set(m)
    assert "bleu_4" not in m  # no captions: no LLM, no caption metrics
    assert results.training.stage2.skipped == "the dataset has no captions"
    assert set(results.controls) == {"noise"}  # the only control that changes the encoder


def test_mne_epochs_file_with_stimulus_table_runs_to_results(tmp_path):
    path = tmp_path / "sub01-epo.fif"
    epochs(36).save(path, verbose="error")
    rows = ["trial,image,caption"]
    for i in range(36):
        rows.append(f"{i},img{i % 18:02d}.png,A {COLOURS[i % 6]} object number {i % 18}.")
    csv = tmp_path / "stimuli.csv"
    csv.write_text("\n".join(rows) + "\n")
    results = _run(
        tmp_path,
        "dataset=mne_epochs",
        f"dataset.path={path}",
        f"dataset.stimuli_csv={csv}",
        "dataset.stratify=false",
    )
    assert results.dataset.class_names == ["face", "house", "car"]
    assert "rouge_l" in results.metrics


def test_mismatched_file_gives_one_clear_error_and_no_results(tmp_path):
    bad = tmp_path / "eeg_55_95_std.pth"
    torch.save({"eeg": torch.zeros(3)}, bad)
    res = CliRunner().invoke(
        cli, ["--quiet", "run", *_common(tmp_path), "dataset=cvpr40", f"dataset.path={bad}"]
    )
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "eeg_55_95_std.pth" in lines[0]
    assert not (tmp_path / "runs").exists()  # the data are checked before anything is written


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_eeg_is_rejected_by_name(tmp_path, value):
    trials, images = cvpr_trials()
    trials[3]["eeg"][2, 100] = float(value)
    path = tmp_path / "eeg.pth"
    torch.save({"dataset": trials, "labels": WNIDS, "images": images}, path)
    res = CliRunner().invoke(
        cli, ["run", *_common(tmp_path), "dataset=cvpr40", f"dataset.path={path}"]
    )
    assert res.exit_code == 1 and "NaN or infinite" in res.output, res.output
