"""Config grammar: defaults, selections, typed overrides, clear errors, reproducible files."""

from __future__ import annotations

import pytest
import yaml

from eegbench.config import build_config, load_config, parse_override
from eegbench.contract.errors import ConfigError, MissingWeightsError, UnknownNameError


def test_defaults_resolve_to_every_parameter():
    cfg = build_config([])
    assert cfg.benchmark == "synthetic"
    assert cfg.dataset.name == "synthetic"
    assert cfg.llm.name == "tiny-gpt2"
    assert cfg.stage1.epochs == 15  # the synthetic benchmark's
    assert cfg.dataset.params.n_chans == 32  # the plugin's declared default is filled in
    assert cfg.stage2.mask_prompt is True


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
    assert cfg.seed == 7 and cfg.stage1.epochs == 3
    assert cfg.stage1.lr == pytest.approx(1e-4)
    assert cfg.stage2.mask_prompt is False
    assert cfg.eval.controls == ("only_obj", "noise")
    snr = cfg.dataset.params.snr
    assert snr == 2.0 and isinstance(snr, float)


def test_selecting_another_plugin_resets_its_parameters():
    cfg = build_config(["llm=gpt2", "llm.path=/models/gpt2"])
    assert cfg.llm.to_dict() == {
        "name": "gpt2",
        "path": "/models/gpt2",
        "revision": None,
        "download": True,
        "dtype": "float32",
        "device_map": None,
        "quantization": "none",
        "random_weights": False,
    }
    # the benchmark's plugin named again keeps the benchmark's settings for it
    assert build_config(["llm=tiny-gpt2"]).llm == build_config([]).llm


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
        ("eval.metrics=[bleu,bleu]", "lists 'bleu' more than once"),
        ("eval.metrics=[]", "eval.metrics is empty"),
        ("eval.controls=[only_obj,nosie]", "unknown control 'nosie'.*Did you mean 'noise'"),
        ("eval.controls=everything", "unknown control 'everything'"),
        ("device=gpu", "device='gpu': use auto, cpu, cuda, cuda:N or mps"),
        ("metrics.cider.tokenize=ptbx", r"metrics.cider.tokenize='ptbx': expected.*'ptb'"),
        ("metrics.cider.tokenizer=jvm", r"metrics.cider.tokenizer='jvm'"),
        ("metrics.cider.tokenise=ptb", "no parameter 'tokenise'.*Did you mean 'tokenize'"),
        ("metrics.bleu.tokenize=nope", "metrics.bleu.tokenize='nope' is not a sacrebleu tokenizer"),
        ("metrics.bleu.smooth_method=plus", "metrics.bleu.smooth_method='plus'"),
        ("metrics.meteor.alpha=2", r"metrics.meteor.alpha=2: expected float >= 0, <= 1"),
        ("metrics.cidr.tokenize=ptb", "unknown metric 'cidr'.*Did you mean 'cider'"),
        ("metrics.rouge.use_stemmer=maybe", "metrics.rouge.use_stemmer='maybe': expected bool"),
        ("metrics.bertscore.model_path=/m", "eval.metrics does not list 'bertscore'"),
        ("metrics.cider=ptb", "set them as metrics.NAME.KEY=VALUE"),
        ("metrics=[bleu]", "set them as metrics.NAME.KEY=VALUE"),
        ("metrics.cider.a.b=1", "malformed override"),
        ("metrics.ci der.tokenize=ptb", "malformed override"),
    ],
)
def test_bad_overrides_raise_one_clear_error(override, message):
    with pytest.raises(ConfigError, match=message):
        build_config([override])


def test_metric_list_and_controls_have_one_default():
    from eegbench.config import EvalConfig

    cfg = build_config([])
    assert cfg.eval.metrics == EvalConfig().metrics
    # the label-only, the EEG-isolating and the noise control: every run's, not the benchmark's
    assert cfg.eval.controls == EvalConfig().controls
    assert cfg.eval.controls == ("only_obj", "shuffled_eeg", "mean_eeg", "noise")
    assert build_config(["dataset=mne_epochs"]).eval.controls == cfg.eval.controls
    # every chosen metric, in order, with every parameter filled
    d = cfg.to_dict()
    assert list(d["metrics"]) == d["eval"]["metrics"]
    assert d["metrics"]["accuracy"] == {}
    assert d["metrics"]["cider"] == {"tokenize": "ptb", "tokenizer": "python"}
    assert d["metrics"]["bleu"] == {"tokenize": "13a", "lowercase": False, "smooth_method": "exp"}


