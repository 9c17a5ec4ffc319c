"""The tables of docs/science.md from finished run directories.

    python benchmarks/science_table.py runs/enc-*      # one row per run, then the oracle rows

Reads only each run's ``results.json``: full pipeline, the paired
difference to ONLY_OBJ with its clustered p-value, attribute hit rates, probes, headroom and the
oracle rows of the first run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _value(section: dict[str, Any], key: str) -> float | None:
    entry = section.get(key)
    return None if entry is None else float(entry["value"])


def _fmt(x: float | None, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _delta(record: dict[str, Any], control: str, key: str) -> str:
    delta = record.get("controls", {}).get(control, {}).get("delta", {}).get(key)
    if delta is None:
        return ""
    return f"{delta['value']:+.3f} (p={delta['p']:.3f})"


def rows(run_dirs: list[Path]) -> tuple[list[str], list[str]]:
    records = [(d, json.loads((d / "results.json").read_text())) for d in run_dirs]
    head = (
        "| encoder | features | top-1 | retrieval top-1 (chance) | BLEU-4 | Δ BLEU-4 vs ONLY_OBJ "
        "(p) | ROUGE-L | Δ ROUGE-L vs ONLY_OBJ (p) | hit colour (ONLY_OBJ) | hit setting "
        "(ONLY_OBJ) | probe colour | headroom BLEU-4 | headroom ROUGE-L | wall s |"
    )
    table = [head, "|" + "---|" * 14]
    for _, r in records:
        m, only = r["metrics"], r["controls"].get("only_obj", {}).get("metrics", {})
        chance = 1 / len(set(r["statistics"]["clusters"])) if "statistics" in r else None
        head_room = r.get("headroom", {})
        table.append(
            "| "
            + " | ".join(
                [
                    r["config"]["encoder"]["name"],
                    str(r["model"]["encoder_features"]),
                    _fmt(_value(m, "top1_accuracy")),
                    f"{_fmt(_value(m, 'retrieval_top1'))} ({_fmt(chance, 4)})",
                    _fmt(_value(m, "bleu_4")),
                    _delta(r, "only_obj", "bleu_4"),
                    _fmt(_value(m, "rouge_l")),
                    _delta(r, "only_obj", "rouge_l"),
                    f"{_fmt(_value(m, 'hit_colour'))} ({_fmt(_value(only, 'hit_colour'))})",
                    f"{_fmt(_value(m, 'hit_setting'))} ({_fmt(_value(only, 'hit_setting'))})",
                    _fmt(_value(m, "probe_colour")),
                    _fmt(head_room.get("bleu_4"), 2),
                    _fmt(head_room.get("rouge_l"), 2),
                    f"{r['timings']['total']:.0f}",
                ]
            )
            + " |"
        )
    oracles = [
        "| oracle | BLEU-4 | ROUGE-L | hit colour | hit setting |",
        "|---|---|---|---|---|",
    ]
    _, first = records[0]
    for name, row in first.get("oracles", {}).items():
        om = row["metrics"]
        oracles.append(
            f"| `{name}` | "
            + " | ".join(
                _fmt(_value(om, k)) for k in ("bleu_4", "rouge_l", "hit_colour", "hit_setting")
            )
            + " |"
        )
    return table, oracles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    table, oracles = rows([d for d in args.runs if (d / "results.json").is_file()])
    print("\n".join(table))
    print()
    print("\n".join(oracles))


if __name__ == "__main__":
    main()
