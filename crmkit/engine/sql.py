"""Portable SQL fragments: the few expressions the two engines spell differently, spelled once.

Each helper returns SQL text that runs on both engines (SQLite natively; PostgreSQL through the
functions :mod:`crmkit.engine.compat` defines and the rewrites of :mod:`crmkit.engine.translate`).
Code above the engine layer uses these instead of naming an engine's functions, so the day an
engine needs another spelling, only this module changes. Values are never pasted into the text
except whole numbers that the helpers check.
"""

from __future__ import annotations

import sqlite3

STORAGE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def days_between(earlier_sql: str, later_sql: str) -> str:
    """SQL for the (fractional) number of days from one ISO time expression to another."""
    return f"(julianday({later_sql}) - julianday({earlier_sql}))"


# SQLite has unixepoch() since 3.38 (about three times faster than strftime('%s')); the
# PostgreSQL compatibility functions define it too.
_UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38, 0)


def epoch_seconds(time_sql: str) -> str:
    """SQL for an ISO time expression as whole seconds since 1970-01-01 UTC."""
    if _UNIXEPOCH:
        return f"unixepoch({time_sql})"
    return f"CAST(strftime('%s', {time_sql}) AS INTEGER)"


def time_from_epoch(seconds_sql: str) -> str:
    """SQL for seconds since 1970 (an expression) as storage text."""
    return f"strftime('{STORAGE_TIME_FORMAT}', {seconds_sql}, 'unixepoch')"


def shift_days(time_sql: str, days: int) -> str:
    """SQL for an ISO time expression moved by a whole number of days, as storage text."""
    return f"strftime('{STORAGE_TIME_FORMAT}', {time_sql}, '{int(days):+d} days')"


def shift_days_by(time_sql: str, days_sql: str) -> str:
    """SQL for an ISO time expression moved by a (possibly fractional) number of days given as an
    SQL expression, as storage text to the nearest second; NULL when either is NULL."""
    return time_from_epoch(f"{epoch_seconds(time_sql)} + CAST(round(({days_sql}) * 86400.0) AS INTEGER)")


def unindexed(text_sql: str) -> str:
    """A text expression spelled so that no index serves a condition on it.

    For the set-based work on a batch (``id BETWEEN :first AND :last AND kind IN (...)``): the
    batch is read by its primary key range. SQLite, which plans without statistics, would
    otherwise take an index on ``kind`` for the equality and read every row of a common kind:
    the points for one purchase read every purchase ever recorded.
    """
    return f"({text_sql} || '')"


def json_values(list_sql: str, sql_type: str = "TEXT") -> str:
    """A subquery of the items of the JSON array ``list_sql`` (usually a parameter), as ``sql_type``.

    ``x IN ({json_values(':ids', 'INTEGER')})`` binds a whole list as one JSON text parameter,
    however long it is.
    """
    if sql_type.upper() not in ("TEXT", "INTEGER", "REAL"):
        raise ValueError(f"json_values: unsupported type {sql_type!r}")
    return f"SELECT CAST(value AS {sql_type.upper()}) FROM json_each({list_sql})"


def json_list_contains(list_sql: str, value_sql: str) -> str:
    """SQL that is true when the JSON array in ``list_sql`` holds ``value_sql``."""
    return f"EXISTS (SELECT 1 FROM json_each({list_sql}) AS items WHERE CAST(items.value AS TEXT) = CAST({value_sql} AS TEXT))"


def json_get(document_sql: str, path: str) -> str:
    """SQL for the value at ``path`` (``$.key`` or ``$.a.b``) of a JSON text, as text or number."""
    if "'" in path:
        raise ValueError(f"json_get: bad path {path!r}")
    return f"json_extract({document_sql}, '{path}')"


def whole_number(value_sql: str) -> str:
    """SQL for ``value_sql`` (a number, or text such as a JSON member) as INTEGER when its text is
    only digits (``12``, ``'12'``), else NULL: an id read from a document, where anything else
    is no id. ``value_sql`` is written three times: pass a column or a short expression."""
    text = f"CAST({value_sql} AS TEXT)"
    return f"(CASE WHEN {text} <> '' AND ltrim({text}, '0123456789') = '' THEN CAST({value_sql} AS INTEGER) END)"


def json_get_param(document_sql: str, path_sql: str) -> str:
    """As :func:`json_get` with the path given as an SQL expression (a parameter)."""
    return f"json_extract({document_sql}, {path_sql})"