def test_metric_parameters_are_set_like_any_plugin_parameter():
    cfg = build_config(
        [
            "eval.metrics=[accuracy,bleu,cider,protocol:coco]",
            "metrics.cider.tokenizer=java",
            "metrics.cider.tokenize=lower",
            "metrics.bleu.lowercase=true",
            "metrics.protocol:coco.tokenizer=java",
        ]
    )
    metrics = cfg.to_dict()["metrics"]
    assert list(metrics) == ["accuracy", "bleu", "cider", "protocol:coco"]
    assert metrics["cider"] == {"tokenize": "lower", "tokenizer": "java"}
    assert metrics["bleu"]["lowercase"] is True
    assert metrics["protocol:coco"] == {"tokenizer": "java"}
    # selecting the metric after setting its parameter works too (overrides apply together)
    cfg = build_config(["metrics.rouge.use_stemmer=true", "eval.metrics=[rouge]"])
    assert cfg.to_dict()["metrics"] == {"rouge": {"use_stemmer": True}}


def test_bertscore_without_a_model_fails_at_resolve_time(tmp_path):
    with pytest.raises(MissingWeightsError, match="metrics.bertscore.model_path"):
        build_config(["eval.metrics=[bertscore]"])
    cfg = build_config(["eval.metrics=[bertscore]", f"metrics.bertscore.model_path={tmp_path}"])
    assert cfg.metrics["bertscore"].model_path == str(tmp_path)


def test_config_file_metrics_mapping(tmp_path):

    base = build_config([]).to_dict()
    path = tmp_path / "config.yaml"
    # parameters of a metric the file does not choose are checked, then left out
    data = {**base, "metrics": {**base["metrics"], "bertscore": {"batch_size": 8}}}
    data["metrics"]["bertscore"]["model_path"] = "/models/x"
    path.write_text(yaml.safe_dump(data))
    assert "bertscore" not in build_config([], base=path).metrics
    data["metrics"]["bertscore"]["batch_sise"] = 8
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="no parameter 'batch_sise'"):
        build_config([], base=path)
    # an override of eval.metrics keeps the file's parameters of the metrics still chosen
    data["metrics"] = {"cider": {"tokenize": "lower"}}
    path.write_text(yaml.safe_dump(data))
    cfg = build_config(["eval.metrics=[bleu,cider]"], base=path)
    assert cfg.to_dict()["metrics"]["cider"] == {"tokenize": "lower", "tokenizer": "python"}
    data["metrics"] = {"cider": "lower"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="metrics.cider must map parameter names"):
        build_config([], base=path)
    del data["metrics"]
    del data["eval"]["metrics"]
    path.write_text(yaml.safe_dump(data))
    # the file lays over the defaults: what it leaves out comes from the defaults
    assert build_config([], base=path).eval.metrics == build_config([]).eval.metrics


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
    assert cfg.run_name == "007" and cfg.llm.params.path == "01"
    assert cfg.eval.controls == ("only_obj", "noise")


def test_config_file_round_trip(tmp_path):
    from eegbench.config import dump

    cfg = build_config(["seed=3", "encoder.dropout=0.3"])
    path = tmp_path / "config.yaml"
    path.write_text(dump(cfg))
    again = build_config([], base=path)
    assert again == cfg
    assert dump(again) == dump(cfg)
    assert build_config(["seed=4"], base=path).seed == 4


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


def test_config_file_layers_on_the_defaults(tmp_path):
    partial = tmp_path / "p.yaml"
    partial.write_text("seed: 1\nstage1:\n  epochs: 3\nencoder:\n  name: eegnet\n")
    cfg = build_config([], base=partial)
    defaults = build_config([])
    assert cfg.seed == 1 and cfg.stage1.epochs == 3
    assert cfg.stage1.lr == defaults.stage1.lr  # the rest of the group is kept
    assert cfg.dataset == defaults.dataset and cfg.encoder.name == "eegnet"
    assert not hasattr(cfg.encoder.params, "width")  # another plugin starts from its defaults


def test_eval_generation_is_a_nested_section(tmp_path):
    from eegbench.config import GenerationSettings, build_config

    assert build_config([]).eval.generation == GenerationSettings()  # greedy
    cfg = build_config(["eval.generation.num_beams=4", "eval.generation.length_penalty=0.5"])
    assert cfg.eval.generation == GenerationSettings(num_beams=4, length_penalty=0.5)
    assert cfg.origin("eval.generation.num_beams") == "command line: eval.generation.num_beams=4"
    assert cfg.to_dict()["eval"]["generation"]["num_beams"] == 4
    assert type(cfg).from_dict(cfg.to_dict()).eval.generation == cfg.eval.generation
    path = tmp_path / "c.yaml"
    path.write_text("eval:\n  generation:\n    do_sample: true\n    top_p: 0.9\n")
    from_file = build_config(["eval.generation.temperature=0.7"], base=path)
    assert from_file.eval.generation == GenerationSettings(
        do_sample=True, top_p=0.9, temperature=0.7
    )
    assert from_file.origin("eval.generation.top_p").startswith("config file (")
    for bad, says in [
        ("eval.generation.beams=4", "eval.generation has no key 'beams'"),
        ("eval.generation.num_beams=0", "eval.generation.num_beams="),
        ("eval.generation=4", "eval.generation must be a mapping"),
    ]:
        with pytest.raises(ConfigError, match=says):
            build_config([bad])
