"""How a CRM is named: a file path (SQLite) or a ``postgresql://`` URL (a server)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from attrs import frozen

from ..errors import CrmError

ENVIRONMENT_VARIABLE = "CRMKIT_DATABASE"
SERVER_SCHEMES = ("postgresql", "postgres")


@frozen
class Target:
    """Where a CRM lives. ``url`` is set for a server, ``path`` for a file (or ``:memory:``)."""

    engine: str
    path: str | None = None
    url: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None

    @property
    def is_server(self) -> bool:
        return self.url is not None

    def describe(self) -> str:
        """A name to show in messages: the path, or user@host:port/database, never the password."""
        if not self.is_server:
            return str(self.path)
        where = f"{self.host or 'localhost'}:{self.port or 5432}/{self.database or ''}"
        return f"PostgreSQL {self.user + '@' if self.user else ''}{where}"

    def __str__(self) -> str:
        return self.describe()


def is_server_url(value: object) -> bool:
    """True when ``value`` names a PostgreSQL server rather than a file."""
    return isinstance(value, str) and value.split("://", 1)[0].lower() in SERVER_SCHEMES and "://" in value


def parse(value: str | os.PathLike | None) -> Target:
    """The :class:`Target` for a path or URL; None takes ``$CRMKIT_DATABASE``."""
    if value is None:
        value = os.environ.get(ENVIRONMENT_VARIABLE)
        if not value:
            raise CrmError(f"no database given, and {ENVIRONMENT_VARIABLE} is not set")
    if isinstance(value, str) and is_server_url(value):
        return _parse_url(value)
    if isinstance(value, str) and "://" in value:
        scheme = value.split("://", 1)[0]
        raise CrmError(f"unsupported database URL scheme {scheme!r}: use a file path or postgresql://user@host:port/dbname")
    return Target(engine="sqlite", path=str(value) if str(value) == ":memory:" else str(Path(value).expanduser()))


def _parse_url(value: str) -> Target:
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise CrmError(f"bad port in database URL {_redacted(value)}") from None
    database = unquote(parts.path.lstrip("/")) or None
    if not database:
        raise CrmError(f"database URL {_redacted(value)} names no database (postgresql://user@host:port/dbname)")
    url = value.replace("postgres://", "postgresql://", 1) if value.startswith("postgres://") else value
    return Target(
        engine="postgresql", url=url, host=parts.hostname, port=port, database=database,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _redacted(value: str) -> str:
    parts = urlsplit(value)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return value
