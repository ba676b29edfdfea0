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
    assert raw.integrity_check() == "ok"
    # Net spend adds up: the bulk's purchases and refunds plus 200 x 10.00 minus 200 x 1.00 (in cents).
    bulk_net = sum(
        (1 if r["kind"] == "purchase" else -1) * int(r["amount"].replace(".", ""))
        for r in bulk_rows(50_000, customers) if r["amount"]
    )
    assert raw.execute("SELECT sum(net_spend) FROM customer_summary").fetchone()[0] == bulk_net + 200 * 1000 - 200 * 100
    raw.close()
    print(f"concurrent run: {elapsed:.1f}s, reader made {reads} rounds")


def _plugin_available(name: str) -> bool:
    from crmkit.plugins import installed_entry_points

    return name in installed_entry_points()


@pytest.mark.slow
@pytest.mark.skipif(not _plugin_available("leads"), reason="leads plugin not installed")
def test_lead_claims_stay_exclusive_across_processes(tmp_path):
    """Two reps in two processes race for the same 60 pool leads: each lead gets exactly one
    owner, and each process's successes are exactly the leads it owns."""
    path = tmp_path / "leads.db"
    with crmkit.open(path, plugins=["leads"]) as crm:
        for rep in ("rep-a", "rep-b"):
            crm.leads.add_rep(rep, rep.upper(), capacity=1000, claim_limit=1000)
        crm.leads.add_many({"name": f"Lead {i}"} for i in range(60))
    racers = [start("claim", path, rep, 60) for rep in ("rep-a", "rep-b")]
    won = [set(finish(p)["won"]) for p in racers]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(range(1, 61))
    with crmkit.open(path, plugins=["leads"]) as crm:
        owners = {lead.id: lead.owner for lead in crm.leads.leads(limit=100)}
    assert owners == {i: ("rep-a" if i in won[0] else "rep-b") for i in range(1, 61)}
    raw = connect_raw(path)
    assert raw.execute("SELECT count(*) FROM audit_log WHERE source = 'leads' AND entity = 'lead' AND entity_id IS NOT NULL").fetchone()[0] >= 60
    raw.close()


@pytest.mark.slow
@pytest.mark.skipif(not _plugin_available("loyalty"), reason="loyalty plugin not installed")
def test_points_never_go_negative_under_concurrent_redemptions(tmp_path):
    """100 points, two processes each redeeming 7 points ten times: exactly 14 redemptions
    succeed (14 x 7 = 98 <= 100 < 15 x 7), and the balance ends at 100 - 98 = 2."""
    path = tmp_path / "points.db"
    with crmkit.open(path, plugins=["loyalty"]) as crm:
        customer = crm.customers.add(name="Saver")
        crm.loyalty.points.award(customer.id, 100, key="start", reason="welcome")
        assert crm.loyalty.points.balance(customer.id) == 100
    racers = [start("redeem", path, customer.id, 10, tag) for tag in ("a", "b")]
    made = [finish(p)["redeemed"] for p in racers]
    assert sum(made) == 14
    with crmkit.open(path, plugins=["loyalty"]) as crm:
        assert crm.loyalty.points.balance(customer.id) == 2
