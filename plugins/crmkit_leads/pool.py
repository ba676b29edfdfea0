"""The shared pool: claims, releases, extensions, protection, follow-ups and recycling."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from crmkit import ConflictError, NotFound, ValidationError
from crmkit.timeutil import from_iso, to_iso

from . import queries
from .config import Options
from .models import OWNED_STATUSES, Lead, Rep

if TYPE_CHECKING:
    from .service import LeadsService


def day_bounds(calendar, moment: datetime) -> tuple[str, str]:
    """The home zone's day holding ``moment``: a daily claim limit resets at local midnight."""
    start = calendar.start_of_day(moment)
    return to_iso(start), to_iso(calendar.add_days(start, 1))


def _recycle_params(service: "LeadsService") -> dict:
    options = service.options
    return {"recycle_days": json.dumps(options.recycle_days), "extension_days": options.extension_days}


def claim(service: "LeadsService", lead_id: int, rep_id: str, now: datetime) -> Lead:
    """A rep takes a lead from the pool, within capacity, daily claim cap and cooldown.

    Inside the write transaction (the engine's write lock is held from its start, so no other
    claim runs between the checks and the update): the lead, the rep, their open load, today's
    claims and the options in one statement, the conditional update (which returns the taken
    row), the assignment spell and the audit entry. On PostgreSQL the transaction's BEGIN and
    write lock travel with the first statement, and the spell and the entry with the COMMIT, so
    a claim waits for the server three times (it was eight).
    """
    crm = service.crm
    db = crm.db
    with crm.transaction():
        day_start, day_end = day_bounds(crm.calendar, now)
        rows = list(db.query(queries.CLAIM_CHECKS, {"lead": lead_id, "rep": rep_id, "day_start": day_start, "day_end": day_end}))
        if not rows:  # no such rep; but an unknown lead is the first thing to say
            service.get(lead_id)
            service.rep(rep_id)
        checks = rows[0]
        if checks["customer_id"] is None:
            raise NotFound(f"no lead with id {lead_id}")
        lead = Lead.from_row(checks)
        rep = Rep.from_row({column: checks["rep_" + column] for column in queries.REP_COLUMNS})
        if lead.status != "pool":
            holder = f" (owner {lead.owner})" if lead.owner else ""
            raise ConflictError(f"lead {lead_id} is {lead.status}{holder}, not in the pool; it cannot be claimed")
        if not rep.active:
            raise ConflictError(f"rep {rep_id} is inactive and cannot claim leads")
        if lead.previous_owner == rep_id and lead.cooldown_until and lead.cooldown_until > now:
            raise ConflictError(
                f"rep {rep_id} had lead {lead_id} before; the cooldown ends {to_iso(lead.cooldown_until)}"
            )
        load = checks["open_load"]
        if load >= rep.capacity:
            raise ConflictError(f"rep {rep_id} is at capacity ({load} of {rep.capacity} open leads)")
        limit = rep.claim_limit
        if limit is None:
            limit = Options.stored("daily_claim_cap", checks["stored_daily_claim_cap"])
        claimed = checks["claimed_today"]
        if claimed >= limit:
            raise ConflictError(f"rep {rep_id} reached the daily claim limit ({claimed} of {limit} today)")
        recycle_days = Options.stored("recycle_days", checks["stored_recycle_days"])
        taken = _take(service, lead, rep_id, now, how="claim", reason="claimed from the pool", expected_status="pool",
                      recycle_days=recycle_days)
        # The taken row with the customer's columns read above (unchanged: the lock is held).
        return Lead.from_row({**checks, **taken})


def _take(service, lead: Lead, rep_id: str, now: datetime, *, how: str, reason: str, expected_status: str,
          recycle_days: dict | None = None) -> dict:
    """Assign ``lead`` to the rep if it is still as read; returns its ``leads_leads`` row after."""
    db = service.crm.db
    stamp = to_iso(now)
    # A lead just taken has no follow-up and no extension: its recycle time is its class's days
    # after now, the time refresh_recycle_at would compute (one statement less on each claim).
    days = recycle_days if recycle_days is not None else service.options.recycle_days
    recycle_at = to_iso(service.crm.calendar.add_days(from_iso(stamp), days.get(lead.lead_class, days["default"])))
    rows = list(db.query(queries.TAKE_LEAD, {
        "rep": rep_id, "now": stamp, "lead": lead.id, "expected_status": expected_status, "expected_owner": lead.owner,
        "recycle_at": recycle_at,
    }))
    if len(rows) != 1:
        raise ConflictError(f"lead {lead.id} changed while it was being taken; it is no longer {expected_status}")
    # Writes whose results go unread: on PostgreSQL they travel with the next statement (a claim:
    # the COMMIT) in one round trip instead of one each.
    with db.pipelined():
        if lead.owner is not None:
            db.execute(queries.END_ASSIGNMENTS, {"now": stamp, "how": how, "reason": reason, "ids": json.dumps([lead.id])})
        db.execute(queries.OPEN_ASSIGNMENT, {"lead": lead.id, "rep": rep_id, "how": how, "reason": reason, "now": stamp})
        if lead.owner is not None:  # a pool lead has no reminder (recycling and release cancelled it)
            cancel_stale_reminders(service, [lead.id])
        service.crm.audit.record(
            f"lead.{how}", "lead", lead.id, before={"status": lead.status, "owner": lead.owner},
            after={"status": "assigned", "owner": rep_id, "reason": reason}, source="leads",
        )
    return rows[0]


