"""Plugin manager and registries: built-ins load as entry points, third parties the same way."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import eegbench
from eegbench import plugins
from eegbench.api.errors import ConfigError, PluginError, UnknownNameError
from eegbench.api.registry import Entry, Registry
from tests.conftest import install_fake_distribution


def test_builtins_are_entry_points_of_this_distribution(fresh_plugins):
    infos = {p.name: p for p in plugins.plugins()}
    for name in ("encoders", "llms", "targets", "metrics", "synthetic"):
        assert infos[name].dist == "eegbench"
    assert "register_llms" in infos["llms"].hooks
    assert {"gpt2", "tiny-gpt2"} <= set(plugins.registry("llms").names())
    assert "synthetic" in plugins.registry("datasets").names()


def test_third_party_distribution_registers_an_encoder(fake_plugin):
    assert "thirdparty-mlp" in plugins.registry("encoders")
    info = {p.name: p for p in plugins.plugins()}["thirdparty"]
    assert (info.dist, info.version, info.hooks) == (
        "eegbench-thirdparty",
        "1.2.3",
        ("register_encoders",),
    )
    enc = eegbench.get("encoders", "thirdparty-mlp").build(4, 10, hidden=7)
    assert enc.n_features == 7


def test_broken_plugin_is_reported_and_skipped(tmp_path, monkeypatch, fresh_plugins):
    root = install_fake_distribution(
        tmp_path / "site", "eegbench-broken", "raise RuntimeError('boom at import')\n", "broken"
    )
    monkeypatch.syspath_prepend(str(root))
    plugins.reset()
    failed = {f.name: f for f in plugins.failures()}
    assert "boom at import" in failed["broken"].error
    assert failed["broken"].dist == "eegbench-broken"
    assert "tiny-gpt2" in plugins.registry("llms")  # everything else still works


def test_hook_that_raises_is_reported(tmp_path, monkeypatch, fresh_plugins):
    src = (
        "import eegbench\n"
        "@eegbench.hookimpl\n"
        "def register_metrics(register):\n"
        "    raise ValueError('bad hook')\n"
    )
    root = install_fake_distribution(tmp_path / "site", "eegbench-badhook", src, "badhook")
    monkeypatch.syspath_prepend(str(root))
    plugins.reset()
    assert any("bad hook" in f.error for f in plugins.failures())
    assert len(plugins.registry("llms")) >= 2


def test_misspelled_hook_fails_loudly(tmp_path, monkeypatch, fresh_plugins):
    src = "import eegbench\n@eegbench.hookimpl\ndef register_encoder(register):\n    pass\n"
    root = install_fake_distribution(tmp_path / "site", "eegbench-typo", src, "typo")
    monkeypatch.syspath_prepend(str(root))
    plugins.reset()
    failed = {f.name: f for f in plugins.failures()}
    assert "register_encoder" in failed["typo"].error


def test_blocked_plugin_is_not_loaded(monkeypatch, fresh_plugins):
    monkeypatch.setenv("EEGBENCH_BLOCK_PLUGINS", "llms")
    plugins.reset()
    assert "tiny-gpt2" not in plugins.registry("llms")


@dataclass
class _P:
    width: int = 3
    rate: float = 0.5


def test_registry_duplicates_unknown_names_and_patterns():
    reg = Registry("encoders")
    reg.add(Entry("encoders", "eegnet", dict, _P, plugin="a"))
    reg.add(Entry("encoders", "eegconformer", dict, _P, plugin="a"))
    with pytest.raises(PluginError, match="registered twice"):
        reg.add(Entry("encoders", "eegnet", dict, plugin="b"))
    with pytest.raises(UnknownNameError, match="Did you mean 'eegnet'"):
        reg.get("eegnt")
    assert reg.names("eeg*") == ["eegconformer", "eegnet"]
    assert reg.names("*net") == ["eegnet"]


def test_entry_validates_types_and_keys():
    e = Entry("encoders", "x", lambda **kw: kw, _P)
    assert e.build(width="4") == {"width": 4, "rate": 0.5}
    with pytest.raises(ConfigError, match="expected int"):
        e.validate({"width": "wide"})
    with pytest.raises(ConfigError, match="no parameter 'widht'.*Did you mean 'width'"):
        e.validate({"widht": 2})


def test_lazy_factory_is_imported_on_use_only():
    e = Entry("encoders", "lazy", "json:dumps")
    assert e.load()({"a": 1}) == '{"a": 1}'
    missing = Entry("encoders", "missing", "no_such_module_xyz:thing")
    with pytest.raises(PluginError, match="not installed"):
        missing.load()
