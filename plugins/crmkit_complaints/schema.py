"""The complaints plugin's tables, as one ``Migrations`` set. Append; never edit."""

from __future__ import annotations

from crmkit import Migrations
from crmkit.engine import Database

migrations = Migrations("crmkit_complaints")

_CUSTOMER = ("customer_id", "customers", "id")


@migrations()
def m001_complaint_tables(db: Database) -> None:
    """Handlers, complaints, history, notes, pauses, escalations, the working-time calendar and
    feedback."""
    db["complaints_handlers"].create(
        {"name": str, "role": str, "supervisor": str, "skills": str, "active": int, "created_at": str},
        pk="name",
        not_null={"role", "active"},
        defaults={"skills": "[]", "active": 1, "role": "handler"},
    )
    db["complaints_complaints"].create(
        {
            "id": int, "customer_id": int, "interaction_id": int, "channel": str, "category": str,
            "product": str, "severity": str, "description": str, "desired_outcome": str,
            "received_at": str, "owner": str, "status": str, "status_at": str,
            "decision": str, "decision_reason": str, "resolution": str, "resolution_detail": str,
            "resolution_amount": int, "satisfaction": int, "accepted": int,
            "ack_target_s": int, "resolve_target_s": int, "ack_due_at": str,
            "acknowledged_at": str, "resolve_due_at": str, "answered_at": str,
            "first_answered_at": str, "first_resolve_due_at": str, "first_outcome": str,
            "paused_at": str, "reopen_count": int, "followed_up_at": str, "closed_at": str,
            "escalation_level": int, "created_at": str, "updated_at": str,
        },
        pk="id",
        not_null={"customer_id", "severity", "received_at", "status", "status_at"},
        defaults={"reopen_count": 0, "escalation_level": 0, "ack_target_s": 0, "resolve_target_s": 0},
        foreign_keys=[_CUSTOMER],
    )
    table = db["complaints_complaints"]
    table.create_index(["interaction_id"], unique=True)
    table.create_index(["customer_id", "received_at"])
    table.create_index(["status", "resolve_due_at"])
    table.create_index(["owner", "status"])
    table.create_index(["received_at"])

    db["complaints_history"].create(
        {
            "id": int, "complaint_id": int, "at": str, "event": str, "status_from": str,
            "status_to": str, "message": str, "actor": str,
        },
        pk="id",
        not_null={"complaint_id", "at", "event"},
        foreign_keys=[("complaint_id", "complaints_complaints", "id")],
    )
    db["complaints_history"].create_index(["complaint_id", "at"])
    db["complaints_notes"].create(
        {"id": int, "complaint_id": int, "at": str, "author": str, "text": str},
        pk="id",
        not_null={"complaint_id", "at"},
        foreign_keys=[("complaint_id", "complaints_complaints", "id")],
    )
    db["complaints_notes"].create_index(["complaint_id"])
    db["complaints_pauses"].create(
        {
            "id": int, "complaint_id": int, "started_at": str, "ended_at": str, "reason": str,
            "due_before": str, "due_after": str,
        },
        pk="id",
        not_null={"complaint_id", "started_at"},
        foreign_keys=[("complaint_id", "complaints_complaints", "id")],
    )
    db["complaints_pauses"].create_index(["complaint_id", "started_at"])
    db["complaints_escalations"].create(
        {
            "complaint_id": int, "cycle": int, "level": int, "name": str, "at": str,
            "from_owner": str, "to_owner": str,
        },
        pk=("complaint_id", "cycle", "level"),
        not_null={"at"},
        foreign_keys=[("complaint_id", "complaints_complaints", "id")],
    )
    # Working time as intervals in epoch seconds with the running total of working seconds:
    # business time between two moments is a difference of two look-ups.
    db["complaints_calendar"].create(
        {"start_s": int, "end_s": int, "cum_start": int, "cum_end": int},
        pk="start_s",
        not_null={"end_s", "cum_start", "cum_end"},
    )
    db["complaints_calendar"].create_index(["cum_end"])
    db["complaints_calendar_meta"].create({"key": str, "value": str}, pk="key")

    db["complaints_feedback"].create(
        {
            "id": int, "customer_id": int, "interaction_id": int, "received_at": str,
            "title": str, "text": str, "classification": str, "status": str, "urgency": int,
            "importance": int, "cost": int, "merged_into": int, "status_at": str,
            "created_at": str,
        },
        pk="id",
        not_null={"received_at", "classification", "status"},
        defaults={"urgency": 3, "importance": 3, "cost": 3, "status": "new", "classification": "other"},
        foreign_keys=[_CUSTOMER, ("merged_into", "complaints_feedback", "id")],
    )
    db["complaints_feedback"].create_index(["interaction_id"], unique=True)
    db["complaints_feedback"].create_index(["status", "classification"])
    db["complaints_feedback_requests"].create(
        {"id": int, "feedback_id": int, "customer_id": int, "interaction_id": int, "asked_at": str},
        pk="id",
        not_null={"feedback_id", "asked_at"},
        foreign_keys=[("feedback_id", "complaints_feedback", "id"), _CUSTOMER],
    )
    db["complaints_feedback_requests"].create_index(["feedback_id"])
    db["complaints_feedback_requests"].create_index(["customer_id"])


