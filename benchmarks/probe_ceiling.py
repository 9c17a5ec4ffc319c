"""How decodable is a synthetic benchmark's data? A linear probe on the raw trials, per world.

    python benchmarks/probe_ceiling.py benchmark=synthetic-realistic
    python benchmarks/probe_ceiling.py --seeds 0 1 2 3 4 dataset.snr=0.5     # any overrides
    python benchmarks/probe_ceiling.py --snr 0.3 0.5 0.8 1.5 --split val     # a sweep of snr

For each world (``seed``: the dataset's world when ``dataset.seed`` is left null) the dataset is
built exactly as ``eegbench run`` builds it, and a shrinkage LDA (scikit-learn
``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``) is fitted on the standardised,
flattened training trials (every channel and sample) for the class, the colour and the setting;
its accuracy on the chosen split (``val`` by default: choosing a rung's snr looks at no test
trial) is the probe ceiling: what a linear map of a single raw trial can decode (the evoked
ceiling). Beside it, the band-power probe (the same classifier on the log-variance of each
channel in the alpha, beta and gamma bands: the induced ceiling;
``eegbench.evaluation.mechanism``). Writes the records as JSON (``--out``) and prints markdown
tables with the mean and sd over worlds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def probe(data: Any, split: str) -> tuple[dict[str, float], dict[str, float]]:
    """Accuracy of the raw (shrinkage-LDA) probe and of the band-power probe on ``split`` for
    the class and every attribute (``eegbench.evaluation.mechanism``)."""
    from eegbench.evaluation.mechanism import mechanism_probes

    found = mechanism_probes(data, split, n_boot=1)
    raw = {name: r.raw.estimate for name, r in found.items()}
    return raw, {name: r.band_power.estimate for name, r in found.items()}


def measure(config: str | None, overrides: list[str], seeds: list[int], split: str) -> list[dict]:
    from eegbench.config import build_config
    from eegbench.train.parts import load_dataset

    records = []
    for seed in seeds:
        cfg = build_config([*overrides, f"seed={seed}"], base=config)
        data = load_dataset(cfg)
        acc, power = probe(data, split)
        records.append(
            {
                "config": config,
                "overrides": overrides,
                "seed": seed,
                "world": data.info.get("seed"),
                "split": split,
                "n_train": int(len(data.splits["train"])),
                "n_eval": int(len(data.splits[split])),
                "chance": {
                    "class": 1 / data.n_classes,
                    **{a: 1 / len(w) for a, w in (data.attribute_words or {}).items()},
                },
                "accuracy": acc,
                "band_power": power,
            }
        )
        print(f"seed {seed}: {acc}", file=sys.stderr)
    return records


def table(groups: dict[str, list[dict]], key: str = "accuracy") -> str:
    names = list(next(iter(groups.values()))[0][key])
    head = "| data | worlds | " + " | ".join(f"{n} (chance)" for n in names) + " |"
    lines = [head, "|---|---|" + "---|" * len(names)]
    for label, recs in groups.items():
        cells = []
        for n in names:
            vals = np.array([r[key][n] for r in recs])
            chance = recs[0]["chance"][n]
            cells.append(f"{vals.mean():.3f} ± {vals.std(ddof=1) if len(vals) > 1 else 0:.3f} "
                         f"({chance:.3f})")  # fmt: skip
        seeds = ",".join(str(r["seed"]) for r in recs)
        lines.append(f"| {label} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a config file laid over the defaults")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--snr", type=float, nargs="+", help="sweep dataset.snr over these")
    parser.add_argument("--out", type=Path, help="write the records here (JSON)")
    parser.add_argument("overrides", nargs="*", help="config overrides (key=value)")
    args = parser.parse_args(argv)
    groups: dict[str, list[dict]] = {}
    for snr in args.snr or [None]:
        extra = [] if snr is None else [f"dataset.snr={snr}"]
        rung = [o.split("=", 1)[1] for o in args.overrides if o.startswith("benchmark=")]
        label = " ".join([Path(args.config).stem] if args.config else rung) or "defaults"
        label += f" snr={snr}" if snr is not None else ""
        groups[label] = measure(args.config, [*args.overrides, *extra], args.seeds, args.split)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(groups, indent=1) + "\n")
    print(f"linear probe (shrinkage LDA on raw trials), accuracy on {args.split}, mean ± sd")
    print(table(groups), end="")
    print(f"band-power probe (log-variance per band and channel), accuracy on {args.split}")
    print(table(groups, "band_power"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
