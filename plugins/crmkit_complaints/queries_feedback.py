"""SQL of feedback and suggestions: items, who asked for them, duplicates, the ranking inputs."""

from __future__ import annotations

from typing import Any

from .queries import BATCH_KIND, json_field, severity_sql as label_sql

TABLE = "complaints_feedback"
REQUESTS = "complaints_feedback_requests"
_COLUMNS = (
    "customer_id", "interaction_id", "received_at", "title", "text", "classification", "status",
    "urgency", "importance", "cost", "status_at", "created_at",
)


def insert(db, row: dict) -> int:
    """Insert one feedback item and its first request; return the item's id."""
    new_id = db.execute(
        f"INSERT INTO {TABLE}({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)}) RETURNING id", row
    ).fetchone()[0]
    db.execute(
        f"INSERT INTO {REQUESTS}(feedback_id, customer_id, interaction_id, asked_at) VALUES (?, ?, ?, ?)",
        [new_id, row["customer_id"], row["interaction_id"], row["received_at"]],
    )
    return new_id


def insert_from_interactions(db, first: int, last: int, classes: tuple[str, ...], aliases: dict[str, str], now: str) -> int:
    """One statement for the items, one for their requests, for every ``feedback`` interaction."""
    params = {"first": first, "last": last, "now": now}
    listed = []
    for index, name in enumerate(classes):
        params[f"_fc{index}"] = name
        listed.append(f":_fc{index}")
    raw, more = label_sql(f"COALESCE({json_field('data', 'classification')}, {json_field('data', 'topic')}, category)", aliases, "_fb")
    params.update(more)
    cursor = db.execute(
        f"""INSERT INTO {TABLE}({', '.join(_COLUMNS)})
        SELECT customer_id, id, occurred_at, COALESCE({json_field('data', 'title')}, {json_field('data', 'topic')}),
            COALESCE({json_field('data', 'text')}, notes),
            CASE WHEN {raw} IN ({', '.join(listed)}) THEN {raw} ELSE 'other' END,
            'new', 3, 3, 3, occurred_at, :now
        FROM interactions WHERE id BETWEEN :first AND :last AND {BATCH_KIND} = 'feedback' ORDER BY id""",
        params,
    )
    db.execute(
        f"INSERT INTO {REQUESTS}(feedback_id, customer_id, interaction_id, asked_at) "
        f"SELECT id, customer_id, interaction_id, received_at FROM {TABLE} "
        "WHERE interaction_id BETWEEN :first AND :last ORDER BY id",
        params,
    )
    return cursor.rowcount


def get(db, feedback_id: int) -> dict | None:
    """One feedback row with its number of distinct requesters, or None."""
    rows = list(db.query(
        f"SELECT f.*, (SELECT count(DISTINCT r.customer_id) FROM {REQUESTS} r WHERE r.feedback_id = f.id) AS requesters "
        f"FROM {TABLE} f WHERE f.id = ?", [feedback_id]
    ))
    return rows[0] if rows else None


def listing(db, status: str | None, classification: str | None, limit: int, offset: int) -> list[dict]:
    """Feedback items not merged into another, optionally by status and class, oldest first, paged."""
    where, params = ["f.merged_into IS NULL"], {}
    if status is not None:
        where.append("f.status = :status")
        params["status"] = status
    if classification is not None:
        where.append("f.classification = :classification")
        params["classification"] = classification
    return list(db.query(
        f"SELECT f.*, (SELECT count(DISTINCT r.customer_id) FROM {REQUESTS} r WHERE r.feedback_id = f.id) AS requesters "
        f"FROM {TABLE} f WHERE {' AND '.join(where)} ORDER BY f.received_at, f.id LIMIT :_limit OFFSET :_offset",
        dict(params, _limit=int(limit), _offset=int(offset)),
    ))


def update(db, feedback_id: int, values: dict[str, Any]) -> None:
    """Set columns of one feedback item (column names come from code, never from users)."""
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    db.execute(f"UPDATE {TABLE} SET {assignments} WHERE id = :_id", dict(values, _id=feedback_id))


def move_requests(db, keep_id: int, duplicate_id: int) -> int:
    """Move the requests of a duplicate onto the kept item; returns how many moved."""
    return db.execute(f"UPDATE {REQUESTS} SET feedback_id = ? WHERE feedback_id = ?", [keep_id, duplicate_id]).rowcount


def requesters(db, feedback_id: int) -> list[dict]:
    """Who asked for an item: customer id, name, email, first asked and how often, in order of
    asking."""
    return list(db.query(
        f"""SELECT r.customer_id, c.name, c.email, min(r.asked_at) AS first_asked_at, count(*) AS times
        FROM {REQUESTS} r JOIN customers c ON c.id = r.customer_id
        WHERE r.feedback_id = ? GROUP BY r.customer_id, c.name, c.email ORDER BY first_asked_at, r.customer_id""",
        [feedback_id],
    ))


def ranking_inputs(db, as_of: str, since: str, statuses: tuple[str, ...], kinds_in: list[str], kinds_out: list[str]) -> list[dict]:
    """Per open item: scores, distinct requesters up to ``as_of`` and their net spend in (since, as_of]."""
    params: dict[str, Any] = {"as_of": as_of, "since": since}
    lists = {}
    for prefix, values in (("_st", statuses), ("_ki", kinds_in), ("_ko", kinds_out)):
        names = []
        for index, value in enumerate(values):
            params[f"{prefix}{index}"] = value
            names.append(f":{prefix}{index}")
        lists[prefix] = ", ".join(names) or "NULL"
    return list(db.query(
        f"""WITH asking AS (
                SELECT DISTINCT r.feedback_id, r.customer_id FROM {REQUESTS} r
                WHERE r.asked_at <= :as_of AND r.customer_id IS NOT NULL
            ),
            value AS (
                SELECT a.feedback_id, count(*) AS requesters, COALESCE(sum((
                    SELECT sum(CASE WHEN i.kind IN ({lists['_ki']}) THEN i.amount
                                    WHEN i.kind IN ({lists['_ko']}) THEN -i.amount ELSE 0 END)
                    FROM interactions i WHERE i.customer_id = a.customer_id
                      AND i.occurred_at > :since AND i.occurred_at <= :as_of)), 0) AS value_minor,
                    json_group_array(a.customer_id) AS customer_ids
                FROM asking a GROUP BY a.feedback_id
            )
        SELECT f.id, f.title, f.text, f.classification, f.status, f.urgency, f.importance, f.cost,
               v.requesters, v.value_minor, v.customer_ids
        FROM {TABLE} f JOIN value v ON v.feedback_id = f.id
        WHERE f.merged_into IS NULL AND f.received_at <= :as_of AND f.status IN ({lists['_st']})""",
        params,
    ))
