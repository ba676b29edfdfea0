"""Recognising a CRM before changing anything in it.

A CRM file made by crmkit carries crmkit's application id in its SQLite header (set when crmkit
first writes the file). A file from before the id, or a server schema, is recognised by crmkit's
own tables. Anything else that already holds tables belongs to another application and is
refused, untouched: no WAL switch, no migrations.
"""

from __future__ import annotations

from typing import Iterable

from .errors import NotACrmFile


def recognise(db, shown_as: str) -> None:
    """Refuse ``db`` unless it is a CRM or empty; reads only."""
    check_application_id(getattr(db, "application_id", 0), shown_as)
    check_tables(db.table_names(), shown_as)


def is_crmkit(application_id: int, table_names: Iterable[str]) -> bool:
    """Whether a store with this header id and these tables is a CRM (or empty, to become one)."""
    try:
        check_application_id(application_id, "")
        check_tables(table_names, "")
    except NotACrmFile:
        return False
    return True

# SQLite's 32-bit application id for crmkit files: the ASCII bytes "CRMK".
APPLICATION_ID = 0x43524D4B

# Tables every crmkit CRM has had since its first schema; a store holding them is crmkit's.
MARKER_TABLES = frozenset({"settings", "customers"})


def check_tables(table_names: Iterable[str], shown_as: str) -> None:
    """Refuse a store whose tables are not crmkit's. An empty store is where a new CRM may go."""
    names = set(table_names)
    if not names or MARKER_TABLES <= names:
        return
    sample = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise NotACrmFile(
        f"{shown_as} is not a crmkit CRM: it holds another application's tables ({sample}); "
        f"crmkit left it unchanged"
    )


def check_application_id(application_id: int, shown_as: str) -> None:
    """Refuse a SQLite file stamped with another application's id (0 means no id: look at tables)."""
    if application_id not in (0, APPLICATION_ID):
        raise NotACrmFile(
            f"{shown_as} is not a crmkit CRM: it belongs to another application "
            f"(SQLite application id {application_id:#010x}); crmkit left it unchanged"
        )
