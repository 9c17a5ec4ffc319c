"""The command line: listings, one-line errors with exit code 2, no tracebacks."""

from __future__ import annotations

from click.testing import CliRunner

from eegbench.cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_ls_lists_items_with_parameters_and_citations():
    res = invoke("ls", "llms", "-v")
    assert res.exit_code == 0, res.output
    assert "tiny-gpt2" in res.output and "n_layer: int >= 1 = 2" in res.output
    assert "cite: Radford et al. 2019" in res.output


def test_ls_pattern_and_unknown_kind():
    res = invoke("ls", "llm", "tiny*")
    assert res.exit_code == 0 and "tiny-gpt2" in res.output and "  gpt2" not in res.output
    res = invoke("ls", "encodrs")
    assert res.exit_code == 2
    assert "unknown kind 'encodrs'" in res.output and "Traceback" not in res.output


def test_plugins_lists_builtins_and_failures(tmp_path, monkeypatch, fresh_plugins):
    from tests.conftest import install_fake_distribution

    root = install_fake_distribution(
        tmp_path / "s", "eegbench-broken", "import nope_xyz\n", "broken"
    )
    monkeypatch.syspath_prepend(str(root))
    fresh_plugins.reset()
    res = invoke("plugins")
    assert res.exit_code == 0
    assert "register_llms" in res.output
    assert "broken (eegbench-broken): ModuleNotFoundError" in res.output


def test_config_errors_exit_2_with_one_line():
    for args in (["run", "encoder=nope"], ["run", "stage1.epochs=x"], ["run", "bogus"]):
        res = invoke(*args)
        assert res.exit_code == 2, res.output
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), res.output


def test_debug_shows_traceback():
    res = CliRunner().invoke(cli, ["--debug", "run", "encoder=nope"])
    assert res.exit_code == 2 and "Traceback" in res.output


def test_dry_run_prints_resolved_config():
    import yaml

    res = invoke("run", "--dry-run", "seed=5", "stage1.epochs=2")
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load(res.output)
    assert cfg["seed"] == 5 and cfg["stage1"]["epochs"] == 2 and cfg["llm"]["name"] == "tiny-gpt2"


def test_missing_config_file_is_a_clean_error(tmp_path):
    res = invoke("run", "--config", str(tmp_path / "missing.yaml"))
    assert res.exit_code == 2 and "does not exist" in res.output


def test_dry_run_catches_metric_control_and_device_errors():
    import yaml

    res = invoke(
        "run", "--dry-run", "eval.metrics=[accuracy,cider]", "metrics.cider.tokenizer=java"
    )
    assert res.exit_code == 0, res.output
    assert yaml.safe_load(res.output)["metrics"]["cider"]["tokenizer"] == "java"
    for bad, message in (
        ("metrics.cider.tokenize=ptbx", "metrics.cider.tokenize='ptbx'"),
        ("metrics.bleu.tokenize=nope", "not a sacrebleu tokenizer"),
        ("eval.controls=[nosie]", "unknown control 'nosie'"),
        ("device=cuda:99", "device='cuda:99' is not available"),
        ("device=gpu", "device='gpu': use auto, cpu, cuda, cuda:N or mps"),
        ("eval.metrics=[bertscore]", "metrics.bertscore.model_path"),
    ):
        res = invoke("run", "--dry-run", bad)
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert res.exit_code != 0 and len(lines) == 1, res.output
        assert lines[0].startswith("error: ") and message in lines[0], res.output
