"""All SQL of the complaints plugin's process: tickets, history, notes, pauses, handlers, SLA clocks.

Figures live in ``queries_figures``, feedback in ``queries_feedback``. Every statement runs on
both engines: epoch seconds and JSON access go through the store's SQL helpers.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from crmkit.store import epoch_seconds, json_get, json_records, time_from_epoch, unindexed

from .models import OPEN_STATES

TABLE = "complaints_complaints"
#: A batch's kind condition: the batch is read by its id range, never through the kind index.
BATCH_KIND = unindexed("kind")


# --- working-time arithmetic -----------------------------------------------------------------
# Times are ISO storage text; the working-time calendar counts in epoch seconds. The engine's
# helpers (``epoch_seconds``, ``time_from_epoch``, ``json_get``) spell the conversions once.

epoch = epoch_seconds
iso_from_epoch = time_from_epoch


def json_field(column: str, key: str) -> str:
    """SQL: the value at ``key`` of a JSON object column (key is a code constant)."""
    return json_get(column, f"$.{key}")


# A clock's calendar is given as ``calendar``: None for round the clock, an int for one laid-out
# calendar (``complaints_calendar.calendar_id``), or SQL text naming each row's calendar column
# (``c.calendar_id``; NULL there means round the clock), for statements over many tickets.

def _per_calendar(calendar: int | str | None, always_sql: str, laid_out: Callable[[str], str]) -> str:
    """SQL: the round-the-clock form of a clock expression, or ``laid_out(calendar id SQL)``."""
    if calendar is None:
        return always_sql
    if isinstance(calendar, int):
        return laid_out(str(int(calendar)))
    return f"(CASE WHEN {calendar} IS NULL THEN {always_sql} ELSE {laid_out(calendar)} END)"


def business_seconds(seconds_sql: str, calendar: int | str | None) -> str:
    """SQL: working seconds counted up to an epoch moment (the moment itself when 24/7)."""
    return _per_calendar(calendar, f"({seconds_sql})", lambda calendar_id: (
        f"(SELECT kb.cum_start + MIN({seconds_sql}, kb.end_s) - kb.start_s FROM complaints_calendar kb "
        f"WHERE kb.calendar_id = {calendar_id} AND kb.start_s <= {seconds_sql} ORDER BY kb.start_s DESC LIMIT 1)"
    ))


def from_business(count_sql: str, calendar: int | str | None) -> str:
    """SQL: the epoch moment at which ``count_sql`` working seconds have been counted."""
    return _per_calendar(calendar, f"({count_sql})", lambda calendar_id: (
        f"(SELECT kf.start_s + ({count_sql}) - kf.cum_start FROM complaints_calendar kf "
        f"WHERE kf.calendar_id = {calendar_id} AND kf.cum_end >= {count_sql} ORDER BY kf.cum_end LIMIT 1)"
    ))


def deadline(start_sql: str, seconds_sql: str, calendar: int | str | None) -> str:
    """SQL: ISO time when ``seconds_sql`` working seconds have passed after ``start_sql``."""
    counted = business_seconds(epoch(start_sql), calendar)
    return iso_from_epoch(from_business(f"{counted} + ({seconds_sql})", calendar))


def _in_list(prefix: str, values: Iterable[str]) -> tuple[str, dict]:
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(":" + k for k in params) or "NULL", params


def open_states_sql(prefix: str = "_cmp_open") -> tuple[str, dict]:
    """``(:p0, :p1, ...)`` list text and params of the open states."""
    return _in_list(prefix, OPEN_STATES)


# --- a complaint as of a time ----------------------------------------------------------------------
# ``status_at`` is the time of a complaint's latest step, so a complaint whose ``status_at`` is at
# or before ``:as_of`` stood then where it stands now: its own columns answer. Only complaints
# moved after ``:as_of`` (few, for any date) look their past up in the history.

def settled_sql(alias: str) -> str:
    """SQL: true when the complaint ``alias`` has taken no step after ``:as_of``."""
    return f"{alias}.status_at <= :as_of"


def state_at_sql(alias: str) -> str:
    """SQL: the state of complaint ``alias`` at ``:as_of`` (its latest step at or before it)."""
    return (
        f"(CASE WHEN {settled_sql(alias)} THEN {alias}.status ELSE "
        f"(SELECT h.status_to FROM complaints_history h WHERE h.complaint_id = {alias}.id "
        "AND h.status_to IS NOT NULL AND h.at <= :as_of ORDER BY h.at DESC, h.id DESC LIMIT 1) END)"
    )


def outcome_at_sql(alias: str) -> str:
    """SQL: ``'resolved'`` or ``'rejected'``, the latest answer of ``alias`` at or before ``:as_of``."""
    return (
        f"(CASE WHEN {settled_sql(alias)} THEN (CASE {alias}.decision WHEN 'valid' THEN 'resolved' "
        "WHEN 'not_valid' THEN 'rejected' END) ELSE "
        f"(SELECT h.status_to FROM complaints_history h WHERE h.complaint_id = {alias}.id "
        "AND h.status_to IN ('resolved', 'rejected') AND h.at <= :as_of ORDER BY h.at DESC, h.id DESC LIMIT 1) END)"
    )


def reopened_at_sql(alias: str) -> str:
    """SQL: 1 when complaint ``alias`` had been reopened by ``:as_of``, else 0."""
    return (
        f"(CASE WHEN {settled_sql(alias)} THEN {alias}.reopen_count > 0 ELSE "
        f"EXISTS (SELECT 1 FROM complaints_history h WHERE h.complaint_id = {alias}.id "
        "AND h.status_to = 'reopened' AND h.at <= :as_of) END)"
    )


# --- calendar ------------------------------------------------------------------------------------

# Every calendar a ticket was opened under is kept in ``complaints_calendar_meta`` under the key
# ``calendar:<id>``: its definition (a ``complaints.calendar`` value with the zone spelled out),
# its fingerprint and the local days laid out in ``complaints_calendar`` (``first``, ``last``).
_CALENDAR_KEY = "calendar:"


def calendar_records(db) -> dict[int, dict]:
    """Every kept calendar by id: ``{"fingerprint", "setting", "first", "last"}``."""
    rows = db.execute(
        "SELECT key, value FROM complaints_calendar_meta WHERE key LIKE :prefix", {"prefix": _CALENDAR_KEY + "%"}
    )
    return {int(key[len(_CALENDAR_KEY):]): json.loads(value) for key, value in rows}


def save_calendar_record(db, calendar_id: int, record: dict) -> None:
    """Store (or replace) the kept calendar ``calendar_id``."""
    db.execute(
        "INSERT INTO complaints_calendar_meta(key, value) VALUES (:key, :value) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        {"key": f"{_CALENDAR_KEY}{calendar_id}", "value": json.dumps(record, sort_keys=True)},
    )


def keep_calendar(db, calendar_id: int, calendar) -> None:
    """Keep a business calendar under ``calendar_id``, not laid out yet."""
    save_calendar_record(db, calendar_id, {"fingerprint": calendar.fingerprint(), "setting": calendar.to_setting()})


def replace_layout(db, calendar_id: int, rows: list[tuple[int, int, int, int]]) -> None:
    """Replace the working-time intervals (start, end, cumulative start, cumulative end) of one
    kept calendar."""
    db.execute("DELETE FROM complaints_calendar WHERE calendar_id = ?", [calendar_id])
    db.executemany(
        "INSERT INTO complaints_calendar(calendar_id, start_s, end_s, cum_start, cum_end) VALUES (?, ?, ?, ?, ?)",
        [(calendar_id, *row) for row in rows],
    )


def ticket_calendar(db, complaint_id: int) -> int | None:
    """The calendar the complaint's clocks count in (None: round the clock)."""
    return db.execute(f"SELECT calendar_id FROM {TABLE} WHERE id = ?", [complaint_id]).fetchone()[0]


