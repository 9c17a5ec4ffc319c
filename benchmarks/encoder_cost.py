"""Cost of every built-in encoder: FLOPs, parameters, CPU time per trial (forward, training step).

Each trial's cost includes the core heads a run adds (Linear(F -> 512) embedding, Linear(512 -> 40)
logits), so the ``linear`` encoder (the flattened input) is a meaningful baseline; ratios are
against ``linear`` measured in the same run. ``--epoch`` also times one stage-1-like epoch
(800 trials of 32 x 128, batch 32, AdamW) of ``dilated`` at several widths.

    python benchmarks/encoder_cost.py --quick
    python benchmarks/encoder_cost.py --json encoder_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import eegbench

EMBED_DIM = 512
N_CLASSES = 40
BUILTINS = ("linear", "eegnet", "shallow", "deep", "lstm", "conformer", "dilated")


def _model(name: str, n_chans: int, n_times: int, params: dict[str, Any]) -> nn.Module:
    enc = eegbench.get("encoders", name).build(n_chans, n_times, **params)
    heads = nn.Sequential(nn.Linear(enc.n_features, EMBED_DIM), nn.Linear(EMBED_DIM, N_CLASSES))
    model = nn.Sequential(enc, heads)
    model.n_features = enc.n_features
    model.n_params = sum(p.numel() for p in enc.parameters())
    return model


def _lstm_flops(model: nn.Module, n_times: int) -> int:
    """Matmul FLOPs of LSTM layers, which FlopCounterMode does not see on CPU."""
    total = 0
    for m in model.modules():
        if isinstance(m, nn.LSTM):
            for layer in range(m.num_layers):
                n_in = m.input_size if layer == 0 else m.hidden_size
                total += n_times * 2 * 4 * m.hidden_size * (n_in + m.hidden_size)
    return total


def _flops(model: nn.Module, n_chans: int, n_times: int) -> int:
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, n_chans, n_times))
    return counter.get_total_flops() + _lstm_flops(model, n_times)


def _timed(step: Callable[[], None], min_time: float, max_reps: int) -> tuple[float, float]:
    """Median wall and process-CPU seconds of ``step`` (after one warm-up call)."""
    step()
    walls, cpus = [], []
    start = time.perf_counter()
    while len(walls) < max_reps and (not walls or time.perf_counter() - start < min_time):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def measure(
    name: str,
    n_chans: int,
    n_times: int,
    params: dict[str, Any],
    batch: int,
    min_time: float,
    max_reps: int,
) -> dict[str, Any]:
    """FLOPs per trial and seconds per trial of inference and of one training step."""
    torch.manual_seed(0)
    model = _model(name, n_chans, n_times, params)
    flops = _flops(model, n_chans, n_times)
    x = torch.randn(batch, n_chans, n_times)
    y = torch.randint(0, N_CLASSES, (batch,))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    model.eval()
    fwd_wall, fwd_cpu = _timed(forward, min_time, max_reps)
    model.train()
    train_wall, train_cpu = _timed(train_step, min_time, max_reps)
    return {
        "encoder": name,
        "params": params,
        "shape": f"{n_chans}x{n_times}",
        "batch": batch,
        "n_features": model.n_features,
        "encoder_params": model.n_params,
        "gflop_per_trial": flops / 1e9,
        "fwd_ms_per_trial": 1e3 * fwd_wall / batch,
        "fwd_cpu_ms_per_trial": 1e3 * fwd_cpu / batch,
        "train_ms_per_trial": 1e3 * train_wall / batch,
        "train_cpu_ms_per_trial": 1e3 * train_cpu / batch,
    }


def epoch_time(width: float, n_trials: int = 800, batch: int = 32) -> dict[str, Any]:
    """Wall seconds of one training epoch of ``dilated`` at ``width`` on 32 x 128 trials."""
    torch.manual_seed(0)
    model = _model("dilated", 32, 128, {"width": width})
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=1e-3)
    x = torch.randn(n_trials, 32, 128)
    y = torch.randint(0, N_CLASSES, (n_trials,))
    model.train()
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, n_trials, batch):
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[i : i + batch]), y[i : i + batch]).backward()
        opt.step()
    return {
        "width": width,
        "encoder_params": model.n_params,
        "epoch_s": time.perf_counter() - w0,
        "epoch_cpu_s": time.process_time() - c0,
        "trials": n_trials,
        "batch": batch,
    }


def _label(row: dict[str, Any]) -> str:
    extra = ",".join(f"{k}={v}" for k, v in row["params"].items())
    return f"{row['encoder']}({extra})" if extra else row["encoder"]


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table with ratios against ``linear`` of the same shape."""
    base = {r["shape"]: r for r in rows if r["encoder"] == "linear" and not r["params"]}
    head = (
        "| shape | encoder | params | F | GFLOP/trial | fwd ms/trial | train ms/trial "
        "| train CPU ms/trial | x linear (GFLOP / fwd / train) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        b = base.get(r["shape"])
        ratio = (
            f"{r['gflop_per_trial'] / b['gflop_per_trial']:.1f} / "
            f"{r['fwd_ms_per_trial'] / b['fwd_ms_per_trial']:.1f} / "
            f"{r['train_ms_per_trial'] / b['train_ms_per_trial']:.1f}"
            if b
            else "-"
        )
        lines.append(
            f"| {r['shape']} | {_label(r)} | {r['encoder_params']:,} | {r['n_features']} "
            f"| {r['gflop_per_trial']:.4g} | {r['fwd_ms_per_trial']:.3g} "
            f"| {r['train_ms_per_trial']:.3g} | {r['train_cpu_ms_per_trial']:.3g} | {ratio} |"
        )
    return head + "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="32x128 only, dilated widths 0.125/0.25")
    ap.add_argument("--epoch", action="store_true", help="also time one epoch of dilated")
    ap.add_argument("--widths", default="0.125,0.25,0.5,1.0", help="dilated widths")
    ap.add_argument("--json", default=None, help="write all rows to this JSON file")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    shapes = [(32, 128)] if args.quick else [(32, 128), (128, 440)]
    widths = [0.125, 0.25] if args.quick else [float(w) for w in args.widths.split(",")]
    min_time, max_reps = (0.3, 3) if args.quick else (2.0, 10)
    load0 = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, load average {load0:.1f}"
    )
    rows = []
    for c, t in shapes:
        batch = 32 if c * t <= 32 * 128 else 4
        for name in BUILTINS:
            for params in [{"width": w} for w in widths] if name == "dilated" else [{}]:
                if c * t > 32 * 128 and params.get("width", 0) >= 0.5:
                    b, reps = 2, 2
                else:
                    b, reps = batch, max_reps
                rows.append(measure(name, c, t, params, b, min_time, reps))
                ms = rows[-1]["train_ms_per_trial"]
                print(f"  {c}x{t} {_label(rows[-1])}: {ms:.3g} ms/trial training", flush=True)
    print(table(rows))
    out: dict[str, Any] = {"rows": rows, "load_average_start": load0}
    if args.epoch:
        out["epochs"] = [epoch_time(w) for w in ([0.0625, 0.125] if args.quick else widths[:3])]
        print(
            "\n| dilated width | params | epoch s (800 x 32x128, batch 32) | CPU s |\n"
            "|---:|---:|---:|---:|"
        )
        for e in out["epochs"]:
            print(
                f"| {e['width']} | {e['encoder_params']:,} | {e['epoch_s']:.1f} "
                f"| {e['epoch_cpu_s']:.1f} |"
            )
    out["load_average_end"] = os.getloadavg()[0]
    print(f"load average at end {out['load_average_end']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
