"""How many test images does a ranking suite need? A power calculation from validation runs.

    python benchmarks/power.py runs/bench/power-val --metric rouge_l --delta 0.02 --tests 42

Reads the runs under the given directories (several encoders in the same worlds, evaluated on
the validation split: ``eval.split=val``), pairs every two encoders as the leaderboard does
(paired by world and image), and turns each pair's clustered 95% interval into the per-image
standard deviation of the paired difference, ``sd = half-width / 1.96 * sqrt(images)``. With
``m`` tests on the leaderboard (pairs x metrics) the smallest p Holm's procedure can accept is
``alpha / m``, so detecting a difference ``delta`` with the given power needs about

    images = ((z(1 - alpha / (2 m)) + z(power)) * sd / delta) ** 2

test images in all, pooled over worlds (a normal approximation; Bonferroni's threshold, which
Holm's first step uses, so the count is conservative for the later steps). Prints the median
and the largest ``sd`` over the pairs and the images per world for ``--worlds``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def required_images(sd: float, delta: float, tests: int, power: float, alpha: float) -> int:
    """Test images (pooled over worlds) that detect ``delta`` at ``power`` after Bonferroni."""
    from scipy.stats import norm

    z = norm.ppf(1 - alpha / (2 * tests)) + norm.ppf(power)
    return math.ceil((z * sd / delta) ** 2)


def pair_sds(paths: list[Path], metric: str) -> list[dict]:
    """Per encoder pair: the per-image sd of the paired difference in ``metric``."""
    from eegbench.report.leaderboard import leaderboard

    board = leaderboard(paths, metrics=[metric], pair_metrics=[metric], n_perm=200)
    names = board.row_names()
    out = []
    for p in board.pairwise.pairs if board.pairwise is not None else []:
        half = (p.delta.high - p.delta.low) / 2
        out.append(
            {
                "a": names[p.a],
                "b": names[p.b],
                "difference": p.delta.estimate,
                "images": p.n_clusters,
                "sd_per_image": half / 1.96 * math.sqrt(p.n_clusters),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--metric", default="rouge_l")
    parser.add_argument("--delta", type=float, default=0.02, help="difference worth detecting")
    parser.add_argument("--tests", type=int, default=42, help="pairs x metrics on the board")
    parser.add_argument("--power", type=float, default=0.8)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--worlds", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the record here (JSON)")
    args = parser.parse_args(argv)
    pairs = pair_sds(args.runs, args.metric)
    if not pairs:
        print("no encoder pairs found (need two encoders in the same worlds)", file=sys.stderr)
        return 1
    sds = sorted(p["sd_per_image"] for p in pairs)
    record = {"args": {k: str(v) for k, v in vars(args).items()}, "pairs": pairs}
    for label, sd in (("median", sds[len(sds) // 2]), ("largest", sds[-1])):
        n = required_images(sd, args.delta, args.tests, args.power, args.alpha)
        record[label] = {"sd_per_image": sd, "images": n, "per_world": math.ceil(n / args.worlds)}
        print(
            f"{label} sd per image {sd:.4f}: {n} test images in all, "
            f"{math.ceil(n / args.worlds)} per world over {args.worlds} worlds"
        )
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
