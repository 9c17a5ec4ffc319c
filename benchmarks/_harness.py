"""The performance harness: timing side by side, one JSON record per figure, the README table.

Every performance benchmark is a module ``benchmarks/perf_<name>.py`` with one function::

    def measure(quick: bool) -> list[dict]

returning records made by :func:`figure` (or :func:`compare`, which times a baseline and a
candidate in interleaved repeats and makes the record). ``python -m benchmarks`` discovers the
modules, runs them, writes ``<out>/<name>.json`` per module and the markdown table (full mode:
into ``benchmarks/README.md`` between the ``perf-table`` markers).

Every figure is a ratio to a baseline measured in the same run: absolute times on a shared
machine move 2x with load, ratios measured side by side much less. ``ratio`` is always
``baseline / candidate`` of the measured quantity, so for times it is the speed-up and for memory
the saving; ``direction`` says which way is good for reading the target.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
START, END = "<!-- perf-table:start -->", "<!-- perf-table:end -->"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    with contextlib.suppress(ImportError):
        import torch

        info["torch"] = torch.__version__
    return info


def _summary(label: str, values: Sequence[float]) -> dict[str, Any]:
    return {
        "label": label,
        "min": min(values),
        "median": statistics.median(values),
        "values": [float(v) for v in values],
    }


def figure(
    benchmark: str,
    name: str,
    baseline: tuple[str, Sequence[float]],
    candidate: tuple[str, Sequence[float]],
    *,
    unit: str = "s",
    target: float | None = None,
    direction: str = "higher",
    params: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One record: baseline and candidate measurements and their ratio (baseline / candidate).

    ``target`` is a bound on the ratio of minima: ``direction="higher"`` means the ratio must be
    at least ``target`` (a speed-up), ``"lower"`` at most ``target`` (e.g. peak memory as a
    multiple of the data). ``met`` is None without a target.
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', not {direction!r}")
    b, c = _summary(*baseline), _summary(*candidate)
    ratio_min = b["min"] / c["min"] if c["min"] else float("inf")
    ratio_median = b["median"] / c["median"] if c["median"] else float("inf")
    met = None
    if target is not None:
        met = ratio_min >= target if direction == "higher" else ratio_min <= target
    return {
        "benchmark": benchmark,
        "figure": name,
        "unit": unit,
        "baseline": b,
        "candidate": c,
        "ratio_min": ratio_min,
        "ratio_median": ratio_median,
        "target": target,
        "direction": direction,
        "met": met,
        "params": params or {},
        "note": note,
    }


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Wall seconds of each callable over ``repeats`` rounds, the callables alternating in each.

    Interleaving spreads any change of machine load over all of them equally; ``warmup`` rounds
    run first and are not timed (allocator, oneDNN primitive caches, lazy imports).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return times


def compare(
    benchmark: str,
    name: str,
    baseline: tuple[str, Callable[[], Any]],
    candidate: tuple[str, Callable[[], Any]],
    *,
    repeats: int,
    warmup: int = 1,
    per: float = 1.0,
    unit: str = "s",
    target: float | None = None,
    params: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Time ``baseline`` and ``candidate`` side by side; ``per`` divides times (e.g. per step)."""
    times = interleaved({"b": baseline[1], "c": candidate[1]}, repeats, warmup)
    return figure(
        benchmark,
        name,
        (baseline[0], [t / per for t in times["b"]]),
        (candidate[0], [t / per for t in times["c"]]),
        unit=unit,
        target=target,
        params=params,
        note=note,
    )


def timed_command(cmd: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one subprocess; its failure is an error naming the command and its tail."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}: " + " | ".join(tail))
    return wall


def _spin(stop: Any) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@contextlib.contextmanager
def busy_core(n: int = 1) -> Iterator[None]:
    """Keep ``n`` other processes spinning on the CPU for the duration: a machine shared with a
    busy neighbour, as on a cluster node or a laptop compiling something."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.3)  # let them reach the spin loop
    try:
        yield
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


def _fmt(x: float, unit: str) -> str:
    if unit == "s":
        return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"
    if unit in ("MB", "MiB"):
        return f"{x:.0f} {unit}"
    return f"{x:.3g} {unit}".strip()


def table(records: list[dict[str, Any]]) -> str:
    """The markdown table of records: one row per figure, ratio of minima and of medians."""
    rows = [
        "| benchmark | figure | baseline (min) | candidate (min) | ratio min | ratio median "
        "| target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        target = "" if r["target"] is None else ("≥ " if r["direction"] == "higher" else "≤ ")
        target += "" if r["target"] is None else f"{r['target']:g}"
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        rows.append(
            f"| {r['benchmark']} | {r['figure']} "
            f"| {r['baseline']['label']}: {_fmt(r['baseline']['min'], r['unit'])} "
            f"| {r['candidate']['label']}: {_fmt(r['candidate']['min'], r['unit'])} "
            f"| {r['ratio_min']:.2f}x | {r['ratio_median']:.2f}x | {target} | {met} |"
        )
    return "\n".join(rows)


def discover(only: Sequence[str] = ()) -> list[str]:
    """Names of the benchmark modules (``perf_<name>.py`` -> ``<name>``), sorted."""
    names = sorted(p.stem[len("perf_") :] for p in HERE.glob("perf_*.py"))
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise SystemExit(
            f"error: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}"
        )
    return [n for n in names if not only or n in only]


def run(names: Sequence[str], quick: bool, out: Path, readme: bool) -> list[dict[str, Any]]:
    """Run the named benchmarks, write their JSON records and (``readme``) the README table."""
    import importlib

    from eegbench.io import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    records: list[dict[str, Any]] = []
    for name in names:
        print(f"[{name}] ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(f"benchmarks.perf_{name}")
        recs = module.measure(quick)
        took = time.perf_counter() - t0
        doc = {"benchmark": name, "quick": quick, "machine": info, "seconds": took, "records": recs}
        atomic_write(out / f"{name}.json", json.dumps(doc, indent=2) + "\n")
        print(f"[{name}] {took:.1f} s", file=sys.stderr, flush=True)
        records.extend(recs)
    text = table(records)
    print(text)
    if readme:
        write_readme(text, info, quick)
    return records


def write_readme(text: str, info: dict[str, Any], quick: bool) -> None:
    """Replace the table between the markers in ``benchmarks/README.md``."""
    from eegbench.io import atomic_write

    body = README.read_text(encoding="utf-8")
    if START not in body or END not in body:
        raise SystemExit(f"error: {README} lacks the {START} / {END} markers")
    head = (
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores, load "
        f"{info['load_at_start']} at start), torch {info.get('torch', '?')}"
        f"{', --quick sizes' if quick else ''}.\n\n"
    )
    before, rest = body.split(START, 1)
    after = rest.split(END, 1)[1]
    atomic_write(README, f"{before}{START}\n{head}{text}\n{END}{after}")
