"""Complaints: the SLA escalation sweep, figures and set-based opening over N complaints.

Builds its own CRM (complaints plugin only) in the scratch folder with one complaint per demo
customer of the size (1m → 1,000,000 complaints): 95 % answered (a tenth rejected) and closed
over the past year, a third of those with a follow-up ``survey`` interaction, 5 % open and
received in the last ten days, 20 handlers under 4 supervisors. Measures the escalation sweep
(first run, then the same ``now`` again, which must find nothing new) against the bare
hand-written SQL scan for breached tickets, the figures (now, at a past date and per category),
the SLA board, and opening tickets from recorded ``complaint`` interactions against recording the
same number of calls.
Variants: clocks round the clock, and on a business calendar (Mon–Fri 09:00–17:00 Berlin).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from ..measure import Context, measurement, ratio, timed

NOW = "2025-06-30T12:00:00Z"
PAST = "2025-04-01T00:00:00Z"  # some tickets received before it were answered after it
CALENDAR = {"timezone": "Europe/Berlin", "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}}


def variants(size: str) -> list[dict]:
    return [{"calendar": "24/7"}, {"calendar": "business"}]


def _build(path: Path, complaints: int, business: bool):
    import crmkit
    from crmkit.testing import FixedClock

    customers = max(1000, complaints // 10)
    crm = crmkit.open(path, plugins=["complaints"], clock=FixedClock(NOW))
    for s in range(4):
        crm.complaints.add_handler(f"sup{s}", role="supervisor")
    for h in range(20):
        crm.complaints.add_handler(f"h{h:02d}", supervisor=f"sup{h % 4}")
    if business:
        crm.complaints.set_calendar(CALENDAR)
    db = crm.db
    with crm.transaction():
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :c) "
            "INSERT INTO customers(id, name, stage, created_at, updated_at, tags, attributes) "
            "SELECT i, 'customer ' || i, 'new', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '[]', '{}' FROM n",
            {"c": customers},
        )
        # Closed tickets over the past year, open ones in the last ten days; targets by severity.
        db.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n),
            base AS (
                SELECT i, 1 + (i * 7919) % :customers AS customer_id,
                    CASE i % 10 WHEN 0 THEN 'critical' WHEN 1 THEN 'high' WHEN 2 THEN 'high'
                         WHEN 3 THEN 'low' WHEN 4 THEN 'low' ELSE 'normal' END AS severity,
                    (i % 20 = 0) AS is_open,
                    strftime('%Y-%m-%dT%H:%M:%SZ', :now, CASE WHEN i % 20 = 0
                        THEN '-' || ((i * 104729) % 864000) || ' seconds'
                        ELSE '-' || (1300000 + (i * 104729) % 30000000) || ' seconds' END) AS received_at
                FROM n
            )
            INSERT INTO complaints_complaints(id, customer_id, category, product, severity, received_at, owner,
                status, status_at, ack_target_s, resolve_target_s, reopen_count, escalation_level, created_at, updated_at)
            SELECT i, customer_id, 'c' || (i % 6), 'p' || (i % 40), severity, received_at, 'h' || printf('%02d', i % 20),
                CASE WHEN is_open THEN (CASE i % 3 WHEN 0 THEN 'received' WHEN 1 THEN 'acknowledged' ELSE 'assessing' END)
                     ELSE 'closed' END,
                received_at,
                CASE severity WHEN 'critical' THEN 7200 WHEN 'high' THEN 28800 ELSE 86400 END,
                CASE severity WHEN 'critical' THEN 86400 WHEN 'high' THEN 259200 WHEN 'low' THEN 864000 ELSE 432000 END,
                0, 0, :now, :now
            FROM base""",
            {"n": complaints, "customers": customers, "now": NOW},
        )
        calendar_id = crm.complaints.ensure_calendar("2024-01-01T00:00:00Z", NOW)  # None round the clock
        from crmkit_complaints import queries

        queries.set_deadlines(db, 1, complaints, calendar_id=calendar_id)
        db.execute(
            """UPDATE complaints_complaints SET acknowledged_at = CASE WHEN status != 'received' THEN
                   min(strftime('%Y-%m-%dT%H:%M:%SZ', received_at, '+' || (id % 30) || ' hours'), :now) END,
               first_answered_at = CASE WHEN status = 'closed' THEN
                   strftime('%Y-%m-%dT%H:%M:%SZ', received_at, '+' || (40 + id % 200) || ' hours') END,
               first_resolve_due_at = CASE WHEN status = 'closed' THEN resolve_due_at END,
               first_outcome = CASE WHEN status != 'closed' THEN NULL WHEN id % 10 = 7 THEN 'rejected' ELSE 'resolved' END,
               decision = CASE WHEN status != 'closed' THEN NULL WHEN id % 10 = 7 THEN 'not_valid' ELSE 'valid' END,
               satisfaction = CASE WHEN status = 'closed' AND id % 3 = 0 THEN 1 + id % 5 END,
               closed_at = CASE WHEN status = 'closed' THEN
                   strftime('%Y-%m-%dT%H:%M:%SZ', received_at, '+' || (100 + id % 200) || ' hours') END""",
            {"now": NOW},
        )
        db.execute(
            "UPDATE complaints_complaints SET answered_at = first_answered_at, followed_up_at = closed_at, "
            "status_at = COALESCE(closed_at, acknowledged_at, received_at)"
        )
        # A satisfaction survey for a third of the closed tickets, a day after the answer.
        db.execute(
            """INSERT INTO interactions(customer_id, kind, occurred_at, data, recorded_at)
            SELECT customer_id, 'survey', strftime('%Y-%m-%dT%H:%M:%SZ', first_answered_at, '+24 hours'),
                json_object('score', satisfaction, 'topic', 'complaint', 'complaint_id', id), :now
            FROM complaints_complaints WHERE satisfaction IS NOT NULL ORDER BY id""",
            {"now": NOW},
        )
        db.execute(
            "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to) "
            "SELECT id, received_at, 'received', NULL, 'received' FROM complaints_complaints"
        )
        db.execute(
            "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to) "
            "SELECT id, acknowledged_at, 'acknowledged', 'received', 'acknowledged' FROM complaints_complaints "
            "WHERE acknowledged_at IS NOT NULL AND status != 'closed'"
        )
        db.execute(
            "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to) "
            "SELECT id, acknowledged_at, 'assessing', 'acknowledged', 'assessing' FROM complaints_complaints "
            "WHERE status = 'assessing'"
        )
        db.execute(
            "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to) "
            "SELECT id, first_answered_at, first_outcome, 'assessing', first_outcome FROM complaints_complaints "
            "WHERE first_answered_at IS NOT NULL"
        )
        db.execute(
            "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to) "
            "SELECT id, closed_at, 'closed', 'followed_up', 'closed' FROM complaints_complaints WHERE closed_at IS NOT NULL"
        )
    db.execute("ANALYZE")
    return crm, customers


