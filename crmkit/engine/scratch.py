"""A private scratch database: a local, temporary SQLite file for a job's own bookkeeping.

Work such as an import's check pass needs somewhere to keep millions of keys and rows without
holding them in memory. That place belongs to the running process alone, whatever engine the
CRM lives on: it is never redirected to a server and is deleted when closed.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

from .sqlite import insert_grouped


def scratch(schema: str = "") -> sqlite3.Connection:
    """A new private temporary database with ``schema`` (SQL script) created, in a transaction.

    The connection is a DB-API connection (``execute``, ``executemany``, ``close``); its file
    lives in the temporary folder and is deleted on close. It is not durable: no journal, no
    syncing, one transaction that is never committed. Statements are SQLite's, but write them in
    the shared SQL crmkit uses elsewhere and take the list helpers from :mod:`crmkit.engine.sql`.
    """
    conn = sqlite3.connect("", isolation_level=None)
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + schema)
    conn.execute("BEGIN")
    return conn


def insert_rows(conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[Sequence[Any]], *, or_ignore: bool = False) -> int:
    """Insert ``rows`` into a scratch ``table``, many rows a statement; returns how many went in.

    With ``or_ignore`` a row whose key is taken (by an earlier row, of this call or not) is left
    out, as ``INSERT OR IGNORE`` row by row leaves it (registering 200,000 keys: 0.14 s instead
    of 0.25-0.31 s one row a statement)."""
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    insert = f"{verb} INTO {table}({', '.join(columns)}) VALUES "
    return insert_grouped(conn.cursor(), insert, f"({', '.join('?' * len(columns))})", rows)
