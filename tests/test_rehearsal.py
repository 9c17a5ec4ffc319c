"""A reference-shape rehearsal: ``--config thought2text --fast-dev-run --random-weights`` on a
CVPR40-format file at 128 x 440: full EEG-ChannelNet, a ViT-B-32-architecture CLIP and a
Mistral-architecture chat LM with its chat template, one batch per stage, every metric and
control, so a GPU job's mistakes show in a minute."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from benchmarks.rehearsal import rehearsal_args
from eegbench.cli import cli
from eegbench.evaluation.predictions import read_predictions
from eegbench.report.leaderboard import collect
from eegbench.results.record import RunRecord


@pytest.mark.slow
def test_thought2text_rehearses_at_reference_shape(tmp_path):
    # CPU-sized: fp32 (bf16 is emulated on CPUs without AVX512-BF16), small batches and
    # captions; the shapes of the encoder, CLIP and the LLM are the reference's
    sizes = {
        "llm__dtype": "float32",
        "stage1__batch_size": 2,
        "stage2__batch_size": 2,
        "eval__max_new_tokens": 4,
        "eval__bootstrap": 20,
        "run_name": "rehearsal",
    }
    args = ["--quiet", "run", *rehearsal_args(tmp_path, "cpu", "fp32", **sizes)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    run = tmp_path / "runs" / "rehearsal"
    record = RunRecord.read(run)
    assert record.rehearsal == {
        "fast_dev_run": True,
        "random_weights": ["target", "llm", "metrics.bertscore"],
        "limits": {"train_trials": 2, "val_trials": 2, "test_trials": 6, "epochs": 1},
    }
    # what ran is what the config says: one epoch per stage
    assert record.config["stage1"]["epochs"] == record.config["stage2"]["epochs"] == 1
    assert record.leaks and "batchnorm_statistics" in record.leaks[0]  # the faithful preset
    assert record.model.encoder_parameters == 4_949_938  # EEG-ChannelNet, heads apart
    assert record.model.encoder_features == 500
    assert record.model.embed_dim == 512 and record.model.d_model == 4096  # ViT-B-32, Mistral
    assert record.dataset.n_chans == 128 and record.dataset.n_times == 440
    config = record.config
    assert config["stage1"]["loss"] == "mse" and config["stage2"]["n_soft_tokens"] == 1
    assert config["target"]["random_weights"] and config["llm"]["random_weights"]
    # every metric of the preset and every control ran on a handful of test trials
    assert {"thought2text/bleu_4", "top1_accuracy", "cosine", "retrieval_top1"} <= set(
        record.metrics
    )
    assert set(record.controls) == {
        "t2t_only_obj", "t2t_random_eeg", "only_eeg", "only_obj", "shuffled_eeg", "mean_eeg",
        "noise",
    }  # fmt: skip
    assert "bertscore_f1" in record.metrics
    preds = read_predictions(run / "predictions.csv")
    # Thought2Text's caption files: the first line without <s> </s>, never the second line
    for ref in preds.reference:
        assert ref.startswith("A sketch of animal number") and ref.endswith(".")
        assert "<s>" not in ref and "</s>" not in ref and "second line" not in ref
    assert 1 <= len(preds) <= 6
    for control in record.controls:
        assert (run / f"predictions_{control}.csv").is_file()
    assert [h["epoch"] for h in record.training.stage1.history] == [1]
    # it loads like any run: the same rehearsal splits, the same random architectures
    from eegbench.tools.inference import load_run

    pipe = load_run(run)
    assert len(pipe.data.splits["test"]) == len(preds) and pipe.llm.d_model == 4096
    # the CLIP targets were embedded from the sketches (the folder has no photos)
    assert all(p.endswith("_sketch.JPEG") for p in pipe.data.image_paths)
    # a rehearsal never reaches a leaderboard
    runs, skipped = collect([tmp_path / "runs"])
    assert not runs and "rehearsal" in skipped[0].reason


def test_gpu_checks_skip_with_a_reason_without_cuda(capsys, monkeypatch):
    from benchmarks import gpu

    monkeypatch.setattr(gpu, "cuda_devices", lambda: (0, "no CUDA device is visible"))
    assert gpu.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "gpu: none (no CUDA device is visible)"
    assert len(lines) == 5 and all(
        line.startswith("skip  ") and line.endswith(": no CUDA device is visible")
        for line in lines[1:]
    )
