"""``crm.complaints``: open complaints, move them through the process, assign and pause them.

Every step is one transaction that checks the state machine first, then writes the complaint,
a customer-visible history entry and the audit log.
"""

from __future__ import annotations

import heapq
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmkit import ConflictError, CrmError, NotFound, ValidationError
from crmkit.money import from_minor, to_minor
from crmkit.models import check_storable_text
from crmkit.timeutil import from_iso, to_datetime, to_iso

from . import queries
from .calendar import BusinessCalendar
from .models import (
    ANSWERED_STATES, CUSTOMER_MESSAGES, PAUSABLE_STATES, RESOLUTIONS, ROLES, SEVERITIES,
    SEVERITY_ALIASES, TRANSITIONS, Complaint, Handler, HistoryEntry, Note, TransitionRefused, check_choice,
    check_score, check_text, normalise_severity,
)
from .sla import SlaPolicy, escalation_levels

if TYPE_CHECKING:
    from crmkit import CRM

SOURCE = "complaints"
CALENDAR_MARGIN_DAYS = 7
CALENDAR_HORIZON_DAYS = 400
# How far ahead of a ticket a calendar is laid out at most to hold its longest target: a deadline
# further away than this (a sparse calendar, a long target) is refused, not left empty.
CALENDAR_REACH_YEARS = 100
LAST_LAID_OUT_DAY = date(9999, 12, 30)  # the calendar's last interval may end at the next midnight


