"""Config grammar: defaults, selections, typed overrides, clear errors, reproducible files."""

from __future__ import annotations

import pytest

from eegbench.api.errors import ConfigError, UnknownNameError
from eegbench.config import (
    apply_overrides,
    build_config,
    default_config,
    load_config,
    parse_override,
)


def test_defaults_resolve_to_every_parameter():
    cfg = build_config([])
    assert cfg["dataset"]["name"] == "synthetic"
    assert cfg["llm"]["name"] == "tiny-gpt2"
    assert cfg["stage1"]["epochs"] == default_config()["stage1"]["epochs"]
    assert cfg["dataset"]["n_chans"] == 32  # the plugin's declared default is filled in
    assert cfg["stage2"]["mask_prompt"] is True


def test_overrides_are_typed():
    cfg = build_config(
        [
            "seed=7",
            "stage1.epochs=3",
            "stage1.lr=1e-4",
            "stage2.mask_prompt=false",
            "eval.controls=[only_obj,noise]",
            "dataset.snr=2",
        ]
    )
    assert cfg["seed"] == 7 and cfg["stage1"]["epochs"] == 3
    assert cfg["stage1"]["lr"] == pytest.approx(1e-4)
    assert cfg["stage2"]["mask_prompt"] is False
    assert cfg["eval"]["controls"] == ["only_obj", "noise"]
    assert cfg["dataset"]["snr"] == 2.0 and isinstance(cfg["dataset"]["snr"], float)


def test_selecting_another_plugin_resets_its_parameters():
    cfg = build_config(["llm=gpt2", "llm.path=/models/gpt2"])
    assert cfg["llm"] == {
        "name": "gpt2",
        "path": "/models/gpt2",
        "download": False,
        "dtype": "float32",
        "device_map": None,
        "quantization": "none",
    }
    same = apply_overrides(default_config(), ["llm=tiny-gpt2"])
    assert same["llm"] == default_config()["llm"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("encoder=dilatd", "unknown encoder 'dilatd'"),
        ("stage1.epochs=many", "stage1.epochs='many': expected int"),
        ("stage1.epoch=3", "stage1 has no key 'epoch'.*Did you mean 'epochs'"),
        ("llm.nlayer=3", "no parameter 'nlayer'.*Did you mean 'n_layer'"),
        ("stage9.epochs=3", "unknown config key 'stage9'.*Did you mean.*'stage1'"),
        ("epochs", "malformed override 'epochs'"),
        ("=3", "malformed override"),
        ("a.b.c=1", "malformed override"),
        ("stage1=3", "stage1 is a group"),
        ("seed.x=3", "seed is a single value"),
        ("eval.metrics=[bleuu]", "unknown metric 'bleuu'"),
    ],
)
def test_bad_overrides_raise_one_clear_error(override, message):
    with pytest.raises(ConfigError, match=message):
        build_config([override])


def test_unknown_name_lists_valid_choices():
    with pytest.raises(UnknownNameError) as err:
        build_config(["llm=gtp2"])
    assert "Did you mean 'gpt2'" in str(err.value) and "tiny-gpt2" in str(err.value)


def test_parse_override_values():
    def parsed(text):
        keys, value = parse_override(text)
        return keys, value.parsed

    assert parsed("a.b=0.3") == (["a", "b"], 0.3)
    assert parsed("a=null") == (["a"], None)
    assert parsed("a.b=[1, 2]") == (["a", "b"], [1, 2])
    assert parsed("a=x=y") == (["a"], "x=y")
    assert str(parse_override("a=007")[1]) == "007"  # verbatim, for text parameters


def test_text_parameters_keep_what_was_typed():
    cfg = build_config(["run_name=007", "llm=gpt2", "llm.path=01", "eval.controls=only_obj,noise"])
    assert cfg["run_name"] == "007" and cfg["llm"]["path"] == "01"
    assert cfg["eval"]["controls"] == ["only_obj", "noise"]


def test_config_file_round_trip(tmp_path):
    from eegbench.config import dump

    cfg = build_config(["seed=3", "encoder.dropout=0.3"])
    path = tmp_path / "config.yaml"
    path.write_text(dump(cfg))
    again = build_config([], base=path)
    assert again == cfg
    assert build_config(["seed=4"], base=path)["seed"] == 4


def test_bad_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(bad)


def test_braindecode_names_without_the_extra_say_what_to_install(monkeypatch):
    from eegbench_plugins.encoders import braindecode_bridge

    monkeypatch.setattr(braindecode_bridge, "available", lambda: False)
    monkeypatch.setattr(braindecode_bridge, "_package_dir", lambda: None)
    from eegbench import plugins

    plugins.reset()
    try:
        with pytest.raises(UnknownNameError, match=r"eegbench\[braindecode\]"):
            build_config(["encoder=braindecode:EEGNeX"])
    finally:
        plugins.reset()