def open_calendars(db) -> dict[int | None, str]:
    """The calendars of the open complaints, each with its earliest ``received_at`` (None: round
    the clock)."""
    listed, params = open_states_sql()
    return dict(db.execute(
        f"SELECT calendar_id, min(received_at) FROM {TABLE} WHERE status IN ({listed}) GROUP BY calendar_id", params
    ).fetchall())


def compute_deadline(db, start_iso: str, seconds: int, calendar_id: int | None) -> str | None:
    """ISO time when ``seconds`` of counted time have passed after ``start_iso``."""
    return db.execute(
        f"SELECT {deadline(':start', ':seconds', calendar_id)}", {"start": start_iso, "seconds": seconds}
    ).fetchone()[0]


def working_seconds_between(db, start_iso: str, end_iso: str, calendar_id: int | None) -> int:
    """Counted (working) seconds between two ISO times."""
    sql = f"SELECT {business_seconds(epoch(':end'), calendar_id)} - {business_seconds(epoch(':start'), calendar_id)}"
    return db.execute(sql, {"start": start_iso, "end": end_iso}).fetchone()[0]


def time_range(db, first_id: int, last_id: int) -> tuple[str | None, str | None]:
    """The earliest and latest ``received_at`` of complaints ``first_id``..``last_id``."""
    return tuple(db.execute(
        f"SELECT min(received_at), max(received_at) FROM {TABLE} WHERE id BETWEEN ? AND ?", [first_id, last_id]
    ).fetchone())


