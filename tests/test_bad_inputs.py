"""Bad input, hostile or unlucky: every case exits non-zero with ONE line ``error: ...``, no
traceback, and leaves nothing behind (no run folder, no partial folder, no output file)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from eegbench.cli import cli

# -------------------------------------------------------------------- fixture files


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _cvpr(tmp: Path, kind: str) -> list[str]:
    path = tmp / "in" / "eeg_55_95_std.pth"
    path.parent.mkdir(parents=True)
    if kind == "missing":
        return [f"dataset.path={path}"]
    if kind == "text":
        _write(path, "not a torch file\n")
    elif kind == "payload":
        torch.save({"dataset": [Payload(tmp / "marker")], "labels": [], "images": []}, path)
    elif kind == "truncated":
        torch.save({"dataset": [], "labels": ["n0"], "images": ["a"]}, path)
        path.write_bytes(path.read_bytes()[:40])
    elif kind == "list":
        torch.save([1, 2, 3], path)
    return ["dataset=cvpr40", f"dataset.path={path}"]


def _things(tmp: Path, kind: str) -> list[str]:
    root = tmp / "in" / "things"
    sub = root / "sub-01"
    sub.mkdir(parents=True)
    eeg = {
        "preprocessed_eeg_data": np.zeros((4, 2, 1, 5)),
        "ch_names": ["O1"],
        "times": np.arange(5) / 100,
    }
    for name in ("preprocessed_eeg_training.npy", "preprocessed_eeg_test.npy"):
        np.save(sub / name, eeg, allow_pickle=True)
    train = sub / "preprocessed_eeg_training.npy"
    if kind == "truncated":
        train.write_bytes(train.read_bytes()[:100])
    elif kind == "payload":
        np.save(train, {"preprocessed_eeg_data": Payload(tmp / "marker")}, allow_pickle=True)
    elif kind == "int":
        np.save(train, np.arange(3))
    elif kind == "garbage":
        train.write_bytes(b"\x93NUMPY garbage" * 10)
    elif kind == "metadata_payload":
        np.save(root / "image_metadata.npy", {"x": Payload(tmp / "marker")}, allow_pickle=True)
    elif kind == "no_subjects":
        for f in sub.iterdir():
            f.unlink()
        sub.rmdir()
    return ["dataset=things_eeg2", f"dataset.root={root}"]


def _mne(tmp: Path, kind: str) -> list[str]:
    path = tmp / "in" / "rec-epo.fif"
    if kind == "garbage":
        _write(path, b"\x00\x01garbage" * 50)
    elif kind == "empty":
        _write(path, b"")
    return ["dataset=mne_epochs", f"dataset.path={path}"]


def _config_file(tmp: Path, content: bytes | str) -> list[str]:
    return ["-q", "run", "--config", str(_write(tmp / "in" / "cfg.yaml", content))]


GOOD_CSV = (
    ",Ground Truth Image,Expected object,Predicted object,Expected Caption,Generated Caption\n"
    "0,img,dog,dog,a dog runs,a dog runs fast\n"
)


def _csv(tmp: Path, content: bytes | str | None) -> str:
    path = tmp / "in" / "preds.csv"
    if content is not None:
        _write(path, content)
    return str(path)


def _run_dir(tmp: Path, kind: str) -> str:
    d = tmp / "in" / "run"
    d.mkdir(parents=True)
    if kind == "garbage_results":
        _write(d / "results.json", "{not json")
        _write(d / "config.yaml", "seed: [\n")
    elif kind == "config_only":
        _write(d / "config.yaml", "seed: 1\n")
    return str(d)


# -------------------------------------------------------------------- the cases

Case = Callable[[Path], list[str]]
RUN = ["-q", "run", "threads=1"]


def _run(*overrides: str) -> Case:
    return lambda tmp: [*RUN, f"output_dir={tmp / 'out'}", f"cache_dir={tmp / 'cache'}", *overrides]


def _run_with(setup: Callable[[Path], list[str]]) -> Case:
    return lambda tmp: [
        *RUN,
        f"output_dir={tmp / 'out'}",
        f"cache_dir={tmp / 'cache'}",
        *setup(tmp),
    ]


CASES: dict[str, Case] = {
    # config values: ranges, types, names
    "stage1.epochs=0": _run("stage1.epochs=0"),
    "stage1.epochs=-1": _run("stage1.epochs=-1"),
    "stage1.epochs=1e9": _run("stage1.epochs=1000000000"),
    "stage2.epochs=0": _run("stage2.epochs=0"),
    "stage1.batch_size=0": _run("stage1.batch_size=0"),
    "stage2.batch_size=-3": _run("stage2.batch_size=-3"),
    "stage1.lr=-1": _run("stage1.lr=-1"),
    "stage2.lr=0": _run("stage2.lr=0"),
    "stage1.warmup_ratio=1.5": _run("stage1.warmup_ratio=1.5"),
    "stage1.weight_decay=-1": _run("stage1.weight_decay=-1"),
    "stage2.n_soft_tokens=0": _run("stage2.n_soft_tokens=0"),
    "stage2.phases=[]": _run("stage2.phases=[]"),
    "eval.max_new_tokens=0": _run("eval.max_new_tokens=0"),
    "eval.max_new_tokens=1e6": _run("eval.max_new_tokens=1000000"),
    "eval.batch_size=0": _run("eval.batch_size=0"),
    "eval.bootstrap=-5": _run("eval.bootstrap=-5"),
    "threads=-1": _run("threads=-1"),
    "threads=0": _run("threads=0"),
    "seed=-1": _run("seed=-1"),
    "seed=2**64": _run("seed=18446744073709551616"),
    "seed=text": _run("seed=abc"),
    "encoder.dropout=1.5": _run("encoder.dropout=1.5"),
    "encoder.width=0": _run("encoder.width=0"),
    "dataset.n_classes=1": _run("dataset.n_classes=1"),
    "dataset.sfreq=-1": _run("dataset.sfreq=-1"),
    "llm.lr=0": _run("llm.lr=0"),
    "unknown key": _run("stage1.epoch=3"),
    "unknown encoder": _run("encoder=nonexistent"),
    "malformed override": _run("stage1.epochs"),
    "device=cuda:9": _run("device=cuda:9", "dataset.n_classes=3"),
    # output locations
    "run_name=../escape": _run("run_name=../escape"),
    "run_name=/abs": lambda tmp: _run(f"run_name={tmp / 'abs'}")(tmp),
    "run_name=a/b": _run("run_name=a/b"),
    "output_dir= (empty)": lambda tmp: [*RUN, "output_dir="],
    "output_dir is a file": lambda tmp: [*RUN, f"output_dir={_write(tmp / 'in' / 'f', 'x')}"],
    "output_dir under a file": lambda tmp: [
        *RUN,
        f"output_dir={_write(tmp / 'in' / 'f', 'x') / 'sub'}",
    ],
    "--resume not a run": lambda tmp: ["run", "--resume", _run_dir(tmp, "config_only")],
    "--resume with overrides": lambda tmp: ["run", "--resume", str(tmp), "seed=1"],
    # config files
    "config: malformed YAML": lambda tmp: [
        *_config_file(tmp, "stage1:\n  epochs: [1,\n"),
        "--dry-run",
    ],
    "config: binary": lambda tmp: [*_config_file(tmp, b"\x00\x01\x02\xff" * 20), "--dry-run"],
    "config: not UTF-8": lambda tmp: [
        *_config_file(tmp, "seed: 1 # caf\xe9".encode("latin-1")),
        "--dry-run",
    ],
    "config: a list": lambda tmp: [*_config_file(tmp, "- 1\n- 2\n"), "--dry-run"],
    "config: missing": lambda tmp: ["run", "--config", str(tmp / "nope.yaml"), "--dry-run"],
    "config: bad value": lambda tmp: [*_config_file(tmp, "stage1:\n  epochs: 0\n"), "--dry-run"],
    # data files in each format
    "cvpr40: missing": _run_with(lambda tmp: ["dataset=cvpr40", *_cvpr(tmp, "missing")]),
    "cvpr40: text": _run_with(lambda tmp: _cvpr(tmp, "text")),
    "cvpr40: payload": _run_with(lambda tmp: _cvpr(tmp, "payload")),
    "cvpr40: truncated": _run_with(lambda tmp: _cvpr(tmp, "truncated")),
    "cvpr40: a list": _run_with(lambda tmp: _cvpr(tmp, "list")),
    "things_eeg2: truncated": _run_with(lambda tmp: _things(tmp, "truncated")),
    "things_eeg2: payload": _run_with(lambda tmp: _things(tmp, "payload")),
    "things_eeg2: holds int": _run_with(lambda tmp: _things(tmp, "int")),
    "things_eeg2: garbage": _run_with(lambda tmp: _things(tmp, "garbage")),
    "things_eeg2: metadata payload": _run_with(lambda tmp: _things(tmp, "metadata_payload")),
    "things_eeg2: no subjects": _run_with(lambda tmp: _things(tmp, "no_subjects")),
    "mne: missing": _run_with(lambda tmp: _mne(tmp, "missing")),
    "mne: garbage": _run_with(lambda tmp: _mne(tmp, "garbage")),
    "mne: empty": _run_with(lambda tmp: _mne(tmp, "empty")),
    # caches
    "cache_dir is a file": lambda tmp: [
        *RUN,
        f"output_dir={tmp / 'out'}",
        f"cache_dir={_write(tmp / 'in' / 'c', 'x')}",
        "dataset.n_classes=3",
        "dataset.n_subjects=1",
        "dataset.n_chans=4",
    ],
    # predictions CSV and the commands on results
    "score: missing file": lambda tmp: ["score", _csv(tmp, None)],
    "score: empty file": lambda tmp: ["score", _csv(tmp, "")],
    "score: binary": lambda tmp: ["score", _csv(tmp, b"\x00\xff\xfe" * 100)],
    "score: missing columns": lambda tmp: ["score", _csv(tmp, "a,b\n1,2\n")],
    "score: header only": lambda tmp: ["score", _csv(tmp, GOOD_CSV.splitlines()[0] + "\n")],
    "score: unknown protocol": lambda tmp: ["score", _csv(tmp, GOOD_CSV), "--protocol", "nope"],
    "score: --out under a file": lambda tmp: [
        "score",
        _csv(tmp, GOOD_CSV),
        "--out",
        str(_write(tmp / "in" / "f", "x") / "s.json"),
    ],
    "leaderboard: missing folder": lambda tmp: ["leaderboard", str(tmp / "none")],
    "leaderboard: no runs": lambda tmp: ["leaderboard", _run_dir(tmp, "empty")],
    "compare: missing runs": lambda tmp: ["compare", str(tmp / "a"), str(tmp / "b")],
    "compare: runs without predictions": lambda tmp: [
        "compare",
        _run_dir(tmp, "config_only"),
        str(tmp / "in" / "run"),
    ],
    "inspect: missing run": lambda tmp: ["inspect", str(tmp / "none")],
    "inspect: garbage run": lambda tmp: ["inspect", _run_dir(tmp, "garbage_results")],
    "inspect: config only": lambda tmp: ["inspect", _run_dir(tmp, "config_only")],
}


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = CASES[case](tmp_path)
    before = _files(tmp_path)
    result = CliRunner().invoke(cli, args)
    out = result.output
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    assert result.exit_code != 0, out
    assert "Traceback" not in out, out
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    left = {p for p in _files(tmp_path) - before if p.name != "marker"}
    assert not left, f"left behind: {sorted(map(str, left))}"
    assert not (tmp_path / "marker").exists(), "a payload ran"


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40


def test_payload_pickle_is_what_the_cases_use(tmp_path):
    """The payload object really does run code when unpickled without restriction."""
    pickle.loads(pickle.dumps(Payload(tmp_path / "marker")))
    assert (tmp_path / "marker").read_text() == "ran"