def _layout_end(calendar: BusinessCalendar, latest: date, counted: int) -> date:
    """The last day to lay ``calendar`` out to: the horizon after ``latest`` plus the weeks that
    hold ``counted`` working seconds, at most ``CALENDAR_REACH_YEARS`` on and never past 9999."""
    weekly = calendar.weekly_seconds()
    weeks = min(-(-counted // weekly), CALENDAR_REACH_YEARS * 53)
    day = latest.toordinal() + weeks * 7 + CALENDAR_HORIZON_DAYS
    return date.fromordinal(min(day, LAST_LAID_OUT_DAY.toordinal()))


class ComplaintsService:
    """The complaints of one CRM: ``crm.complaints``."""

    def __init__(self, crm: "CRM"):
        self._crm = crm
        from .feedback import FeedbackService

        self.feedback = FeedbackService(crm)

    # --- policy and calendar ----------------------------------------------------------------

    def policy(self) -> SlaPolicy:
        """The SLA targets, segment overrides, escalation levels and calendar now in force."""
        return SlaPolicy.from_settings(self._crm.settings, self._crm.calendar.name)

    def set_calendar(self, calendar: dict | None) -> None:
        """Set (or, with None, remove) the business calendar; checked before it is stored.

        Complaints opened from then on count in it; those already open keep the calendar they
        were opened under."""
        BusinessCalendar.from_setting(calendar)
        self._crm.settings.set("complaints.calendar", calendar or None)

    def set_targets(self, targets: dict, segments: list | None = None) -> None:
        """Set the SLA targets (``{'resolve': {'critical': '24h'}, ...}``) and segment overrides.

        Every duration is checked (more than zero, at most 10 years) before anything is stored."""
        from .sla import _targets

        base = _targets(targets, None, "complaints.sla")
        for position, item in enumerate(segments or [], start=1):
            if not isinstance(item, dict) or not item.get("segment"):
                raise ValidationError(f"complaints.sla_segments[{position}]", item, "a dict with a segment")
            self._crm.segments.compile(self._crm.segments.resolve(item["segment"]))
            _targets({k: v for k, v in item.items() if k != "segment"}, base, f"complaints.sla_segments[{position}]")
        with self._crm.transaction():
            self._crm.settings.set("complaints.sla", targets)
            if segments is not None:
                self._crm.settings.set("complaints.sla_segments", segments)

    def set_escalation(self, levels: list | None) -> None:
        """Set the escalation levels (``[{'level': 1, 'name': ..., 'target': 'resolve', 'trigger':
        'breach', 'action': 'task'}, ...]``; None: the defaults), checked before they are stored."""
        escalation_levels(levels)
        self._crm.settings.set("complaints.escalation", levels)

    def ensure_calendar(self, earliest: Any, latest: Any, policy: SlaPolicy | None = None, counted: int = 0) -> int | None:
        """Lay out the calendar in force so that it covers ``earliest``..``latest`` (and beyond),
        far enough to hold ``counted`` working seconds after ``latest``.

        Returns the id it is kept under, which new tickets keep as theirs (None: round the clock).
        """
        policy = policy or self.policy()
        if policy.calendar.always:
            return None
        calendar_id = self._kept_calendar_id(policy.calendar)
        self.lay_out_calendar(calendar_id, earliest, latest, counted)
        return calendar_id

    def _kept_calendar_id(self, calendar: BusinessCalendar) -> int:
        """The id of ``calendar`` among the kept calendars, keeping it first when it is new."""
        db = self._crm.db
        records = queries.calendar_records(db)
        fingerprint = calendar.fingerprint()
        for calendar_id, record in records.items():
            if record["fingerprint"] == fingerprint:
                return calendar_id
        calendar_id = max(records, default=0) + 1
        with self._crm.transaction():
            queries.keep_calendar(db, calendar_id, calendar)
        return calendar_id

    def lay_out_calendar(self, calendar_id: int | None, earliest: Any, latest: Any, counted: int = 0) -> None:
        """Lay out the kept calendar ``calendar_id`` so that it covers ``earliest``..``latest``
        (and beyond, enough for ``counted`` working seconds after ``latest``, within
        ``CALENDAR_REACH_YEARS``); nothing to do for round the clock (None)."""
        if calendar_id is None:
            return
        db = self._crm.db
        record = queries.calendar_records(db)[calendar_id]
        calendar = BusinessCalendar.from_setting(record["setting"])
        first = to_datetime(earliest).date() - timedelta(days=CALENDAR_MARGIN_DAYS)
        last = _layout_end(calendar, to_datetime(latest).date(), counted)
        if record.get("first"):
            have_first, have_last = date.fromisoformat(record["first"]), date.fromisoformat(record["last"])
            if have_first <= first and have_last >= last - timedelta(days=CALENDAR_HORIZON_DAYS // 2):
                return
            first, last = min(first, have_first), max(last, have_last)
        rows, total = [], 0
        for start, end in calendar.intervals(first, last):
            rows.append((start, end, total, total + end - start))
            total += end - start
        with self._crm.transaction():
            queries.replace_layout(db, calendar_id, rows)
            queries.save_calendar_record(db, calendar_id, dict(record, first=first.isoformat(), last=last.isoformat()))

    def lay_out_open_calendars(self, moment: str) -> bool:
        """Lay out the calendars the open complaints count in, up to ``moment``; False when every
        open complaint runs round the clock."""
        in_use = queries.open_calendars(self._crm.db)
        for calendar_id, earliest in in_use.items():
            self.lay_out_calendar(calendar_id, min(earliest, moment), moment)
        return any(calendar_id is not None for calendar_id in in_use)

    def deadline(self, start: Any, duration: Any) -> Any:
        """When ``duration`` (``'8h'``, seconds, ...; at most 10 years) of counted time has passed
        after ``start``, under the calendar in force.

        A deadline past the year 9999, or further than the calendar is laid out
        (``CALENDAR_REACH_YEARS``), is a ValidationError naming the duration."""
        from .sla import duration_seconds

        seconds = duration_seconds(duration)
        begin = to_datetime(start, "start")
        if begin.toordinal() + seconds // 86400 + 1 > LAST_LAID_OUT_DAY.toordinal():
            raise ValidationError("duration", duration, f"a duration whose deadline after {to_iso(begin)} falls before the year 10000")
        calendar_id = self.ensure_calendar(begin, begin, counted=seconds)
        due = queries.compute_deadline(self._crm.db, to_iso(begin), seconds, calendar_id)
        if due is None:
            raise ValidationError("duration", duration, f"a duration the business calendar's working time holds within "
                                  f"{CALENDAR_REACH_YEARS} years after {to_iso(begin)}")
        return from_iso(due)

    def working_seconds(self, start: Any, end: Any) -> int:
        """Counted (working) seconds between two moments under the calendar in force."""
        calendar_id = self.ensure_calendar(start, end)
        return queries.working_seconds_between(self._crm.db, to_iso(start, "start"), to_iso(end, "end"), calendar_id)

    # --- handlers ---------------------------------------------------------------------------

    def add_handler(
        self, name: str, *, role: str = "handler", supervisor: str | None = None,
        skills: list[str] | tuple[str, ...] = (), active: bool = True,
    ) -> Handler:
        """Add or change a handler: role (handler, supervisor, manager), supervisor, skills."""
        crm = self._crm
        name = check_text(name, "name", 100)
        if not name:
            raise ValidationError("name", name, "a handler name")
        check_choice("role", role, ROLES, optional=False)
        if isinstance(skills, str):
            skills = [s for s in skills.split(",")]
        cleaned = sorted({s.strip().lower() for s in skills if s and s.strip()})
        with crm.transaction():
            if supervisor is not None:
                if supervisor == name:
                    raise ValidationError("supervisor", supervisor, "another handler than the one being added")
                if queries.get_handler(crm.db, supervisor) is None:
                    raise NotFound(f"no handler named {supervisor!r}; add the supervisor first")
                self._check_no_cycle(name, supervisor)
            # A handler is a user of the CRM (the core's staff list); a new handler becomes one.
            crm.users.ensure(name, name, role="rep" if role == "handler" else "manager", active=active)
            before = queries.get_handler(crm.db, name)
            queries.upsert_handler(crm.db, {
                "name": name, "role": role, "supervisor": supervisor, "skills": json.dumps(cleaned),
                "active": 1 if active else 0, "created_at": to_iso(crm.now()),
            })
            handler = self.handler(name)
            crm.audit.record(
                "complaint.handler", "complaint_handler", name, before=before,
                after={"role": role, "supervisor": supervisor, "skills": cleaned, "active": active}, source=SOURCE,
            )
            return handler

    def _check_no_cycle(self, name: str, supervisor: str) -> None:
        seen, current = {name}, supervisor
        while current is not None:
            if current in seen:
                raise ValidationError("supervisor", supervisor, f"a supervisor chain without loops ({name} would supervise itself)")
            seen.add(current)
            row = queries.get_handler(self._crm.db, current)
            current = row["supervisor"] if row else None

    def handler(self, name: str) -> Handler:
        """One handler by name."""
        row = queries.get_handler(self._crm.db, name)
        if row is None:
            raise NotFound(f"no handler named {name!r}")
        return Handler.from_row(row)

    def handlers(self, active_only: bool = False) -> list[Handler]:
        """Every handler, by name."""
        return [Handler.from_row(r) for r in queries.handlers(self._crm.db, active_only)]

    # --- opening ----------------------------------------------------------------------------

    def open(
        self, customer_id: int, *, category: str | None = None, product: str | None = None,
        severity: str = "normal", channel: str | None = None, description: str | None = None,
        desired_outcome: str | None = None, received_at: Any = None, owner: str | None = None,
    ) -> Complaint:
        """Open a complaint directly (without a ``complaint`` interaction) and return it.

        Targets come from the severity (and segment overrides), deadlines from the calendar; the
        owner is the given handler or the least-loaded one with a matching skill.
        """
        crm = self._crm
        severity = normalise_severity(severity)
        check_choice("severity", severity, SEVERITIES, optional=False)
        now = crm.now()
        moment = crm.as_of(received_at)
        if moment > now:
            raise ValidationError("received_at", to_iso(moment), f"a time not after now ({to_iso(now)})")
        row = {
            "customer_id": customer_id, "interaction_id": None, "channel": check_text(channel, "channel", 50),
            "category": check_text(category, "category", 100), "product": check_text(product, "product", 200),
            "severity": severity, "description": check_text(description, "description"),
            "desired_outcome": check_text(desired_outcome, "desired_outcome"), "received_at": to_iso(moment),
            "owner": None, "status": "received", "status_at": to_iso(moment),
            "created_at": to_iso(now), "updated_at": to_iso(now),
        }
        with crm.transaction():
            crm.customers.get(customer_id)
            if owner is not None:
                self.handler(owner)
                row["owner"] = owner
            new_id = queries.insert_complaint(crm.db, row)
            self._finish_open(new_id, new_id)
            return self.get(new_id)

    def open_from_interactions(self, first_id: int, last_id: int) -> int:
        """Open a ticket for every ``complaint`` interaction with id in ``first_id``..``last_id``.

        Set-based: one insert, one update each for targets and deadlines, one history insert.
        Returns the number opened. Called by ``crmkit_interactions_recorded`` for every batch.
        """
        db = self._crm.db
        bad = queries.bad_complaint_severity(db, first_id, last_id, SEVERITIES, SEVERITY_ALIASES)
        if bad is not None:
            raise ValidationError(f"interaction {bad[0]}: data.severity", bad[1], "one of " + ", ".join(SEVERITIES))
        before = queries.max_complaint_id(db)
        queries.insert_from_interactions(db, first_id, last_id, to_iso(self._crm.now()), SEVERITY_ALIASES)
        after = queries.max_complaint_id(db)
        if after > before:
            self._finish_open(before + 1, after)
        return after - before

    def _finish_open(self, first: int, last: int) -> None:
        crm, db = self._crm, self._crm.db
        policy = self.policy()
        queries.set_targets(db, first, last, policy.targets["acknowledge"], policy.targets["resolve"])
        for segment, targets in reversed(policy.segments):
            compiled = crm.segments.compile(crm.segments.resolve(segment))
            queries.set_targets(db, first, last, targets["acknowledge"], targets["resolve"], compiled.id_query(), compiled.params)
        earliest, latest = queries.time_range(db, first, last)
        calendar_id = self.ensure_calendar(earliest, latest, policy, policy.longest_target())
        queries.set_deadlines(db, first, last, calendar_id=calendar_id)
        missing = queries.missing_deadline(db, first, last)
        if missing is not None:
            raise CrmError(
                f"complaint {missing}: its SLA deadline falls beyond the {CALENDAR_REACH_YEARS} years of working time "
                "the business calendar is laid out for; shorten the complaints.sla targets or widen the calendar's hours"
            )
        self._assign_new(first, last)
        queries.history_for_new(db, first, last, CUSTOMER_MESSAGES["received"], crm.actor)
        count = queries.count_range(db, first, last)
        crm.audit.record(
            "complaint.open", "complaint", first if first == last else f"{first}-{last}",
            after={"count": count, "first_id": first, "last_id": last}, source=SOURCE,
        )

    def assign_waiting(self) -> int:
        """Give every complaint still without an owner to a handler (skills first, least loaded).

        For complaints opened before any handler existed; returns how many were assigned.
        """
        crm = self._crm
        with crm.transaction():
            last = queries.max_complaint_id(crm.db)
            before = len(queries.unassigned(crm.db, 1, last))
            self._assign_new(1, last)
            assigned = before - len(queries.unassigned(crm.db, 1, last))
            if assigned:
                crm.audit.record("complaint.assign_waiting", "complaint", None, after={"count": assigned}, source=SOURCE)
            return assigned

    def _assign_new(self, first: int, last: int) -> None:
        """Least-loaded assignment, preferring handlers whose skills include the category."""
        db = self._crm.db
        pending = queries.unassigned(db, first, last)
        if not pending:
            return
        staff = [Handler.from_row(r) for r in queries.handlers(db, active_only=True)]
        pool = [h for h in staff if h.role == "handler"] or staff
        if not pool:
            return
        loads = queries.open_loads(db, [h.name for h in pool])
        load = {h.name: loads.get(h.name, 0) for h in pool}
        heaps: dict[str | None, list] = {}

        def heap_for(category: str | None) -> list:
            key = (category or "").lower() or None
            if key not in heaps:
                skilled = [h.name for h in pool if key is not None and key in h.skills]
                heaps[key] = [(load[n], n) for n in (skilled or [h.name for h in pool])]
                heapq.heapify(heaps[key])
            return heaps[key]

        pairs = []
        for complaint_id, category in pending:
            heap = heap_for(category)
            while True:  # entries go stale when another heap assigned the same handler
                count, name = heapq.heappop(heap)
                if count == load[name]:
                    break
                heapq.heappush(heap, (load[name], name))
            load[name] += 1
            heapq.heappush(heap, (load[name], name))
            pairs.append((name, complaint_id))
        queries.set_owners(db, pairs)

    # --- reading ----------------------------------------------------------------------------

    def get(self, complaint_id: int) -> Complaint:
        """One complaint by id."""
        row = queries.get_complaint(self._crm.db, complaint_id)
        if row is None:
            raise NotFound(f"no complaint with id {complaint_id}")
        return Complaint.from_row(row, self._crm.exponent)

    def list(
        self, *, status: str | None = None, owner: str | None = None, customer_id: int | None = None,
        category: str | None = None, product: str | None = None, severity: str | None = None,
        channel: str | None = None, open: bool = False, overdue: bool = False,  # noqa: A002 - reads best
        limit: int = 100, offset: int = 0,
    ) -> list[Complaint]:
        """Complaints matching every filter, oldest first; ``overdue`` means past a deadline now."""
        from .models import STATES

        check_choice("status", status, STATES)
        check_choice("severity", severity, SEVERITIES)
        for name, text in (("owner", owner), ("category", category), ("product", product), ("channel", channel)):
            if isinstance(text, str):
                check_storable_text(text, name)
        filters = {
            "status": status, "owner": owner, "customer_id": customer_id, "category": category,
            "product": product, "severity": severity, "channel": channel, "open": open,
            "overdue_at": to_iso(self._crm.now()) if overdue else None,
        }
        exponent = self._crm.exponent
        return [Complaint.from_row(r, exponent) for r in queries.list_complaints(self._crm.db, filters, limit, offset)]

    def history(self, complaint_id: int) -> list[HistoryEntry]:
        """The customer-visible history: every step and what the customer was told, oldest first."""
        self.get(complaint_id)
        return [HistoryEntry.from_row(r) for r in queries.history(self._crm.db, complaint_id)]

    def notes(self, complaint_id: int) -> list[Note]:
        """Internal notes (never shown to the customer), oldest first."""
        self.get(complaint_id)
        return [Note.from_row(r) for r in queries.notes(self._crm.db, complaint_id)]

    def pauses(self, complaint_id: int) -> list[dict]:
        """The complaint's waits on the customer, with the deadline before and after each."""
        self.get(complaint_id)
        return queries.pauses(self._crm.db, complaint_id)

    def escalations(self, complaint_id: int) -> list[dict]:
        """The escalation levels reached, per reopening cycle."""
        self.get(complaint_id)
        return queries.escalations(self._crm.db, complaint_id)

    # --- internal notes and assignment ------------------------------------------------------

    def add_note(self, complaint_id: int, text: str) -> Note:
        """Add an internal note (kept apart from what the customer sees)."""
        crm = self._crm
        text = check_text(text, "text")
        if not text:
            raise ValidationError("text", text, "a non-empty note")
        with crm.transaction():
            self.get(complaint_id)
            note_id = queries.add_note(crm.db, complaint_id, to_iso(crm.now()), crm.actor, text)
            crm.audit.record("complaint.note", "complaint", complaint_id, after={"note": note_id}, source=SOURCE)
        return self.notes(complaint_id)[-1]

    def assign(self, complaint_id: int, handler: str, message: str | None = None) -> Complaint:
        """Give the complaint to another handler; the customer is told who handles it now."""
        crm = self._crm
        message = check_text(message, "message")
        with crm.transaction():
            before = self.get(complaint_id)
            target = self.handler(handler)
            if not target.active:
                raise ConflictError(f"handler {handler!r} is not active")
            if before.owner == handler:
                return before
            now = to_iso(crm.now())
            queries.update_complaint(crm.db, complaint_id, {"owner": handler, "updated_at": now})
            queries.add_history(
                crm.db, complaint_id, now, "reassigned", None, None,
                message or CUSTOMER_MESSAGES["reassigned"].format(owner=handler), crm.actor,
            )
            crm.audit.record("complaint.assign", "complaint", complaint_id, before={"owner": before.owner}, after={"owner": handler}, source=SOURCE)
            return self.get(complaint_id)

    # --- the process ------------------------------------------------------------------------

    def acknowledge(self, complaint_id: int, *, message: str | None = None, at: Any = None) -> Complaint:
        """received → acknowledged: the customer hears that the complaint is being handled."""
        return self._move(complaint_id, "acknowledged", at=at, message=message)

    def assess(self, complaint_id: int, *, message: str | None = None, at: Any = None) -> Complaint:
        """acknowledged → assessing (also reopened → assessing)."""
        return self._move(complaint_id, "assessing", at=at, message=message)

    def resolve(
        self, complaint_id: int, resolution: str, *, amount: Any = None, detail: str | None = None,
        message: str | None = None, at: Any = None,
    ) -> Complaint:
        """assessing/reopened → resolved: judged valid, with what was done (and any amount, exact)."""
        check_choice("resolution", resolution, RESOLUTIONS, optional=False)
        minor = None if amount is None else to_minor(amount, self._crm.exponent, "amount")
        if minor is not None and minor < 0:
            raise ValidationError("amount", amount, "zero or more")
        detail = check_text(detail, "detail")
        shown = resolution if minor is None else f"{resolution} of {from_minor(minor, self._crm.exponent)} {self._crm.currency}"
        values = {"decision": "valid", "decision_reason": None, "resolution": resolution,
                  "resolution_detail": detail, "resolution_amount": minor}
        return self._move(complaint_id, "resolved", at=at, message=message, values=values, words={"resolution": shown})

    def reject(self, complaint_id: int, reason: str, *, message: str | None = None, at: Any = None) -> Complaint:
        """assessing/reopened → rejected: judged not valid, with the reason the customer is given."""
        reason = check_text(reason, "reason")
        if not reason:
            raise ValidationError("reason", reason, "the reason the complaint is not upheld")
        values = {"decision": "not_valid", "decision_reason": reason, "resolution": None,
                  "resolution_detail": None, "resolution_amount": None}
        return self._move(complaint_id, "rejected", at=at, message=message, values=values, words={"reason": reason})

    def follow_up(
        self, complaint_id: int, *, score: int | None = None, accepted: bool | None = None,
        message: str | None = None, at: Any = None,
    ) -> Complaint:
        """resolved/rejected → followed_up: satisfaction (1–5) and whether the customer accepted.

        The score is also recorded as a core ``survey`` interaction with
        ``data = {"score", "topic": "complaint", "complaint_id"}`` so satisfaction reads one place.
        """
        check_score("score", score)
        if accepted is not None and not isinstance(accepted, bool):
            raise ValidationError("accepted", accepted, "True or False")
        values = {} if accepted is None else {"accepted": 1 if accepted else 0}
        return self._move(complaint_id, "followed_up", at=at, message=message, values=values, survey=(score, accepted))

    def close(self, complaint_id: int, *, message: str | None = None, at: Any = None) -> Complaint:
        """followed_up → closed."""
        return self._move(complaint_id, "closed", at=at, message=message)

    def reopen(self, complaint_id: int, reason: str, *, message: str | None = None, at: Any = None) -> Complaint:
        """closed/rejected → reopened, with the reason; a fresh resolve deadline starts."""
        reason = check_text(reason, "reason")
        if not reason:
            raise ValidationError("reason", reason, "why the complaint is reopened")
        return self._move(complaint_id, "reopened", at=at, message=message, words={"reason": reason}, reason=reason)

    def pause(self, complaint_id: int, reason: str, *, message: str | None = None, at: Any = None) -> Complaint:
        """Stop the resolve clock while waiting on the customer (acknowledged, assessing, reopened)."""
        crm = self._crm
        reason = check_text(reason, "reason")
        message = check_text(message, "message")
        if not reason:
            raise ValidationError("reason", reason, "what is awaited from the customer")
        with crm.transaction():
            before = self.get(complaint_id)
            if before.status not in PAUSABLE_STATES:
                raise ConflictError(
                    f"complaint {complaint_id} is {before.status}; only a complaint that is "
                    f"{', '.join(PAUSABLE_STATES)} can wait on the customer"
                )
            if before.paused_at is not None:
                raise ConflictError(f"complaint {complaint_id} is already waiting on the customer since {to_iso(before.paused_at)}")
            moment = self._moment(at, complaint_id)
            queries.start_pause(crm.db, complaint_id, moment, reason, to_iso(before.resolve_due_at))
            queries.update_complaint(crm.db, complaint_id, {"paused_at": moment, "updated_at": to_iso(crm.now())})
            queries.add_history(crm.db, complaint_id, moment, "paused", None, None,
                                message or CUSTOMER_MESSAGES["paused"].format(reason=reason), crm.actor)
            crm.audit.record("complaint.pause", "complaint", complaint_id, before={"paused_at": None},
                             after={"paused_at": moment, "reason": reason}, source=SOURCE)
            return self.get(complaint_id)

    def resume(self, complaint_id: int, *, message: str | None = None, at: Any = None) -> Complaint:
        """Restart the clock; the deadline moves on by the working time spent waiting."""
        crm = self._crm
        message = check_text(message, "message")
        with crm.transaction():
            before = self.get(complaint_id)
            if before.paused_at is None:
                raise ConflictError(f"complaint {complaint_id} is not waiting on the customer")
            moment = self._moment(at, complaint_id)
            due = self._end_pause(complaint_id, moment)
            queries.add_history(crm.db, complaint_id, moment, "resumed", None, None,
                                message or CUSTOMER_MESSAGES["resumed"], crm.actor)
            crm.audit.record("complaint.resume", "complaint", complaint_id,
                             before={"paused_at": to_iso(before.paused_at), "resolve_due_at": to_iso(before.resolve_due_at)},
                             after={"paused_at": None, "resolve_due_at": due}, source=SOURCE)
            return self.get(complaint_id)

    def _end_pause(self, complaint_id: int, moment: str) -> str:
        crm = self._crm
        pause = queries.open_pause(crm.db, complaint_id)
        calendar_id = queries.ticket_calendar(crm.db, complaint_id)
        self.lay_out_calendar(calendar_id, pause["started_at"], moment, self.get(complaint_id).resolve_target_seconds)
        due = queries.end_pause(crm.db, pause["id"], moment, calendar_id)
        if due is None:
            raise CrmError(f"complaint {complaint_id}: its moved deadline falls beyond the working time the business calendar is laid out for")
        queries.update_complaint(crm.db, complaint_id, {"paused_at": None, "resolve_due_at": due, "updated_at": to_iso(crm.now())})
        return due

    def _moment(self, at: Any, complaint_id: int) -> str:
        """The time of a step: ``at`` or now; never before the complaint's last step, never ahead."""
        crm = self._crm
        now = crm.now()
        moment = now if at is None else to_datetime(at, "at")
        if moment > now:
            raise ValidationError("at", to_iso(moment), f"a time not after now ({to_iso(now)})")
        last = queries.last_event_time(crm.db, complaint_id)
        if last is not None and to_iso(moment) < last:
            raise ValidationError("at", to_iso(moment), f"a time not before the complaint's last step ({last})")
        return to_iso(moment)

    def _move(
        self, complaint_id: int, to: str, *, at: Any, message: str | None, values: dict | None = None,
        words: dict | None = None, survey: tuple | None = None, reason: str | None = None,
    ) -> Complaint:
        crm = self._crm
        message = check_text(message, "message")
        with crm.transaction():
            before = self.get(complaint_id)
            if to not in TRANSITIONS[before.status]:
                raise TransitionRefused(complaint_id, before.status, to, paused=before.paused_at is not None)
            moment = self._moment(at, complaint_id)
            if before.paused_at is not None:
                self._end_pause(complaint_id, moment)
                before_due = self.get(complaint_id).resolve_due_at
            else:
                before_due = before.resolve_due_at
            changes = dict(values or {})
            changes.update(status=to, status_at=moment, updated_at=to_iso(crm.now()))
            if to == "acknowledged":
                changes["acknowledged_at"] = moment
            elif to in ANSWERED_STATES:
                changes["answered_at"] = moment
                if before.first_answered_at is None:
                    changes.update(first_answered_at=moment, first_resolve_due_at=to_iso(before_due), first_outcome=to)
            elif to == "followed_up":
                changes["followed_up_at"] = moment
            elif to == "closed":
                changes["closed_at"] = moment
            elif to == "reopened":
                calendar_id = queries.ticket_calendar(crm.db, complaint_id)
                self.lay_out_calendar(calendar_id, moment, moment, before.resolve_target_seconds)
                due = queries.compute_deadline(crm.db, moment, before.resolve_target_seconds, calendar_id)
                if due is None:
                    raise CrmError(f"complaint {complaint_id}: its new resolve deadline falls beyond the working time "
                                   "the business calendar is laid out for")
                changes.update(reopen_count=before.reopen_count + 1, answered_at=None, followed_up_at=None,
                               closed_at=None, resolve_due_at=due)
            queries.update_complaint(crm.db, complaint_id, changes)
            text = message or CUSTOMER_MESSAGES[to].format(owner=before.owner or "our team", **(words or {}))
            queries.add_history(crm.db, complaint_id, moment, to, before.status, to, text, crm.actor)
            if survey is not None and survey[0] is not None:
                data = {"score": survey[0], "topic": "complaint", "complaint_id": complaint_id}
                if survey[1] is not None:
                    data["accepted"] = survey[1]
                crm.interactions.record(before.customer_id, "survey", moment, data=data, rep=before.owner)
            audit_after = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in changes.items() if k != "updated_at"}
            if reason:
                audit_after["reason"] = reason
            crm.audit.record(f"complaint.{to}", "complaint", complaint_id, before={"status": before.status},
                             after=audit_after, source=SOURCE)
            return self.get(complaint_id)

    # --- SLA, figures and scheduled work ----------------------------------------------------

    def sla(self, now: Any = None, *, owner: str | None = None, limit: int = 100) -> list[dict]:
        """Open complaints with their running clock as of ``now``: the deadline, counted seconds
        left (negative when overdue) and a state: ``ok``, ``at_risk`` (under a quarter of the
        target left), ``breached`` or ``paused``. Each clock counts in the calendar its
        complaint was opened under."""
        crm = self._crm
        moment = crm.as_of(now)
        calendars = self.lay_out_open_calendars(to_iso(moment))
        rows = queries.sla_board(crm.db, to_iso(moment), "board.calendar_id" if calendars else None, owner, limit)
        out = []
        for row in rows:
            if row["paused_at"] is not None:
                state = "paused"
            elif row["due_at"] < to_iso(moment):
                state = "breached"
            elif row["left_s"] is not None and row["left_s"] * 4 < row["target_s"]:
                state = "at_risk"
            else:
                state = "ok"
            out.append(dict(row, state=state))
        return out

    def stats(self, as_of: Any = None, *, by: str | None = None, since: Any = None, segment: str | None = None) -> list[dict]:
        """Figures as of a date, overall or per ``category``, ``product``, ``channel``,
        ``handler``, ``severity`` or ``segment`` (every saved segment); see docs for definitions."""
        from .figures import complaint_figures

        return complaint_figures(self._crm, as_of=as_of, by=by, since=since, segment=segment)

    def run_due(self, now: Any = None) -> dict:
        """Escalate as the levels say, as of ``now``; idempotent for the same ``now``."""
        from .escalation import escalate

        return escalate(self._crm, self._crm.as_of(now))
