"""A path that exists but is not what is needed (a directory, a device, a FIFO) is named for what
it is in one line, and a FIFO or a device is never opened (a read would hang or never end); an
empty plugin name is an error, not the default."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from eegbench.cli import cli
from eegbench.io import file_problem, folder_problem, path_kind

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")

SMALL = ["target=minilm", "llm=tiny-gpt2"]
KINDS = {
    "directory": ("is a directory, not a file", lambda tmp: tmp),
    "device": ("is a character device, not a file", lambda tmp: Path(os.devnull)),
    "fifo": ("is a FIFO (named pipe), not a file", lambda tmp: _fifo(tmp)),
}


def _fifo(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture(autouse=True)
def _no_hang():
    """A FIFO opened for reading blocks: fail the test instead of hanging the suite."""

    def stop(*_):
        raise TimeoutError("a path that is not a regular file was opened and blocked")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _where(tmp: Path, bad: Path) -> dict[str, list[str]]:
    run = ["-q", "run", "threads=1", f"output_dir={tmp / 'out'}", f"cache_dir={tmp / 'c'}"]
    return {
        "config": ["-q", "run", "--config", str(bad), "--dry-run"],
        "cvpr40 EEG file": [*run, *SMALL, "dataset=cvpr40", f"dataset.path={bad}"],
        "mne epochs file": [*run, *SMALL, "dataset=mne_epochs", f"dataset.path={bad}"],
        "predictions": ["score", str(bad)],
    }


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("where", ["config", "cvpr40 EEG file", "mne epochs file", "predictions"])
def test_a_path_that_is_not_a_file_is_named_for_what_it_is(kind, where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected, make = KINDS[kind]
    bad = make(tmp_path / "in") if kind == "fifo" else make(tmp_path)
    result = CliRunner().invoke(cli, _where(tmp_path, bad)[where])
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert result.exit_code != 0
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert str(bad) in lines[0] and expected in lines[0], lines[0]


@pytest.mark.parametrize("key", ["output_dir", "cache_dir"])
def test_an_output_folder_that_is_a_device_or_fifo_says_so(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fifo = _fifo(tmp_path / "in")
    for bad, kind in ((fifo, "a FIFO (named pipe)"), (os.devnull, "a character device")):
        other = "cache_dir" if key == "output_dir" else "output_dir"
        args = ["-q", "run", "threads=1", f"{key}={bad}", f"{other}={tmp_path / 'x'}"]
        result = CliRunner().invoke(cli, [*args, "--dry-run"])
        assert result.exit_code != 0
        assert f"{bad} is {kind}, not a folder" in result.output, result.output


def test_path_kind_names_each_kind(tmp_path):
    regular = tmp_path / "f"
    regular.write_text("x")
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "gone")
    assert path_kind(regular) == "a regular file" and file_problem(regular) is None
    assert path_kind(tmp_path) == "a directory" and folder_problem(tmp_path) is None
    assert path_kind(_fifo(tmp_path)) == "a FIFO (named pipe)"
    assert path_kind(os.devnull) == "a character device"
    assert path_kind(tmp_path / "none") is None
    assert file_problem(tmp_path / "none") == "does not exist"
    assert path_kind(link) == "a broken symbolic link"
    assert folder_problem(regular) == "is a regular file, not a folder"


@pytest.mark.parametrize("override", ["encoder=", "llm=", "dataset="])
def test_an_empty_plugin_name_is_an_error_not_the_default(override, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["-q", "run", "threads=1", override, "--dry-run"])
    group = override[:-1]
    assert result.exit_code != 0
    assert result.output.strip() == (
        f"error: command line: {override}: no {group} chosen (the name is empty): add {group}=NAME."
    )