# --- opening -------------------------------------------------------------------------------------

COMPLAINT_COLUMNS = (
    "customer_id", "interaction_id", "channel", "category", "product", "severity", "description",
    "desired_outcome", "received_at", "owner", "status", "status_at", "created_at", "updated_at",
)


def max_complaint_id(db) -> int:
    """The highest complaint id (0 when there is none)."""
    return db.execute(f"SELECT COALESCE(max(id), 0) FROM {TABLE}").fetchone()[0]


def insert_complaint(db, row: dict) -> int:
    """Insert one complaint row (the ``COMPLAINT_COLUMNS``) and return its id."""
    columns = ", ".join(COMPLAINT_COLUMNS)
    values = ", ".join(":" + c for c in COMPLAINT_COLUMNS)
    return db.execute(f"INSERT INTO {TABLE}({columns}) VALUES ({values}) RETURNING id", row).fetchone()[0]


def severity_sql(column_sql: str, aliases: dict[str, str], prefix: str = "_s") -> tuple[str, dict]:
    """SQL reading a label in lower case with aliases mapped (``medium`` -> ``normal``)."""
    params, whens = {}, []
    for index, (alias, severity) in enumerate(sorted(aliases.items())):
        params[f"{prefix}a{index}"], params[f"{prefix}v{index}"] = alias, severity
        whens.append(f"WHEN :{prefix}a{index} THEN :{prefix}v{index}")
    text = f"lower(trim({column_sql}))"
    return f"(CASE {text} {' '.join(whens)} ELSE {text} END)", params


def bad_complaint_severity(db, first: int, last: int, severities: tuple[str, ...], aliases: dict[str, str]) -> tuple | None:
    """The first ``complaint`` interaction of the batch whose ``data.severity`` is no known severity
    or alias, as ``(id, value)``; None when all are good."""
    listed, params = _in_list("_sev", severities)
    raw = json_field("data", "severity")
    sev, more = severity_sql(raw, aliases)
    return db.execute(
        f"SELECT id, {raw} FROM interactions WHERE id BETWEEN :first AND :last AND {BATCH_KIND} = 'complaint' "
        f"AND {raw} IS NOT NULL AND {sev} NOT IN ({listed}) ORDER BY id LIMIT 1",
        dict(params, **more, first=first, last=last),
    ).fetchone()


def insert_from_interactions(db, first: int, last: int, now: str, aliases: dict[str, str]) -> None:
    """One statement: a complaint ticket for every ``complaint`` interaction of the batch."""
    data = "data"
    severity, params = severity_sql(json_field(data, "severity"), aliases)
    db.execute(
        f"""INSERT INTO {TABLE}({', '.join(COMPLAINT_COLUMNS)})
        SELECT customer_id, id, channel,
            COALESCE({json_field(data, 'category')}, category),
            COALESCE({json_field(data, 'product')}, product),
            COALESCE({severity}, 'normal'),
            COALESCE({json_field(data, 'description')}, notes),
            {json_field(data, 'desired_outcome')},
            occurred_at, NULL, 'received', occurred_at, :now, :now
        FROM interactions
        WHERE id BETWEEN :first AND :last AND {BATCH_KIND} = 'complaint'
        ORDER BY id""",
        dict(params, first=first, last=last, now=now),
    )