def json_text_param(document_sql: str, path_sql: str) -> str:
    """The value at a path (an SQL expression, a parameter) of a JSON text as text, the same on
    both engines: a string's characters; a number, ``true`` or ``false`` as the JSON text
    spells it (``7``, ``7.5``, ``1e+20``, ``true``); NULL for null or no value; a list or an
    object its JSON text (its spacing may differ by engine). ``document_sql`` is written three
    times: pass a column."""
    document, path = document_sql, path_sql
    return (
        f"(CASE json_type({document}, {path}) WHEN 'text' THEN json_extract({document}, {path}) "
        f"WHEN 'null' THEN NULL ELSE {document} -> {path} END)"
    )


def json_member(document_sql: str, key_sql: str, sql_type: str = "TEXT") -> str:
    """SQL for the member of the JSON object ``document_sql`` named by the SQL expression
    ``key_sql`` (e.g. a column), as ``sql_type``; NULL when the object has no such member.

    Unlike :func:`json_get_param`, the name may hold any character (dots, quotes, spaces).
    """
    return f"(SELECT CAST(value AS {_sql_type(sql_type)}) FROM json_each({document_sql}) WHERE key = {key_sql})"


def json_records(list_sql: str, columns: dict[str, str]) -> str:
    """A subquery with one row per object of the JSON array ``list_sql`` (usually a parameter).

    ``columns`` maps each output column to its SQL type ('TEXT', 'INTEGER' or 'REAL'); the column
    reads the object's member of the same name (NULL when absent). Binding many rows as one JSON
    text parameter lets one statement update or insert them all:
    ``UPDATE t SET x = j.x FROM ({json_records(':rows', {'id': 'INTEGER', 'x': 'TEXT'})}) AS j WHERE t.id = j.id``.
    """
    parts = []
    for name, sql_type in columns.items():
        if not name.isidentifier():
            raise ValueError(f"json_records: bad column name {name!r}")
        parts.append(f"CAST(json_extract(value, '$.{name}') AS {_sql_type(sql_type)}) AS {name}")
    return f"SELECT {', '.join(parts)} FROM json_each({list_sql})"


def json_items_from(list_sql: str, alias: str) -> str:
    """A FROM-clause item with one row per item of the JSON array ``list_sql``, as ``alias.value``.

    Write it after a comma in a FROM list; ``list_sql`` may name columns of the tables before it
    (``FROM customers c, {json_items_from('c.tags', 'tag')}``). The value reads as text on
    PostgreSQL: CAST it where a number is meant.
    """
    if not alias.isidentifier():
        raise ValueError(f"json_items_from: bad alias {alias!r}")
    return f"json_each({list_sql}) AS {alias}"


def _sql_type(sql_type: str) -> str:
    if sql_type.upper() not in ("TEXT", "INTEGER", "REAL"):
        raise ValueError(f"unsupported SQL type {sql_type!r}; use TEXT, INTEGER or REAL")
    return sql_type.upper()


def json_get_number_param(document_sql: str, path_sql: str) -> str:
    """As :func:`json_get_param`, read as a number: the value as REAL when it is a JSON number,
    NULL otherwise (text, true/false, a list, missing), so it compares with numbers on both engines."""
    return (
        f"(CASE WHEN json_type({document_sql}, {path_sql}) IN ('integer', 'real') "
        f"THEN CAST(json_extract({document_sql}, {path_sql}) AS REAL) END)"
    )


# --- the home time zone: spelled per engine, reached through Database.utc_offset/local_time ----

LOCAL_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def utc_offset_sqlite(time_sql: str, zone: str) -> str:
    """SQLite: the UTC offset (seconds) in ``zone`` of a storage time, by the zone's transitions."""
    from .zones import offset_case

    return offset_case(time_sql, zone)


def local_time_sqlite(time_sql: str, zone: str) -> str:
    """SQLite: a storage time as wall-clock text in ``zone`` (``2025-07-01T07:00:00``)."""
    from .zones import is_utc

    if is_utc(zone):
        return time_sql
    return f"strftime('{LOCAL_TIME_FORMAT}', {time_sql}, {utc_offset_sqlite(time_sql, zone)} || ' seconds')"


def utc_offset_postgres(time_sql: str, zone: str) -> str:
    """PostgreSQL: the UTC offset (seconds) in ``zone`` of a storage time, by the server's zone data."""
    from .zones import checked_zone_name, is_utc

    if is_utc(zone):
        return "0"
    return f"crmkit_utc_offset({time_sql}, '{checked_zone_name(zone)}')"


def local_time_postgres(time_sql: str, zone: str) -> str:
    """PostgreSQL: a storage time as wall-clock text in ``zone``, with ``AT TIME ZONE``."""
    from .zones import checked_zone_name, is_utc

    if is_utc(zone):
        return time_sql
    return f"crmkit_local_time({time_sql}, '{checked_zone_name(zone)}')"
