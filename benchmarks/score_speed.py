"""Time ``eegbench score`` on a large prediction CSV (default 100,000 rows).

The file looks like a real run's ``predictions.csv``: each test image has one reference caption
and is seen in many trials (``--repeats``), and generated captions come from a small vocabulary
(a decoder's output repeats), so many (caption, reference) pairs recur. ``--unique`` makes every
row's pair distinct instead (the worst case). Reports wall and CPU seconds of the ``score``
process and the load average when it started (on a shared machine wall time follows the load).

    python benchmarks/score_speed.py                 # 100,000 rows, thought2text protocol
    python benchmarks/score_speed.py --rows 20000 --unique
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OBJECTS = [
    "dog",
    "cat",
    "piano",
    "mushroom",
    "car",
    "airliner",
    "panda",
    "pizza",
    "watch",
    "golf ball",
]
ADJ = ["small", "large", "red", "old", "shiny", "wooden", "black", "white", "striped", "toy"]
VERB = ["sits on", "stands near", "lies under", "is next to", "rests on", "is in front of"]
PLACE = ["a table", "the grass", "a street", "a shelf", "the snow", "a wooden floor", "a bed"]


def caption(rng: random.Random, obj: str) -> str:
    return f"a {rng.choice(ADJ)} {obj} {rng.choice(VERB)} {rng.choice(PLACE)}."


def write_csv(path: Path, rows: int, repeats: int, unique: bool, seed: int = 0) -> None:
    rng = random.Random(seed)
    n_images = max(1, rows // repeats)
    images = [(f"img_{i:06d}", rng.choice(OBJECTS)) for i in range(n_images)]
    refs = [caption(rng, obj) for _, obj in images]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["", "Ground Truth Image", "Expected object", "Predicted object",
                    "Expected Caption", "Generated Caption"])  # fmt: skip
        for i in range(rows):
            k = i % n_images
            name, obj = images[k]
            pred = obj if rng.random() < 0.4 else rng.choice(OBJECTS)
            gen = caption(rng, pred)
            ref = refs[k]
            if unique:
                gen = f"{gen[:-1]} number {i}."
            w.writerow([i, name, obj, pred, ref, gen])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=50, help="trials per test image")
    ap.add_argument("--unique", action="store_true", help="every (caption, reference) distinct")
    ap.add_argument("--protocol", default="thought2text")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.csv"
        write_csv(path, args.rows, args.repeats, args.unique)
        cmd = [sys.executable, "-c", "from eegbench.cli import main; main()", "-q", "score",
               str(path), "--protocol", args.protocol, "--format", "json"]  # fmt: skip
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return out.returncode
    report = {
        "rows": args.rows,
        "unique_pairs": args.unique,
        "protocol": args.protocol,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),  # wall time moves with load
        "load_average_1min": round(load, 2),
        "scores": json.loads(out.stdout),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