def set_targets(db, first: int, last: int, ack: dict[str, int], resolve: dict[str, int], customer_filter: str | None = None, filter_params: dict | None = None) -> None:
    """Targets by severity (complete dicts) for complaints ``first``..``last``, optionally of some customers."""
    params = {"first": first, "last": last, **(filter_params or {})}
    cases = []
    for prefix, targets in (("_a", ack), ("_r", resolve)):
        whens = []
        for index, (severity, seconds) in enumerate(sorted(targets.items())):
            params[f"{prefix}_sev{index}"] = severity
            params[f"{prefix}_sec{index}"] = seconds
            whens.append(f"WHEN :{prefix}_sev{index} THEN :{prefix}_sec{index}")
        cases.append("CASE severity " + " ".join(whens) + " END")
    where = "id BETWEEN :first AND :last"
    if customer_filter:
        where += f" AND customer_id IN ({customer_filter})"
    db.execute(f"UPDATE {TABLE} SET ack_target_s = {cases[0]}, resolve_target_s = {cases[1]} WHERE {where}", params)


def set_deadlines(db, first: int, last: int, *, calendar_id: int | None) -> None:
    """Give complaints ``first``..``last`` the calendar their clocks count in (None: round the
    clock) and the acknowledge and resolve deadlines from their received time and targets."""
    db.execute(
        f"UPDATE {TABLE} SET calendar_id = :calendar_id, "
        f"ack_due_at = {deadline('received_at', 'ack_target_s', calendar_id)}, "
        f"resolve_due_at = {deadline('received_at', 'resolve_target_s', calendar_id)} "
        "WHERE id BETWEEN :first AND :last",
        {"first": first, "last": last, "calendar_id": calendar_id},
    )


def missing_deadline(db, first: int, last: int) -> int | None:
    """The id of a complaint of the range whose deadline could not be placed (the calendar ran out),
    else None."""
    row = db.execute(
        f"SELECT id FROM {TABLE} WHERE id BETWEEN ? AND ? AND (ack_due_at IS NULL OR resolve_due_at IS NULL) LIMIT 1",
        [first, last],
    ).fetchone()
    return row[0] if row else None


def unassigned(db, first: int, last: int) -> list[tuple[int, str | None]]:
    """``(id, category)`` of the complaints of the range without an owner, by id."""
    return db.execute(
        f"SELECT id, category FROM {TABLE} WHERE id BETWEEN ? AND ? AND {unindexed('owner')} IS NULL ORDER BY id", [first, last]
    ).fetchall()


def open_loads(db, owners: Iterable[str] | None = None) -> dict[str, int]:
    """Open complaints per owner; with ``owners``, only theirs, counted by seeking the (owner,
    status) index for each owner and open state instead of scanning it whole."""
    listed, params = open_states_sql()
    where = "owner IS NOT NULL"
    if owners is not None:
        names, more = _in_list("_owner", owners)
        where, params = f"owner IN ({names})", dict(params, **more)
    return {
        owner: count for owner, count in db.execute(
            f"SELECT owner, count(*) FROM {TABLE} WHERE {where} AND status IN ({listed}) GROUP BY owner", params
        )
    }


def set_owners(db, pairs: list[tuple[str, int]]) -> None:
    """Give each complaint its owner: ``pairs`` of (owner, complaint id), written in one statement."""
    if not pairs:
        return
    rows = json_records(":pairs", {"owner": "TEXT", "id": "INTEGER"})
    db.execute(
        f"UPDATE {TABLE} SET owner = j.owner FROM ({rows}) AS j WHERE {TABLE}.id = j.id",
        {"pairs": json.dumps([{"owner": owner, "id": complaint_id} for owner, complaint_id in pairs])},
    )


def history_for_new(db, first: int, last: int, message: str, actor: str) -> None:
    """The customer-visible 'received' entry for every complaint of the range, in one statement."""
    db.execute(
        "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to, message, actor) "
        f"SELECT id, received_at, 'received', NULL, 'received', :message, :actor FROM {TABLE} "
        "WHERE id BETWEEN :first AND :last ORDER BY id",
        {"first": first, "last": last, "message": message, "actor": actor},
    )


