"""Loading CVPR40 at full size: plain, preprocessed, and from the trial cache (issue 14, item 5).

The benchmark writes a CVPR40-format file (torch's zip format, ``{"dataset": [{"eeg": [128, 500]
float32, "label", "image", "subject"}, ...], "labels", "images"}``; full: 11,964 trials, 3.07 GB
as the real ``eeg_5_95_std.pth``; quick: 600 trials) and loads it in fresh processes, each
reporting its wall time for the load and its peak resident memory (``VmHWM``) above what the
process held before the load (Python, torch and eegbench imported):

- plain: what a user without eegbench writes, ``torch.load`` and ``np.stack`` of the 440-sample
  windows (the baseline every figure is a ratio to);
- preprocessed: ``cvpr40`` with CVPR40's 5-95 Hz band-pass and 50 Hz notch, in a fresh trial
  cache (so it also hashes the file and writes the cache entry);
- cached: the same load again, memory-mapping the cache entry.

Times are ratios to the plain load of the same round (target: preprocessed at most 3x, cached
about 1x); memory is peak RSS as a multiple of the file's size (target at most 1.5x). The
targets apply at full size: the quick mode reports the same ratios without them (fixed costs
per load dominate 600 trials), and imports MNE's and SciPy's filters before timing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import figure

N_FULL, N_QUICK, CHANNELS, SAMPLES = 11_964, 600, 128, 500
FILTERS = {"l_freq": 5.0, "h_freq": 95.0, "notch": 50.0}

WRITE = """
import sys, numpy as np, torch
path, n, c, t = sys.argv[1], *map(int, sys.argv[2:5])
rng = np.random.default_rng(0)
images = [f"n{k // 50:08d}_{k % 50}" for k in range(2000)]
trials = []
for i in range(n):
    img = int(rng.integers(len(images)))
    eeg = rng.normal(size=(c, t)).astype(np.float32) * 20
    eeg += rng.normal(size=(c, 1)).astype(np.float32) * 500  # DC offsets, as in raw EEG
    trials.append({"eeg": torch.from_numpy(eeg), "image": img, "label": img // 50,
                   "subject": 1 + i % 6})
labels = [f"n{k:08d}" for k in range(40)]
torch.save({"dataset": trials, "labels": labels, "images": images}, path)
"""

MEASURE = """
import json, sys, time, warnings
mode, path, cache, filters = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
import numpy as np, torch
if sys.argv[5] == "1":  # quick: the one-time imports of MNE's and SciPy's filters are not timed
    from eegbench.data.preprocessing import Preprocess, plan
    plan(Preprocess(**filters), sfreq=1000.0, ch_names=["a"], n_times=64, tmin=0.0).matrix()
import eegbench
import eegbench_plugins.datasets.cvpr40  # imported before timing, as in a run
from eegbench.data.trialcache import trial_cache
from eegbench.progress import set_quiet
set_quiet(True)
warnings.simplefilter("ignore")
entry = eegbench.get("datasets", "cvpr40")


def status(key):
    lines = open("/proc/self/status").read().splitlines()
    return [int(line.split()[1]) for line in lines if line.startswith(key)][0] * 1024


rss0 = status("VmRSS")
t0 = time.perf_counter()
if mode == "plain":
    obj = torch.load(path, map_location="cpu", weights_only=True)
    X = np.stack([tr["eeg"][:, 20:460].float().numpy() for tr in obj["dataset"]])
    info = {}
else:
    with trial_cache(cache):
        data = entry.build(path=path, **filters)
    X, info = data.X, data.info.get("trial_cache") or {}
wall = time.perf_counter() - t0
peak = status("VmHWM") - rss0
print(json.dumps({"wall": wall, "peak": peak, "shape": list(X.shape), "nbytes": X.nbytes,
                  "hit": info.get("hit")}))
"""


def _child(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        tail = " | ".join((out.stderr or out.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark child exited {out.returncode}: {tail}")
    return out.stdout


def measure(quick: bool) -> list[dict]:
    n = N_QUICK if quick else N_FULL
    repeats = 2
    tmp = Path(tempfile.mkdtemp(prefix="eegbench-perf-data-"))
    try:
        need = n * CHANNELS * SAMPLES * 4 * 2.2
        free = shutil.disk_usage(tmp).free
        if free < need:
            raise RuntimeError(
                f"{tmp} has {free / 1e9:.1f} GB free, the benchmark needs {need:.0f}"
            )
        path = tmp / "eeg_5_95_std.pth"
        _child(WRITE, str(path), str(n), str(CHANNELS), str(SAMPLES))
        size = path.stat().st_size
        runs: dict[str, list[dict]] = {"plain": [], "preprocessed": [], "cached": []}
        for r in range(repeats):
            cache = tmp / f"cache{r}"
            for mode in ("plain", "preprocessed", "cached"):
                out = _child(
                    MEASURE, mode, str(path), str(cache), json.dumps(FILTERS), str(int(quick))
                )
                runs[mode].append(json.loads(out.strip().splitlines()[-1]))
            shutil.rmtree(cache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if [x["hit"] for x in runs["preprocessed"]] != [False] * repeats or not all(
        x["hit"] for x in runs["cached"]
    ):
        raise RuntimeError("the preprocessed load must build the cache and the next one hit it")
    params = {
        "trials": n,
        "file_MB": round(size / 1e6),
        "array_MB": round(runs["cached"][0]["nbytes"] / 1e6),
        "shape": runs["cached"][0]["shape"],
        **FILTERS,
    }
    plain = [x["wall"] for x in runs["plain"]]
    note = (
        "quick: targets apply at full size (fixed costs dominate 600 trials); MNE's and "
        "SciPy's filters imported before the load (a one-time ~2-4 s and ~140 MB that the "
        "full mode counts)"
        if quick
        else ""
    )
    mb = 1e6
    file_mb = [size / mb] * repeats

    def fig(name, baseline, candidate, target=None, unit="s"):
        return figure(
            "data",
            name,
            baseline,
            candidate,
            unit=unit,
            direction="lower",
            params=params,
            target=None if quick else target,
            note=note,
        )

    def peak(kind):
        return ("peak RSS", [x["peak"] / mb for x in runs[kind]])

    return [
        fig(
            "5-95 Hz + notch load (builds the cache) / plain load",
            ("5-95 Hz + notch", [x["wall"] for x in runs["preprocessed"]]),
            ("plain torch.load", plain),
            3.0,
        ),
        fig(
            "cached (memory-mapped) load / plain load",
            ("cached", [x["wall"] for x in runs["cached"]]),
            ("plain torch.load", plain),
            1.0,
        ),
        fig(
            "peak RSS of the 5-95 Hz + notch load / file size",
            peak("preprocessed"),
            ("file", file_mb),
            1.5,
            "MB",
        ),
        fig(
            "peak RSS of the cached load / file size", peak("cached"), ("file", file_mb), 1.5, "MB"
        ),
        fig(
            "peak RSS of the plain load / file size (reference)",
            peak("plain"),
            ("file", file_mb),
            None,
            "MB",
        ),
    ]
