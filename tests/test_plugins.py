"""Plugin manager and registries: built-ins load as entry points, third parties the same way."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

import eegbench
from eegbench import plugins
from eegbench.contract.errors import ConfigError, PluginError, UnknownNameError
from eegbench.contract.registry import Entry, Registry, Spec
from tests.conftest import install_fake_distribution


def test_builtins_are_entry_points_of_this_distribution(fresh_plugins):
    infos = {p.name: p for p in plugins.plugins()}
    for name in ("encoders", "llms", "targets", "metrics", "datasets"):
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
    reg.add(Entry("encoders", Spec("eegnet", dict, _P), plugin="a"))
    reg.add(Entry("encoders", Spec("eegconformer", dict, _P), plugin="a"))
    with pytest.raises(PluginError, match="registered twice"):
        reg.add(Entry("encoders", Spec("eegnet", dict), plugin="b"))
    with pytest.raises(UnknownNameError, match="Did you mean 'eegnet'"):
        reg.get("eegnt")
    assert reg.names("eeg*") == ["eegconformer", "eegnet"]
    assert reg.names("*net") == ["eegnet"]


def test_entry_validates_types_and_keys():
    e = Entry("encoders", Spec("x", lambda **kw: kw, _P))
    assert e.build(width="4") == {"width": 4, "rate": 0.5}
    with pytest.raises(ConfigError, match="expected int"):
        e.parse({"width": "wide"})
    with pytest.raises(ConfigError, match="no parameter 'widht'.*Did you mean 'width'"):
        e.parse({"widht": 2})


def test_lazy_factory_is_imported_on_use_only():
    e = Entry("encoders", Spec("lazy", "json:dumps"))
    assert e.load()({"a": 1}) == '{"a": 1}'
    missing = Entry("encoders", Spec("missing", "no_such_module_xyz:thing"))
    with pytest.raises(PluginError, match="not installed"):
        missing.load()


def test_every_builtin_family_registers_from_its_one_table(fresh_plugins):
    from eegbench_plugins import datasets, encoders, llms, metrics, targets

    from eegbench.contract.metric import Metric

    tables = {
        "datasets": datasets.DATASETS,
        "encoders": encoders.ENCODERS,
        "targets": targets.TARGETS,
        "llms": llms.LLMS,
        "metrics": metrics.METRICS,
    }
    for kind, table in tables.items():
        registered = {e.name: e for e in plugins.registry(kind) if e.plugin == kind}
        assert sorted(registered) == sorted(s.name for s in table), kind
        for spec in table:
            entry = registered[spec.name]
            assert isinstance(spec.factory, str), spec.name  # lazy "module:attr"
            assert (entry.factory, entry.params) == (spec.factory, spec.params)
            assert entry.citation == spec.citation and spec.citation, spec.name
            assert entry.description == spec.description and spec.description, spec.name
    for spec in metrics.METRICS:  # a metric's name and citation live in the table only
        cls = plugins.get("metrics", spec.name).load()
        assert issubclass(cls, Metric)
        assert not {"name", "citation", "description"} & set(vars(cls)), spec.name


def test_registering_the_builtins_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from eegbench import plugins\n"
        "from eegbench.contract.registry import KINDS\n"
        "for kind in KINDS:\n"
        "    plugins.registry(kind)\n"
        "assert plugins.failures() == [], plugins.failures()\n"
        "heavy = [m for m in ('torch', 'transformers', 'sacrebleu', 'mne', 'open_clip',"
        " 'eegbench_plugins.metrics.text', 'eegbench_plugins.llms.tiny') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stderr, res.stderr


def test_spec_tables_feed_the_register_callback():
    from eegbench.api import Spec, register_all

    calls = []
    spec = Spec("x", "m:f", citation="C 2026", description="d")
    register_all(lambda *a, **kw: calls.append((a, kw)), [spec])
    assert calls == [((spec,), {})]


def test_a_metric_factory_must_return_a_metric(fresh_plugins):
    from eegbench.evaluation.scoring import build_metric

    class NotAMetric:
        def compute(self, predictions, references, **ctx):
            return {}

    class Plugin:
        @eegbench.hookimpl
        def register_metrics(self, register):
            register("shapeless", NotAMetric)

    plugins.register_plugin(Plugin(), "shapeless-plugin")
    with pytest.raises(PluginError, match="not an eegbench.api.Metric"):
        build_metric("shapeless")


def test_a_registration_has_one_spelling(fresh_plugins):
    """``register(Spec(...))`` and the keyword form give the same Entry; the Spec is kept."""
    from eegbench.plugins import _registrar

    reg = Registry("encoders")
    register = _registrar(reg, "p")
    spec = Spec("a", dict, _P, citation="C", description="D")
    register(spec)
    register("b", dict, params=_P, citation="C", description="D")
    assert reg.get("a").spec is spec
    assert reg.get("b").spec == Spec("b", dict, _P, "C", "D")
    assert (reg.get("b").name, reg.get("b").params, reg.get("b").plugin) == ("b", _P, "p")
    with pytest.raises(TypeError):
        register("c", dict, _P)  # the fields after the factory are named
    with pytest.raises(PluginError, match="pass a Spec alone"):
        register(spec, dict)


def _by_instance(n: int, p: _P) -> tuple[int, _P]:  # a postponed annotation (a string)
    return n, p


def _by_keywords(n: int, width: int = 0, rate: float = 0.0) -> tuple[int, int, float]:
    return n, width, rate


def test_a_factory_gets_its_params_instance_or_its_fields_as_keywords():
    """Validated once (``parse``), the instance reaches a factory that declares a parameter of
    the params class (also through ``functools.partial``); any other factory gets the fields
    as keywords. Nothing re-validates."""
    import functools

    params = Entry("encoders", Spec("i", _by_instance, _P)).parse({"width": "4"})
    assert params == _P(4, 0.5)
    n, got = Entry("encoders", Spec("i", _by_instance, _P)).make(params, 7)
    assert n == 7 and got is params  # the same object: nothing rebuilt it
    bound = Entry("encoders", Spec("p", functools.partial(_by_instance, 1), _P))
    assert bound.make(params) == (1, params)
    assert Entry("encoders", Spec("k", _by_keywords, _P)).make(params, 7) == (7, 4, 0.5)
    # a mapping of values (a saved run's) is validated on the way in
    with pytest.raises(ConfigError, match="expected int"):
        Entry("encoders", Spec("k", _by_keywords, _P)).make({"width": "wide"}, 7)
