"""Time ``eegbench score`` on a large prediction CSV (default 100,000 rows), against the
Thought2Text notebook's own per-pair loop on the same file (``--loop``).

The file looks like a real run's ``predictions.csv``: each test image has one reference caption
and is seen in many trials (``--repeats``), and generated captions come from a small vocabulary
(a decoder's output repeats), so many (caption, reference) pairs recur. ``--unique`` makes every
row's pair distinct instead (the worst case): captions then come from a grammar of one-sentence
image descriptions (an opening, one or two adjectives, an object, a verb phrase, a place, an
optional clause; 8-25 words, ~250 distinct words), every row's caption a new one. Reports wall
and CPU seconds and the peak memory of the ``score`` process and the load average when it
started (on a shared machine wall time follows the load); with ``--loop`` also the loop's, in
its own process, and the largest difference of any metric between the two.

    python benchmarks/score_speed.py                      # 100,000 rows, thought2text protocol
    python benchmarks/score_speed.py --rows 20000 --unique --loop

The loop is ``notebook_loop``: per row, the notebook's clean-up, NLTK ``corpus_bleu`` with
smoothing method 4 (BLEU-4 and BLEU-1), ``rouge``'s ``Rouge().get_scores`` and NLTK
``single_meteor_score(word_tokenize(ref), word_tokenize(cand))``, each pair on its own; it uses
eegbench's WordNet 3.0 reader (the notebook's default reader builds an identity offset map first,
~7 s that would only flatter the ratio).
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


N_OBJECTS = ["dog", "cat", "butterfly", "horse", "monkey", "elephant", "panda", "clownfish",
             "airplane", "brush", "canoe", "cell phone", "coffee mug", "car", "computer", "watch",
             "guitar", "train", "coffee maker", "chair", "ball", "piano", "ironing machine",
             "pumpkin", "handbag", "rocket", "pair of gloves", "bicycle", "tent", "girl",
             "parachute", "pool table", "tower", "camera", "gun", "pair of shoes", "pizza",
             "flower", "mushroom", "bowl of fruit"]  # fmt: skip
N_ADJ = ["small", "large", "red", "old", "shiny", "wooden", "black", "white", "striped", "brown",
         "bright", "colorful", "fluffy", "young", "tall", "vintage", "modern", "golden", "dark",
         "blue", "green", "yellow", "orange", "round", "tiny", "huge", "beautiful", "cute",
         "rusty", "clean", "black-and-white", "well-lit", "metal", "plastic", "soft", "heavy",
         "sleek", "worn", "new", "silver"]  # fmt: skip
N_VERB = ["sits on", "stands near", "lies under", "is next to", "rests on", "is in front of",
          "is displayed on", "hangs above", "is placed on", "runs across", "flies over",
          "floats in", "is parked on", "leans against", "is surrounded by", "is shown against",
          "appears on", "waits beside", "is held above", "moves along"]  # fmt: skip
N_PLACE = ["a table", "the grass", "a street", "a shelf", "the snow", "a wooden floor", "a bed",
           "a sandy beach", "a busy road", "a green field", "a kitchen counter",
           "a white background", "a blue sky", "a river", "a forest path", "a city square",
           "a garden", "a stage", "a desk", "the water", "a rocky hill", "a crowded market",
           "an empty room", "a parking lot", "a dirt track"]  # fmt: skip
N_TAIL = ["", "", "", " with trees in the background", " on a sunny day", " while people watch",
          " under a cloudy sky", " in the evening light", ", surrounded by leaves",
          " next to a small window", ", and it looks happy", " with a person holding it",
          ", in 2015", ", casting a long shadow", " near two other objects"]  # fmt: skip
N_OPEN = ["", "", "The image shows ", "This is a picture of ", "In this photo, ",
          "A close-up of ", "Here we see "]  # fmt: skip


def natural_caption(rng: random.Random, obj: str) -> str:
    """One sentence describing an image, as an LLM writes it."""
    a, b = rng.choice(N_ADJ), rng.choice(N_ADJ)
    adj = f"{a}, {b}" if rng.random() < 0.3 and a != b else a
    opening = rng.choice(N_OPEN)
    verb, place, tail = rng.choice(N_VERB), rng.choice(N_PLACE), rng.choice(N_TAIL)
    text = f"{opening}{'a' if opening else 'A'} {adj} {obj} {verb} {place}{tail}."
    return text[0].upper() + text[1:]


def write_csv(path: Path, rows: int, repeats: int, unique: bool, seed: int = 0) -> None:
    rng = random.Random(seed)
    objects, make = (N_OBJECTS, natural_caption) if unique else (OBJECTS, caption)
    n_images = max(1, rows // repeats)
    images = [(f"img_{i:06d}", rng.choice(objects)) for i in range(n_images)]
    refs = [make(rng, obj) for _, obj in images]
    seen: set[str] = set()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["", "Ground Truth Image", "Expected object", "Predicted object",
                    "Expected Caption", "Generated Caption"])  # fmt: skip
        for i in range(rows):
            k = i % n_images
            name, obj = images[k]
            while True:
                pred = obj if rng.random() < 0.4 else rng.choice(objects)
                gen = make(rng, pred)
                if not unique or gen not in seen:
                    break
            seen.add(gen)
            w.writerow([i, name, obj, pred, refs[k], gen])


def notebook_loop(path: str | os.PathLike) -> dict[str, float]:
    """Thought2Text's notebook on a prediction CSV: every pair scored on its own by the
    libraries (see the module), means over the rows."""
    from eegbench_plugins.metrics.nltk_data import ensure_nltk_data, wordnet_reader
    from eegbench_plugins.metrics.protocols import clean_caption
    from nltk.tokenize import word_tokenize
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    from nltk.translate.meteor_score import single_meteor_score
    from rouge import Rouge

    from eegbench.evaluation.predictions import read_predictions

    ensure_nltk_data()
    wordnet = wordnet_reader()
    preds = read_predictions(path)
    smooth = SmoothingFunction().method4
    rouge = Rouge()
    sums = dict.fromkeys(("bleu_1", "bleu_4", "rouge_1", "rouge_2", "rouge_l", "meteor"), 0.0)
    for generated, reference in zip(preds.generated, preds.reference):
        cand = clean_caption(generated)
        ref, hyp = [reference.split()], [cand.split()]
        sums["bleu_4"] += corpus_bleu([ref], hyp, smoothing_function=smooth)
        sums["bleu_1"] += corpus_bleu([ref], hyp, weights=(1, 0, 0, 0), smoothing_function=smooth)
        r = rouge.get_scores(cand, reference)[0]
        sums["rouge_1"] += r["rouge-1"]["f"]
        sums["rouge_2"] += r["rouge-2"]["f"]
        sums["rouge_l"] += r["rouge-l"]["f"]
        sums["meteor"] += single_meteor_score(
            word_tokenize(reference), word_tokenize(cand), wordnet=wordnet
        )
    return {k: v / len(preds.generated) for k, v in sums.items()}


def max_difference(a: dict[str, float], b: dict[str, float]) -> float:
    """The largest absolute difference over the metrics both hold."""
    return max(abs(a[k] - b[k]) for k in a.keys() & b.keys())


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and stdout of a command (its failure ends the benchmark)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed:\n{out.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, out.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=50, help="trials per test image")
    ap.add_argument("--unique", action="store_true", help="every (caption, reference) distinct")
    ap.add_argument("--protocol", default="thought2text")
    ap.add_argument("--loop", action="store_true", help="also time the notebook's per-pair loop")
    ap.add_argument("--loop-only", metavar="CSV", help=argparse.SUPPRESS)  # the loop's process
    args = ap.parse_args(argv)
    if args.loop_only:
        print(json.dumps(notebook_loop(args.loop_only)))
        return 0
    if args.loop and args.protocol != "thought2text":
        ap.error("--loop is the Thought2Text notebook's loop: use --protocol thought2text")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.csv"
        write_csv(path, args.rows, args.repeats, args.unique)
        cmd = [sys.executable, "-c", "from eegbench.cli import main; main()", "-q", "score",
               str(path), "--protocol", args.protocol, "--format", "json"]  # fmt: skip
        load = os.getloadavg()[0]
        seconds, cpu, stdout = _timed(cmd)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the score run's
        report = {
            "rows": args.rows,
            "unique_pairs": args.unique,
            "protocol": args.protocol,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),  # wall time moves with load
            "load_average_1min": round(load, 2),
            "peak_rss_mb": round(peak_mb, 1),
            "scores": json.loads(stdout),
        }
        if args.loop:
            here = Path(__file__).resolve()
            loop_cmd = [sys.executable, str(here), "--loop-only", str(path)]
            report["loop_load_average_1min"] = round(os.getloadavg()[0], 2)
            loop_s, loop_cpu, loop_out = _timed(loop_cmd)
            loop_scores = json.loads(loop_out)
            report["loop_seconds"] = round(loop_s, 2)
            report["loop_cpu_seconds"] = round(loop_cpu, 2)
            report["ratio_wall"] = round(loop_s / seconds, 2)
            report["ratio_cpu"] = round(loop_cpu / cpu, 2)
            report["max_metric_difference"] = max_difference(loop_scores, report["scores"])
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