def count_range(db, first: int, last: int) -> int:
    """How many complaints have ids in ``first``..``last``."""
    return db.execute(f"SELECT count(*) FROM {TABLE} WHERE id BETWEEN ? AND ?", [first, last]).fetchone()[0]


def json_flag(column: str, key: str) -> str:
    """SQL: a JSON yes/no member (``true``/``false``, or a whole number) as 1/0; NULL otherwise."""
    return (
        f"(CASE json_type({column}, '$.{key}') WHEN 'true' THEN 1 WHEN 'false' THEN 0 "
        f"WHEN 'integer' THEN CAST({json_field(column, key)} AS INTEGER) END)"
    )


#: The interaction kinds the plugin acts on when they are recorded.
HEARD_KINDS = frozenset({"complaint", "feedback", "survey"})
#: Up to this many recorded interactions, their kinds are read from the records themselves.
KINDS_READ_IN_PYTHON = 64


def kinds_in_range(db, first: int, last: int) -> set[str]:
    """Which of :data:`HEARD_KINDS` the interactions with ids in [first, last] have."""
    marks = ", ".join("?" * len(HEARD_KINDS))
    rows = db.execute(
        f"SELECT DISTINCT kind FROM interactions WHERE id BETWEEN ? AND ? AND {BATCH_KIND} IN ({marks})",
        [first, last, *sorted(HEARD_KINDS)],
    )
    return {kind for (kind,) in rows}


def record_surveys(db, first: int, last: int) -> None:
    """Satisfaction from ``survey`` interactions about a complaint (topic ``complaint``): the
    newest survey of the batch about each complaint, when it is from the complaint's customer."""
    db.execute(
        f"""UPDATE {TABLE} SET satisfaction = CAST({json_field('i.data', 'score')} AS INTEGER),
            accepted = COALESCE({json_flag('i.data', 'accepted')}, {TABLE}.accepted)
        FROM (
            SELECT CAST({json_field('data', 'complaint_id')} AS INTEGER) AS complaint_id, max(id) AS newest
            FROM interactions
            WHERE id BETWEEN :first AND :last AND {BATCH_KIND} = 'survey'
              AND {json_field('data', 'topic')} = 'complaint' AND {json_field('data', 'complaint_id')} IS NOT NULL
            GROUP BY 1
        ) AS s JOIN interactions i ON i.id = s.newest
        WHERE {TABLE}.id = s.complaint_id AND {TABLE}.customer_id = i.customer_id""",
        {"first": first, "last": last},
    )


# --- reading -------------------------------------------------------------------------------------

def get_complaint(db, complaint_id: int) -> dict | None:
    """One complaint row as a dict, or None."""
    rows = list(db.query(f"SELECT * FROM {TABLE} WHERE id = ?", [complaint_id]))
    return rows[0] if rows else None


def list_complaints(db, filters: dict[str, Any], limit: int, offset: int) -> list[dict]:
    """Complaint rows matching the filters (equality on columns, ``open``, ``overdue_at``), oldest
    first, paged."""
    where, params = [], {}
    for column in ("status", "owner", "customer_id", "category", "product", "severity", "channel"):
        value = filters.get(column)
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    if filters.get("open"):
        listed, more = open_states_sql()
        where.append(f"status IN ({listed})")
        params.update(more)
    if filters.get("overdue_at"):
        listed, more = open_states_sql()
        where.append(f"status IN ({listed}) AND paused_at IS NULL AND "
                     "((status = 'received' AND ack_due_at < :overdue_at) OR resolve_due_at < :overdue_at)")
        params.update(more, overdue_at=filters["overdue_at"])
    sql = f"SELECT * FROM {TABLE}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY received_at, id LIMIT :_limit OFFSET :_offset"
    return list(db.query(sql, dict(params, _limit=int(limit), _offset=int(offset))))


def update_complaint(db, complaint_id: int, values: dict[str, Any]) -> None:
    """Set columns of one complaint (column names come from code, never from users)."""
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    db.execute(f"UPDATE {TABLE} SET {assignments} WHERE id = :_id", dict(values, _id=complaint_id))


