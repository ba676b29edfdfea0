"""Leads: allocating the whole pool across 200 reps, and a recycle sweep, against per-lead loops and bare SQL.

The workload builds its own files in the scratch folder (the demo file has no lead traffic of
this size): at size 1m, 100,000 pool leads and 200 reps for allocation, and 1,000,000 assigned
leads for the recycle sweep (a tenth of them overdue, a quarter within the two-day reminder window).
Smaller sizes scale both down by the same factor. Allocation baselines: a Python loop that picks
the least loaded rep with a heap and writes each lead with its own statements (what one writes
without set-based SQL). Sweep baseline: the bare UPDATEs a hand-written recycle would run,
without audit entries or reminder tasks.
"""

from __future__ import annotations

import heapq
import shutil
import sqlite3
import time
from pathlib import Path

from ..measure import Context, measurement, ratio

NOW = "2025-06-30T12:00:00Z"
REPS = 200


def _sizes(customers: int) -> tuple[int, int]:
    """(pool leads to allocate, leads in the recycle sweep) for a harness size."""
    return max(200, customers // 10), max(2_000, customers)


def _open(path: Path):
    import crmkit
    from crmkit.testing import FixedClock

    return crmkit.open(path, plugins=["leads"], clock=FixedClock(NOW), actor="bench")


def build(path: Path, leads: int, *, assigned: bool) -> None:
    """A CRM file with REPS reps and ``leads`` leads, in the pool or assigned round the reps."""
    crm = _open(path)
    db = crm.db
    capacity = max(10, (leads * 2) // REPS) if not assigned else leads
    with crm.transaction():
        db.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :reps)
            INSERT INTO leads_reps(id, name, team, industries, products, languages, experience, capacity, claim_limit, active, created_at, updated_at)
            SELECT printf('rep%03d', i), 'Rep ' || i, 'team' || (i % 10),
                   json_array(CASE i % 5 WHEN 0 THEN 'retail' WHEN 1 THEN 'software' WHEN 2 THEN 'food' WHEN 3 THEN 'health' ELSE 'manufacturing' END),
                   '[]', '["en"]', 1 + i % 5, :capacity, NULL, 1, :now, :now FROM n""",
            {"reps": REPS, "capacity": capacity, "now": NOW},
        )
        db.execute(
            """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :leads)
            INSERT INTO customers(id, name, industry, size, source, stage, tags, attributes, created_at, updated_at)
            SELECT i, 'Lead ' || i,
                   CASE i % 5 WHEN 0 THEN 'retail' WHEN 1 THEN 'software' WHEN 2 THEN 'food' WHEN 3 THEN 'health' ELSE 'manufacturing' END,
                   CASE i % 3 WHEN 0 THEN 'small' WHEN 1 THEN 'medium' ELSE 'large' END,
                   CASE i % 4 WHEN 0 THEN 'referral' WHEN 1 THEN 'web search' WHEN 2 THEN 'trade show' ELSE 'purchased list' END,
                   'prospect', '[]', '{}', strftime('%Y-%m-%dT%H:%M:%SZ', :now, printf('-%d minutes', i % 20000)), :now
            FROM n""",
            {"leads": leads, "now": NOW},
        )
        if not assigned:
            db.execute(
                "INSERT INTO leads_leads(customer_id, status, stage, priority, received_at) "
                "SELECT id, 'pool', 'new', id % 3, created_at FROM customers"
            )
        else:
            # assigned 0 to 7.78 days ago without follow-up: with the 7-day period a tenth are
            # overdue and a quarter fall in the 2-day reminder window.
            db.execute(
                """INSERT INTO leads_leads(customer_id, status, stage, owner, assigned_at, recycle_at, received_at)
                SELECT id, 'assigned', 'new', printf('rep%03d', 1 + id % :reps),
                       strftime('%Y-%m-%dT%H:%M:%SZ', :now, printf('-%d minutes', (id * 7919) % 11200)),
                       strftime('%Y-%m-%dT%H:%M:%SZ', :now, printf('-%d minutes', (id * 7919) % 11200), '+7 days'),
                       created_at FROM customers""",
                {"reps": REPS, "now": NOW},
            )
            db.execute(
                "INSERT INTO leads_assignments(lead_id, rep_id, how, reason, started_at) "
                "SELECT customer_id, owner, 'allocate', 'bench', assigned_at FROM leads_leads"
            )
    crm.close()


def _copy(source: Path, target: Path) -> Path:
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def loop_allocation(path: Path) -> int:
    """The baseline: least loaded with a heap in Python, one UPDATE and one INSERT per lead."""
    conn = sqlite3.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    heap = [(0 / cap, 0, rep, cap) for rep, cap in conn.execute("SELECT id, capacity FROM leads_reps WHERE active = 1")]
    heapq.heapify(heap)
    leads = conn.execute(
        "SELECT customer_id FROM leads_leads WHERE status = 'pool' ORDER BY priority DESC, received_at, customer_id"
    ).fetchall()
    placed = 0
    for (lead,) in leads:
        if not heap:
            break
        _load, count, rep, cap = heapq.heappop(heap)
        conn.execute("UPDATE leads_leads SET status = 'assigned', owner = ?, assigned_at = ? WHERE customer_id = ?", [rep, NOW, lead])
        conn.execute("INSERT INTO leads_assignments(lead_id, rep_id, how, reason, started_at) VALUES (?, ?, 'allocate', 'loop', ?)", [lead, rep, NOW])
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, entity, entity_id, after, source) VALUES (?, 'bench', 'lead.allocate', 'lead', ?, ?, 'leads')",
            [NOW, str(lead), rep],
        )
        placed += 1
        if count + 1 < cap:
            heapq.heappush(heap, ((count + 1) / cap, count + 1, rep, cap))
    conn.execute("COMMIT")
    conn.close()
    return placed


def bare_sweep(path: Path) -> int:
    """The baseline: the recycle UPDATEs alone, no audit entries, no reminder tasks."""
    conn = sqlite3.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "CREATE TEMP TABLE due AS SELECT customer_id FROM leads_leads WHERE status IN ('assigned', 'following_up') "
        "AND recycle_at <= ? AND protected = 0", [NOW],
    )
    conn.execute(
        "UPDATE leads_assignments SET ended_at = ?, end_how = 'recycle' WHERE ended_at IS NULL AND lead_id IN (SELECT customer_id FROM due)", [NOW],
    )
    count = conn.execute(
        "UPDATE leads_leads SET status = 'pool', previous_owner = owner, owner = NULL, recycles = recycles + 1 "
        "WHERE customer_id IN (SELECT customer_id FROM due)"
    ).rowcount
    conn.execute("COMMIT")
    conn.close()
    return count


def _timed_once(func):
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def run(ctx: Context) -> dict:
    pool_leads, sweep_leads = _sizes(ctx.customers)
    out = {"measurements": [], "ratios": [], "notes": []}
    work = Path(ctx.work)

    pool_file = work / "pool.db"
    build_s, _ = _timed_once(lambda: build(pool_file, pool_leads, assigned=False))
    results = {}
    for strategy in ("least_loaded", "skill_match > least_loaded", "round_robin"):
        target = _copy(pool_file, work / "pool-run.db")
        crm = _open(target)
        dry_s, dry = _timed_once(lambda: crm.leads.allocate("pool", strategy=strategy, dry_run=True))
        real_s, real = _timed_once(lambda: crm.leads.allocate("pool", strategy=strategy))
        fairness = crm.leads.fairness()
        crm.close()
        results[strategy] = real_s
        out["measurements"] += [
            measurement(f"plan (dry run), {strategy}", dry_s, rows=dry.count, result=f"{dry.count:,} placed"),
            measurement(f"allocate and write, {strategy}", real_s, rows=real.count,
                        result=f"{real.count:,} placed, Gini {fairness['gini']}"),
        ]
    target = _copy(pool_file, work / "pool-loop.db")
    loop_s, loop_count = _timed_once(lambda: loop_allocation(target))
    out["measurements"].append(measurement("baseline: Python heap loop, 3 statements per lead", loop_s, rows=loop_count, result=f"{loop_count:,} placed"))
    out["ratios"].append(ratio(
        "per-lead loop ÷ crmkit allocate (least_loaded)", loop_s / results["least_loaded"],
        note="the loop writes no recycle times and no reasons; crmkit writes both",
    ))

    sweep_file = work / "sweep.db"
    sweep_build_s, _ = _timed_once(lambda: build(sweep_file, sweep_leads, assigned=True))
    target = _copy(sweep_file, work / "sweep-run.db")
    crm = _open(target)
    sweep_s, summary = _timed_once(lambda: crm.leads.recycle())
    again_s, again = _timed_once(lambda: crm.leads.recycle())
    crm.close()
    target = _copy(sweep_file, work / "sweep-bare.db")
    bare_s, bare_count = _timed_once(lambda: bare_sweep(target))
    if bare_count != summary["recycled"]:
        raise AssertionError(f"crmkit recycled {summary['recycled']} leads, the bare SQL {bare_count}")
    out["measurements"] += [
        measurement(f"recycle sweep over {sweep_leads:,} assigned leads", sweep_s, rows=sweep_leads,
                    result=f"{summary['recycled']:,} recycled, {summary['reminders']:,} reminder tasks"),
        measurement("second sweep, same now (idempotent)", again_s, result=f"{again['recycled']} recycled, {again['reminders']} reminders"),
        measurement("baseline: bare UPDATEs (no audit, no reminders)", bare_s, result=f"{bare_count:,} recycled"),
    ]
    out["ratios"].append(ratio("crmkit sweep ÷ bare UPDATEs", sweep_s / bare_s, note="crmkit also writes one audit entry per recycled lead and the reminder tasks"))
    out["notes"] += [
        f"Allocation: {pool_leads:,} pool leads, {REPS} reps (capacity {max(10, (pool_leads * 2) // REPS)} each); files built in {build_s:.1f} s.",
        f"Sweep: {sweep_leads:,} assigned leads built in {sweep_build_s:.1f} s; each measurement runs once on a fresh copy (the writes are not repeatable).",
        "crmkit's allocate writes each lead, its assignment spell, its recycle time and one audit entry per lead.",
    ]
    return out
