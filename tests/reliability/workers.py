"""Child processes of the concurrency and crash tests: ``python workers.py MODE PATH ...``.

Each mode opens the CRM file itself, as a separate program would, and prints one JSON line with
what it did. Errors go to stderr with a non-zero exit status.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import crmkit
from crmkit import hookimpl


def bulk_rows(n: int, customers: int, *, marker: str | None = None, after: int = 0, pause_every: int = 0, tag: str = "bulk"):
    """``n`` interactions spread over customers 1..customers; optionally drop a marker file after
    ``after`` rows (the transaction is open by then) and pause now and then to widen the window."""
    kinds = ("purchase", "call", "refund", "purchase", "email")
    for i in range(n):
        if marker and i == after:
            Path(marker).write_text("mid-transaction")
        if pause_every and i and i % pause_every == 0:
            time.sleep(0.002)
        kind = kinds[i % len(kinds)]
        amount = {"purchase": f"{1 + i % 50}.{i % 100:02d}", "refund": "0.50"}.get(kind)
        yield {
            "customer_id": 1 + i % customers, "kind": kind, "amount": amount,
            "occurred_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", "channel": tag,
        }


def mode_bulk(path: str, n: str, customers: str) -> dict:
    with crmkit.open(path, plugins=[]) as crm:
        result = crm.interactions.record_many(bulk_rows(int(n), int(customers)))
    return {"recorded": result.count}


def mode_small(path: str, rounds: str) -> dict:
    """Many small transactions: a new customer, then three interactions in one record_many."""
    added = recorded = 0
    with crmkit.open(path, plugins=[]) as crm:
        for i in range(int(rounds)):
            customer = crm.customers.add(name=f"small {os.getpid()} {i}", region="EU")
            added += 1
            crm.interactions.record_many([
                {"customer_id": customer.id, "kind": "purchase", "amount": "10.00", "occurred_at": "2024-06-01", "channel": "small"},
                {"customer_id": customer.id, "kind": "call", "occurred_at": "2024-06-02", "channel": "small"},
                {"customer_id": 1, "kind": "refund", "amount": "1.00", "occurred_at": "2024-06-03", "channel": "small"},
            ])
            recorded += 3
            crm.customers.update(customer.id, stage="growing")
    return {"added": added, "recorded": recorded}


def mode_reader(path: str, stop_file: str) -> dict:
    """Reads while others write, until ``stop_file`` exists: counts, segments, pages."""
    reads = 0
    with crmkit.open(path, plugins=[]) as crm:
        while not Path(stop_file).exists() or reads < 3:
            crm.customers.count()
            crm.interactions.count()
            crm.segments.evaluate("ltv > 100 and region = 'EU'").count()
            crm.customers.list(limit=20, offset=reads % 50)
            reads += 1
            time.sleep(0.01)  # a person or a notebook, not a busy loop
    return {"reads": reads}


def mode_crash_bulk(path: str, n: str, customers: str, marker: str) -> dict:
    """A large record_many that drops ``marker`` mid-transaction and then keeps going slowly."""
    with crmkit.open(path, plugins=[]) as crm:
        result = crm.interactions.record_many(
            bulk_rows(int(n), int(customers), marker=marker, after=int(n) // 3, pause_every=50, tag="crash"),
            batch_size=1000,
        )
    return {"recorded": result.count}


def mode_small_forever(path: str, marker: str) -> dict:
    """Small three-row writes in a loop until killed; the marker appears after the first few."""
    with crmkit.open(path, plugins=[]) as crm:
        i = 0
        while True:
            crm.interactions.record_many([
                {"customer_id": 1 + i % 20, "kind": "purchase", "amount": "3.00", "occurred_at": "2024-03-01", "channel": f"group {i}"},
                {"customer_id": 1 + i % 20, "kind": "email", "occurred_at": "2024-03-02", "channel": f"group {i}"},
                {"customer_id": 1 + i % 20, "kind": "refund", "amount": "1.00", "occurred_at": "2024-03-03", "channel": f"group {i}"},
            ])
            i += 1
            if i == 20:
                Path(marker).write_text("writing")


class FollowUps:
    """A test plugin whose due run writes a follow-up task per customer, in batches."""

    name = "followups"

    def __init__(self, marker: str | None = None, pause: float = 0.0):
        self.marker = marker
        self.pause = pause

    @hookimpl
    def crmkit_due(self, crm, now):
        ids = [r[0] for r in crm.db.execute("SELECT id FROM customers ORDER BY id")]
        created = 0
        for start in range(0, len(ids), 50):
            created += crm.tasks.create_many(
                {"kind": "follow-up", "customer_id": cid, "key": f"followup:{cid}:{now:%Y-%m-%d}", "source": "followups",
                 "due_at": now}
                for cid in ids[start:start + 50]
            )
            if self.marker and start == 0:
                Path(self.marker).write_text("mid-due")
            time.sleep(self.pause)
        return {"tasks_created": created}


def mode_crash_due(path: str, marker: str) -> dict:
    with crmkit.open(path, plugins=[FollowUps(marker, pause=0.2)]) as crm:
        report = crm.run_due("2025-02-01T08:00:00Z")
    return {"results": report.results}


def mode_claim(path: str, rep: str, leads: str) -> dict:
    """Try to claim every lead 1..leads for ``rep``; count what this process got."""
    from crmkit import ConflictError

    won = []
    with crmkit.open(path, plugins=["leads"]) as crm:
        for lead_id in range(1, int(leads) + 1):
            try:
                crm.leads.claim(lead_id, rep)
                won.append(lead_id)
            except ConflictError:
                pass
    return {"won": won}


def mode_redeem(path: str, customer_id: str, times: str, tag: str) -> dict:
    """Redeem 7 points ``times`` times, each under its own key; count the redemptions made."""
    from crmkit import ConflictError

    made = 0
    with crmkit.open(path, plugins=["loyalty"]) as crm:
        for i in range(int(times)):
            try:
                crm.loyalty.points.redeem(int(customer_id), 7, key=f"{tag}-{i}")
                made += 1
            except ConflictError:
                pass
            balance = crm.loyalty.points.balance(int(customer_id))
            if balance < 0:
                raise SystemExit(f"negative balance seen: {balance}")
    return {"redeemed": made}


MODES = {name[5:]: fn for name, fn in globals().items() if name.startswith("mode_")}

if __name__ == "__main__":
    print(json.dumps(MODES[sys.argv[1]](*sys.argv[2:])), flush=True)
