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



# --- many processes at once: each mode opens the CRM, waits at the barrier, then races ----------


def barrier(go: str, timeout: float = 120) -> None:
    """Say ready (a ``GO.<pid>.ready`` file), then wait until the test writes ``go``: every
    process has paid for its start-up by then, so the races overlap."""
    Path(f"{go}.{os.getpid()}.ready").write_text("ready")
    deadline = time.monotonic() + timeout
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no go signal at {go}")
        time.sleep(0.01)


def _refusal(error: Exception) -> str:
    text = str(error)
    for word in ("cooldown", "daily claim limit", "capacity", "not in the pool", "changed while"):
        if word in text:
            return word
    return text


def mode_claim_race(path: str, reps: str, leads: str, cooldown_leads: str, now: str, number: str, go: str) -> dict:
    """Claim as of ``now``: first the ``cooldown_leads`` for the first rep, then every lead of
    ``leads`` (comma lists) from position 3 x ``number`` on, trying each rep in turn."""
    from crmkit import ConflictError

    rep_ids = reps.split(",")
    ids = [int(i) for i in leads.split(",")]
    start = 3 * int(number) % len(ids)
    tries = [(int(i), rep_ids[:1]) for i in cooldown_leads.split(",") if i] + [(i, rep_ids) for i in ids[start:] + ids[:start]]
    won: dict[str, list[int]] = {rep: [] for rep in rep_ids}
    refused: dict[str, int] = {}
    with crmkit.open(path, plugins=["leads"]) as crm:
        barrier(go)
        for lead_id, candidates in tries:
            for rep in candidates:
                try:
                    crm.leads.claim(lead_id, rep, now=now)
                    won[rep].append(lead_id)
                except ConflictError as error:
                    reason = _refusal(error)
                    refused[reason] = refused.get(reason, 0) + 1
    return {"won": won, "refused": refused}


def mode_sweep(path: str, now: str, go: str) -> dict:
    """The recycling sweep, then an allocation of the whole pool, both as of ``now``."""
    with crmkit.open(path, plugins=["leads"]) as crm:
        barrier(go)
        recycled = crm.leads.recycle(now)["recycled"]
        allocated = [[move.lead_id, move.rep] for move in crm.leads.allocate("pool", as_of=now).moves]
    return {"recycled": recycled, "allocated": allocated}


def mode_points_race(path: str, saver: str, times: str, tag: str, sharer: str, expire_at: str, go: str) -> dict:
    """Expire batches as of ``expire_at``; redeem 10 points of ``sharer`` under the key every
    process uses; redeem 7 points of ``saver`` ``times`` times under keys of its own."""
    from crmkit import ConflictError

    made = 0
    with crmkit.open(path, plugins=["loyalty"]) as crm:
        points = crm.loyalty.points
        barrier(go)
        expired = points.expire(expire_at)
        shared = points.redeem(int(sharer), 10, key="shared-redemption").id
        for i in range(int(times)):
            try:
                points.redeem(int(saver), 7, key=f"{tag}-{i}")
                made += 1
            except ConflictError:
                pass
            balance = points.balance(int(saver))
            if balance < 0:
                raise SystemExit(f"negative balance seen: {balance}")
    return {"expired": expired, "shared_entry": shared, "redeemed": made}


def mode_complaint_steps(path: str, ids: str, number: str, go: str) -> dict:
    """For each complaint (from position ``number`` on): acknowledge, assess, then reject (even
    ``number``) or resolve (odd); counts the steps this process made and those refused."""
    from crmkit import ConflictError

    numbers = [int(i) for i in ids.split(",")]
    start = int(number) % len(numbers)
    decision = ("rejected", "resolved")[int(number) % 2]
    made = {"acknowledged": 0, "assessing": 0, decision: 0}
    refused = 0
    with crmkit.open(path, plugins=["complaints"]) as crm:
        complaints = crm.complaints
        steps = {
            "acknowledged": complaints.acknowledge, "assessing": complaints.assess,
            "resolved": lambda cid: complaints.resolve(cid, "apology"),
            "rejected": lambda cid: complaints.reject(cid, "not our fault"),
        }
        barrier(go)
        for complaint_id in numbers[start:] + numbers[:start]:
            for step in made:
                try:
                    steps[step](complaint_id)
                    made[step] += 1
                except ConflictError:
                    refused += 1
    return {"made": made, "refused": refused}


def mode_due_race(path: str, now: str, go: str) -> dict:
    """``crm.run_due(now)`` with the leads, loyalty and complaints plugins."""
    with crmkit.open(path, plugins=["leads", "loyalty", "complaints"]) as crm:
        barrier(go)
        report = crm.run_due(now)
    return {"results": report.results, "errors": report.errors}


def run_forked(count: int, mode: str, args: list, go: str | Path, timeout: float = 180) -> list[dict]:
    """Run ``mode`` in ``count`` OS processes forked from this one (``{i}`` in an argument
    becomes the process's number, from 0; ``go`` is passed last): each opens the CRM itself and
    waits at :func:`barrier`; once all are ready they are released together. Returns what each
    reported, in order. Forking after the imports spares each process the start-up."""
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for number in range(count):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run the mode, send its report, never return into the caller
            os.close(read)
            status = 1
            try:
                report = MODES[mode](*(str(a).replace("{i}", str(number)) for a in args), str(go))
                with os.fdopen(write, "w") as pipe:
                    pipe.write(json.dumps(report))
                status = 0
            except BaseException:  # noqa: BLE001 - reported on stderr; the status says it failed
                import traceback

                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(status)
        os.close(write)
        children.append((pid, read))
    running = {pid for pid, _ in children}
    try:
        deadline = time.monotonic() + timeout
        while len(list(Path(go).parent.glob(Path(go).name + ".*.ready"))) < count:
            for pid, _ in children:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    running.discard(pid)
                    raise RuntimeError(f"process {pid} ended before the start (status {status})")
            if time.monotonic() > deadline:
                raise RuntimeError("the processes did not get ready")
            time.sleep(0.02)
        Path(go).write_text("go")
        reports, failed = [], []
        for number, (pid, read) in enumerate(children):
            with os.fdopen(read) as pipe:
                text = pipe.read()
            _, status = os.waitpid(pid, 0)
            running.discard(pid)
            if status != 0 or not text:
                failed.append(number)
            else:
                reports.append(json.loads(text))
        if failed:
            raise RuntimeError(f"processes {failed} of {count} failed (see stderr)")
        return reports
    finally:
        for pid in running:  # only after a failure: the children not yet waited for
            os.kill(pid, 9)
            os.waitpid(pid, 0)

MODES = {name[5:]: fn for name, fn in globals().items() if name.startswith("mode_")}

if __name__ == "__main__":
    print(json.dumps(MODES[sys.argv[1]](*sys.argv[2:])), flush=True)
