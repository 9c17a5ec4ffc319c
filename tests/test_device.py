"""Devices and precision: resolution, one-line errors, autocast training, LLM loading options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.config import Stage1Config, Stage2Config, build_config
from eegbench.contract.errors import ConfigError
from eegbench.train.device import Precision, check_precision, describe, resolve_device

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU (none visible here)")
no_cuda = pytest.mark.skipif(CUDA, reason="checks the error shown where no CUDA GPU is visible")
CPU = torch.device("cpu")


def test_auto_picks_an_accelerator_when_present():
    dev = resolve_device("auto")
    if CUDA:
        assert dev.type == "cuda"
    elif torch.backends.mps.is_available():
        assert dev.type == "mps"
    else:
        assert dev == CPU
    assert resolve_device("cpu") == CPU


def test_malformed_device_is_rejected_when_the_config_resolves():
    with pytest.raises(ConfigError, match="use auto, cpu, cuda, cuda:N or mps"):
        build_config(["device=gpu"])
    with pytest.raises(ConfigError, match="precision"):
        build_config(["precision=int8"])
    assert build_config(["device=cuda:1", "precision=bf16"]).precision == "bf16"


@no_cuda
def test_unavailable_cuda_is_one_line_before_any_work(tmp_path):
    res = CliRunner().invoke(
        cli, ["--quiet", "run", "device=cuda:0", f"output_dir={tmp_path / 'runs'}"]
    )
    assert res.exit_code != 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: device='cuda:0' is not available (")
    assert "Traceback" not in res.output and not (tmp_path / "runs").exists()


@needs_cuda
def test_missing_gpu_index_is_one_line():
    n = torch.cuda.device_count()
    with pytest.raises(ConfigError, match=f"{n} GPU"):
        resolve_device(f"cuda:{n}")


def test_fp16_on_the_cpu_is_refused_and_bf16_accepted():
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        check_precision(CPU, "fp16")
    p = check_precision(CPU, "bf16")
    assert p.dtype == torch.bfloat16 and not p.scaler().is_enabled()
    with p.autocast():
        assert torch.nn.Linear(4, 4)(torch.randn(2, 4)).dtype == torch.bfloat16
    info = describe(p)
    assert info["device"] == "cpu" and info["precision"] == "bf16" and info["device_name"]


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_the_cpu_runs_only_where_it_is_native(monkeypatch, native):
    """Both sides of the capability check, whatever this CPU has: emulated bf16 resolves to
    fp32 with one notice that gives the probe's numbers."""
    from eegbench.train import device

    said: list[str] = []
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(device, "log", said.append)
    monkeypatch.setattr(device, "probe_ms", lambda name: {"bf16": 9.0, "fp32": 2.0}[name])
    assert check_precision(CPU, "bf16").name == ("bf16" if native else "fp32")
    assert check_precision(CPU, "fp32").name == "fp32"
    assert check_precision(CPU, "bf16", warn=False).name == ("bf16" if native else "fp32")
    if native:
        assert said == []
    else:
        assert len(said) == 1 and "no native bf16" in said[0]
        assert "9.0 ms emulated in bf16 against 2.0 ms in fp32 (4.5x)" in said[0]


def test_the_precision_probe_times_both_and_leaves_the_random_state_alone():
    from eegbench.train.device import probe_ms

    state = torch.random.get_rng_state()
    assert probe_ms("fp32", repeats=1) > 0 and probe_ms("bf16", repeats=1) > 0
    assert torch.equal(state, torch.random.get_rng_state())


def _tiny_classifier():
    from eegbench.train.model import EEGClassifier

    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 64, 32), torch.nn.ReLU())
    enc.n_features = 32
    return EEGClassifier(enc, 6, 3)


def _stage1_data(n=48):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    X = (rng.standard_normal((n, 8, 64)) + y[:, None, None]).astype(np.float32)
    t = np.eye(6, dtype=np.float32)[y]
    return X, y, t


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_stage1_trains_under_autocast_on_the_cpu(precision):
    from eegbench.train.stage1 import train_stage1

    X, y, t = _stage1_data()
    model = _tiny_classifier()
    cfg = Stage1Config(epochs=3, batch_size=16, lr=3e-3)
    res = train_stage1(
        model,
        X,
        y,
        t,
        X[:12],
        y[:12],
        cfg,
        torch.Generator().manual_seed(0),
        precision=Precision(CPU, precision),
    )
    assert all(np.isfinite(h["loss"]) for h in res.history)
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    emb, logits = model.predict(X[:5], precision=Precision(CPU, precision))
    assert emb.dtype == np.float32 and logits.shape == (5, 3)


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_stage1_trains_on_cuda(precision):
    from eegbench.train.stage1 import train_stage1

    X, y, t = _stage1_data()
    dev = torch.device("cuda")
    model = _tiny_classifier().to(dev)
    res = train_stage1(
        model,
        X,
        y,
        t,
        X[:12],
        y[:12],
        Stage1Config(epochs=2, batch_size=16),
        torch.Generator().manual_seed(0),
        precision=check_precision(dev, precision),
    )
    assert all(np.isfinite(h["loss"]) for h in res.history)
    assert next(model.parameters()).device.type == "cuda"


