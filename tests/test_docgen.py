"""docs/configuration.md is generated from the code and stays up to date."""

from __future__ import annotations

from eegbench.config import Stage1Config
from eegbench.tools import docgen


def test_committed_configuration_md_is_up_to_date():
    assert docgen.DOC.read_text() == docgen.render(), (
        "docs/configuration.md is stale: run python -m eegbench.tools.docgen"
    )


def test_reference_lists_core_keys_plugins_and_metric_outputs():
    text = docgen.render()
    assert f"| `epochs` | `int >= 1, <= 100000` | `{Stage1Config.epochs!r}` |  |" in text
    assert "| `embed_dim` | `int >= 1 \\| None` | `None` | EEG embedding size D" in text
    assert "| `seed` | `int >= 0, < 4294967296` | `42` |" in text  # ranges are documented
    for heading in ("#### `synthetic`", "#### `dilated`", "#### `minilm`", "#### `tiny-gpt2`"):
        assert heading in text
    assert "Outputs in results.json: `bleu_1` ↑, `bleu_2` ↑, `bleu_3` ↑, `bleu_4` ↑" in text
    assert "`thought2text/bleu_4` ↑" in text
    assert "braindecode:ATCNet" not in text  # generated families depend on the environment


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text("old\n")
    assert docgen.main(["--check", "--out", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert docgen.main(["--out", str(stale)]) == 0
    assert docgen.main(["--check", "--out", str(stale)]) == 0
