"""A process killed with SIGKILL in the middle of a write leaves a consistent file: the
interrupted transaction is entirely absent, the integrity check passes, the summary matches the
log, and running the work again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import crmkit

from .helpers import connect_raw
from .summary import summary_mismatches
from .workers import FollowUps, bulk_rows

WORKERS = str(Path(__file__).with_name("workers.py"))
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def kill_when(marker: Path, *args, timeout: float = 60) -> subprocess.Popen:
    """Start a worker, wait until it drops ``marker``, then SIGKILL it."""
    process = subprocess.Popen([sys.executable, WORKERS, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"worker ended before the marker: {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("worker never reached the marker")
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return process


def counts(raw):
    return raw.execute(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM interactions), "
        "(SELECT count(*) FROM tasks), (SELECT count(*) FROM audit_log), (SELECT coalesce(sum(net_spend), 0) FROM customer_summary)"
    ).fetchone()


def seeded(path: Path, customers: int = 100) -> None:
    with crmkit.open(path, plugins=[]) as crm:
        ids = crm.customers.add_many({"name": f"Customer {i}"} for i in range(customers))
        crm.interactions.record_many({"customer_id": cid, "kind": "purchase", "amount": "5.00", "occurred_at": "2023-12-01"} for cid in ids)


@pytest.mark.slow
def test_killed_during_a_large_record_many(tmp_path):
    path, marker = tmp_path / "crash.db", tmp_path / "marker"
    seeded(path)
    raw = connect_raw(path)
    before = counts(raw)
    raw.close()

    # 30,000 rows in batches of 1,000; killed after the first 10,000 were inserted.
    kill_when(marker, "crash_bulk", path, 30_000, 100, marker)

    raw = connect_raw(path)
    assert raw.integrity_check() == "ok"
    assert counts(raw) == before  # the whole batch is out: not one of its rows, audit or summary
    assert raw.execute("SELECT count(*) FROM interactions WHERE channel = 'crash'").fetchone()[0] == 0
    assert summary_mismatches(raw) == []
    raw.close()

    # The next run completes the work.
    with crmkit.open(path, plugins=[]) as crm:
        assert crm.interactions.record_many(bulk_rows(30_000, 100, tag="crash"), batch_size=1000).count == 30_000
    raw = connect_raw(path)
    assert raw.execute("SELECT count(*) FROM interactions").fetchone()[0] == before[1] + 30_000
    assert summary_mismatches(raw) == []
    assert raw.integrity_check() == "ok"
    raw.close()


def test_killed_between_small_writes_every_write_is_whole(tmp_path):
    """Writes of three rows each, killed at an arbitrary moment: every group is complete."""
    path, marker = tmp_path / "small.db", tmp_path / "marker"
    seeded(path, customers=20)
    kill_when(marker, "small_forever", path, marker)
    raw = connect_raw(path)
    assert raw.integrity_check() == "ok"
    groups = raw.execute("SELECT channel, count(*) FROM interactions WHERE channel LIKE 'group %' GROUP BY channel").fetchall()
    assert len(groups) >= 20
    assert {n for _, n in groups} == {3}
    # And they are the first groups, without a gap: each write committed before the next began.
    assert sorted(int(c.split()[1]) for c, _ in groups) == list(range(len(groups)))
    assert summary_mismatches(raw) == []
    raw.close()


@pytest.mark.slow
def test_killed_during_a_due_run(tmp_path):
    """A plugin's due run creating tasks in batches, killed after its first batch: no task and
    no due.run audit entry stay; the next run creates them all; a second run creates none."""
    path, marker = tmp_path / "due.db", tmp_path / "marker"
    seeded(path, customers=300)
    raw = connect_raw(path)
    before = counts(raw)
    raw.close()

    kill_when(marker, "crash_due", path, marker)

    raw = connect_raw(path)
    assert raw.integrity_check() == "ok"
    assert counts(raw) == before
    assert raw.execute("SELECT count(*) FROM audit_log WHERE action = 'due.run'").fetchone()[0] == 0
    raw.close()

    with crmkit.open(path, plugins=[FollowUps()]) as crm:
        first = crm.run_due("2025-02-01T08:00:00Z")
        again = crm.run_due("2025-02-01T08:00:00Z")
    assert first.ok and first.results == {"followups": {"tasks_created": 300}}
    assert again.results == {"followups": {"tasks_created": 0}}
    raw = connect_raw(path)
    assert raw.execute("SELECT count(*), count(DISTINCT customer_id) FROM tasks WHERE status = 'open'").fetchone() == (300, 300)
    raw.close()