def reassign(service: "LeadsService", lead_id: int, rep_id: str, reason: str, now: datetime) -> Lead:
    """Move an open lead to another rep by hand (capacity still applies)."""
    crm = service.crm
    if not reason or not str(reason).strip():
        raise ValidationError("reason", reason, "a reason for the reassignment")
    with crm.transaction():
        lead = service.get(lead_id)
        rep = service.rep(rep_id)
        if not lead.is_open:
            raise ConflictError(f"lead {lead_id} is {lead.status}; only open leads can be reassigned")
        if lead.owner == rep_id:
            raise ConflictError(f"lead {lead_id} is already with {rep_id}")
        if not rep.active:
            raise ConflictError(f"rep {rep_id} is inactive and cannot take leads")
        load = crm.db.execute(queries.OPEN_LOAD, [rep_id]).fetchone()[0]
        if load >= rep.capacity:
            raise ConflictError(f"rep {rep_id} is at capacity ({load} of {rep.capacity} open leads)")
        _take(service, lead, rep_id, now, how="reassign", reason=str(reason).strip(), expected_status=lead.status)
        return service.get(lead_id)


def release(service: "LeadsService", lead_id: int, rep_id: str, reason: str | None, now: datetime) -> Lead:
    """The owner gives a lead back to the pool; the cooldown keeps them from re-taking it at once."""
    crm = service.crm
    with crm.transaction():
        lead = _owned_by(service, lead_id, rep_id, "release")
        stamp = to_iso(now)
        text = (reason or "released by the owner").strip()
        crm.db.execute(queries.END_ASSIGNMENTS, {"now": stamp, "how": "release", "reason": text, "ids": json.dumps([lead_id])})
        crm.db.execute(queries.RELEASE_LEAD, {"lead": lead_id, "cooldown_until": _cooldown_until(service, now)})
        cancel_stale_reminders(service, [lead_id])
        crm.audit.record(
            "lead.release", "lead", lead_id, before={"status": lead.status, "owner": rep_id},
            after={"status": "pool", "owner": None, "reason": text}, source="leads",
        )
        return service.get(lead_id)


def extend(service: "LeadsService", lead_id: int, rep_id: str, reason: str | None, now: datetime) -> Lead:
    """The owner asks for more time before the lead is recycled (bounded, recorded)."""
    crm = service.crm
    options = service.options
    with crm.transaction():
        lead = _owned_by(service, lead_id, rep_id, "extend")
        if lead.protected:
            raise ConflictError(f"lead {lead_id} is protected and never recycled; it needs no extension")
        if lead.extensions >= options.max_extensions:
            raise ConflictError(
                f"lead {lead_id} already had {lead.extensions} extension(s); the limit is {options.max_extensions}"
            )
        crm.db.execute(queries.EXTEND_LEAD, {"lead": lead_id})
        crm.db.execute(queries.refresh_recycle_at(crm.calendar, "l.customer_id = :lead"), dict(_recycle_params(service), lead=lead_id))
        cancel_stale_reminders(service, [lead_id])
        after = service.get(lead_id)
        crm.audit.record(
            "lead.extend", "lead", lead_id,
            before={"extensions": lead.extensions, "recycle_at": to_iso(lead.recycle_at) if lead.recycle_at else None},
            after={"extensions": after.extensions, "recycle_at": to_iso(after.recycle_at), "reason": (reason or "").strip() or None},
            source="leads",
        )
        return after


def protect(service: "LeadsService", lead_id: int, by: str, reason: str, flag: bool) -> Lead:
    """Mark a lead as never recycled (or lift that), saying who and why."""
    crm = service.crm
    if flag and (not by or not reason or not str(reason).strip()):
        raise ValidationError("reason", reason, "who protects the lead and why")
    with crm.transaction():
        lead = service.get(lead_id)
        if not lead.is_open:
            raise ConflictError(f"lead {lead_id} is {lead.status}; only open leads can be protected")
        crm.db.execute(queries.PROTECT_LEAD, {
            "lead": lead_id, "flag": int(flag), "by": by if flag else None, "reason": str(reason).strip() if flag else None,
        })
        cancel_stale_reminders(service, [lead_id])
        crm.audit.record(
            "lead.protect" if flag else "lead.unprotect", "lead", lead_id,
            before={"protected": lead.protected, "by": lead.protected_by},
            after={"protected": flag, "by": by, "reason": reason}, source="leads",
        )
        return service.get(lead_id)


