"""Helpers for testing crmkit and crmkit plugins: a clock you can set and move, a PostgreSQL
server to run the same tests on."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from .timeutil import to_datetime


class FixedClock:
    """A clock standing still at ``start`` until moved: ``crmkit.open(path, clock=FixedClock(...))``."""

    def __init__(self, start: Any = "2025-01-01T09:00:00Z"):
        self.current: datetime = to_datetime(start)

    def __call__(self) -> datetime:
        return self.current

    def set(self, moment: Any) -> None:
        """Jump to ``moment``."""
        self.current = to_datetime(moment)

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keywords (``days=3``, ``hours=2``); returns the new time."""
        self.current += timedelta(**delta)
        return self.current


def find_postgres_bin() -> Path | None:
    """The folder holding PostgreSQL's ``initdb`` and ``pg_ctl``, or None when not installed."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


@contextmanager
def postgres_server(*, database: str = "crmkit") -> Iterator[str]:
    """Start a throw-away PostgreSQL server on 127.0.0.1 and yield the URL of a new database.

    For tests only: the data folder is temporary, fsync is off, authentication is ``trust``.
    As root the server runs as the ``postgres`` system user (PostgreSQL refuses root). Raises
    :class:`RuntimeError` saying why when PostgreSQL cannot be started here.
    """
    binaries = find_postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (no pg_ctl on PATH or under /usr/lib/postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="crmkit-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise RuntimeError("running as root needs runuser to start PostgreSQL as the postgres user")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, user="postgres")
    port = _free_port()
    data = folder / "data"

    def run(*command: str) -> None:
        result = subprocess.run([*run_as, *command], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()[-500:]}")

    run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
              "-c full_page_writes=off -c max_connections=300"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o", options, "start")
    try:
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def new_database(server_url: str, *, prefix: str = "crmkit") -> Iterator[str]:
    """Create a uniquely named database on the server ``server_url`` reaches; yield its URL.

    The database is dropped when the block ends (connections to it are closed by force).
    """
    import uuid
    from urllib.parse import urlsplit

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
