"""``python -m benchmarks [--quick] [--only NAME ...] [--out DIR] [--no-readme]``.

Runs every ``benchmarks/perf_*.py`` benchmark, writes one JSON file of records per benchmark
under ``--out`` (default ``benchmarks/results`` or ``benchmarks/results/quick``) and prints the
markdown table; the full mode also writes it into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import _harness


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same ratios (CI)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON records")
    parser.add_argument(
        "--no-readme", action="store_true", help="do not rewrite benchmarks/README.md's table"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    names = _harness.discover(args.only)
    if args.list:
        print("\n".join(names))
        return 0
    out = args.out or (_harness.HERE / "results" / ("quick" if args.quick else ""))
    readme = not args.quick and not args.no_readme and not args.only
    records = _harness.run(names, args.quick, out, readme)
    missed = [f"{r['benchmark']}/{r['figure']}" for r in records if r["met"] is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