def run(ctx: Context) -> dict:
    complaints = ctx.customers
    business = ctx.variant.get("calendar") == "business"
    out = {"measurements": [], "ratios": [], "notes": []}
    setup, (crm, customers) = timed(lambda: _build(ctx.work / "complaints.db", complaints, business))
    out["measurements"].append(measurement("set-up: write the complaints (raw SQL)", setup, rows=complaints))
    raw = sqlite3.connect(ctx.work / "complaints.db")
    breached_sql = (
        "SELECT count(*) FROM complaints_complaints WHERE status IN ('received','acknowledged','assessing','reopened') "
        "AND paused_at IS NULL AND resolve_due_at < ?"
    )
    try:
        t_first, first = timed(lambda: crm.complaints.run_due(NOW))
        t_again, again = timed(lambda: crm.complaints.run_due(NOW), ctx.repeat)
        t_scan, breached = timed(lambda: raw.execute(breached_sql, [NOW]).fetchone()[0], ctx.repeat)
        t_stats, stats = timed(lambda: crm.complaints.stats(NOW), max(1, ctx.repeat // 2))
        t_past, past = timed(lambda: crm.complaints.stats(PAST), max(1, ctx.repeat // 2))
        t_by, by_category = timed(lambda: crm.complaints.stats(NOW, by="category"), max(1, ctx.repeat // 2))
        t_board, _ = timed(lambda: crm.complaints.sla(NOW, limit=100), ctx.repeat)
        opened = min(complaints, 100_000)
        rows_c = [{"customer_id": 1 + i % customers, "kind": "complaint", "occurred_at": NOW,
                   "data": {"severity": "normal", "category": "billing"}} for i in range(opened)]
        rows_call = [{"customer_id": 1 + i % customers, "kind": "call", "occurred_at": NOW} for i in range(opened)]
        t_open, _ = timed(lambda: crm.interactions.record_many(rows_c))
        t_calls, _ = timed(lambda: crm.interactions.record_many(rows_call))
    finally:
        raw.close()
        crm.close()
    tasks = first["tasks_created"]
    out["measurements"] += [
        measurement("escalation sweep, first run (levels recorded, owners moved, tasks)", t_first, rows=complaints,
                    result=f"{sum(first['escalated'].values())} escalations, {tasks} tasks"),
        measurement("escalation sweep, same now again (nothing new)", t_again, rows=complaints,
                    result=str(again["escalated"] or "nothing")),
        measurement("hand-written SQL: count open breached tickets", t_scan, rows=complaints, result=breached),
        measurement("figures as of now (stats)", t_stats, rows=complaints, result=f"{stats[0]['received']} received"),
        measurement(f"figures as of {PAST[:10]} (stats)", t_past, rows=complaints, result=f"{past[0]['received']} received"),
        measurement("figures as of now by category", t_by, rows=complaints, result=f"{len(by_category)} groups"),
        measurement("SLA board, 100 most urgent", t_board),
        measurement(f"record_many {opened:,} complaint interactions (tickets opened)", t_open, rows=opened),
        measurement(f"record_many {opened:,} call interactions", t_calls, rows=opened),
    ]
    out["ratios"] += [
        ratio("repeat sweep time ÷ bare breached-ticket scan", t_again / t_scan if t_scan else None),
        ratio("opening tickets: complaint rows/s ÷ call rows/s", t_calls / t_open if t_open else None),
    ]
    out["notes"].append("The sweep runs one INSERT ... SELECT per escalation level; a repeat for the same now finds every level recorded.")
    return out


if __name__ == "__main__":  # python -m benchmarks.workloads.complaints_sla [complaints] [24/7|business]
    import json

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    variant = {"calendar": sys.argv[2] if len(sys.argv) > 2 else "24/7"}
    with tempfile.TemporaryDirectory() as work:
        result = run(Context(size="adhoc", customers=count, data=Path(work), work=Path(work), variant=variant, repeat=3))
    print(json.dumps(result, indent=1))
