"""Shared helpers of the reliability tests: file fingerprints and text scans of every table."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path


def connect_raw(path: str | Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, independent of crmkit, to inspect a file."""
    conn = sqlite3.connect(str(path), timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def schema(conn: sqlite3.Connection) -> list[tuple]:
    """Every object of sqlite_master (tables, indexes, triggers, views) with its SQL."""
    return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def fingerprint(conn: sqlite3.Connection) -> dict[str, str]:
    """Schema plus a digest of every table's full content, to prove nothing changed."""
    out = {"__schema__": repr(schema(conn))}
    for table in tables(conn):
        digest = hashlib.sha256()
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2'):
            digest.update(repr(row).encode("utf-8", "backslashreplace"))
        out[table] = digest.hexdigest()
    return out


def text_cells(conn: sqlite3.Connection):
    """Yield (table, column, value) for every text value in every table of the file."""
    for table in tables(conn):
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        for column in columns:
            for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") IN (\'text\', \'blob\')'):
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                yield table, column, value


def find_traces(conn: sqlite3.Connection, secrets: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, secret) for every text cell containing one of the secrets (case-insensitive)."""
    lowered = [s.lower() for s in secrets]
    hits = []
    for table, column, value in text_cells(conn):
        text = value.lower()
        for secret, low in zip(secrets, lowered):
            if low in text:
                hits.append((table, column, secret))
    return hits
