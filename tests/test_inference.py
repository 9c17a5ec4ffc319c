"""load_run, batch_inference_and_visualize and `eegbench caption` on a tiny finished run."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.contract.errors import ConfigError, DataError
from eegbench.evaluation.predictions import read_predictions
from eegbench.results.record import RunRecord
from eegbench.tools.inference import batch_inference_and_visualize, load_run
from eegbench.train.parts import build_targets
from tests.conftest import N_SOFT, epochs, tiny_overrides


@pytest.fixture(scope="module")
def run_dir(tiny_run_dir) -> Path:
    return tiny_run_dir


@pytest.fixture(scope="module")
def pipe(run_dir):
    return load_run(run_dir)


def test_load_run_reproduces_the_recorded_metrics_and_captions(pipe, run_dir):
    results = RunRecord.read(run_dir)
    test = pipe.data.splits["test"]
    emb, logits = pipe.model.predict(pipe.data.X[test])
    top1 = float((logits.argmax(1) == pipe.data.y[test]).mean())
    assert top1 == results.metrics["top1_accuracy"].value
    own = pipe.targets[pipe.data.image[test]]
    cos = (emb * own).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(own, axis=1)
    assert cos.mean() == pytest.approx(results.metrics["cosine"].value, abs=1e-6)
    assert pipe.projector.n_tokens == N_SOFT
    assert pipe.projector.d_model == pipe.llm.d_model == results.model.d_model
    preds = read_predictions(run_dir / "predictions.csv")
    labels = [pipe.data.class_names[k] for k in logits.argmax(1)]
    assert labels == preds.predicted_object
    captions, _, _ = batch_inference_and_visualize(
        pipe.data.X[test],
        labels,
        None,
        pipe.model,
        pipe.projector,
        pipe.llm,
        None,
        max_new_tokens=pipe.config.eval.max_new_tokens,
    )
    assert captions == preds.generated


def test_batch_inference_shapes_and_similarity(pipe):
    test = pipe.data.splits["test"][:5]
    x = pipe.data.X[test]
    names = [pipe.data.class_names[k] for k in pipe.data.y[test]]
    targets = pipe.targets[pipe.data.image[test]]
    captions, projected, sim = batch_inference_and_visualize(
        torch.as_tensor(x),
        names,
        torch.as_tensor(targets),
        pipe.model,
        pipe.projector,
        pipe.llm,
        None,
        max_new_tokens=4,
    )
    assert len(captions) == 5 and all(isinstance(c, str) for c in captions)
    assert tuple(projected.shape) == (5, N_SOFT, pipe.llm.d_model)
    emb, _ = pipe.model.predict(x)
    assert torch.allclose(projected, pipe.projector(torch.as_tensor(emb)), atol=1e-6)
    assert tuple(sim.shape) == (5, 5)
    for i in range(5):
        for j in (i, (i + 1) % 5):
            expect = emb[i] @ targets[j] / np.linalg.norm(emb[i]) / np.linalg.norm(targets[j])
            assert float(sim[i, j]) == pytest.approx(float(expect), abs=1e-5)
    # a raw transformers model + tokenizer gives the same captions as the CausalLM wrapper
    raw, _, _ = batch_inference_and_visualize(
        x,
        names,
        None,
        pipe.model,
        pipe.projector,
        pipe.llm.model,
        pipe.llm.tokenizer,
        max_new_tokens=4,
    )
    assert raw == captions


def test_batch_inference_rejects_mismatched_inputs(pipe):
    x = pipe.data.X[:3]
    with pytest.raises(DataError, match="2 object labels for 3 EEG trials"):
        batch_inference_and_visualize(x, ["a", "b"], None, pipe.model, pipe.projector, pipe.llm)
    with pytest.raises(DataError, match="hclip_batch has shape"):
        batch_inference_and_visualize(
            x, ["a"] * 3, np.zeros((3, 7)), pipe.model, pipe.projector, pipe.llm
        )


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(run_dir, dest)
    return dest


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "results.json").unlink(), "is incomplete: no results.json"),
        (
            lambda d: (d / "results.json").write_text('{"complete": false}'),
            "results.json is not marked complete",
        ),
        (lambda d: (d / "results.json").write_text("{not json"), "results.json' is corrupt"),
        (lambda d: (d / "projector.safetensors").unlink(), "lacks projector.safetensors"),
        (
            lambda d: (d / "eeg_classifier.safetensors").write_bytes(b"\x00" * 40),
            "eeg_classifier.safetensors' is corrupt",
        ),
        (lambda d: shutil.rmtree(d), "does not exist"),
    ],
)
def test_incomplete_or_corrupt_run_dirs_are_clear_errors(run_dir, tmp_path, damage, message):
    copy = _copy(run_dir, tmp_path)
    damage(copy)
    with pytest.raises(DataError, match=message):
        load_run(copy)


def test_a_changed_dataset_or_model_config_is_refused(run_dir, tmp_path):
    copy = _copy(run_dir, tmp_path)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    world = cfg["dataset"]["seed"]  # null: the world is the run's seed
    cfg["dataset"]["seed"] = cfg["seed"] + 7
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(DataError, match="data hash changed|data, .* hash changed"):
        load_run(copy)
    cfg["dataset"]["seed"] = world
    cfg["encoder"]["out_features"] = 8
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(DataError, match="does not match the model its config.yaml builds"):
        load_run(copy)


def test_caption_command_prints_expected_predicted_reference_generated(run_dir, pipe):
    preds = read_predictions(run_dir / "predictions.csv")
    res = CliRunner().invoke(cli, ["--quiet", "caption", str(run_dir), "--trial", "3"])
    assert res.exit_code == 0, res.output
    lines = dict(
        line.split(None, 1) if " " in line else (line, "")
        for line in res.output.strip().splitlines()
    )
    assert lines["expected"].strip() == preds.expected_object[3]
    assert lines["predicted"].strip() == preds.predicted_object[3]
    assert lines["reference"].strip() == preds.reference[3]
    assert lines.get("generated", "").strip() == preds.generated[3]
    other = next(n for n in pipe.data.class_names if n != preds.predicted_object[3])
    res = CliRunner().invoke(
        cli, ["--quiet", "caption", str(run_dir), "--trial", "3", "--label", other]
    )
    assert res.exit_code == 0, res.output
    assert f"prompt     {other}" in res.output


def test_caption_command_errors_are_one_line(run_dir, tmp_path):
    res = CliRunner().invoke(cli, ["caption", str(run_dir), "--trial", "99"])
    assert res.exit_code == 1
    assert "--trial 99 is out of range: the test split has 12 trials" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["caption", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "does not exist" in res.output


@pytest.mark.slow
def test_a_run_without_captions_with_centred_targets_loads_as_it_ran(tmp_path):
    """load_run builds through the runner's builder: centred targets, and no LLM or projector."""
    path = tmp_path / "sub01-epo.fif"
    epochs(36).save(path, verbose="error")
    args = [o for o in tiny_overrides(tmp_path) if not o.startswith("dataset.")]
    args += [
        "dataset=mne_epochs",
        f"dataset.path={path}",
        "encoder=linear",
        "stage1.center_targets=true",
        "eval.controls=[]",
        "run_name=nocap",
    ]
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    run = tmp_path / "runs" / "nocap"
    assert not (run / "projector.safetensors").exists()

    pipe = load_run(run)
    assert pipe.llm is None and pipe.projector is None
    record = RunRecord.read(run)
    assert record.training.stage2.skipped == "the dataset has no captions"
    # the recorded cosine is against the centred targets; so is the loaded pipeline's
    test = pipe.data.splits["test"]
    emb, _ = pipe.model.predict(pipe.data.X[test])
    raw_cfg = dataclasses.replace(
        pipe.config, stage1=dataclasses.replace(pipe.config.stage1, center_targets=False)
    )
    raw = build_targets(raw_cfg, pipe.data)
    assert not np.allclose(raw, pipe.targets)

    def cosine(targets):
        own = targets[pipe.data.image[test]]
        return float(
            ((emb * own).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(own, axis=1)).mean()
        )

    assert cosine(pipe.targets) == pytest.approx(record.metrics["cosine"].value, abs=1e-6)
    assert cosine(raw) != pytest.approx(record.metrics["cosine"].value, abs=1e-6)

    res = CliRunner().invoke(cli, ["caption", str(run)])
    assert res.exit_code == 1
    assert res.output.startswith("error: ") and "has no LLM or projector" in res.output


