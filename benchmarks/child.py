"""Run one workload (or the dataset build) in this process and write its result as JSON.

The harness starts one such process per workload so that each gets its own peak RSS.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path

from .measure import Context


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.child")
    parser.add_argument("--workload", required=True)
    parser.add_argument("--size", required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--variant", default="{}")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        if args.workload == "dataset":
            from . import dataset

            result = {"summary": dataset.build(args.data, args.customers)}
        else:
            from .workloads import WORKLOADS

            module = importlib.import_module(WORKLOADS[args.workload])
            context = Context(args.size, args.customers, args.data, args.work, json.loads(args.variant), args.repeat)
            result = module.run(context)
    except Exception as error:  # noqa: BLE001 - reported in the results, the run goes on
        result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    args.out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