def cancel_stale_reminders(service: "LeadsService", lead_ids: list[int] | None = None) -> int:
    """Cancel the open follow-up reminders no longer owed (of these leads, or of every lead): their
    lead was converted, lost, released or passed on, is protected, or has another deadline."""
    return service.crm.tasks.close_from_query(
        queries.STALE_REMINDERS, {"leads": None if lead_ids is None else json.dumps(lead_ids)},
        note="no longer owed: the lead was closed, passed on or given another deadline", source="leads",
    )


def _owned_by(service, lead_id: int, rep_id: str, verb: str) -> Lead:
    lead = service.get(lead_id)
    if lead.status not in OWNED_STATUSES:
        state = "in the pool" if lead.status == "pool" else lead.status
        raise ConflictError(f"lead {lead_id} is {state}; only the owner of an assigned lead can {verb} it")
    if lead.owner != rep_id:
        raise ConflictError(f"lead {lead_id} belongs to {lead.owner}, not {rep_id}; only the owner can {verb} it")
    return lead


def _cooldown_until(service, now: datetime) -> str:
    return to_iso(service.crm.calendar.add_days(now, service.options.cooldown_days))


def fold_follow_ups(service: "LeadsService", first_id: int, last_id: int) -> int:
    """Record the follow-ups found in a batch of interactions (owner's contacts since assignment).

    The batch's leads are read and updated in one transaction (a savepoint inside the caller's).
    """
    crm = service.crm
    db = crm.db
    with crm.transaction():
        db.execute(queries.DROP_FOLLOW_UP_SCRATCH)
        db.execute(queries.CREATE_FOLLOW_UP_SCRATCH)
        db.execute(queries.FOLLOW_UPS_IN_BATCH, {"first": first_id, "last": last_id, "kinds": json.dumps(service.options.follow_up_kinds)})
        found = db.execute(queries.FOLLOW_UPS_FOUND).fetchone()[0]
        if found:
            db.execute(queries.APPLY_FOLLOW_UPS)
            db.execute(queries.APPLY_FOLLOW_UPS_TO_ASSIGNMENTS)
            db.execute(queries.refresh_followed_recycle_at(crm.calendar), _recycle_params(service))
            crm.audit.record_from_query(queries.FIRST_FOLLOW_UP_AUDIT, source="leads")
        db.execute(queries.DROP_FOLLOW_UP_SCRATCH)
    return found


def recycle(service: "LeadsService", now: datetime) -> dict:
    """Send lapsed leads back to the pool, re-offer them, and remind owners of coming deadlines.

    Idempotent for the same ``now``: a recycled lead is in the pool and no longer due, and
    reminder tasks carry a key. The choice of due leads and every write happen in one
    transaction, so two processes recycling at once cannot both take the same lead.
    """
    crm = service.crm
    db = crm.db
    options = service.options
    stamp = to_iso(now)
    with crm.transaction():
        db.execute(queries.DROP_RECYCLE_SCRATCH)
        db.execute(queries.CREATE_RECYCLE_SCRATCH)
        db.execute(queries.SELECT_DUE_FOR_RECYCLE, {"now": stamp})
        recycled = db.execute(queries.RECYCLED_COUNT).fetchone()[0]
        recycled_ids = [row[0] for row in db.execute(queries.RECYCLED_IDS)] if recycled and options.recycle_strategy else []
        if recycled:
            db.execute(queries.end_recycled_assignments(crm.calendar), {"now": stamp})
            crm.audit.record_from_query(queries.RECYCLE_AUDIT, source="leads")
            db.execute(queries.RECYCLE_LEADS, {"cooldown_until": _cooldown_until(service, now)})
        db.execute(queries.DROP_RECYCLE_SCRATCH)
        reallocated = 0
        if recycled_ids:
            result = service.allocate(recycled_ids, strategy=options.recycle_strategy, as_of=now, _how="reallocate")
            reallocated = result.count
        cancel_stale_reminders(service)
        reminders = 0
        if options.reminder_days:
            horizon = to_iso(crm.calendar.add_days(now, options.reminder_days))
            reminders = crm.tasks.create_from_query(queries.reminder_tasks(crm.calendar), {"now": stamp, "horizon": horizon}, source="leads")
    return {"recycled": recycled, "reallocated": reallocated, "reminders": reminders}
