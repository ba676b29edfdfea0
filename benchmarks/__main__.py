"""``python -m benchmarks [--quick] [--size S] [--only NAME]``: run the workloads, write results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .harness import DEFAULT_SIZES, QUICK_SIZE, SIZES, run
from .workloads import WORKLOADS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"one small size ({QUICK_SIZE}); a minute or two")
    parser.add_argument("--size", action="append", choices=sorted(SIZES), help="data size; repeat for several (default: 100k and 1m)")
    parser.add_argument("--only", action="append", choices=sorted(WORKLOADS), help="run only this workload; repeat for several")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="folder for the JSON and markdown results")
    parser.add_argument("--data", type=Path, default=None, help="folder caching the generated demo files (default: a temp folder)")
    args = parser.parse_args(argv)
    sizes = args.size or ([QUICK_SIZE] if args.quick else list(DEFAULT_SIZES))
    failed = 0
    for size in sizes:
        report = run(size, only=args.only, out=args.out, data_dir=args.data, echo=print)
        failed += sum(1 for item in report["workloads"] if item.get("error"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
