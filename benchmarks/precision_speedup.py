"""Stage-1 speed-up of ``precision=bf16`` over fp32 on this CPU, side by side in one process.

One stage-1 training step (forward, ``w_mse*MSE + w_ce*CE``, backward, gradient clipping,
AdamW) of the reference encoder (``dilated`` at ``width=1``) with its heads, on ``C x T`` inputs
(default 128 x 440, CVPR40's shape), timed in interleaved fp32 / bf16 repeats through the same
``Precision`` autocast that ``eegbench run precision=...`` uses. On a shared machine the minimum
over repeats and the ratio are the numbers to read.

    python benchmarks/precision_speedup.py --batch 8 --repeats 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import torch.nn.functional as F

import eegbench
from eegbench.train.device import Precision, cpu_has_native_bf16, cpu_name
from eegbench.train.model import EEGClassifier


def step_fn(model: EEGClassifier, precision: Precision, batch: int, n_chans: int, n_times: int):
    """A closure running one stage-1 training step under ``precision``."""
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=1e-3)
    x = torch.randn(batch, n_chans, n_times)
    y = torch.randint(0, 40, (batch,))
    t = torch.randn(batch, model.embed.out_features)

    def step() -> float:
        w0, c0 = time.perf_counter(), time.process_time()
        with precision.autocast():
            emb, logits = model(x)
        loss = F.mse_loss(emb.float(), t) + F.cross_entropy(logits.float(), y)
        if not torch.isfinite(loss):
            raise RuntimeError(f"{precision.name}: loss {loss.item()}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.3)
        opt.step()
        return time.perf_counter() - w0, time.process_time() - c0

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-chans", type=int, default=128)
    ap.add_argument("--n-times", type=int, default=440)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cpu = torch.device("cpu")
    steps = {}
    for name in ("fp32", "bf16"):
        torch.manual_seed(0)
        enc = eegbench.get("encoders", "dilated").build(a.n_chans, a.n_times, width=a.width)
        model = EEGClassifier(enc, 512, 40).train()
        steps[name] = step_fn(model, Precision(cpu, name), a.batch, a.n_chans, a.n_times)
        steps[name]()  # warm-up (oneDNN primitive creation)
    times: dict[str, list[tuple[float, float]]] = {"fp32": [], "bf16": []}
    for r in range(a.repeats):
        for name in ("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32"):
            times[name].append(steps[name]())
            print(f"repeat {r + 1} {name}: {times[name][-1][0]:.2f} s wall", flush=True)
    best = {k: min(w for w, _ in v) for k, v in times.items()}
    best_cpu = {k: min(c for _, c in v) for k, v in times.items()}
    result = {
        "cpu": cpu_name(),
        "native_bf16": cpu_has_native_bf16(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "shape": f"{a.n_chans}x{a.n_times}",
        "width": a.width,
        "batch": a.batch,
        "repeats": a.repeats,
        "fp32_step_s": round(best["fp32"], 3),
        "bf16_step_s": round(best["bf16"], 3),
        "speedup_wall": round(best["fp32"] / best["bf16"], 2),
        "speedup_cpu_time": round(best_cpu["fp32"] / best_cpu["bf16"], 2),
    }
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
