"""A suite swept side by side on the local backend vs one run after another (issue 22, item 4).

``eegbench bench SUITE`` runs the configurations one after another, each with the threads an
``eegbench run`` would take (the free cores: 2 on an idle 2-core machine); ``--processes 2``
runs two at a time, the free cores divided between them. Each sweep is a subprocess writing a
fresh output folder, with the caches warm (the tiny LM and the target embeddings are built by
any earlier run of the same configurations; ``--quick`` does one untimed sweep first). Full:
the ``default`` suite (4 default runs); ``--quick``: the ``tiny`` suite. The threads each run
recorded and the load average before each sweep are in the record's params: on a machine that
others use, the side-by-side gain shrinks with their load.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import figure, timed_command


def _sweep(suite: str, out: Path, extra: list[str]) -> tuple[float, list[int]]:
    """Wall seconds of one ``eegbench bench`` and the threads each of its runs recorded."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-c", "from eegbench.cli import main; main()", "--quiet", "bench"]
    wall = timed_command([*cmd, suite, "--out", str(out), *extra])
    threads = sorted(
        json.loads(p.read_text())["hardware"]["threads"] for p in out.glob("*/results.json")
    )
    return wall, threads


def measure(quick: bool) -> list[dict]:
    suite, repeats = ("tiny", 2) if quick else ("default", 2)
    times: dict[str, list[float]] = {"seq": [], "side": []}
    threads: dict[str, list[list[int]]] = {"seq": [], "side": []}
    loads: dict[str, list[float]] = {"seq": [], "side": []}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"seq": [], "side": ["--processes", "2"]}
        if quick:
            _sweep(suite, Path(tmp) / "warm", [])
        for _ in range(repeats):
            for key, extra in runs.items():
                loads[key].append(round(os.getloadavg()[0], 2))
                wall, used = _sweep(suite, Path(tmp) / key, extra)
                times[key].append(wall)
                threads[key].append(used)
    return [
        figure(
            "sweep",
            f"suite {suite}: one run after another vs --processes 2",
            ("one after another", times["seq"]),
            ("--processes 2", times["side"]),
            params={
                "suite": suite,
                "threads_per_run_sequential": threads["seq"],  # one list per round
                "threads_per_run_side_by_side": threads["side"],
                "load_before_sequential": loads["seq"],
                "load_before_side_by_side": loads["side"],
            },
            note="threads of each run, per round: "
            f"one after another {threads['seq']}, side by side {threads['side']}",
        )
    ]
