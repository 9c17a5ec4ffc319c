"""The default torch thread count vs the best of ``threads=1`` / ``threads=2`` (issue 14, item 3).

A stage-1 workload (``stage1_step`` of the ``dilated`` encoder, as ``eegbench run`` trains it)
timed with 1 thread, 2 threads and the thread count ``eegbench run`` chooses when ``threads`` is
not set (``choose_threads``: the cores other processes leave free, sampled when the run starts),
in interleaved repeats, on the machine as it is and with one other process spinning on a core
(``busy_core``). The figure is the best of 1 and 2 threads over the default, judged on medians
(a run's time is the sum of many steps, and contention shows in the typical step, not in the
luckiest): at least 1/1.2 means the default is within 1.2x of the best choice. A second figure
shows the gain of the default over torch's own default (all cores).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable

import torch

from benchmarks._harness import busy_core, figure, interleaved

WITHIN = 1.2


def _workload(quick: bool) -> Callable[[], None]:
    import eegbench
    from eegbench.config import Stage1Config
    from eegbench.train.model import EEGClassifier
    from eegbench.train.optim import make_optimizer, make_schedule
    from eegbench.train.stage1 import stage1_step

    n_chans, n_times, width, batch = (16, 64, 0.25, 16) if quick else (32, 128, 0.5, 16)
    torch.manual_seed(0)
    enc = eegbench.get("encoders", "dilated").build(n_chans, n_times, width=width)
    model = EEGClassifier(enc, 64, 40).train()
    cfg = Stage1Config(batch_size=batch, loss="mse")
    opt = make_optimizer(model.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)
    sched = make_schedule(opt, 10_000, cfg.warmup_ratio, cfg.schedule)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    x, y = torch.randn(batch, n_chans, n_times), torch.randint(0, 40, (batch,))
    t, idx = torch.randn(batch, 64), torch.arange(batch)
    steps = 4 if quick else 3

    def run() -> None:
        for _ in range(steps):
            stage1_step(model, x, y, idx, t, t, idx, cfg, opt, sched, scaler)

    return run


def measure(quick: bool) -> list[dict]:
    from eegbench.train.device import choose_threads, max_threads

    work = _workload(quick)
    torch_default = max_threads()
    repeats = 3 if quick else 5
    records = []
    for condition, ctx in (("as is", contextlib.nullcontext), ("one busy core", busy_core)):
        with ctx():
            chosen = choose_threads(None)

            def with_threads(n: int) -> Callable[[], None]:
                def fn() -> None:
                    torch.set_num_threads(n)
                    work()

                return fn

            fns = {n: with_threads(n) for n in sorted({1, 2, chosen, torch_default})}
            times = interleaved(fns, repeats)
        torch.set_num_threads(torch_default)
        best = min((1, 2), key=lambda n: statistics.median(times[n]))
        params = {"chosen_threads": chosen, "torch_default": torch_default, "best": best}
        records.append(
            figure(
                "threads",
                f"{condition}: best of 1/2 threads ({best}) vs the default ({chosen})",
                (f"threads={best}", times[best]),
                (f"default ({chosen})", times[chosen]),
                target=round(1 / WITHIN, 3),
                judge="median",
                params=params,
                note=f"default within {WITHIN}x of the best when the ratio is >= {1 / WITHIN:.3f}",
            )
        )
        records.append(
            figure(
                "threads",
                f"{condition}: torch's default ({torch_default}) vs eegbench's ({chosen})",
                (f"threads={torch_default}", times[torch_default]),
                (f"default ({chosen})", times[chosen]),
                params=params,
            )
        )
    return records