@migrations()
def m002_escalation_ids(db: Database) -> None:
    """Escalations get an ``id`` numbered in the order they are recorded: a sweep finds the rows it
    added as those above the highest id before it. (complaint, cycle, level) stays unique, so a
    level still fires once per complaint and reopening cycle."""
    db.execute(
        "CREATE TABLE complaints_escalations_numbered (id INTEGER PRIMARY KEY, "
        "complaint_id INTEGER NOT NULL REFERENCES complaints_complaints(id), cycle INTEGER NOT NULL, "
        "level INTEGER NOT NULL, name TEXT, at TEXT NOT NULL, from_owner TEXT, to_owner TEXT)"
    )
    db.execute(
        "INSERT INTO complaints_escalations_numbered(complaint_id, cycle, level, name, at, from_owner, to_owner) "
        "SELECT complaint_id, cycle, level, name, at, from_owner, to_owner FROM complaints_escalations "
        "ORDER BY at, complaint_id, cycle, level"
    )
    db.execute("DROP TABLE complaints_escalations")
    db.execute("ALTER TABLE complaints_escalations_numbered RENAME TO complaints_escalations")
    db.execute(
        "CREATE UNIQUE INDEX ix_complaints_escalations_key ON complaints_escalations(complaint_id, cycle, level)"
    )


@migrations()
def m003_handlers_are_users(db: Database) -> None:
    """Every complaint handler is a user of the CRM (the core's one staff list), with the
    handler's name as user id: handlers get role ``rep``, supervisors and managers ``manager``.
    ``complaints_handlers`` keeps the plugin's own fields (skills, supervisor)."""
    db.execute(
        "INSERT INTO users(id, name, role, active, created_at, updated_at) "
        "SELECT h.name, h.name, CASE WHEN h.role = 'handler' THEN 'rep' ELSE 'manager' END, h.active, "
        "COALESCE(h.created_at, '1970-01-01T00:00:00Z'), COALESCE(h.created_at, '1970-01-01T00:00:00Z') "
        "FROM complaints_handlers h WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = h.name)"
    )


@migrations()
def m004_calendar_per_ticket(db: Database) -> None:
    """A ticket keeps the business calendar it was opened under (``calendar_id``; NULL: round the
    clock), so that setting another calendar later never moves a running clock. Kept calendars
    are numbered in ``complaints_calendar_meta`` (key ``calendar:<id>``) and laid out side by side
    in ``complaints_calendar``. Tickets already on file get the calendar set now: their clocks
    have been measured in it so far."""
    import json

    from crmkit.calendar import DEFAULT_ZONE

    from . import queries
    from .calendar import BusinessCalendar

    db["complaints_complaints"].add_column("calendar_id", int)
    db.execute("DROP TABLE complaints_calendar")
    db["complaints_calendar"].create(
        {"calendar_id": int, "start_s": int, "end_s": int, "cum_start": int, "cum_end": int},
        pk=("calendar_id", "start_s"),
        not_null={"end_s", "cum_start", "cum_end"},
    )
    db["complaints_calendar"].create_index(["calendar_id", "cum_end"])
    db.execute("DELETE FROM complaints_calendar_meta")  # the single layout's fingerprint and days
    stored = dict(db.execute("SELECT key, value FROM settings WHERE key IN ('complaints.calendar', 'core.timezone')").fetchall())
    setting = json.loads(stored.get("complaints.calendar") or "null")
    home_zone = json.loads(stored.get("core.timezone") or "null") or DEFAULT_ZONE
    try:
        calendar = BusinessCalendar.from_setting(setting, home_zone)
    except ValueError:  # a setting stored unchecked; its clocks could not run before either
        return
    if not calendar.always:
        queries.keep_calendar(db, 1, calendar)
        db.execute("UPDATE complaints_complaints SET calendar_id = 1")