def last_event_time(db, complaint_id: int) -> str | None:
    """The time of the complaint's latest history entry, or None."""
    return db.execute("SELECT max(at) FROM complaints_history WHERE complaint_id = ?", [complaint_id]).fetchone()[0]


def add_history(db, complaint_id: int, at: str, event: str, status_from, status_to, message, actor) -> None:
    """Append one customer-visible history entry."""
    db.execute(
        "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to, message, actor) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [complaint_id, at, event, status_from, status_to, message, actor],
    )


def history(db, complaint_id: int) -> list[dict]:
    """The complaint's history rows, oldest first."""
    return list(db.query("SELECT * FROM complaints_history WHERE complaint_id = ? ORDER BY at, id", [complaint_id]))


def add_note(db, complaint_id: int, at: str, author: str, text: str) -> int:
    """Append an internal note and return its id."""
    return db.execute(
        "INSERT INTO complaints_notes(complaint_id, at, author, text) VALUES (?, ?, ?, ?) RETURNING id",
        [complaint_id, at, author, text],
    ).fetchone()[0]


def notes(db, complaint_id: int) -> list[dict]:
    """The complaint's internal notes, oldest first."""
    return list(db.query("SELECT * FROM complaints_notes WHERE complaint_id = ? ORDER BY at, id", [complaint_id]))


# --- pauses --------------------------------------------------------------------------------------

def start_pause(db, complaint_id: int, at: str, reason: str | None, due_before: str) -> None:
    """Record the start of a wait on the customer, with the resolve deadline in force before it."""
    db.execute(
        "INSERT INTO complaints_pauses(complaint_id, started_at, reason, due_before) VALUES (?, ?, ?, ?)",
        [complaint_id, at, reason, due_before],
    )


def open_pause(db, complaint_id: int) -> dict | None:
    """The complaint's pause still running, or None."""
    rows = list(db.query(
        "SELECT * FROM complaints_pauses WHERE complaint_id = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1", [complaint_id]
    ))
    return rows[0] if rows else None


def end_pause(db, pause_id: int, at: str, calendar_id: int | None) -> str:
    """Close a pause at ``at`` and return the deadline moved on by the working time it lasted.

    A pause that began after the deadline had passed does not move it: a breach stays a breach.
    """
    moved = iso_from_epoch(from_business(
        f"{business_seconds(epoch('p.due_before'), calendar_id)} + {business_seconds(epoch(':at'), calendar_id)}"
        f" - {business_seconds(epoch('p.started_at'), calendar_id)}", calendar_id,
    ))
    due_after = db.execute(
        f"SELECT CASE WHEN p.started_at > p.due_before THEN p.due_before ELSE {moved} END "
        "FROM complaints_pauses p WHERE p.id = :id",
        {"id": pause_id, "at": at},
    ).fetchone()[0]
    db.execute("UPDATE complaints_pauses SET ended_at = ?, due_after = ? WHERE id = ?", [at, due_after, pause_id])
    return due_after


def pauses(db, complaint_id: int) -> list[dict]:
    """The complaint's pauses, oldest first."""
    return list(db.query("SELECT * FROM complaints_pauses WHERE complaint_id = ? ORDER BY started_at, id", [complaint_id]))


# --- handlers ------------------------------------------------------------------------------------

def upsert_handler(db, row: dict) -> None:
    """Insert a handler or update its role, supervisor, skills and active flag."""
    db.execute(
        "INSERT INTO complaints_handlers(name, role, supervisor, skills, active, created_at) "
        "VALUES (:name, :role, :supervisor, :skills, :active, :created_at) "
        "ON CONFLICT(name) DO UPDATE SET role = excluded.role, supervisor = excluded.supervisor, "
        "skills = excluded.skills, active = excluded.active",
        row,
    )


def get_handler(db, name: str) -> dict | None:
    """One handler row by name, or None."""
    rows = list(db.query("SELECT * FROM complaints_handlers WHERE name = ?", [name]))
    return rows[0] if rows else None


def handlers(db, active_only: bool = False) -> list[dict]:
    """Every handler row (optionally only active ones), by name."""
    sql = "SELECT * FROM complaints_handlers" + (" WHERE active = 1" if active_only else "") + " ORDER BY name"
    return list(db.query(sql))


