"""The default run, ``eegbench run`` with no arguments, end to end (issue 14, item 7).

Each run is a subprocess (imports, data, targets, LLM, stage 1, stage 2, evaluation, record) with
warm caches (one untimed run first). Figures:

- as is and with one other busy core (``busy_core``): ``threads=2`` (torch's default on this
  2-core machine, the default before threads were chosen from the load) vs the default, in
  interleaved repeats;
- the default's wall time against the targets: under 60 s on an idle machine, under 2x that
  with one busy core (``ratio`` = target / time, so at least 1 meets it).

The stage breakdown (``timings`` of the default's results.json) and the runs' CPU time are in
each record's params. ``--quick`` times a small configuration (one epoch per stage, accuracy
and BLEU only) with the same comparisons; its times say nothing about the 60 s target.
"""

from __future__ import annotations

import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import busy_core, figure

TARGET_S = 60.0
QUICK = [
    "stage1.epochs=1",
    "stage2.epochs=1",
    "eval.controls=[]",
    "eval.metrics=[accuracy,bleu]",
    "eval.max_new_tokens=8",
]


def _run(out: Path, name: str, args: list[str]) -> dict[str, Any]:
    """Wall and CPU seconds of one ``eegbench run`` and its stage timings."""
    cmd = [sys.executable, "-c", "from eegbench.cli import main; main()", "--quiet", "run", *args]
    cmd += [f"output_dir={out}", f"run_name={name}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()

    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: " + " | ".join(tail))
    record = json.loads((out / name / "results.json").read_text())
    shutil.rmtree(out / name)
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "timings": record["timings"],
        "threads": record["hardware"].get("threads"),
    }


def measure(quick: bool) -> list[dict]:
    extra = QUICK if quick else []
    repeats = 1
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _run(out, "warm-up", extra)  # caches (targets, tiny LM, WordNet) and page cache
        for condition, ctx in (("as is", contextlib.nullcontext), ("one busy core", busy_core)):
            runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
            with ctx():
                for r in range(repeats):
                    for key in ("old", "new") if r % 2 == 0 else ("new", "old"):
                        args = [*extra, "threads=2"] if key == "old" else extra
                        runs[key].append(_run(out, f"{key}-{r}", args))
            new = runs["new"]
            params = {
                "config": "default" + (" + " + " ".join(QUICK) if quick else ""),
                "threads_chosen": [x["threads"] for x in new],
                "cpu_s": {k: [round(x["cpu"], 1) for x in v] for k, v in runs.items()},
                "stages_s": min(new, key=lambda x: x["wall"])["timings"],
            }
            records.append(
                figure(
                    "default_run",
                    f"{condition}: threads=2 (old default) vs the default",
                    ("threads=2", [x["wall"] for x in runs["old"]]),
                    ("default", [x["wall"] for x in new]),
                    params=params,
                )
            )
            if not quick:
                target = TARGET_S if condition == "as is" else 2 * TARGET_S
                records.append(
                    figure(
                        "default_run",
                        f"{condition}: wall time vs the {target:.0f} s target",
                        ("target", [target]),
                        ("default", [x["wall"] for x in new]),
                        target=1.0,
                        params=params,
                        note="ratio = target / time; the 60 s target is for an idle machine",
                    )
                )
    return records
