"""A benchmark over many simulated worlds: run a suite, then tabulate each world and the spread.

    python benchmarks/worlds.py worlds                 # the default benchmark in worlds 0..4
    python benchmarks/worlds.py ladder-realistic       # every encoder, realistic rung, 3 worlds
    python benchmarks/worlds.py SUITE --table-only     # re-render from the finished runs

SUITE is an ``eegbench bench`` suite (a shipped name or a file); its runs go to ``--out``
(default ``runs/bench/SUITE``) and finished ones are skipped on a rerun, exactly as ``eegbench
bench SUITE`` does. Every seed of the suite is one world: the synthetic dataset is drawn from the
run's seed (``dataset.seed`` null). For each configuration (encoder) the script writes

- one row per world: test metrics with the run's clustered 95% CIs (resampling test images) and
  the paired differences to the EEG-isolating control (``shuffled_eeg``) and the label-only
  control (``only_obj``) with their cluster-permutation p-values, attribute hit rates, headroom;
- the mean, the standard deviation and the 95% t-interval over worlds,

as ``worlds.json`` (every number), ``worlds.csv`` (one line per run) and ``worlds.md`` (the
tables) in the output folder, and prints the markdown.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

EEG = "shuffled_eeg"
MEAN = "mean_eeg"
LABEL = "only_obj"
NAMES = {EEG: "SHUFFLED", MEAN: "MEAN_EEG", LABEL: "ONLY_OBJ"}


def run(suite_name: str, out: Path) -> None:
    from eegbench.bench import load_suite, run_suite

    suite = load_suite(suite_name)
    result = run_suite(suite, out)
    for job, error in result.failed:
        raise SystemExit(f"{job.name} failed: {error}")


def _value(rec: Any, name: str, control: str | None = None) -> float | None:
    m = rec.metric(name, control)
    return None if m is None else float(m.value)


def _ci(rec: Any, name: str) -> list[float] | None:
    m = rec.metric(name)
    return None if m is None or m.ci is None else [float(m.ci[0]), float(m.ci[1])]


def _delta(rec: Any, name: str, control: str) -> dict[str, Any] | None:
    d = rec.delta(name, control)
    if d is None:
        return None
    return {"value": float(d.value), "ci": None if d.ci is None else list(d.ci), "p": d.p}


def record_row(path: Path, rec: Any) -> dict[str, Any]:
    """The numbers of one run that the tables show."""
    from eegbench.config import RunConfig

    cfg = RunConfig.from_dict(rec.config, where=str(path / "results.json"))
    enc = cfg.encoder.name
    dataset = cfg.dataset.params
    held_out = rec.dataset.subjects not in (None, "within")
    row: dict[str, Any] = {
        "run": str(path),
        "encoder": enc,
        "configuration": (
            f"{enc}, test subject {dataset.get('split_subject')} held out" if held_out else enc
        ),
        "split": rec.dataset.split,
        "seed": rec.seed,
        "world": rec.seed if rec.dataset.seed_from_run else dataset.get("seed"),
        "n_test_images": rec.statistics.n_clusters if rec.statistics else None,
        "wall_s": rec.timings.get("total"),
    }
    for m in ("top1_accuracy", "retrieval_top1", "bleu_4", "rouge_l", "meteor", "cider"):
        row[m] = _value(rec, m)
        row[f"{m} ci"] = _ci(rec, m)
    for m in ("hit_colour", "hit_setting", "probe_colour"):
        row[m] = _value(rec, m)
    for c in (EEG, MEAN, LABEL, "noise"):
        for m in ("bleu_4", "rouge_l", "hit_colour", "hit_setting"):
            row[f"{m} {c}"] = _value(rec, m, c)
    for c in (EEG, MEAN, LABEL):
        for m in ("bleu_4", "rouge_l", "meteor", "hit_colour"):
            row[f"Δ {m} {c}"] = _delta(rec, m, c)
    for m in ("bleu_4", "rouge_l", "hit_colour"):
        row[f"headroom {m}"] = rec.headroom.get(m)
        ctrl = rec.controls.get(EEG)
        row[f"headroom {m} {EEG}"] = None if ctrl is None else ctrl.headroom.get(m)
        ceiling = rec.oracles.get("target_embedding")
        cm = None if ceiling is None else ceiling.metrics.get(m)
        row[f"ceiling {m}"] = None if cm is None else cm.value
    return row


def collect(out: Path) -> dict[str, list[dict[str, Any]]]:
    """``{configuration: [row per world]}`` of the finished runs under ``out``, ordered by seed
    (a configuration is the encoder, and the split when test subjects are held out)."""
    from eegbench.report.leaderboard import Run, find_run_dirs, read_run

    groups: dict[str, list[dict[str, Any]]] = {}
    for d in find_run_dirs([out]):
        r = read_run(d)
        if isinstance(r, Run):
            row = record_row(d, r.record)
            groups.setdefault(row["configuration"], []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r["seed"])
    return groups


def spread(values: list[float | None]) -> dict[str, Any] | None:
    """Mean, sd and the 95% t-interval over worlds."""
    vals = np.array([v for v in values if v is not None], dtype=float)
    if vals.size == 0:
        return None
    out = {"mean": float(vals.mean()), "n": int(vals.size)}
    if vals.size > 1:
        from scipy.stats import t

        sd = float(vals.std(ddof=1))
        half = float(t.ppf(0.975, vals.size - 1)) * sd / math.sqrt(vals.size)
        out.update(sd=sd, ci=[out["mean"] - half, out["mean"] + half])
    return out


def _f(x: float | None, fmt: str = ".3f") -> str:
    return "" if x is None else format(x, fmt)


def _with_ci(x: float | None, ci: list[float] | None) -> str:
    return _f(x) + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _d(d: dict[str, Any] | None) -> str:
    if d is None:
        return ""
    ci = f" [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]" if d.get("ci") else ""
    return f"{d['value']:+.3f}{ci} (p={d['p']:.3f})"


def _s(values: list[float | None], signed: bool = False) -> str:
    s = spread(values)
    if s is None:
        return ""
    fmt = "+.3f" if signed else ".3f"
    text = format(s["mean"], fmt)
    if "sd" in s:
        text += f" ± {s['sd']:.3f} [{s['ci'][0]:{fmt}}, {s['ci'][1]:{fmt}}]"
    return text


def world_table(rows: list[dict[str, Any]]) -> list[str]:
    e, mean, lab = NAMES[EEG], NAMES[MEAN], NAMES[LABEL]
    lines = [
        f"| world | top-1 | retrieval top-1 | BLEU-4 [95% CI] | Δ BLEU-4 vs {e} [CI] (p) | "
        f"Δ BLEU-4 vs {mean} (p) | Δ BLEU-4 vs {lab} (p) | Δ ROUGE-L vs {e} (p) | "
        f"colour hit run / {e} / {lab} | headroom BLEU-4 run ({e}) | headroom ROUGE-L | "
        "headroom colour |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['world']} | {_f(r['top1_accuracy'])} | {_f(r['retrieval_top1'])} | "
            f"{_with_ci(r['bleu_4'], r['bleu_4 ci'])} | {_d(r[f'Δ bleu_4 {EEG}'])} | "
            f"{_short(r[f'Δ bleu_4 {MEAN}'])} | {_short(r[f'Δ bleu_4 {LABEL}'])}"
            + f" | {_short(r[f'Δ rouge_l {EEG}'])} | {_f(r['hit_colour'])} / "
            f"{_f(r[f'hit_colour {EEG}'])} / {_f(r[f'hit_colour {LABEL}'])} | "
            f"{_f(r['headroom bleu_4'], '.2f')} ({_f(r[f'headroom bleu_4 {EEG}'], '.2f')}) | "
            f"{_f(r['headroom rouge_l'], '.2f')} | {_f(r['headroom hit_colour'], '.2f')} |"
        )
    lines.append(
        f"| mean ± sd [95% t-CI] | {_s([r['top1_accuracy'] for r in rows])} | "
        f"{_s([r['retrieval_top1'] for r in rows])} | {_s([r['bleu_4'] for r in rows])} | "
        f"{_s([_v(r[f'Δ bleu_4 {EEG}']) for r in rows], True)} | "
        f"{_s([_v(r[f'Δ bleu_4 {MEAN}']) for r in rows], True)} | "
        f"{_s([_v(r[f'Δ bleu_4 {LABEL}']) for r in rows], True)} | "
        f"{_s([_v(r[f'Δ rouge_l {EEG}']) for r in rows], True)} | "
        f"{_s([r['hit_colour'] for r in rows])} / {_s([r[f'hit_colour {EEG}'] for r in rows])}"
        f" / {_s([r[f'hit_colour {LABEL}'] for r in rows])} | "
        f"{_s([r['headroom bleu_4'] for r in rows])} | "
        f"{_s([r['headroom rouge_l'] for r in rows])} | "
        f"{_s([r['headroom hit_colour'] for r in rows])} |"
    )
    return lines


def _v(d: dict[str, Any] | None) -> float | None:
    return None if d is None else d["value"]


def _short(d: dict[str, Any] | None) -> str:
    return "" if d is None else f"{d['value']:+.3f} (p={d['p']:.3f})"


def encoder_table(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    e = NAMES[EEG]
    lines = [
        "| configuration | worlds | top-1 | retrieval top-1 | probe colour | BLEU-4 | "
        f"Δ BLEU-4 vs {e} | worlds with p < 0.05 | colour hit | colour hit {e} | "
        "headroom BLEU-4 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for enc, rows in groups.items():
        deltas = [r[f"Δ bleu_4 {EEG}"] for r in rows]
        sig = sum(1 for d in deltas if d is not None and d["p"] is not None and d["p"] < 0.05)
        lines.append(
            f"| {enc} | {len(rows)} | {_s([r['top1_accuracy'] for r in rows])} | "
            f"{_s([r['retrieval_top1'] for r in rows])} | "
            f"{_s([r['probe_colour'] for r in rows])} | {_s([r['bleu_4'] for r in rows])} | "
            f"{_s([_v(d) for d in deltas], True)} | {sig}/{len(rows)} | "
            f"{_s([r['hit_colour'] for r in rows])} | "
            f"{_s([r[f'hit_colour {EEG}'] for r in rows])} | "
            f"{_s([r['headroom bleu_4'] for r in rows])} |"
        )
    return lines


def compact_table(groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One row per configuration and world: the run's clustered CIs and p."""
    e = NAMES[EEG]
    lines = [
        f"| configuration | world | top-1 [95% CI] | BLEU-4 [95% CI] | Δ BLEU-4 vs {e} [95% CI] "
        f"(p) | colour hit run / {e} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rows in groups.items():
        for r in rows:
            lines.append(
                f"| {name} | {r['world']} | {_with_ci(r['top1_accuracy'], r['top1_accuracy ci'])} "
                f"| {_with_ci(r['bleu_4'], r['bleu_4 ci'])} | {_d(r[f'Δ bleu_4 {EEG}'])} | "
                f"{_f(r['hit_colour'])} / {_f(r[f'hit_colour {EEG}'])} |"
            )
    return lines


def markdown(suite: str, groups: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f"`python benchmarks/worlds.py {suite}`: mean ± sd [95% t-interval] over worlds.", ""]
    if len(groups) > 1:
        lines += encoder_table(groups) + [""]
        lines += ["Per world (CIs and p over that world's test images):", ""]
        lines += compact_table(groups) + [""]
    for enc, rows in groups.items():
        lines += [f"**{enc}**, one row per world (CIs and p over the test images):", ""]
        lines += world_table(rows) + [""]
    return "\n".join(lines)


def write(out: Path, suite: str, groups: dict[str, list[dict[str, Any]]]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        enc: {
            key: spread([r[key] for r in rows])
            for key in ("top1_accuracy", "retrieval_top1", "bleu_4", "rouge_l", "hit_colour")
        }
        | {
            f"Δ {m} {c}": spread([_v(r[f"Δ {m} {c}"]) for r in rows])
            for m in ("bleu_4", "rouge_l", "hit_colour")
            for c in (EEG, MEAN, LABEL)
        }
        | {f"headroom {m}": spread([r[f"headroom {m}"] for r in rows]) for m in ("bleu_4",)}
        for enc, rows in groups.items()
    }
    (out / "worlds.json").write_text(
        json.dumps({"suite": suite, "summary": summary, "runs": groups}, indent=1) + "\n"
    )
    flat = [r for rows in groups.values() for r in rows]
    with (out / "worlds.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(flat[0]))
        writer.writeheader()
        for r in flat:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                             for k, v in r.items()})  # fmt: skip
    text = markdown(suite, groups)
    (out / "worlds.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="an eegbench bench suite (name or file)")
    parser.add_argument("--out", type=Path, help="run folder (default runs/bench/SUITE)")
    parser.add_argument("--table-only", action="store_true", help="render from finished runs")
    args = parser.parse_args(argv)
    out = args.out or Path("runs/bench") / Path(args.suite).stem
    if not args.table_only:
        run(args.suite, out)
    groups = collect(out)
    if not groups:
        raise SystemExit(f"no finished runs under {out}.")
    print(write(out, args.suite, groups), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
