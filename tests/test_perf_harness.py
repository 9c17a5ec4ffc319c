"""The performance harness (``python -m benchmarks``): records, JSON, table, README markers; the
cheapest real benchmark in its --quick mode; the thread count chosen from the load."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from benchmarks import _harness

ROOT = Path(__file__).resolve().parents[1]


def _fake_module() -> types.ModuleType:
    module = types.ModuleType("benchmarks.perf_fake")

    def measure(quick: bool) -> list[dict]:
        return [
            _harness.compare(
                "fake",
                "sleepy vs quick",
                ("sleepy", lambda: sum(range(200_000))),
                ("quick", lambda: None),
                repeats=2,
                target=2.0,
                params={"quick": quick},
            ),
            _harness.figure(
                "fake", "memory", ("data", [100.0]), ("peak", [150.0]), unit="MB", target=1.0
            ),
        ]

    module.measure = measure
    return module


def test_harness_writes_json_table_and_readme(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "benchmarks.perf_fake", _fake_module())
    readme = tmp_path / "README.md"
    readme.write_text(f"# B\n\nbefore\n{_harness.START}\nold table\n{_harness.END}\nafter\n")
    monkeypatch.setattr(_harness, "README", readme)
    records = _harness.run(["fake"], quick=True, out=tmp_path / "out", readme=True)
    doc = json.loads((tmp_path / "out" / "fake.json").read_text())
    assert doc["benchmark"] == "fake" and doc["quick"] is True
    assert [r["figure"] for r in doc["records"]] == ["sleepy vs quick", "memory"]
    speed, memory = records
    assert speed["ratio_min"] > 2.0 and speed["met"] is True
    assert memory["ratio_min"] == pytest.approx(100 / 150) and memory["met"] is False
    body = readme.read_text()
    assert "old table" not in body and body.startswith("# B\n\nbefore\n") and "after" in body
    assert "| fake | sleepy vs quick | sleepy: " in body and "| **no** |" in body
    assert "--quick sizes" in body


def test_figure_judges_on_medians_when_asked():
    slow_start = ("b", [1.0, 3.0, 3.0]), ("c", [2.0, 2.0, 2.0])
    assert _harness.figure("x", "y", *slow_start, target=1.2)["met"] is False
    rec = _harness.figure("x", "y", *slow_start, target=1.2, judge="median")
    assert rec["met"] is True and rec["ratio_median"] == pytest.approx(1.5)
    assert "≥ 1.2 (median)" in _harness.table([rec])
    with pytest.raises(ValueError, match="judge"):
        _harness.figure("x", "y", *slow_start, judge="mean")


def test_unknown_benchmark_is_one_error_line():
    with pytest.raises(SystemExit, match="error: unknown benchmark"):
        _harness.discover(["no-such"])


def test_quick_stage1_benchmark_runs_and_checks_equivalence(tmp_path):
    """End to end through ``python -m benchmarks``: the fp32 figure on every CPU, plus the bf16
    figure exactly where this CPU runs bf16 natively (both branches: the test below)."""
    from eegbench.train.device import cpu_has_native_bf16

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "stage1", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    records = json.loads((tmp_path / "stage1.json").read_text())["records"]
    paths = {r["params"]["path"] for r in records if "path" in r["params"]}
    assert paths == ({"epoch", "forward"} if cpu_has_native_bf16() else set())
    records = [r for r in records if "path" not in r["params"]]
    by_precision = {r["params"]["precision"]: r for r in records}
    assert len(by_precision) == len(records)
    assert set(by_precision) == ({"fp32", "bf16"} if cpu_has_native_bf16() else {"fp32"})
    rec = by_precision["fp32"]
    assert rec["params"]["batch"] == 8 and rec["target"] == 1.5
    assert rec["baseline"]["min"] > 0 and rec["candidate"]["min"] > 0
    assert "| stage1 |" in out.stdout


@pytest.mark.parametrize("native", [pytest.param(True, marks=pytest.mark.slow), False])
def test_stage1_benchmark_adds_the_bf16_figure_only_on_native_bf16(monkeypatch, native):
    """Both sides of the capability check, whatever this CPU has: with native bf16 a second
    record times the bf16 step, and two more a whole epoch and evaluation's forward in bf16
    against fp32; without, one fp32 record whose note says why."""
    from benchmarks import perf_stage1
    from eegbench.train import device

    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    records = perf_stage1.measure(quick=True)
    whole = [r for r in records if "path" in r["params"]]
    assert [r["params"]["path"] for r in whole] == (["epoch", "forward"] if native else [])
    assert all(r["baseline"]["label"].endswith("fp32") for r in whole)
    records = [r for r in records if "path" not in r["params"]]
    assert [r["params"]["precision"] for r in records] == (["fp32", "bf16"] if native else ["fp32"])
    fp32 = records[0]
    assert fp32["baseline"]["min"] > 0 and fp32["candidate"]["min"] > 0
    assert ("no native bf16 here" in fp32["note"]) is not native
    if native:
        bf16 = records[1]
        assert bf16["figure"].startswith("bf16 train step") and bf16["candidate"]["min"] > 0
        assert bf16["baseline"]["label"].endswith("fp32")


@pytest.mark.parametrize(
    ("requested", "busy", "allowed", "expected"),
    [(3, 2.0, 2, 3), (None, 0.1, 2, 2), (None, 0.9, 2, 1), (None, 2.0, 2, 1), (None, 0.3, 4, 3)],
)
def test_threads_follow_the_load(monkeypatch, requested, busy, allowed, expected):
    from eegbench.train import device

    monkeypatch.setattr(device, "busy_cores", lambda sample_s=0.3: busy)
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: set(range(allowed)))
    monkeypatch.setattr(device, "max_threads", lambda: 4)
    assert device.choose_threads(requested) == expected
