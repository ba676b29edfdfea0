"""Moving and removing CRM files: the database file with its companions (-wal, -shm, -journal).

A CRM file is renamed or deleted through these, not with ``os`` directly, so that the engine
layer can follow: when a test run keeps each file's tables on a server (see :mod:`.redirect`),
the tables move or go with the file.
"""

from __future__ import annotations

import os

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
