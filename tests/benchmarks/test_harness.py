"""The benchmark harness runs end to end at a tiny size and writes complete results.

Times are never asserted: this checks that the harness works (every workload ran in its own
process, reported its peak memory and its ratios), not how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# The harness picks its engines itself (SQLite files, and a PostgreSQL server for the postgres
# workload), so it runs once, in the SQLite run of the suite.
@pytest.mark.slow
@pytest.mark.sqlite_only
def test_tiny_run_writes_every_workload_with_ratios(tmp_path):
    out, data = tmp_path / "results", tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "tiny", "--out", str(out), "--data", str(data)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.workloads import WORKLOADS
    finally:
        sys.path.remove(str(ROOT))

    report = json.loads((out / "bench-tiny.json").read_text())
    assert report["size"] == "tiny" and report["customers"] == 300
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["sqlite"]
    assert report["dataset"]["summary"]["customers"] == 300
    assert {item["workload"] for item in report["workloads"]} == set(WORKLOADS)
    for item in report["workloads"]:
        assert "error" not in item, item
        assert item["max_rss_mb"] > 10
        assert item["measurements"]
        if item["variant"].get("share") == "1/10":
            continue  # the memory variant: one measurement, compared through peak RSS
        ratios = item["ratios"]
        assert ratios and all(r["value"] is not None or r.get("note") for r in ratios), ratios
    bulk = next(i for i in report["workloads"] if i["workload"] == "bulk_load" and i["variant"]["share"] == "all")
    names = [r["name"] for r in bulk["ratios"]]
    assert "record_many rows/s ÷ raw executemany rows/s" in names
    assert {m["rows"] for m in bulk["measurements"] if "rows" in m} == {report["dataset"]["summary"]["interactions"]}

    page = (out / "bench-tiny.md").read_text()
    for name in WORKLOADS:
        assert f"## {name}" in page
    assert "record_many rows/s ÷ raw executemany rows/s" in page and "Python 3" in page
