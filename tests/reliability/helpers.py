"""Shared helpers of the reliability tests: database fingerprints and text scans of every table."""

from __future__ import annotations

import hashlib
from pathlib import Path

from crmkit.engine import Database, connect


def connect_raw(path: str | Path) -> Database:
    """A connection of its own to the CRM at ``path``, independent of any CRM object, to inspect it."""
    return connect(path)


def tables(conn: Database) -> list[str]:
    return sorted(conn.table_names())


def schema(conn: Database) -> list[tuple]:
    """Every table with its columns and primary key, and every index with its definition."""
    names = tables(conn)
    return [(name, conn.columns_of(name), conn.primary_key(name)) for name in names] + sorted(conn.index_definitions(names))


def fingerprint(conn: Database) -> dict[str, str]:
    """Schema plus a digest of every table's full content, to prove nothing changed."""
    out = {"__schema__": repr(schema(conn))}
    for table in tables(conn):
        digest = hashlib.sha256()
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2'):
            digest.update(repr(tuple(row)).encode("utf-8", "backslashreplace"))
        out[table] = digest.hexdigest()
    return out


def file_state(path: str | Path) -> dict[str, str]:
    """The :func:`fingerprint` of the CRM at ``path``, read through a connection of its own."""
    raw = connect_raw(path)
    try:
        return fingerprint(raw)
    finally:
        raw.close()


def text_cells(conn: Database):
    """Yield (table, column, value) for every text value in every table."""
    for table in tables(conn):
        for column in conn.columns_of(table):
            for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'):
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, str):
                    yield table, column, value


def find_traces(conn: Database, secrets: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, secret) for every text cell containing one of the secrets (case-insensitive)."""
    lowered = [s.lower() for s in secrets]
    hits = []
    for table, column, value in text_cells(conn):
        text = value.lower()
        for secret, low in zip(secrets, lowered):
            if low in text:
                hits.append((table, column, secret))
    return hits
