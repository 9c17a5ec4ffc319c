"""Hostile files run no code; run names stay names; run folders are complete or absent;
caches repair themselves."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eegbench import DataError
from eegbench.cli import cli
from eegbench.contract.npy import load_npy, restricted_loads
from tests.conftest import OFFLINE


class Payload:
    """Unpickling this writes ``marker``: proof that a loader ran code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def _things_files(root: Path, eeg: object) -> None:
    sub = root / "sub-01"
    sub.mkdir(parents=True)
    for name in ("preprocessed_eeg_training.npy", "preprocessed_eeg_test.npy"):
        np.save(sub / name, eeg, allow_pickle=True)


def _one_error_line(result) -> str:
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_restricted_unpickler_admits_plain_data_and_arrays():
    obj = {"a": [1, 2.5, "x", None], "b": np.arange(3.0), "c": ("t", {1, 2}), "d": np.float32(2)}
    back = restricted_loads(pickle.dumps(np.asarray(obj, dtype=object), protocol=3))
    assert back.item()["a"] == [1, 2.5, "x", None]
    assert np.array_equal(back.item()["b"], np.arange(3.0))
    assert back.item()["c"] == ("t", {1, 2})


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_restricted_unpickler_refuses_code(tmp_path, protocol):
    marker = tmp_path / "marker"
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        restricted_loads(pickle.dumps({"x": Payload(marker)}, protocol=protocol))
    assert not marker.exists()


def test_things_eeg_file_payload_does_not_run(tmp_path):
    marker = tmp_path / "marker"
    root = tmp_path / "things"
    eeg = {"preprocessed_eeg_data": Payload(marker), "ch_names": ["O1"], "times": [0.0, 0.01]}
    _things_files(root, eeg)
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "dataset=things_eeg2",
            f"dataset.root={root}",
            f"output_dir={tmp_path}/r",
            *OFFLINE,
        ],
    )
    line = _one_error_line(result)
    assert "pickled code" in line and "preprocessed_eeg_training.npy" in line
    assert not marker.exists()
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_things_metadata_payload_does_not_run(tmp_path):
    marker = tmp_path / "marker"
    root = tmp_path / "things"
    x = np.zeros((4, 2, 1, 5))
    _things_files(root, {"preprocessed_eeg_data": x, "ch_names": ["O1"], "times": np.arange(5.0)})
    np.save(root / "image_metadata.npy", {"train_img_concepts": Payload(marker)}, allow_pickle=True)
    with pytest.raises(DataError, match="pickled code") as e:
        import eegbench

        eegbench.get("datasets", "things_eeg2").build(root=str(root))
    assert "\n" not in str(e.value) and "image_metadata.npy" in str(e.value)
    assert not marker.exists()


def test_things_real_layout_still_loads(tmp_path):
    """The real files are pickled dicts of arrays and lists of strings: still readable."""
    path = tmp_path / "meta.npy"
    meta = {"train_img_concepts": ["00001_aardvark"], "train_img_files": np.array(["a.jpg"])}
    np.save(path, meta, allow_pickle=True)
    back = load_npy(path).item()
    assert back["train_img_concepts"] == ["00001_aardvark"]
    assert back["train_img_files"].tolist() == ["a.jpg"]


