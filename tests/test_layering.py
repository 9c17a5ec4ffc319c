"""The config layering of docs/configuration.md ("How a config is resolved"), held to its word.

Lowest first: plugin defaults, eegbench defaults (the reference), the benchmark (only on its own
dataset), the config file, the command line. ``group=name`` starts the group from the plugin's
defaults (plus the benchmark's settings for that plugin), also when the name is the current one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from eegbench import plugins
from eegbench.cli import cli
from eegbench.config import (
    CORE_GROUPS,
    DEFAULT_PLUGINS,
    build_config,
    explain,
    load_config,
)
from eegbench.contract.errors import ConfigError, UnknownNameError
from eegbench.contract.registry import GROUPS, values_of

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "eegbench" / "config" / "benchmarks" / "synthetic.yaml"
CVPR = ["dataset=cvpr40", "dataset.path=/data/eeg_55_95_std.pth"]


def core_defaults(group: str) -> dict:
    import dataclasses

    from eegbench.config.schema import thaw

    return thaw(dataclasses.asdict(CORE_GROUPS[group]()))


def test_the_layering_order_is_documented_in_one_place():
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## How a config is resolved", 1)[1].split("\n## ", 1)[0]
    order = [m.group(1) for m in re.finditer(r"^\d\. \*\*(.+?)\*\*", section, re.M)]
    assert order == [
        "Plugin defaults",
        "eegbench defaults",
        "The benchmark",
        "The config file",
        "The command line",
    ]


@pytest.mark.parametrize("group", list(GROUPS))
def test_naming_the_current_plugin_on_another_dataset_gives_its_defaults(group, tmp_path):
    """On a dataset other than the synthetic one, ``group=<current name>`` is the plugin as
    published, whatever an earlier layer set for it."""
    current = build_config(CVPR)
    name = getattr(current, group).name
    entry = plugins.get(GROUPS[group], name)
    extra = [f"{group}.path=/models/x"] if entry.param_list()[0].required else []
    extra += CVPR[1:] if group == "dataset" else []
    # a config file that tuned the plugin is overruled by naming it again
    tuned = next(p for p in entry.param_list() if isinstance(p.default, (int, float, str)))
    value = "7" if isinstance(tuned.default, (int, float)) else "tuned"
    file = tmp_path / "tuned.yaml"
    file.write_text(
        f"dataset: {{name: cvpr40}}\n{group}: {{name: {name}, {tuned.name}: {value}}}\n"
    )
    cfg = build_config([*CVPR, f"{group}={name}", *extra], base=file)
    choice = getattr(cfg, group)
    given = {k.split("=")[0].split(".")[1]: "/models/x" for k in extra[:1]}
    if group == "dataset":
        given = {"path": "/data/eeg_55_95_std.pth"}
    expected = values_of(entry.parse(given))
    assert choice.name == name and values_of(choice.params) == expected
    assert cfg.benchmark is None


def test_switching_the_dataset_drops_the_benchmarks_tuning():
    synthetic = build_config([])
    cvpr = build_config(CVPR)
    assert synthetic.benchmark == "synthetic" and cvpr.benchmark is None
    assert synthetic.encoder.params.width == 0.25  # the benchmark's tuning ...
    for group in CORE_GROUPS:  # ... none of which reaches another dataset
        assert cvpr.to_dict()[group] == core_defaults(group), group
    for group in ("encoder", "target", "llm"):
        entry = plugins.get(GROUPS[group], getattr(cvpr, group).name)
        reference = DEFAULT_PLUGINS[group]
        assert getattr(cvpr, group).name == reference["name"]
        expected = values_of(entry.parse({k: v for k, v in reference.items() if k != "name"}))
        assert values_of(getattr(cvpr, group).params) == expected, group
    # every value the benchmark file sets shows up on synthetic and nowhere else
    tuned = load_config(BENCHMARK)
    assert tuned["stage1"]["loss"] == "infonce" and cvpr.stage1.loss == "mse"
    assert synthetic.stage1.loss == "infonce"


def test_on_the_benchmark_naming_its_plugin_keeps_the_benchmarks_settings_for_it():
    tuned = load_config(BENCHMARK)["encoder"]
    again = build_config(["encoder=dilated"])
    assert again.encoder == build_config([]).encoder
    assert all(getattr(again.encoder.params, k) == v for k, v in tuned.items() if k != "name")
    other = build_config(["encoder=eegnet"])
    assert values_of(other.encoder.params) == plugins.get("encoders", "eegnet").defaults()
    # a benchmark tunes the plugin it chose, not another one it is switched to
    assert build_config(["target=clip-text"]).target.params.normalize is True


def test_higher_layers_win_key_by_key(tmp_path):
    file = tmp_path / "mine.yaml"
    file.write_text("seed: 3\nstage1:\n  epochs: 4\n  lr: 0.01\nencoder:\n  dropout: 0.3\n")
    cfg = build_config(["stage1.epochs=5"], base=file)
    assert cfg.seed == 3 and cfg.stage1.lr == 0.01 and cfg.stage1.epochs == 5
    assert cfg.stage1.loss == "infonce"  # the benchmark's, below the file
    assert cfg.stage1.optimizer == "adamw"  # eegbench's default, below the benchmark
    assert cfg.encoder.params.dropout == 0.3 and cfg.encoder.params.width == 0.25
    origins = {
        line.split(":")[0]: line.split("#", 1)[1].strip() for line in explain(cfg).splitlines()
    }
    assert origins["stage1.epochs"] == "command line: stage1.epochs=5"
    assert origins["stage1.lr"] == f"config file ({file}:4)"
    assert origins["seed"] == f"config file ({file}:1)"
    assert origins["stage1.loss"].startswith("benchmark synthetic (eegbench/config/benchmarks/")
    assert origins["stage1.optimizer"] == "eegbench default (eegbench/config/schema.py)"
    assert origins["encoder.temporal_filters"] == "plugin default (dilated)"


def test_explain_on_the_command_line_names_each_source():
    res = CliRunner().invoke(cli, ["config", "--explain", "encoder.dropout=0.3"])
    assert res.exit_code == 0, res.output
    lines = {line.split(":")[0]: line for line in res.output.splitlines()}
    line_no = next(
        i + 1
        for i, text in enumerate(BENCHMARK.read_text().splitlines())
        if text.strip().startswith("width:")
    )
    assert f"synthetic.yaml:{line_no})" in lines["encoder.width"]
    assert lines["encoder.dropout"].endswith("# command line: encoder.dropout=0.3")
    moved = CliRunner().invoke(cli, ["config", "--explain", "dataset=cvpr40"])
    assert "benchmark 'synthetic' dropped" in moved.output
    assert re.search(r"^encoder\.width: 1\.0 +# plugin default \(dilated\)$", moved.output, re.M)


def test_benchmark_choices_are_checked():
    with pytest.raises(UnknownNameError, match="unknown benchmark 'synthtic'.*'synthetic'"):
        build_config(["benchmark=synthtic"])
    with pytest.raises(ConfigError, match="benchmark=synthetic is a benchmark on dataset"):
        build_config([*CVPR, "benchmark=synthetic"])
    plain = build_config(["benchmark=none"])  # the reference on the synthetic data
    assert plain.dataset.name == "synthetic" and plain.stage1.loss == "mse"
    assert plain.target.name == "clip"


def test_a_saved_config_resolves_to_itself(tmp_path):
    from eegbench.config import RunConfig, dump

    for args in ([], CVPR, ["encoder=eegnet", "seed=3"]):
        cfg = build_config(args)
        path = tmp_path / "config.yaml"
        path.write_text(dump(cfg))
        assert build_config([], base=path) == cfg
        assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_the_config_is_frozen():
    import dataclasses

    cfg = build_config([])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.stage1.lr = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):  # a plugin's params too
        cfg.encoder.params.width = 1.0  # type: ignore[misc]
    assert cfg.replace(seed=1).seed == 1 and cfg.seed == 42
    with pytest.raises(ConfigError, match="device='gpu'"):
        cfg.replace(device="gpu")


# ----------------------------------------------- nobody outside eegbench/config reads raw keys

CONFIG_NAMES = re.compile(r"^(cfg|config|run_config|.*_cfg)$")


def _config_like(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return bool(CONFIG_NAMES.match(node.id))
    if isinstance(node, ast.Attribute):
        return node.attr in ("config", "cfg")
    if isinstance(node, ast.Subscript):  # cfg["eval"]["metrics"]
        return _config_like(node.value)
    return False


def string_lookups(path: Path) -> list[str]:
    """``cfg["key"]`` and ``cfg.get("key", ...)`` on config-like names in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and _config_like(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault", "pop")
            and _config_like(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_code_outside_the_config_package_indexes_the_config_by_string():
    files = [
        p
        for folder in ("eegbench", "benchmarks")
        for p in (ROOT / folder).rglob("*.py")
        if "eegbench/config" not in p.as_posix()
    ]
    found = [hit for p in files for hit in string_lookups(p)]
    assert not found, found


def test_the_string_lookup_check_can_fail(tmp_path):
    bad = ROOT / "tests" / "_lookup_probe.py"
    bad.write_text('def f(cfg, pipe):\n    return cfg["seed"], pipe.config.get("eval", {})\n')
    try:
        assert len(string_lookups(bad)) == 2
    finally:
        bad.unlink()


# ------------------------------- plugin parameters travel as their dataclass instances, typed


def _plugin_params(node: ast.AST) -> bool:
    """``<choice>.params``: a plugin's parameters as a config holds them."""
    return isinstance(node, ast.Attribute) and node.attr == "params"


def params_by_key(path: Path) -> list[str]:
    """Reads of a plugin's parameters by string key in one file: ``x.params["k"]``,
    ``x.params.get("k")``, ``getattr(x.params, "k")``, ``"k" in x.params``, ``dict(x.params)``
    and ``**x.params``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        hit = (
            (isinstance(node, ast.Subscript) and _plugin_params(node.value))
            or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "items", "keys", "values")
                and _plugin_params(node.func.value)
            )
            or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "dict", "hasattr")
                and node.args
                and _plugin_params(node.args[0])
                and (node.func.id == "dict" or isinstance(node.args[-1], ast.Constant))
            )
            or (isinstance(node, ast.keyword) and node.arg is None and _plugin_params(node.value))
            or (
                isinstance(node, ast.Compare)
                and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
                and any(_plugin_params(c) for c in node.comparators)
            )
        )
        if hit:
            found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    return found


def test_no_core_module_reads_a_plugin_parameter_by_string_key():
    """The core gets a plugin's params instance and passes it on (``Entry.make``); what it needs
    of one it asks through a protocol (``RunSeeded``, ``RandomWeights``), never by key."""
    files = [p for folder in ("eegbench", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    found = [hit for p in files for hit in params_by_key(p)]
    assert not found, found


def test_the_params_by_key_check_can_fail():
    bad = ROOT / "tests" / "_params_probe.py"
    bad.write_text(
        "def f(cfg, build):\n"
        "    a = cfg.dataset.params['seed'], cfg.llm.params.get('path')\n"
        "    b = getattr(cfg.target.params, 'random_weights'), 'seed' in cfg.dataset.params\n"
        "    return build(**cfg.encoder.params), dict(cfg.llm.params)\n"
    )
    try:
        assert len(params_by_key(bad)) == 6
    finally:
        bad.unlink()
