"""The engine layer: the one place that knows SQLite from PostgreSQL.

``connect(target)`` opens a CRM's database, named by a file path (SQLite, no server) or a
``postgresql://`` URL, and returns a :class:`Database` with one interface for both. Statements
are written once; see :mod:`crmkit.engine.translate` for how they reach PostgreSQL.
"""

from __future__ import annotations

import os
from typing import Any

from .base import Database, Features
from .scratch import scratch
from .errors import ConcurrencyError, ConnectionLost, EngineError, IntegrityError, StatementError
from .target import ENVIRONMENT_VARIABLE, Target, is_server_url, parse

__all__ = [
    "ConcurrencyError", "ConnectionLost", "Database", "ENVIRONMENT_VARIABLE", "EngineError", "Features",
    "IntegrityError", "StatementError", "Target", "connect", "describe", "exists", "is_empty_file", "is_server_url", "parse", "scratch",
]


def connect(target: str | os.PathLike | Target | None) -> Database:
    """The database that ``target`` names (a path, ``:memory:`` or a ``postgresql://`` URL)."""
    if not isinstance(target, Target):
        target = parse(target)
    from .redirect import server_for

    redirected = server_for(target)
    if redirected is not None:
        from . import postgres

        return postgres.connect(redirected, create_schema=True, shown_as=target)
    if target.is_server:
        from . import postgres

        return postgres.connect(target)
    from . import sqlite

    return sqlite.connect(target)


def describe(target: Any) -> str:
    """How messages name a CRM: its path, or its server and database without the password."""
    return parse(target).describe() if not isinstance(target, Target) else target.describe()


def is_empty_file(target: Any) -> bool:
    """Whether ``target`` names an empty (0-byte) file: a place for a new CRM, not a CRM to read.
    (A test run that keeps files' tables on a server leaves empty stand-ins; those are not meant.)"""
    if not isinstance(target, Target):
        target = parse(target)
    from pathlib import Path

    from .redirect import ENVIRONMENT_VARIABLE as REDIRECTING

    if target.is_server or target.path == ":memory:" or os.environ.get(REDIRECTING):
        return False

    file = Path(target.path)
    return file.is_file() and file.stat().st_size == 0


def exists(target: Any) -> bool:
    """Whether a CRM is stored at ``target``: a file that exists and is not empty, or a server
    database that holds crmkit's tables (an empty file or database is where a new CRM may be
    created, never what a reading command reads)."""
    if not isinstance(target, Target):
        target = parse(target)
    if not target.is_server:
        from pathlib import Path

        return target.path == ":memory:" or (Path(target.path).exists() and not is_empty_file(target))
    db = connect(target)
    try:
        return "settings" in db.table_names()
    finally:
        db.close()