CHAT_PROMPT = [
    "prompt.system=You name what a person saw.",
    "prompt.user=Object: <object_string>. EEG: <image> What was seen?",
]


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory) -> Path:
    """A finished run with a chat LLM, a non-default prompt and bf16 autocast.

    The LLM is a tiny random Mistral whose weights are large enough (initializer_range 0.3) for
    its captions to depend on the prompt and the EEG."""
    from transformers import MistralConfig, MistralForCausalLM

    from tests.chat_models import FAMILIES, make_tokenizer

    root = tmp_path_factory.mktemp("chat")
    tok = make_tokenizer(**FAMILIES["mistral"])
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        pad_token_id=tok.eos_token_id,
        initializer_range=0.3,
    )
    llm_folder = root / "mistral"
    MistralForCausalLM(config).save_pretrained(llm_folder)
    tok.save_pretrained(llm_folder)
    args = [
        *(o for o in tiny_overrides(root) if not o.startswith("llm.")),
        "encoder=linear",
        "llm=hf",
        f"llm.path={llm_folder}",
        *CHAT_PROMPT,
        "precision=bf16",
        "eval.controls=[]",
        "eval.metrics=[accuracy,bleu]",
        "run_name=chat",
    ]
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return root / "runs" / "chat"


@pytest.mark.slow
def test_load_run_captions_with_the_run_s_prompt_and_precision(chat_run):
    from eegbench.train.device import FP32

    pipe = load_run(chat_run)
    assert pipe.precision.name == "bf16" and pipe.precision.device.type == "cpu"
    assert pipe.prompt.user == CHAT_PROMPT[1].split("=", 1)[1]
    preds = read_predictions(chat_run / "predictions.csv")
    test = pipe.data.splits["test"]
    _, logits = pipe.model.predict(pipe.data.X[test], precision=pipe.precision)
    labels = [pipe.data.class_names[k] for k in logits.argmax(1)]
    assert labels == preds.predicted_object
    ev = pipe.config.eval

    def captions(**how):
        return batch_inference_and_visualize(
            pipe.data.X[test],
            labels,
            None,
            pipe.model,
            pipe.projector,
            pipe.llm,
            max_new_tokens=ev.max_new_tokens,
            repetition_penalty=ev.repetition_penalty,
            **how,
        )[0]

    assert len(set(preds.generated)) > 1
    assert captions(prompt=pipe.prompt, precision=pipe.precision) == preds.generated
    assert captions(precision=FP32) != preds.generated  # the default prompt is another prompt
    res = CliRunner().invoke(cli, ["caption", str(chat_run), "--trial", "1"])
    assert res.exit_code == 0, res.output
    assert f"generated  {preds.generated[1]}" in res.output.splitlines()


