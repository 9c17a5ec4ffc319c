"""Coverage of 95% bootstrap intervals on data with repeated images: trials vs clusters.

Simulates what a test split of the synthetic benchmark looks like to the statistics: ``G`` test
images, each seen in ``m`` trials, each trial captioned by a label-only system (the predicted
object with the most common colour and setting, ``describe``), whose label is right with an
image-specific probability (mean ``accuracy``). The population value of each metric is computed
exactly from the per-image expectations of a large image population; each repeat draws ``G``
images from it and ``m`` trials per image, and asks whether the 95% percentile interval covers
the population value, when the bootstrap resamples trials and when it resamples images.

    python benchmarks/cluster_coverage.py            # 400 repeats, a few minutes on 1 core
    python benchmarks/cluster_coverage.py --repeats 1000 --seed 1   # the numbers in docs/metrics.md
    python benchmarks/cluster_coverage.py --repeats 100 --json coverage.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import eegbench
from eegbench.evaluation.stats import bootstrap_cis


def population(n_images: int, seed: int):
    """Per-image references and, per predicted class, the label-only caption's scores."""
    from eegbench_plugins.datasets.synthetic import (
        CLASSES,
        COLOURS,
        SETTINGS,
        describe,
        make_caption,
    )

    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    cls = rng.integers(0, k, n_images)
    colour = rng.integers(0, len(COLOURS), n_images)
    setting = rng.integers(0, len(SETTINGS), n_images)
    names = list(SETTINGS)
    refs = [
        make_caption(rng, int(c), COLOURS[a], names[s]) for c, a, s in zip(cls, colour, setting)
    ]
    prior = {"colour": COLOURS[0], "setting": names[0]}
    hyps = [describe(j, prior) for j in range(k)]
    bleu = eegbench.get("metrics", "bleu").build()
    rouge = eegbench.get("metrics", "rouge").build()
    pairs_h = [hyps[j] for _ in range(n_images) for j in range(k)]
    pairs_r = [r for r in refs for _ in range(k)]
    stats = bleu.sentence_stats(pairs_h, pairs_r).reshape(n_images, k, -1).astype(float)
    rl = rouge.per_item(pairs_h, pairs_r)["rouge_l"].reshape(n_images, k)
    return cls, stats, rl, bleu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=400)
    ap.add_argument("--images", type=int, default=40, help="test images (clusters) per repeat")
    ap.add_argument("--trials", type=int, default=6, help="trials per image")
    ap.add_argument("--accuracy", type=float, default=0.35, help="mean label accuracy")
    ap.add_argument("--n-boot", type=int, default=500)
    ap.add_argument("--population", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the numbers to this file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cls, stats, rl, bleu = population(args.population, args.seed)
    n_pop, k = rl.shape
    rng = np.random.default_rng(args.seed + 1)
    # image difficulty: each image's label accuracy ~ Beta with mean `accuracy`
    conc = 4.0
    p_img = rng.beta(args.accuracy * conc, (1 - args.accuracy) * conc, n_pop)
    wrong_mean = (stats.sum(1) - stats[np.arange(n_pop), cls]) / (k - 1)
    wrong_rl = (rl.sum(1) - rl[np.arange(n_pop), cls]) / (k - 1)
    expected = p_img[:, None] * stats[np.arange(n_pop), cls] + (1 - p_img[:, None]) * wrong_mean
    truth = {
        "bleu_4": bleu.from_stats(np.rint(expected.sum(0) * 1000))["bleu_4"],
        "rouge_l": float(np.mean(p_img * rl[np.arange(n_pop), cls] + (1 - p_img) * wrong_rl)),
    }
    g, m = args.images, args.trials
    clusters = np.repeat(np.arange(g), m)
    hits = {u: {o: 0 for o in truth} for u in ("trial", "image")}
    widths = {u: {o: [] for o in truth} for u in ("trial", "image")}
    for r in range(args.repeats):
        imgs = rng.choice(n_pop, g, replace=False)[clusters]
        right = rng.random(g * m) < p_img[imgs]
        wrong = (cls[imgs] + rng.integers(1, k, g * m)) % k
        pred = np.where(right, cls[imgs], wrong)
        s = stats[imgs, pred].astype(np.int64)
        per = rl[imgs, pred]

        def fn(idx, s=s, per=per):
            return {"bleu_4": bleu.from_stats(s[idx].sum(0))["bleu_4"], "rouge_l": per[idx].mean()}

        for unit, cl in (("trial", None), ("image", clusters)):
            cis = bootstrap_cis(fn, n=g * m, n_boot=args.n_boot, seed=r, clusters=cl)
            for o, ci in cis.items():
                hits[unit][o] += ci.low <= truth[o] <= ci.high
                widths[unit][o].append(ci.high - ci.low)
    out = {
        "setup": vars(args),
        "truth": truth,
        "coverage": {u: {o: h / args.repeats for o, h in v.items()} for u, v in hits.items()},
        "mean_width": {u: {o: float(np.mean(w)) for o, w in v.items()} for u, v in widths.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
