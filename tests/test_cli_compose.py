"""A composable CLI: listings on stdout, JSON listings, documented exit codes, blocked plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from eegbench.cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_listings_go_to_stdout():
    for args in (["ls", "encoders"], ["plugins"]):
        exe = str(Path(sys.executable).parent / "eegbench")
        proc = subprocess.run([exe, *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        assert ("dilated" if args[0] == "ls" else "register_encoders") in proc.stdout


def test_ls_json_is_parseable_and_complete():
    res = invoke("ls", "encoders", "--format", "json")
    assert res.exit_code == 0, res.output
    items = json.loads(res.output)
    dilated = next(i for i in items if i["name"] == "dilated")
    assert dilated["kind"] == "encoders" and dilated["plugin"] == "encoders"
    assert any(p["name"] == "width" and p["type"].startswith("float") for p in dilated["params"])
    every = json.loads(invoke("ls", "--format", "json").output)
    assert {i["kind"] for i in every} == {"datasets", "encoders", "targets", "llms", "metrics"}
    pattern = json.loads(invoke("ls", "llms", "tiny*", "--format", "json").output)
    assert [i["name"] for i in pattern] == ["tiny-gpt2"]


def test_plugins_json():
    res = invoke("plugins", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    metrics = next(p for p in data["plugins"] if p["name"] == "metrics")
    assert metrics["distribution"] == "eegbench" and "register_metrics" in metrics["hooks"]
    assert data["failures"] == []


def test_help_documents_exit_codes():
    res = invoke("--help")
    assert res.exit_code == 0
    for line in ("Exit codes:", "0    success", "2    a bad command line or config", "130"):
        assert line in res.output
    assert "report" in res.output and "--log-format" in res.output


def test_blocked_plugin_item_says_it_is_blocked(monkeypatch, fresh_plugins):
    monkeypatch.setenv("EEGBENCH_BLOCK_PLUGINS", "llms")
    fresh_plugins.reset()
    res = invoke("run", "--dry-run", "llm=tiny-gpt2")
    assert res.exit_code == 2
    assert res.output.strip() == (
        "error: llm 'tiny-gpt2' is provided by plugin 'llms' (eegbench), which "
        "EEGBENCH_BLOCK_PLUGINS blocks; remove it from EEGBENCH_BLOCK_PLUGINS to use it."
    )
