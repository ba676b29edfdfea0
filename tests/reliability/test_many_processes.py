"""Eight OS processes at once on one CRM: what must not race holds, counted afterwards.

Each test forks eight OS processes (after the imports, so the start-up is paid once), lets each
open the CRM itself (its own connection), releases them together at a barrier and then counts,
in the database and in what each process reports, against an expectation worked out from the
set-up alone: the daily claim limit, capacity and
cooldown; recycling and allocation sweeps; points redemption (never negative, one key applied
once) and expiry; complaint steps; ``run_due`` for the same ``now``. On PostgreSQL the path
names a schema of the test server and the processes meet there instead of in one file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import crmkit

from .workers import run_forked

PROCESSES = 8
SETUP_TIME = "2025-01-01T09:00:00Z"


def setup_clock():
    return SETUP_TIME


def race(tmp_path: Path, mode: str, *args) -> list[dict]:
    """Run ``mode`` of ``workers.py`` in PROCESSES processes at once (``{i}`` in an argument
    becomes each one's number) and return what each reports."""
    reports = run_forked(PROCESSES, mode, list(args), tmp_path / "go")
    assert len(reports) == PROCESSES
    return reports


def rows(path: Path, plugins: list[str], sql: str, params=()) -> list[tuple]:
    with crmkit.open(path, plugins=plugins) as crm:
        return [tuple(r) for r in crm.db.execute(sql, params).fetchall()]


def ids_in(numbers) -> str:
    return ",".join(str(n) for n in numbers)


@pytest.mark.slow
def test_claims_keep_the_daily_limit_capacity_and_cooldown(tmp_path):
    """rep-a (claim limit 5) and rep-c (capacity 4, one lead held) are tried on 20 pool leads by
    8 processes each: exactly 5 and 3 claims succeed, no lead gets two owners, each success is
    in the audit log once, and rep-a never re-takes the 2 leads it released yesterday."""
    path = tmp_path / "claims.db"
    now = "2025-03-10T12:00:00Z"
    with crmkit.open(path, plugins=["leads"], clock=setup_clock) as crm:
        crm.leads.add_rep("rep-a", "Rep A", capacity=100, claim_limit=5)
        crm.leads.add_rep("rep-c", "Rep C", capacity=4)
        ids = crm.leads.add_many({"name": f"Lead {i}"} for i in range(23))
        pool, cooling, held = ids[:20], ids[20:22], ids[22]
        for lead in cooling:
            crm.leads.claim(lead, "rep-a", now="2025-03-09T10:00:00Z")
            crm.leads.release(lead, "rep-a", now="2025-03-09T11:00:00Z")
        crm.leads.claim(held, "rep-c", now="2025-03-09T10:00:00Z")

    reports = race(tmp_path, "claim_race", path, "rep-a,rep-c", ids_in(pool), ids_in(cooling), now, "{i}")

    won = {rep: [lead for r in reports for lead in r["won"][rep]] for rep in ("rep-a", "rep-c")}
    assert len(won["rep-a"]) == 5 and len(won["rep-c"]) == 3
    assert set(won["rep-a"]).isdisjoint(won["rep-c"]) and len(set(won["rep-a"] + won["rep-c"])) == 8
    assert not set(won["rep-a"]) & set(cooling)
    refused = Counter()
    for r in reports:
        refused.update(r["refused"])
    assert refused["cooldown"] == PROCESSES * len(cooling)
    assert refused["daily claim limit"] > 0 and refused["capacity"] > 0

    owners = dict(rows(path, ["leads"], "SELECT customer_id, owner FROM leads_leads WHERE status <> 'pool'"))
    assert owners == {**{lead: "rep-a" for lead in won["rep-a"]}, **{lead: "rep-c" for lead in won["rep-c"]}, held: "rep-c"}
    open_spells = rows(path, ["leads"], "SELECT lead_id, rep_id FROM leads_assignments WHERE ended_at IS NULL ORDER BY lead_id")
    assert open_spells == sorted(owners.items())
    claims = rows(path, ["leads"],
                  "SELECT entity_id, count(*) FROM audit_log WHERE action = 'lead.claim' GROUP BY entity_id ORDER BY entity_id")
    expected = Counter(str(lead) for lead in won["rep-a"] + won["rep-c"] + list(cooling) + [held])
    assert dict(claims) == dict(expected)


@pytest.mark.slow
def test_recycling_and_allocation_sweeps_run_once(tmp_path):
    """6 neglected leads of a rep who has since left, 8 fresh pool leads, and three reps with
    11 free places: 8 processes each sweep the pool as of the same moment. Each neglected lead
    is recycled once, and exactly 11 leads are allocated, each once, no rep above capacity."""
    path = tmp_path / "sweeps.db"
    now = "2025-03-10T12:00:00Z"
    with crmkit.open(path, plugins=["leads"], clock=setup_clock) as crm:
        crm.leads.add_rep("gone", "Gone", capacity=50, claim_limit=50)
        for rep in ("r1", "r2", "r3"):
            crm.leads.add_rep(rep, rep.upper(), capacity=4, claim_limit=50)
        ids = crm.leads.add_many({"name": f"Lead {i}"} for i in range(15))
        neglected, held = ids[:6], ids[14]
        for lead in neglected:
            crm.leads.claim(lead, "gone", now="2025-02-20T09:00:00Z")
        crm.leads.claim(held, "r1", now="2025-03-09T09:00:00Z")
        crm.leads.update_rep("gone", active=False)

    reports = race(tmp_path, "sweep", path, now)

    assert sum(r["recycled"] for r in reports) == len(neglected)
    moves = [tuple(move) for r in reports for move in r["allocated"]]
    assert len(moves) == 3 * 4 - 1
    assert len({lead for lead, _ in moves}) == len(moves)
    assert Counter(rep for _, rep in moves) == {"r1": 3, "r2": 4, "r3": 4}

    recycled = rows(path, ["leads"], "SELECT customer_id, recycles FROM leads_leads WHERE recycles > 0 ORDER BY customer_id")
    assert recycled == [(lead, 1) for lead in neglected]
    audit = rows(path, ["leads"], "SELECT entity_id, count(*) FROM audit_log WHERE action = 'lead.recycle' GROUP BY entity_id")
    assert sorted(audit) == sorted((str(lead), 1) for lead in neglected)
    spells = rows(path, ["leads"], "SELECT lead_id, rep_id FROM leads_assignments WHERE how = 'allocate' ORDER BY lead_id")
    assert spells == sorted(moves)
    load = rows(path, ["leads"], "SELECT owner, count(*) FROM leads_leads WHERE owner IS NOT NULL GROUP BY owner ORDER BY owner")
    assert load == [("r1", 4), ("r2", 4), ("r3", 4)]
    [(left,)] = rows(path, ["leads"], "SELECT count(*) FROM leads_leads WHERE status = 'pool'")
    assert left == 6 + 8 - 11
    [(double,)] = rows(path, ["leads"], "SELECT count(*) FROM (SELECT lead_id FROM leads_assignments "
                                        "WHERE ended_at IS NULL GROUP BY lead_id HAVING count(*) > 1) d")
    assert double == 0


@pytest.mark.slow
def test_points_redemption_and_expiry_across_processes(tmp_path):
    """8 processes at once expire the old batches, redeem 10 points of one customer under one
    shared key, and redeem 7 of another's 100 points three times each: 5 batches expire once,
    the shared key is applied once, and exactly 14 redemptions succeed (balance 100 - 98 = 2)."""
    path = tmp_path / "points.db"
    expire_at = "2024-06-01T00:00:00Z"
    with crmkit.open(path, plugins=["loyalty"]) as crm:
        points = crm.loyalty.points
        points.set_policy(lock_days=0, expiry_days=30)
        saver, sharer, *old = [crm.customers.add(name=f"Customer {i}").id for i in range(7)]
        points.award(saver, 100, key="saver", reason="welcome")
        points.award(sharer, 50, key="sharer", reason="welcome")
        for i, customer in enumerate(old):
            points.award(customer, 100, key=f"old-{i}", reason="welcome", at="2024-01-01T00:00:00Z")
        points.redeem(old[0], 30, key="early", at="2024-01-10T00:00:00Z")
        # Expires 2024-06-19: after expire_at, so it stays.
        points.award(old[0], 40, key="later", reason="welcome", at="2024-05-20T00:00:00Z")

    reports = race(tmp_path, "points_race", path, saver, 3, "p{i}", sharer, expire_at)

    assert sum(r["expired"] for r in reports) == len(old)
    assert sum(r["redeemed"] for r in reports) == 100 // 7
    assert len({r["shared_entry"] for r in reports}) == 1
    with crmkit.open(path, plugins=["loyalty"]) as crm:
        points = crm.loyalty.points
        assert points.balance(saver) == 100 - 7 * (100 // 7)
        assert points.balance(sharer) == 50 - 10
        assert [points.balance(c, as_of=expire_at) for c in old] == [40, 0, 0, 0, 0]
        expired = crm.db.execute(
            "SELECT batch_id, points FROM loyalty_points WHERE kind = 'expire' ORDER BY batch_id"
        ).fetchall()
        assert sorted(p for _, p in expired) == sorted([-70] + [-100] * (len(old) - 1))
        assert len({b for b, _ in expired}) == len(old)
        [(shared,)] = crm.db.execute("SELECT count(*) FROM loyalty_points WHERE key = 'shared-redemption'").fetchall()
        assert shared == 1
        [(redemptions,)] = crm.db.execute(
            "SELECT count(*) FROM loyalty_points WHERE kind = 'redeem' AND customer_id = ?", [saver]
        ).fetchall()
        assert redemptions == 100 // 7
        # No batch gave more than it held.
        [(overdrawn,)] = crm.db.execute(
            "SELECT count(*) FROM loyalty_points b WHERE b.points > 0 AND b.points < "
            "(SELECT COALESCE(sum(a.points), 0) FROM loyalty_point_allocations a WHERE a.batch_id = b.id)"
        ).fetchall()
        assert overdrawn == 0


@pytest.mark.slow
def test_complaint_steps_happen_once_each(tmp_path):
    """8 processes take the same 6 complaints through acknowledge, assess and then resolve (half
    of them) or reject (the other half): each step happens exactly once per complaint, every
    other attempt is refused with a ConflictError, and the history shows each step once."""
    path = tmp_path / "complaints.db"
    with crmkit.open(path, plugins=["complaints"], clock=setup_clock) as crm:
        customer = crm.customers.add(name="Alice Ng")
        ids = [crm.complaints.open(customer.id, category="billing").id for _ in range(6)]

    reports = race(tmp_path, "complaint_steps", path, ids_in(ids), "{i}")

    made = Counter()
    for r in reports:
        made.update(r["made"])
    assert made["acknowledged"] == made["assessing"] == len(ids)
    assert made["resolved"] + made["rejected"] == len(ids)
    attempts = PROCESSES * len(ids) * 3
    assert sum(r["refused"] for r in reports) == attempts - 3 * len(ids)
    with crmkit.open(path, plugins=["complaints"]) as crm:
        history = Counter(
            (cid, event) for cid, event in crm.db.execute("SELECT complaint_id, event FROM complaints_history").fetchall()
        )
        final = dict(crm.db.execute("SELECT id, status FROM complaints_complaints").fetchall())
    assert set(final.values()) <= {"resolved", "rejected"}
    assert Counter(final.values()) == {k: v for k, v in made.items() if k in ("resolved", "rejected") and v}
    for cid in ids:
        assert history[(cid, "acknowledged")] == history[(cid, "assessing")] == history[(cid, final[cid])] == 1
    assert sum(history.values()) == len(ids) * 4  # received + three steps


@pytest.mark.slow
def test_run_due_started_by_eight_schedulers_does_each_job_once(tmp_path):
    """8 processes run ``crm.run_due`` for the same ``now``: 5 neglected leads are recycled once,
    3 reminders and 3 x 4 complaint escalation tasks are created once, 4 batches expire once."""
    path = tmp_path / "due.db"
    now = "2025-02-01T00:00:00Z"
    with crmkit.open(path, plugins=["leads", "loyalty", "complaints"], clock=setup_clock) as crm:
        crm.leads.add_rep("r1", "R1", capacity=50, claim_limit=50)
        leads = crm.leads.add_many({"name": f"Lead {i}"} for i in range(8))
        neglected, nearly = leads[:5], leads[5:]
        for lead in neglected:
            crm.leads.claim(lead, "r1", now="2025-01-20T09:00:00Z")  # recycle at 01-27: past due
        for lead in nearly:
            crm.leads.claim(lead, "r1", now="2025-01-26T12:00:00Z")  # recycle at 02-02: remind
        crm.loyalty.points.set_policy(lock_days=0, expiry_days=30)
        for i in range(4):
            customer = crm.customers.add(name=f"Saver {i}").id
            crm.loyalty.points.award(customer, 100, key=f"old-{i}", reason="welcome", at="2024-12-01T00:00:00Z")
        crm.complaints.add_handler("mara", role="manager")
        crm.complaints.add_handler("sam", role="supervisor", supervisor="mara")
        crm.complaints.add_handler("ann", supervisor="sam", skills=["billing"])
        complainer = crm.customers.add(name="Alice Ng").id
        complaints = [crm.complaints.open(complainer, category="billing").id for _ in range(3)]
        [(tasks_before,)] = crm.db.execute("SELECT count(*) FROM tasks").fetchall()

    reports = race(tmp_path, "due_race", path, now)

    assert [r["errors"] for r in reports] == [{}] * PROCESSES
    results = [r["results"] for r in reports]
    assert sum(r["leads"]["recycled"] for r in results) == len(neglected)
    assert sum(r["leads"]["reminders"] for r in results) == len(nearly)
    assert sum(r["loyalty"]["points_batches_expired"] for r in results) == 4
    assert sum(r["complaints"]["tasks_created"] for r in results) == 4 * len(complaints)
    per_level = Counter()
    for r in results:
        per_level.update(r["complaints"]["escalated"])
    assert list(per_level.values()) == [len(complaints)] * 4
    loyalty_tasks = sum(r["loyalty"]["churn_tasks_created"] + r["loyalty"]["cadence_tasks_created"] for r in results)

    with crmkit.open(path, plugins=["leads", "loyalty", "complaints"]) as crm:
        def one(sql):
            return crm.db.execute(sql).fetchone()[0]

        assert one("SELECT count(*) FROM leads_leads WHERE recycles = 1") == len(neglected)
        assert one("SELECT count(*) FROM leads_leads WHERE recycles > 1") == 0
        assert one("SELECT count(*) FROM tasks WHERE kind = 'lead_follow_up'") == len(nearly)
        assert one("SELECT count(*) FROM tasks WHERE source = 'complaints'") == 4 * len(complaints)
        assert one("SELECT count(*) FROM complaints_escalations") == 4 * len(complaints)
        assert one("SELECT count(*) FROM loyalty_points WHERE kind = 'expire'") == 4
        assert one("SELECT count(*) FROM tasks") == tasks_before + len(nearly) + 4 * len(complaints) + loyalty_tasks
        assert one("SELECT count(*) FROM (SELECT key FROM tasks WHERE key IS NOT NULL GROUP BY key HAVING count(*) > 1) d") == 0
        assert one("SELECT count(*) FROM audit_log WHERE action = 'lead.recycle'") == len(neglected)
        assert one("SELECT count(*) FROM audit_log WHERE action = 'complaint.escalate'") == 4 * len(complaints)
        assert one("SELECT count(*) FROM audit_log WHERE action = 'due.run'") == 3 * PROCESSES
