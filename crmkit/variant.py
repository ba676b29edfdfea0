"""A CRM's variant: the plugin set chosen when it was created, stored in its ``plugins`` setting.

Every later open uses the stored set, so a plugin installed afterwards is not switched on in an
existing CRM by accident; ``crmkit plugins add/remove`` change the set explicitly. The
``plugins=`` argument, ``CRMKIT_PLUGINS`` and a ``crmkit.toml`` settings file still choose for
one open (they come first), and a new CRM remembers the set they chose.

A CRM made before the setting existed is given the plugins it evidently used: those whose
schema migrations it holds, and the installed plugins that keep no tables (nothing tells whether
they were used; they cannot have left data behind).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from . import store
from .errors import CrmError

SETTING = "plugins"


def stored(db) -> list[str] | None:
    """The stored plugin set, or None when the CRM has none yet. Reads only."""
    if "settings" not in db.table_names():
        return None
    row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING]).fetchone()
    return None if row is None else json.loads(row[0])


def inferred(db) -> list[str]:
    """The plugin set of a CRM without a stored one: every installed plugin for a new CRM, else
    the plugins whose migrations it holds plus those that keep no tables."""
    from .plugins import load_plugins

    everything = load_plugins(_installed_names())
    if "settings" not in db.table_names():
        return everything.names()
    sets = dict(everything.each_or_raise("crmkit_migrations"))
    return [name for name in everything.names() if sets.get(name) is None or sets[name].applied(db)]


def with_tables(db) -> list[str]:
    """The installed plugins whose schema migrations the CRM holds, whatever its stored set says
    (a plugin chosen for one open with ``plugins=`` leaves its tables behind)."""
    from .plugins import load_plugins

    everything = load_plugins(_installed_names())
    if "settings" not in db.table_names():
        return []
    return [name for name, migrations in everything.each_or_raise("crmkit_migrations")
            if migrations is not None and migrations.applied(db)]


def remember(db, selection: Iterable[Any]) -> None:
    """Store ``selection`` as the CRM's set when it has none and names only installed plugins
    (a test's plugin objects are not remembered)."""
    names = list(selection)
    if not all(isinstance(name, str) for name in names) or stored(db) is not None:
        return
    write(db, names)


def write(db, names: list[str]) -> None:
    """Store the plugin set (sorted, without repeats)."""
    text = json.dumps(sorted(set(names)))
    with store.transaction(db):
        db.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [SETTING, text],
        )


def check_installed(name: str) -> None:
    """A clear error unless ``name`` is an installed plugin."""
    names = _installed_names()
    if name not in names:
        raise CrmError(f"unknown plugin {name!r}; installed plugins: {', '.join(names) or 'none'}")


def _installed_names() -> list[str]:
    from .plugins import installed_entry_points

    return sorted(installed_entry_points())