def test_stage1_nan_guard_stays_on_under_autocast():
    from eegbench.contract.errors import EegbenchError
    from eegbench.train.stage1 import train_stage1

    X, y, t = _stage1_data()
    X[3] = np.inf
    with pytest.raises(EegbenchError, match="stage 1 loss became"):
        train_stage1(
            _tiny_classifier(),
            X,
            y,
            t,
            X[:12],
            y[:12],
            Stage1Config(epochs=1, batch_size=48),
            torch.Generator().manual_seed(0),
            precision=Precision(CPU, "bf16"),
        )


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    """A tiny Llama saved with save_pretrained, chat template included."""
    from tests.chat_models import FAMILIES, make_model, make_tokenizer

    tok = make_tokenizer(**FAMILIES["llama"])
    model = make_model("llama", len(tok), tok.eos_token_id, tok.bos_token_id)
    folder = tmp_path_factory.mktemp("llama")
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def test_llm_dtype_and_device_map_load_through_from_pretrained(llama_folder):
    from eegbench_plugins.llms.hf_loading import load_pretrained

    llm = load_pretrained(str(llama_folder), dtype="bfloat16")
    assert {p.dtype for p in llm.model.parameters()} == {torch.bfloat16}
    assert not llm.placed and llm.device == CPU
    mapped = load_pretrained(str(llama_folder), device_map="cpu")
    assert mapped.placed and mapped.to(torch.device("meta")).device == CPU  # not moved again
    assert mapped.tokenizer.chat_template  # the saved template travels with the folder


def test_stage2_with_a_bf16_llm_and_bf16_autocast(llama_folder):
    from eegbench_plugins.llms.hf_loading import load_pretrained

    from eegbench.train.model import Projector
    from eegbench.train.stage2 import Phase, train_stage2

    llm = load_pretrained(str(llama_folder), dtype="bfloat16")
    torch.manual_seed(0)
    proj = Projector(4, llm.d_model)
    res = train_stage2(
        llm,
        proj,
        [Phase("eeg", np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))],
        ["dog", "cat"] * 3,
        ["A red dog runs in a park.", "A blue cat sits on a mat."] * 3,
        Stage2Config(epochs=2, batch_size=3),
        torch.Generator().manual_seed(0),
        precision=Precision(CPU, "bf16"),
    )
    assert all(np.isfinite(h["loss"]) for h in res.history)
    assert proj.proj.weight.dtype == torch.float32


def test_quantization_and_dtype_errors_are_one_line(llama_folder):
    from eegbench_plugins.llms.hf_loading import load_pretrained

    with pytest.raises(ConfigError, match="llm.dtype"):
        build_config(["llm=gpt2", "llm.dtype=int8"])
    with pytest.raises(ConfigError, match="llm.quantization"):
        build_config(["llm=gpt2", "llm.quantization=2bit"])
    if not CUDA:
        with pytest.raises(ConfigError, match=r"quantization=4bit .*(bitsandbytes|CUDA)"):
            load_pretrained(str(llama_folder), quantization="4bit")


@needs_cuda
def test_quantized_llm_loads_on_cuda(llama_folder):
    pytest.importorskip("bitsandbytes", reason="needs the 'quant' extra")
    from eegbench_plugins.llms.hf_loading import load_pretrained

    llm = load_pretrained(str(llama_folder), quantization="8bit")
    assert llm.placed and llm.device.type == "cuda"


@no_cuda
def test_quantization_without_cuda_fails_the_dry_run_in_one_line(llama_folder):
    res = CliRunner().invoke(
        cli,
        ["run", "--dry-run", "llm=hf", f"llm.path={llama_folder}", "llm.quantization=4bit"],
    )
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code != 0 and len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and "quantization=4bit" in lines[0]


def test_stage2_checkpoint_keeps_the_fp16_grad_scaler(llama_folder, tmp_path):
    """Stage 2 under fp16 autocast (CPU): the scaler's state travels through the checkpoint, and
    1 + 1 resumed epochs give the projector of 2 uninterrupted ones."""
    from eegbench_plugins.llms.hf_loading import load_pretrained

    from eegbench.train.checkpoint import Checkpoint
    from eegbench.train.model import Projector
    from eegbench.train.stage2 import Phase, train_stage2

    llm = load_pretrained(str(llama_folder))
    fp16 = Precision(CPU, "fp16")
    inputs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)

    def train(epochs, ckpt):
        torch.manual_seed(0)
        proj = Projector(4, llm.d_model)
        train_stage2(
            llm,
            proj,
            [Phase("eeg", inputs)],
            ["dog", "cat"] * 3,
            ["A red dog runs in a park.", "A blue cat sits on a mat."] * 3,
            Stage2Config(epochs=epochs, batch_size=3, grad_accum=1),
            torch.Generator().manual_seed(0),
            ckpt,
            precision=fp16,
        )
        return proj

    class Stop(Exception):
        pass

    class StopAfterOneEpoch(Checkpoint):
        def save(self, name, state):
            super().save(name, state)
            raise Stop

    with pytest.raises(Stop):
        train(2, StopAfterOneEpoch(tmp_path / "ckpt"))
    ckpt = Checkpoint(tmp_path / "ckpt")
    assert ckpt.load("stage2")["scaler"]["_growth_tracker"] == 2  # 2 steps per epoch
    resumed = train(2, ckpt)
    scaler = ckpt.load("stage2")["scaler"]
    assert scaler["_growth_tracker"] == 4 and scaler["scale"] == 65536.0
    straight = train(2, None)
    for a, b in zip(resumed.state_dict().values(), straight.state_dict().values(), strict=True):
        assert torch.equal(a, b)
