"""``eegbench report``: one self-contained HTML page that renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.evaluation.predictions import Predictions, write_predictions
from tests.test_leaderboard import write_run
from tests.test_tracking import HISTORY


def captions(generated: list[str]) -> Predictions:
    n = len(generated)
    return Predictions(
        image=[f"img{i}.jpg" for i in range(n)],
        expected_object=["dog"] * n,
        predicted_object=["cat"] * n,
        reference=["a dog <runs> on grass"] * n,
        generated=generated,
    )


@pytest.fixture
def runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    one = write_run(root, "dil-s0", seed=0, training=HISTORY)
    write_run(root, "dil-s1", seed=1, acc=0.7, training=HISTORY)
    write_predictions(captions(["a dog on grass", "a cat"]), one / "predictions.csv")
    write_predictions(captions(["a dog", "a dog"]), one / "predictions_only_obj.csv")
    return root


def test_report_page_holds_curves_metrics_captions_and_leaderboard(runs, tmp_path):
    out = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["report", str(runs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out)
    page = out.read_text()
    assert page.count("<h2>dil-s") == 2
    assert "<h2>Leaderboard (2 runs)</h2>" in page and "data:image/png;base64," in page
    assert page.count("<svg") == 2  # training curves of each run, inline
    assert "<th>Δ only_obj</th>" in page
    assert '<td class="num pos">+0.0500</td>' in page  # bleu_4 0.10 vs control 0.05
    assert "<th>full</th><th>only_obj</th>" in page
    assert "a dog &lt;runs&gt; on grass" in page  # captions are escaped
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing from outside


def test_single_run_defaults_to_its_folder(runs):
    res = CliRunner().invoke(cli, ["report", str(runs / "dil-s0")])
    assert res.exit_code == 0, res.output
    assert (runs / "dil-s0" / "report.html").is_file()


def test_no_runs_is_one_line_error(tmp_path):
    res = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert res.output.startswith("error: no finished runs to report")


def _chromium() -> str | None:
    names = ("chromium", "chromium-browser", "google-chrome")
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


def _render(page: Path, shot: Path) -> subprocess.CompletedProcess:
    exe = _chromium()
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={shot.parent / 'chromium-profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _console_errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (apt-get install chromium)")
def test_report_renders_in_headless_chromium_without_console_errors(runs, tmp_path):
    page = tmp_path / "report.html"
    CliRunner().invoke(cli, ["report", str(runs), "--out", str(page)])
    shot = tmp_path / "report.png"
    proc = _render(page, shot)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 10_000  # a real screenshot, kept in tmp_path
    assert _console_errors(proc.stderr) == []
    # the detector itself works: a page that logs an error is caught
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('boom')</script></body></html>")
    assert any("boom" in ln for ln in _console_errors(_render(broken, tmp_path / "b.png").stderr))