@pytest.mark.slow
def test_load_run_on_another_device(chat_run, tmp_path):
    copy = tmp_path / "gpu-run"
    shutil.copytree(chat_run, copy)
    cfg = yaml.safe_load((copy / "config.yaml").read_text())
    cfg["device"] = "cuda"
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"device='cuda' is not available.*device=") as e:
            load_run(copy)
        assert "\n" not in str(e.value)
        res = CliRunner().invoke(cli, ["caption", str(copy)])
        assert res.exit_code == 2 and res.output.startswith("error: run ")
    pipe = load_run(copy, device="cpu")
    assert pipe.precision.device == torch.device("cpu") and pipe.config.device == "cpu"
    assert {p.device.type for p in pipe.model.parameters()} == {"cpu"}
    res = CliRunner().invoke(cli, ["caption", str(copy), "--device", "cpu", "--trial", "1"])
    preds = read_predictions(chat_run / "predictions.csv")
    assert res.exit_code == 0 and f"generated  {preds.generated[1]}" in res.output.splitlines()


def test_the_record_states_the_decoding(run_dir, pipe):
    from eegbench.config import GenerationSettings

    recorded = RunRecord.read(run_dir).config["eval"]["generation"]
    assert recorded == dataclasses.asdict(GenerationSettings())  # greedy, every key written
    assert pipe.config.eval.generation == GenerationSettings()
