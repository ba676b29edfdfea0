"""Several OS processes on one CRM file at once: a bulk load, many small writes and a reader.

WAL lets the reader go on while one process writes; BEGIN IMMEDIATE plus the busy timeout make
a second writer wait its turn instead of failing with "database is locked".
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import crmkit

from .helpers import connect_raw
from .summary import summary_mismatches
from .workers import bulk_rows

WORKERS = str(Path(__file__).with_name("workers.py"))


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WORKERS, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 120) -> dict:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    assert "locked" not in err.lower()
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_bulk_load_small_writes_and_a_reader_at_once(tmp_path):
    path = tmp_path / "shared.db"
    customers = 200
    with crmkit.open(path, plugins=[]) as crm:
        crm.customers.add_many({"name": f"Customer {i}", "region": "EU" if i % 2 else "UK"} for i in range(customers))
    stop = tmp_path / "stop"

    reader = start("reader", path, stop)
    bulk = start("bulk", path, 50_000, customers)
    small_a = start("small", path, 100)
    small_b = start("small", path, 100)
    started = time.monotonic()
    results = [finish(p) for p in (bulk, small_a, small_b)]
    stop.write_text("stop")
    reads = finish(reader)["reads"]
    elapsed = time.monotonic() - started

    assert results[0] == {"recorded": 50_000}
    assert results[1] == results[2] == {"added": 100, "recorded": 300}
    assert reads >= 3
    raw = connect_raw(path)
    # Every row is there: 200 + 2 x 100 customers; 50,000 + 2 x 300 interactions.
    assert raw.execute("SELECT count(*) FROM customers").fetchone()[0] == 200 + 200
    assert raw.execute("SELECT count(*) FROM interactions").fetchone()[0] == 50_000 + 600
    assert raw.execute("SELECT count(*) FROM interactions WHERE channel = 'bulk'").fetchone()[0] == 50_000
    # Each small round's three rows landed together, with its own customer.
    assert raw.execute(
        "SELECT count(*) FROM customers c WHERE c.name LIKE 'small %' AND c.stage = 'growing' AND "
        "(SELECT count(*) FROM interactions i WHERE i.customer_id = c.id) = 2"
    ).fetchone()[0] == 200
    # The ids are dense: no write took an id another one also used.
    assert raw.execute("SELECT max(id) - min(id) + 1 FROM interactions").fetchone()[0] == 50_600
    # Audit: one customer.add and one customer.update per small round, one add per initial customer.
    assert raw.execute("SELECT count(*) FROM audit_log WHERE action = 'customer.add'").fetchone()[0] == 400
    assert raw.execute("SELECT count(*) FROM audit_log WHERE action = 'customer.update'").fetchone()[0] == 200
    assert summary_mismatches(raw) == []
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Net spend adds up: the bulk's purchases and refunds plus 200 x 10.00 minus 200 x 1.00 (in cents).
    bulk_net = sum(
        (1 if r["kind"] == "purchase" else -1) * int(r["amount"].replace(".", ""))
        for r in bulk_rows(50_000, customers) if r["amount"]
    )
    assert raw.execute("SELECT sum(net_spend) FROM customer_summary").fetchone()[0] == bulk_net + 200 * 1000 - 200 * 100
    raw.close()
    print(f"concurrent run: {elapsed:.1f}s, reader made {reads} rounds")