# --- escalation ----------------------------------------------------------------------------------

def max_escalation_id(db) -> int:
    """The highest id of ``complaints_escalations``: a mark to find the rows a sweep adds after
    it."""
    return db.execute("SELECT COALESCE(max(id), 0) FROM complaints_escalations").fetchone()[0]


def insert_escalations(db, level: dict, now: str, calendar: int | str | None) -> int:
    """One statement: record ``level`` for every open, running complaint whose trigger has come.

    The scan starts from the (status, deadline) index: open tickets are few, closed ones many
    (the unary ``+`` keeps the planner off the received_at index).

    Triggers: ``share`` (that share of the target's working time used up), ``breach`` (the
    deadline has passed) and ``after_breach`` (that much working time since the deadline),
    counted in ``calendar`` (``"c.calendar_id"``: each ticket's own). A level is recorded once
    per complaint and reopening cycle, so the same ``now`` twice adds nothing.
    """
    listed, params = open_states_sql()
    if level["target"] == "acknowledge":
        due, target, scope = "c.ack_due_at", "c.ack_target_s", "c.status = 'received'"
    else:
        due, target, scope = "c.resolve_due_at", "c.resolve_target_s", f"c.status IN ({listed})"
    now_b = business_seconds(epoch(":now"), calendar)
    due_b = business_seconds(epoch(due), calendar)
    if level["trigger"] == "breach":
        condition = f"{due} < :now"
    elif level["trigger"] == "share":
        condition = f"{now_b} >= {due_b} - CAST(ROUND((1 - :share) * {target}) AS INTEGER)"
    else:
        condition = f"{due} < :now AND {now_b} >= {due_b} + :after"
    action_to = "COALESCE(h.supervisor, c.owner)" if level["action"] == "escalate" else "c.owner"
    cursor = db.execute(
        f"""INSERT INTO complaints_escalations(complaint_id, cycle, level, name, at, from_owner, to_owner)
        SELECT c.id, c.reopen_count, :level, :name, :now, c.owner, {action_to}
        FROM {TABLE} c LEFT JOIN complaints_handlers h ON h.name = c.owner
        WHERE {scope} AND c.paused_at IS NULL AND +c.received_at <= :now AND {condition}
          AND NOT EXISTS (SELECT 1 FROM complaints_escalations e
                          WHERE e.complaint_id = c.id AND e.cycle = c.reopen_count AND e.level = :level)""",
        dict(params, level=level["level"], name=level["name"], now=now,
             share=level.get("share", 0), after=level.get("after_seconds", 0)),
    )
    return cursor.rowcount


def new_escalations(db, after_id: int, level: int) -> list[dict]:
    """Escalations of ``level`` recorded after ``after_id``, with their complaint's customer,
    deadlines, status and severity."""
    return list(db.query(
        f"""SELECT e.complaint_id, e.cycle, e.level, e.name, e.from_owner, e.to_owner, c.customer_id,
               c.ack_due_at, c.resolve_due_at, c.status, c.severity
        FROM complaints_escalations e JOIN {TABLE} c ON c.id = e.complaint_id
        WHERE e.id > ? AND e.level = ? ORDER BY e.complaint_id""",
        [after_id, level],
    ))


def apply_escalated_owners(db, after_id: int, level: int, now: str, actor: str, message: str) -> None:
    """Move the complaints just escalated to their new owner and tell the customer, set-based."""
    db.execute(
        f"""UPDATE {TABLE} SET owner = e.to_owner, updated_at = :now,
            escalation_level = max(escalation_level, e.level)
        FROM complaints_escalations e
        WHERE e.id > :after AND e.level = :level AND e.complaint_id = {TABLE}.id""",
        {"after": after_id, "level": level, "now": now},
    )
    db.execute(
        "INSERT INTO complaints_history(complaint_id, at, event, status_from, status_to, message, actor) "
        "SELECT e.complaint_id, :now, 'escalated', NULL, NULL, :message, :actor FROM complaints_escalations e "
        "WHERE e.id > :after AND e.level = :level ORDER BY e.complaint_id",
        {"after": after_id, "level": level, "now": now, "message": message, "actor": actor},
    )


