"""Customer history: the customer fields segment rules read, as they were at any time.

Interactions are an append-only log, so their fields can be computed as of any date; a customer's
own fields (region, stage, owner, ...) are edited in place. ``customer_history`` keeps one row per
version of those fields, valid over ``[valid_from, valid_to)`` (``valid_to`` NULL: the current
version). Every write to a customer (add, update, merge, forget, import) writes its version in
the same transaction, so a rule evaluated as of a past date reads the version valid then.

Identity and contact fields (name, email, phone, external id, address) are not kept: a rule on
them reads the current value at any date. Forgetting a customer scrubs the personal columns
kept here (company, tags, attributes) from every version.

A customer counts as existing at a time when it had been added by then, or had an interaction by
then; before it was added, its fields read as they were when it was added.
"""

from __future__ import annotations

import json

from typing import Any

# The customer columns kept per version, in table order (the table is made by migration
# m002_customer_history of crmkit.migrations).
COLUMNS = ("region", "company", "industry", "size", "source", "owner", "stage", "tags", "attributes")
# What erasure leaves in the personal columns of every version (the same as on the customer row).
SCRUBBED = {"company": None, "tags": "[]", "attributes": "{}"}

# Customer ``c`` (with its summary ``s``) existed at ``:as_of``: it had been added, or it had
# already interacted (customers are often added after the purchases a file of past sales holds).
EXISTED_AT = "(c.created_at <= :as_of OR s.first_interaction_at <= :as_of)"
# ``h`` is the version of customer ``c`` (``h.customer_id = c.id``) valid at ``:as_of``. The first
# version (from ``created_at``) also stands for the time before the customer was added.
VALID_AT = (
    "h.valid_from <= CASE WHEN c.created_at > :as_of THEN c.created_at ELSE :as_of END "
    "AND (h.valid_to IS NULL OR h.valid_to > :as_of)"
)

_LIST = ", ".join(COLUMNS)
_BACKFILL = (
    f"INSERT INTO customer_history(customer_id, valid_from, valid_to, {_LIST}) "
    f"SELECT id, created_at, NULL, {_LIST} FROM customers"
)


def added(db, first_id: int, last_id: int) -> None:
    """First versions of the customers ``first_id..last_id`` just inserted, valid from ``created_at``."""
    db.execute(_BACKFILL + " WHERE id BETWEEN ? AND ?", [first_id, last_id])


def changed(db, customer_id: int, at: str, row: dict | None = None) -> None:
    """A new version of one customer from ``at`` on, holding ``row`` (default: the stored row).

    The open version is closed at ``at``; a version that opened at ``at`` or later (several
    changes at one clock time, or a customer dated in the future) is overwritten instead.
    """
    if row is None:
        found = db.execute(f"SELECT {_LIST} FROM customers WHERE id = ?", [customer_id]).fetchone()
        if found is None:
            return
        row = dict(zip(COLUMNS, found))
    values = {name: row[name] for name in COLUMNS}
    values.update(id=customer_id, at=at)
    closed = db.execute(
        "UPDATE customer_history SET valid_to = :at WHERE customer_id = :id AND valid_to IS NULL AND valid_from < :at",
        values,
    ).rowcount
    if not closed:
        assignments = ", ".join(f"{name} = :{name}" for name in COLUMNS)
        if db.execute(f"UPDATE customer_history SET {assignments} WHERE customer_id = :id AND valid_to IS NULL", values).rowcount:
            return
        # No version at all (a row written around the API): its values count from created_at.
        values["at"] = db.execute("SELECT created_at FROM customers WHERE id = ?", [customer_id]).fetchone()[0]
    db.execute(
        f"INSERT INTO customer_history(customer_id, valid_from, valid_to, {_LIST}) "
        f"VALUES (:id, :at, NULL, {', '.join(':' + name for name in COLUMNS)})",
        values,
    )


def merged(db, kept_id: int, merged_id: int) -> None:
    """Move a duplicate's history onto the kept customer before its row is deleted.

    The duplicate's versions from before the kept customer's first one become the kept
    customer's earliest versions (the merged record is as old as the older of the two); the rest
    are dropped, as the kept customer's own versions cover that time.
    """
    first = db.execute("SELECT min(valid_from) FROM customer_history WHERE customer_id = ?", [kept_id]).fetchone()[0]
    if first is not None:
        db.execute(
            "UPDATE customer_history SET customer_id = :kept, valid_to = CASE WHEN valid_to IS NULL "
            "OR valid_to > :first THEN :first ELSE valid_to END WHERE customer_id = :merged AND valid_from < :first",
            {"kept": kept_id, "merged": merged_id, "first": first},
        )
    db.execute("DELETE FROM customer_history WHERE customer_id = ?", [merged_id])


def forgotten(db, customer_id: int, at: str) -> None:
    """Scrub the personal columns from every version of a forgotten customer; the customer's
    row, already erased, becomes the version from ``at`` on."""
    assignments = ", ".join(f"{name} = :{name}" for name in SCRUBBED)
    db.execute(f"UPDATE customer_history SET {assignments} WHERE customer_id = :id", dict(SCRUBBED, id=customer_id))
    changed(db, customer_id, at)


def horizons(db) -> tuple[str | None, str | None]:
    """In one round trip: the interaction log's horizon (before it the log was pruned to
    summaries) and the newest ``valid_from`` of a customer version (at or after it every
    customer's current values hold); each None when there is none."""
    log, changed = db.execute(
        "SELECT (SELECT value FROM settings WHERE key = 'core.log_horizon'), "
        "(SELECT max(valid_from) FROM customer_history)"
    ).fetchone()
    return (None if log is None else json.loads(log)), changed


def versions(db, customer_id: int) -> list[dict[str, Any]]:
    """One customer's versions, oldest first (for inspection and tests)."""
    cursor = db.execute(
        f"SELECT valid_from, valid_to, {_LIST} FROM customer_history WHERE customer_id = ? ORDER BY valid_from",
        [customer_id],
    )
    names = ("valid_from", "valid_to") + COLUMNS
    return [dict(zip(names, row)) for row in cursor]
