"""Preflight: external requirements of the chosen plugins are checked before any training."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from eegbench.cli import cli


@pytest.fixture
def no_java(tmp_path, monkeypatch) -> Path:
    """PATH = a folder linking every program of /usr/bin except java."""
    bin_dir = tmp_path / "bin-no-java"
    bin_dir.mkdir()
    for prog in Path("/usr/bin").iterdir():
        if prog.name != "java":
            (bin_dir / prog.name).symlink_to(prog)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_default_config_passes_preflight_without_java(no_java, tmp_path):
    import shutil

    assert shutil.which("java") is None
    res = invoke("run", "--dry-run", f"output_dir={tmp_path / 'runs'}")
    assert res.exit_code == 0, res.output
    assert "- cider" in res.output  # CIDEr is in the default metrics


def test_java_needing_metric_fails_before_training_with_one_line(no_java, tiny, tmp_path):
    for args in (["run", "--dry-run"], ["run"]):
        res = invoke(*args, *tiny, "eval.metrics=accuracy,protocol:coco")
        assert res.exit_code == 2, res.output
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1, res.output
        assert lines[0].startswith("error: preflight failed before training: ")
        assert "metric 'protocol:coco': METEOR 1.5 runs Java" in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing was trained or written


def test_cider_java_tokenizer_from_the_config_fails_the_dry_run(no_java, tmp_path):
    res = invoke("run", "--dry-run", f"output_dir={tmp_path}", "metrics.cider.tokenizer=java")
    assert res.exit_code == 2, res.output
    assert res.output.startswith(
        "error: preflight failed before training: metric 'cider': tokenizer=java runs Java"
    )


def test_cider_java_tokenizer_needs_java(no_java):
    from eegbench import plugins

    entry = plugins.get("metrics", "cider")
    assert entry.check({}) == []
    (problem,) = entry.check({"tokenizer": "java"})
    assert problem.startswith("metric 'cider': tokenizer=java runs Java") and "JRE" in problem


def test_storage_and_weights_problems_are_listed_together(tmp_path):
    from eegbench.config import build_config
    from eegbench.config.preflight import problems

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    overrides = [f"output_dir={blocker / 'runs'}", f"cache_dir={tmp_path / 'cache'}", "llm=gpt2"]
    cfg = build_config([*overrides, f"llm.path={tmp_path / 'no-such-model'}"])
    found = problems(cfg)
    assert any(
        p.startswith("output_dir=") and "is a regular file, not a folder" in p for p in found
    ), found
    assert (
        f"llm 'gpt2': path={str(tmp_path / 'no-such-model')!r} is neither a local folder "
        "nor a hub model name" in found
    )
    cfg = build_config([*overrides, "llm.path=no-such-org/no-such-model"])
    assert any(
        p.startswith("llm 'gpt2': weights of 'no-such-org/no-such-model' are not")
        for p in problems(cfg)
    )
    assert not any(p.startswith("cache_dir") for p in found)


def test_unwritable_output_dir(tmp_path, monkeypatch):
    from eegbench.config import build_config
    from eegbench.config import preflight as pf

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(
        pf.os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode)
    )
    cfg = build_config([f"output_dir={locked / 'runs'}", f"cache_dir={tmp_path}"])
    assert pf.problems(cfg) == [
        f"output_dir={str(locked / 'runs')!r}: {locked} is not writable; choose another output_dir."
    ]


def test_preflight_is_declared_on_registration(fresh_plugins):
    from eegbench.api import hookimpl

    class Plugin:
        @hookimpl
        def register_metrics(self, register):
            register(
                "needs-tool",
                "eegbench_plugins.metrics.decoding:Accuracy",
                preflight=lambda params: ["install the tool"],
            )

    fresh_plugins.register_plugin(Plugin(), "needs-tool-plugin")
    assert fresh_plugins.get("metrics", "needs-tool").check({}) == [
        "metric 'needs-tool': install the tool"
    ]
    assert fresh_plugins.get("metrics", "accuracy").check({}) == []