def escalations(db, complaint_id: int) -> list[dict]:
    """The escalation levels a complaint reached, by cycle and level."""
    return list(db.query(
        "SELECT * FROM complaints_escalations WHERE complaint_id = ? ORDER BY cycle, level", [complaint_id]
    ))


# --- SLA board -----------------------------------------------------------------------------------

def sla_board(db, now: str, calendar: int | str | None, owner: str | None, limit: int) -> list[dict]:
    """Open complaints with their running clock: deadline, working seconds left (counted in
    ``calendar``; ``"board.calendar_id"``: each ticket's own), state."""
    listed, params = open_states_sql()
    due = "CASE WHEN c.status = 'received' THEN c.ack_due_at ELSE c.resolve_due_at END"
    target = "CASE WHEN c.status = 'received' THEN c.ack_target_s ELSE c.resolve_target_s END"
    now_b = business_seconds(epoch(":now"), calendar)
    where = f"c.status IN ({listed}) AND +c.received_at <= :now"  # + : start from the status index
    if owner is not None:
        where += " AND c.owner = :owner"
    return list(db.query(
        f"""SELECT id, customer_id, owner, severity, status, clock, due_at, target_s, paused_at,
               {business_seconds(epoch('due_at'), calendar)} - {now_b} AS left_s
        FROM (SELECT c.*, CASE WHEN c.status = 'received' THEN 'acknowledge' ELSE 'resolve' END AS clock,
                     {due} AS due_at, {target} AS target_s FROM {TABLE} c WHERE {where}) AS board
        ORDER BY paused_at IS NOT NULL, due_at, id LIMIT :_limit""",
        dict(params, now=now, owner=owner, _limit=int(limit)),
    ))


# --- erasure and merging -------------------------------------------------------------------------

def forget_customer(db, customer_id: int) -> None:
    """Blank the free text of a customer's complaints, notes and feedback; keep dates and amounts."""
    ids = f"SELECT id FROM {TABLE} WHERE customer_id = :cid"
    params = {"cid": customer_id}
    db.execute(
        f"UPDATE {TABLE} SET description = NULL, desired_outcome = NULL, decision_reason = NULL, "
        "resolution_detail = NULL WHERE customer_id = :cid", params,
    )
    db.execute(f"UPDATE complaints_notes SET text = NULL WHERE complaint_id IN ({ids})", params)
    db.execute(f"UPDATE complaints_history SET message = NULL WHERE complaint_id IN ({ids})", params)
    db.execute(f"UPDATE complaints_pauses SET reason = NULL WHERE complaint_id IN ({ids})", params)
    db.execute("UPDATE complaints_feedback SET text = NULL, title = NULL WHERE customer_id = :cid", params)


def scrub_customer(erasure, customer_id: int) -> None:
    """Scrub the customer's identifying values from the text kept about their complaints and
    feedback (categories, outcomes, escalation names) and from the audit entries about them."""
    params = {"cid": customer_id}
    complaints = [row[0] for row in erasure.db.execute(f"SELECT id FROM {TABLE} WHERE customer_id = :cid", params)]
    feedback = [row[0] for row in erasure.db.execute("SELECT id FROM complaints_feedback WHERE customer_id = :cid", params)]
    erasure.scrub_rows(TABLE, ("channel", "category", "product", "decision", "resolution", "first_outcome"),
                       "customer_id = :cid", params)
    erasure.scrub_rows("complaints_feedback", ("classification",), "customer_id = :cid", params)
    erasure.scrub_rows("complaints_history", ("event",), f"complaint_id IN (SELECT id FROM {TABLE} WHERE customer_id = :cid)", params)
    erasure.scrub_audit("complaint", complaints)
    erasure.scrub_audit("feedback", feedback)


def merge_customers(db, kept_id: int, merged_id: int) -> dict[str, int]:
    """Move complaints, feedback and feedback requests of ``merged_id`` onto ``kept_id``; rows moved
    per table."""
    counts = {}
    for table in (TABLE, "complaints_feedback", "complaints_feedback_requests"):
        cursor = db.execute(f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?", [kept_id, merged_id])
        counts[table] = cursor.rowcount
    return counts

