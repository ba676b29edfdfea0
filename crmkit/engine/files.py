"""Moving and removing CRM files: the database file with its companions (-wal, -shm, -journal).

A CRM file is renamed or deleted through these, not with ``os`` directly, so that the engine
layer can follow: when a test run keeps each file's tables on a server (see :mod:`.redirect`),
the tables move or go with the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import redirect

COMPANIONS = ("-wal", "-shm", "-journal")


def remove_file(path: str | os.PathLike) -> None:
    """Delete the CRM file ``path`` and its companions; a missing file is no error."""
    existed = False
    for suffix in ("",) + COMPANIONS:
        try:
            os.remove(f"{os.fspath(path)}{suffix}")
            existed = existed or suffix == ""
        except FileNotFoundError:
            pass
    if existed:
        redirect.file_removed(path)


def replace_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Rename the closed CRM file ``source`` to ``target``, replacing what ``target`` held."""
    for suffix in COMPANIONS:
        try:
            os.remove(f"{os.fspath(target)}{suffix}")
        except FileNotFoundError:
            pass
    os.replace(source, target)
    redirect.file_moved(source, target)


#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def overwrites_database(path: str | os.PathLike, target=None) -> bool:
    """Whether writing a file at ``path`` would destroy a database: the CRM file that ``target``
    (a :class:`~crmkit.engine.target.Target`) names or one of its companions, or any other
    SQLite file or companion of one. Outputs (exports, reports, problem lists) check it first."""
    path = Path(path)
    bases = [path] + [Path(str(path)[: -len(suffix)]) for suffix in COMPANIONS if str(path).endswith(suffix)]
    own = getattr(target, "path", None)
    if own not in (None, ":memory:"):
        own_file = Path(own).expanduser().resolve()
        if any(base.expanduser().resolve() == own_file for base in bases):
            return True
    for base in bases:
        if not base.is_file():  # nothing there, or a device or pipe (/dev/stdout), which holds no database
            continue
        try:
            with open(base, "rb") as handle:
                if handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER:
                    return True
        except OSError:
            continue
    return False
