"""Every SQL statement the extension runs. Widgets and panels call these; none writes SQL itself.

Paging is keyset paging: a page is "the next ``limit`` rows after this row" in a stable order
(the sort column, then a unique key), so fetching any page costs the same however large the
table is. The inner query a source pages through must be a plain ``SELECT`` without ``ORDER BY``
or ``LIMIT`` so SQLite can flatten it and walk an index.
"""

from __future__ import annotations

import re
from typing import Any

from crmkit.segments import FROM_CUSTOMERS, CompiledRule

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CUSTOMER_COLUMNS = ("id", "name", "email", "company", "region", "owner", "stage")
MEMBER_COLUMNS = ("id", "name", "email", "region", "owner", "stage")


def identifier(name: str) -> str:
    """``name`` if it is a plain SQL identifier; anything else is refused (never spliced)."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain column name: {name!r}")
    return name


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with LIKE's wildcards escaped."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- generic paging over any inner SELECT ----------------------------------------------------

def page_query(
    inner: str, *, key: str, order: str, descending: bool, direction: str, limit: int, part: str = "all",
) -> tuple[str, dict]:
    """A keyset page query over ``inner``.

    ``direction`` is ``first`` (from the start), ``after`` / ``before`` (next to a bound row, whose
    values are bound as ``:_pg_order`` and ``:_pg_key``) or ``last`` (from the end). Pages fetched
    backwards come out in reverse order; :class:`SqlSource` turns them round.

    ``part`` pages through a column that may be null: ``present`` keeps the rows with a value,
    ``missing`` the rows without one, in ``key`` order. "Has a value" is written as a range the
    database reads from the column's index (``IS NOT NULL`` over a left join makes SQLite read
    every row): from the bound row's value, or from ``:_pg_floor``, the lowest value of the
    column's type, bound by the caller. A range from the floor next to the keyset comparison
    would make SQLite walk the index from its start up to the bound row.
    """
    key, order = identifier(key), identifier(order)
    forward = direction in ("first", "after")
    ascending = forward != descending
    bounded = direction in ("after", "before")
    comparison = ">" if ascending else "<"
    conditions = []
    if part == "present":
        conditions.append(f"q.{order} {comparison}= :_pg_order" if bounded else f"q.{order} >= :_pg_floor")
    elif part == "missing":
        conditions.append(f"q.{order} IS NULL")
        order = key
    elif part != "all":
        raise ValueError(f"unknown part {part!r}")
    word = "ASC" if ascending else "DESC"
    sort = f"q.{order} {word}, q.{key} {word}" if order != key else f"q.{key} {word}"
    if bounded:
        if order == key:
            conditions.append(f"q.{key} {comparison} :_pg_key")
        else:
            conditions.append(f"(q.{order}, q.{key}) {comparison} (:_pg_order, :_pg_key)")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM ({inner}) AS q {where} ORDER BY {sort} LIMIT :_pg_limit", {"_pg_limit": int(limit)}


def filter_query(inner: str, columns, text: str) -> tuple[str, dict]:
    """The rows of ``inner`` with ``text`` anywhere in one of ``columns`` (compared as text)."""
    where = " OR ".join(f"lower(CAST(f.{identifier(c)} AS TEXT)) LIKE :_filter ESCAPE '\\'" for c in columns)
    return f"SELECT * FROM ({inner}) AS f WHERE {where}", {"_filter": like_pattern(text.lower())}


def count_query(inner: str, cap: int | None) -> tuple[str, dict]:
    """Count the rows of ``inner``; with a ``cap`` stop counting at ``cap + 1`` rows."""
    if cap is None:
        return f"SELECT count(*) FROM ({inner}) AS q", {}
    return f"SELECT count(*) FROM (SELECT 1 FROM ({inner}) AS q LIMIT :_pg_cap) AS capped", {"_pg_cap": int(cap) + 1}


def run(db, sql: str, params: dict) -> list[dict]:
    """Rows of a query as dicts."""
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# --- customers --------------------------------------------------------------------------------

def customer_list(search: str | None = None, *, extra: dict[str, str] | None = None, extra_params: dict | None = None) -> tuple[str, dict]:
    """The customers table (one row per customer), optionally filtered by a search text that is
    matched anywhere in name, email or company.

    ``extra`` adds columns: name → an SQL expression over ``c`` (customers) and ``s`` (their
    summary), e.g. a plugin field's SQL (with ``extra_params``). Without ``extra`` the query
    reads the customers table alone.
    """
    columns = ", ".join(f"c.{c}" for c in CUSTOMER_COLUMNS)
    params = dict(extra_params or {})
    if extra:
        columns += "".join(f", ({sql}) AS {identifier(name)}" for name, sql in extra.items())
        sql = f"SELECT {columns} FROM {FROM_CUSTOMERS}"
    else:
        sql = f"SELECT {columns} FROM customers c"
    if not search or not search.strip():
        return sql, params
    where = " OR ".join(f"c.{c} LIKE :_search ESCAPE '\\'" for c in ("name", "email", "company"))
    return f"{sql} WHERE {where}", dict(params, _search=like_pattern(search))


def customer_timeline(customer_id: int) -> tuple[str, dict]:
    """One customer's interactions, for paging newest first by ``occurred_at`` (the customer and
    time index serves every page)."""
    return (
        "SELECT i.id, i.occurred_at, i.kind, i.amount, i.channel, i.product, i.rep, i.notes "
        "FROM interactions i WHERE i.customer_id = :_customer_id",
        {"_customer_id": int(customer_id)},
    )


def rule_members(compiled: CompiledRule) -> tuple[str, dict]:
    """The members of a compiled rule, one row per customer, for paging."""
    columns = ", ".join(f"c.{c}" for c in MEMBER_COLUMNS)
    return f"SELECT {columns} FROM {FROM_CUSTOMERS} WHERE {compiled.where}", dict(compiled.params)


def field_value(db, field_sql: str, params: dict, customer_id: int) -> Any:
    """One field's value (its SQL expression over ``c`` and ``s``) for one customer."""
    row = db.execute(
        f"SELECT ({field_sql}) FROM {FROM_CUSTOMERS} WHERE c.id = :_customer_id",
        dict(params, _customer_id=int(customer_id)),
    ).fetchone()
    return None if row is None else row[0]


def snapshot_rows(db, segment: str) -> list[dict]:
    """A segment's snapshots, newest first."""
    return run(
        db,
        "SELECT id, as_of, taken_at, members, rule FROM segment_snapshots WHERE segment = :segment ORDER BY as_of DESC, id DESC",
        {"segment": segment},
    )