def test_cvpr40_pth_payload_does_not_run(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "eeg.pth"
    torch.save({"dataset": [Payload(marker)], "labels": [], "images": []}, path)
    result = CliRunner().invoke(
        cli, ["run", "dataset=cvpr40", f"dataset.path={path}", f"output_dir={tmp_path}/r"]
    )
    _one_error_line(result)
    assert not marker.exists()


def test_target_cache_payload_is_rebuilt_not_run(tmp_path):
    from eegbench.contract.target import cache_path, embed_cached
    from eegbench.io import file_digest

    class Fake:
        dim, cache_key, modality = 3, "fake", "text"

        def embed(self, items):
            return np.ones((len(items), 3), dtype=np.float32)

    marker = tmp_path / "marker"
    items = ["a", "b"]
    path = cache_path(Fake(), items, tmp_path)
    path.parent.mkdir(parents=True)
    np.save(path, np.asarray([Payload(marker)], dtype=object), allow_pickle=True)
    Path(str(path) + ".sha256").write_text(file_digest(path))  # even with a matching checksum
    assert embed_cached(Fake(), items, tmp_path).shape == (2, 3)
    assert not marker.exists()
    assert np.load(path, allow_pickle=False).shape == (2, 3)


def test_no_loader_in_the_code_base_allows_pickle():
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for folder in ("eegbench", "plugins"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            if "allow_pickle=True" in text or "pickle.load(" in text:
                offenders.append(str(path))
            for line in text.splitlines():
                if "torch.load(" in line and "weights_only=True" not in line:
                    offenders.append(f"{path}: {line.strip()}")
    assert not offenders


# ---------------------------------------------------------------- run names and run folders


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", ".hidden", "a b", ""])
def test_bad_run_names_are_config_errors(tmp_path, name):
    result = CliRunner().invoke(cli, ["config", f"run_name={name}", f"output_dir={tmp_path}"])
    if name == "":  # an empty value means "no name": the default name is used
        assert result.exit_code == 0
        return
    line = _one_error_line(result)
    assert "run_name" in line


def test_orphan_partial_folders_are_cleaned_and_interrupted_ones_kept(tmp_path):
    from eegbench.results.rundir import clean_orphans, interrupted_runs

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    orphan = tmp_path / f".partial-x.{dead}.abcd"
    orphan.mkdir()
    (orphan / "config.yaml").write_text("seed: 1\n")
    resumable = tmp_path / f".partial-y.{dead}.efgh"
    (resumable / "checkpoint").mkdir(parents=True)
    (resumable / "checkpoint" / "state.json").write_text("{}")
    (resumable / "config.yaml").write_text("seed: 1\n")
    alive = tmp_path / f".partial-z.{os.getpid()}.ijkl"
    alive.mkdir()
    assert clean_orphans(tmp_path) == [orphan]
    assert not orphan.exists() and resumable.exists() and alive.exists()
    assert interrupted_runs(tmp_path) == [resumable]


def test_atomic_dir_cleans_temporaries_of_killed_builds(tmp_path):
    from eegbench.io import atomic_dir, check_manifest

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / f".tmp-model.{dead}.xyz"
    stale.mkdir()
    atomic_dir(tmp_path / "model", lambda d: (d / "w.bin").write_bytes(b"123"), manifest=True)
    assert not stale.exists()
    assert check_manifest(tmp_path / "model") is None
    (tmp_path / "model" / "w.bin").write_bytes(b"12")
    assert "checksum" in check_manifest(tmp_path / "model")


def test_failed_run_leaves_nothing_or_a_marked_folder(tmp_path, tiny):
    out = tmp_path / "runs"
    bad = [f"output_dir={out}", "dataset=things_eeg2", f"dataset.root={tmp_path}/none", *OFFLINE]
    result = CliRunner().invoke(cli, ["run", *bad])
    _one_error_line(result)
    assert not out.exists()
    result = CliRunner().invoke(cli, ["run", "--keep-failed", *bad])
    assert result.exit_code != 0 and "Traceback" not in result.output
    (failed,) = out.iterdir()
    assert failed.name.endswith(".failed")
    assert "does not exist" in (failed / "error.txt").read_text()


def test_read_only_output_dir_is_one_line(tmp_path, tiny):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = CliRunner().invoke(cli, ["run", *tiny, f"output_dir={out}"])
    finally:
        out.chmod(0o700)
    line = _one_error_line(result)
    assert str(out) in line and "output_dir=" in line


def test_corrupt_target_cache_is_reported_and_rebuilt(tmp_path, capsys):
    from eegbench.contract.target import cache_path, embed_cached

    class Fake:
        dim, cache_key, modality = 2, "fake2", "text"

        def embed(self, items):
            return np.full((len(items), 2), 0.5, dtype=np.float32)

    first = embed_cached(Fake(), ["a"], tmp_path)
    path = cache_path(Fake(), ["a"], tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    again = embed_cached(Fake(), ["a"], tmp_path)
    assert np.array_equal(first, again)
    err = capsys.readouterr()
    assert str(path) in (err.out + err.err) and "rebuilding" in (err.out + err.err)


def test_results_json_only_in_published_folder(tmp_path, tiny):
    result = CliRunner().invoke(cli, ["run", *tiny, "run_name=ok", "threads=1"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs"
    assert sorted(p.name for p in out.iterdir()) == ["ok"]
    assert (out / "ok" / "results.json").is_file()
    assert not (out / "ok" / "checkpoint").exists()
    assert json.loads((out / "ok" / "results.json").read_text())["complete"] is True


def test_disk_full_is_one_line_naming_the_path(tmp_path, tiny, monkeypatch):
    import errno

    from eegbench.runner import steps

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(steps, "atomic_write", full)
    result = CliRunner().invoke(cli, ["-q", "run", *tiny])
    line = _one_error_line(result)
    assert "config.yaml" in line and "disk is full" in line
    assert not (tmp_path / "runs").exists()
