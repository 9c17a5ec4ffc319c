"""``eegbench plot`` and the report page's figures, seen in headless Chromium.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), driven by
Playwright from PyPI (the ``test`` extra): no browser is downloaded.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eegbench.cli import cli

FIGURES = ("confusion", "per_class", "attributes", "forest")


@pytest.fixture(scope="module")
def figure_run(tmp_path_factory) -> Path:
    """A tiny finished run with captions, attributes, two controls and oracle rows."""
    from tests.conftest import tiny_overrides

    root = tmp_path_factory.mktemp("figures")
    args = [
        *tiny_overrides(root),
        "run_name=fig",
        "threads=1",
        "eval.metrics=[accuracy,bleu,attributes]",
        "eval.controls=[only_obj,noise]",
    ]
    res = CliRunner().invoke(cli, ["--quiet", "run", *args])
    assert res.exit_code == 0, res.output
    return root / "runs" / "fig"


def test_plot_writes_png_and_svg(figure_run, tmp_path):
    from PIL import Image

    res = CliRunner().invoke(cli, ["plot", str(figure_run), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    written = sorted(Path(line).name for line in res.stdout.split())
    assert written == sorted(f"{n}.{f}" for n in FIGURES for f in ("png", "svg"))
    for name in FIGURES:
        with Image.open(tmp_path / f"{name}.png") as im:
            assert im.width > 300 and im.height > 200
            assert len(np.unique(np.asarray(im.convert("L")))) > 10  # drawn, not blank
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith("<?xml")


def test_plot_names_what_it_cannot_draw_and_bad_input(figure_run, tmp_path):
    record = figure_run / "results.json"
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(record, copy / "results.json")  # no predictions.csv: no confusion matrix
    res = CliRunner().invoke(cli, ["plot", str(copy), "--format", "svg"])
    assert res.exit_code == 0, res.output
    assert {Path(p).name for p in res.stdout.split()} == {"attributes.svg", "forest.svg"}
    assert "no confusion figure: no predictions.csv" in res.stderr
    res = CliRunner().invoke(cli, ["plot", str(tmp_path / "nope")])
    assert res.exit_code != 0
    assert res.stderr.count("\n") == 1 and "is not a run directory" in res.stderr


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    return found


def test_report_page_shows_the_figures_in_chromium(figure_run, tmp_path):
    chromium = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra has playwright")
    from PIL import Image

    page_file = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["report", str(figure_run), "--out", str(page_file)])
    assert res.exit_code == 0, res.output
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(page_file.as_uri())
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            for name in FIGURES:
                img = page.locator(f'figure[data-figure="{name}"] img')
                assert img.count() == 1, name
                img.scroll_into_view_if_needed()
                assert img.is_visible(), name
                size = img.evaluate("e => [e.complete, e.naturalWidth, e.naturalHeight]")
                assert size[0] and size[1] > 200 and size[2] > 100, (name, size)
                box = img.bounding_box()
                assert box and box["width"] > 200 and box["height"] > 100, (name, box)
                shot = Image.open(io.BytesIO(img.screenshot())).convert("L")
                assert len(np.unique(np.asarray(shot))) > 10, name  # the browser drew the figure
        finally:
            browser.close()
    with Image.open(tmp_path / "page.png") as full:
        assert full.height > 2000  # metrics, curves, four figures and captions
