"""Run a program written against CRM files on a PostgreSQL server instead, for testing.

With ``CRMKIT_TEST_SERVER=postgresql://...`` set, every SQLite target (a path or ``:memory:``)
opens a schema of that server database instead: one schema per file path (so reopening the path,
from this process or a CLI subprocess, finds the same data) and a new schema for every
``:memory:``. An empty file is left at the path so that "does the CRM exist" checks still hold.
This is how crmkit's own test suite, and a plugin's, runs unchanged on both engines.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .target import Target, parse

ENVIRONMENT_VARIABLE = "CRMKIT_TEST_SERVER"


def server_for(target: Target) -> Target | None:
    """The server target that replaces the SQLite ``target``, or None when not redirecting."""
    server = os.environ.get(ENVIRONMENT_VARIABLE)
    if not server or target.is_server:
        return None
    if target.path == ":memory:":
        schema = "m_" + uuid.uuid4().hex[:20]
    else:
        path = Path(target.path).expanduser().resolve()
        schema = _file_schema(path)
        if not path.parent.is_dir():
            from ..errors import CrmError

            raise CrmError(f"cannot open {target.path}: folder {path.parent} does not exist")
        if not path.exists():
            path.touch()
    parts = urlsplit(server)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "options"]
    query.append(("options", f"-c search_path={schema}"))
    redirected = parse(urlunsplit(parts._replace(query=urlencode(query, quote_via=quote))))
    return redirected


def redirects(path: str | os.PathLike) -> bool:
    """Whether the file ``path`` is redirected to a server schema."""
    return bool(os.environ.get(ENVIRONMENT_VARIABLE)) and not parse(str(path)).is_server and str(path) != ":memory:"


@contextmanager
def suspended() -> Iterator[None]:
    """Within the block, paths open real SQLite files (to build one and then copy it across)."""
    server = os.environ.pop(ENVIRONMENT_VARIABLE, None)
    try:
        yield
    finally:
        if server is not None:
            os.environ[ENVIRONMENT_VARIABLE] = server


def schema_of(target: Target) -> str | None:
    """The schema a redirected target's ``search_path`` option names."""
    for key, value in parse_qsl(urlsplit(target.url or "").query):
        if key == "options" and "search_path=" in value:
            return value.split("search_path=", 1)[1].split()[0]
    return None


def _file_schema(path: str | os.PathLike) -> str:
    return "f_" + hashlib.sha1(str(Path(path).expanduser().resolve()).encode()).hexdigest()[:20]


def _on_server(*statements: str) -> None:
    import psycopg

    with psycopg.connect(os.environ[ENVIRONMENT_VARIABLE], autocommit=True) as conn:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)


def file_moved(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """When redirecting, what the file ``source`` held becomes the file ``target``'s (a rename)."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        old, new = _file_schema(source), _file_schema(target)
        _on_server(f'DROP SCHEMA IF EXISTS "{new}" CASCADE', f'ALTER SCHEMA "{old}" RENAME TO "{new}"')


def file_removed(path: str | os.PathLike) -> None:
    """When redirecting, what the file ``path`` held is gone with it."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        _on_server(f'DROP SCHEMA IF EXISTS "{_file_schema(path)}" CASCADE')
