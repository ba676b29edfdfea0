"""Run the workloads of one size, each in its own process, and write JSON and markdown results.

Each workload runs in a child process (``python -m benchmarks.child``) so that its peak memory
is its own: the harness waits for the child with ``os.wait4``, whose resource usage covers that
child alone (``getrusage(RUSAGE_CHILDREN)`` would give the largest child so far instead).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import dataset, machine
from .workloads import WORKLOADS

# size name → number of demo customers (about ten interactions each)
SIZES = {"tiny": 300, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
DEFAULT_SIZES = ("100k", "1m")
QUICK_SIZE = "10k"
REPEAT = {"tiny": 1, "10k": 3, "100k": 5, "1m": 3}


def run(size: str, *, only: list[str] | None = None, out: Path, data_dir: Path | None = None,
        echo: Callable[[str], None] = lambda text: None) -> dict:
    """Run the workloads (all, or ``only``) at ``size``; write ``bench-<size>.json`` and ``.md`` in ``out``."""
    customers = SIZES[size]
    data_dir = Path(data_dir or Path(tempfile.gettempdir()) / "crmkit-bench")
    data_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "size": size, "customers": customers,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine.describe(), "dataset": None, "workloads": [],
    }
    data = dataset.path_for(data_dir, size)
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as scratch:
        scratch = Path(scratch)
        if data.exists():
            report["dataset"] = {"path": data.name, "cached": True}
        else:
            echo(f"[{size}] building the demo file ({customers:,} customers)...")
            built = _child("dataset", size, customers, data, scratch, {}, 1)
            report["dataset"] = {"path": data.name, "cached": False, **built}
            if built.get("error"):
                _write(report, out)
                return report
            echo(f"[{size}] demo built in {built['wall_seconds']:.1f}s, peak RSS {built['max_rss_mb']:.0f} MB")
        for name in only or list(WORKLOADS):
            module = importlib.import_module(WORKLOADS[name])
            variants = module.variants(size) if hasattr(module, "variants") else [{}]
            for variant in variants:
                label = name + "".join(f" {k}={v}" for k, v in variant.items())
                echo(f"[{size}] {label} ...")
                result = _child(name, size, customers, data, scratch, variant, REPEAT[size])
                result.update(workload=name, variant=variant, description=(module.__doc__ or "").strip().splitlines()[0])
                report["workloads"].append(result)
                echo(_summary_line(size, label, result))
    report["finished"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write(report, out)
    echo(f"[{size}] results: {out / f'bench-{size}.json'} and bench-{size}.md")
    return report


def _child(workload: str, size: str, customers: int, data: Path, scratch: Path, variant: dict, repeat: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"{workload}-", dir=scratch))
    out = work / "result.json"
    command = [
        sys.executable, "-m", "benchmarks.child", "--workload", workload, "--size", size,
        "--customers", str(customers), "--data", str(data), "--work", str(work),
        "--variant", json.dumps(variant), "--repeat", str(repeat), "--out", str(out),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent, stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(out.read_text()) if out.exists() else {"error": f"exit status {process.returncode}: {stderr[-2000:]}"}
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["max_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # kilobytes on Linux
    return result


def _summary_line(size: str, label: str, result: dict) -> str:
    if result.get("error"):
        return f"[{size}] {label}: FAILED {result['error']}"
    ratios = ", ".join(
        f"{r['name']} = {r['value']}" + (f" (target {r['target']}: {'met' if r['met'] else 'NOT met'})" if r.get("target") else "")
        for r in result.get("ratios", []) if r.get("value") is not None
    )
    return f"[{size}] {label}: {result['wall_seconds']:.1f}s, peak RSS {result['max_rss_mb']:.0f} MB; {ratios}"


def _write(report: dict, out: Path) -> None:
    """Write the results, keeping from an earlier file the workloads this run did not measure.

    Engineers run their own workloads with ``--only``; each workload's entry carries the time and
    commit of the run that measured it, so one file gathers the latest figure of every workload.
    """
    target = out / f"bench-{report['size']}.json"
    run = {"started": report["started"], "commit": report["machine"]["commit"]}
    for item in report["workloads"]:
        item.setdefault("run", run)
    if target.exists():
        try:
            earlier = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = {}
        measured = {item["workload"] for item in report["workloads"]}
        kept = [item for item in earlier.get("workloads", []) if item.get("workload") not in measured]
        for item in kept:
            item.setdefault("run", {"started": earlier.get("started"), "commit": (earlier.get("machine") or {}).get("commit")})
        report["workloads"] = kept + report["workloads"]
        dataset_now, dataset_then = report.get("dataset") or {}, earlier.get("dataset") or {}
        if dataset_now.get("cached") and dataset_then.get("path") == dataset_now.get("path") and dataset_then.get("summary"):
            report["dataset"] = dataset_then
    target.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    (out / f"bench-{report['size']}.md").write_text(markdown(report), encoding="utf-8")


def markdown(report: dict) -> str:
    """The report as a markdown page: machine, then one table of measurements and ratios per workload."""
    m = report["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines = [
        f"# crmkit benchmarks — size {report['size']} ({report['customers']:,} demo customers)",
        "",
        f"Run {report['started']} on {m['cpu_count']} CPUs ({m['cpu'] or 'unknown CPU'}), {m['memory_gb']} GB memory, "
        f"{m['platform']}; Python {m['python']}, SQLite {m['sqlite']}; {packages}; commit {m['commit'] or 'unknown'}.",
        "",
    ]
    built = report.get("dataset") or {}
    if built.get("summary"):
        s = built["summary"]
        lines += [
            f"Demo file: {s['customers']:,} customers, {s['interactions']:,} interactions, built by `crmkit.demo.build` "
            f"in {s['seconds']:.1f} s (peak RSS {built['max_rss_mb']:.0f} MB).", "",
        ]
    elif built.get("cached"):
        lines += [f"Demo file: {built['path']} (cached from an earlier run).", ""]
    for item in report["workloads"]:
        variant = "".join(f", {k}={v}" for k, v in item.get("variant", {}).items())
        lines += [f"## {item['workload']}{variant}", "", item.get("description", ""), ""]
        if item.get("error"):
            lines += [f"**Failed:** {item['error']}", ""]
            continue
        lines += ["| measurement | seconds | rows/s | result |", "|---|---:|---:|---|"]
        for entry in item.get("measurements", []):
            if entry.get("unavailable"):
                lines.append(f"| {entry['name']} | unavailable | | {entry['unavailable']} |")
                continue
            rate = f"{entry['rows_per_s']:,}" if entry.get("rows_per_s") else ""
            result = entry.get("result", "")
            lines.append(f"| {entry['name']} | {entry['seconds']:.4f} | {rate} | {result}{' — ' + entry['note'] if entry.get('note') else ''} |")
        lines += ["", "| ratio | value | target | met |", "|---|---:|---|---|"]
        for r in item.get("ratios", []):
            value = "n/a" if r["value"] is None else f"{r['value']}"
            met = "" if r.get("met") is None else ("yes" if r["met"] else "**no**")
            lines.append(f"| {r['name']} | {value} | {r.get('target') or ''} | {met}{' — ' + r['note'] if r.get('note') else ''} |")
        run = item.get("run") or {}
        lines += ["", f"Wall time {item['wall_seconds']:.1f} s, peak RSS {item['max_rss_mb']:.0f} MB; "
                      f"measured {run.get('started') or '?'} at commit {run.get('commit') or '?'}.", ""]
        for note in item.get("notes", []):
            lines.append(f"- {note}")
        if item.get("notes"):
            lines.append("")
    return "\n".join(lines)
