"""Schema migrations: crmkit's own ``Migrations`` sets and sqlite-utils' sets, on both engines.

crmkit keeps the record sqlite-utils keeps (``_sqlite_migrations``), so a CRM migrated by
either kind of set reads as migrated by the other, and a plugin may return either.
"""

from __future__ import annotations

import pytest
import sqlite_utils

import crmkit
from crmkit import Migrations, PluginError, hookimpl


class MarksPlugin:
    """A plugin whose table comes from the migration set it is given."""

    def __init__(self, migrations):
        self.migrations = migrations

    @hookimpl
    def crmkit_migrations(self):
        return self.migrations


def _marks_set(kind, runs: list[str]):
    migrations = kind("marks_plugin")

    @migrations()
    def m001_marks(db):
        runs.append("m001")
        db["marks"].create({"id": int, "customer_id": int, "label": str}, pk="id")

    @migrations()
    def m002_marks_index(db):
        runs.append("m002")
        db["marks"].create_index(["customer_id"])

    return migrations


@pytest.mark.parametrize("kind", [Migrations, sqlite_utils.Migrations], ids=["crmkit", "sqlite-utils"])
def test_a_plugins_set_runs_once_whichever_kind_it_is(crm_path, kind):
    runs: list[str] = []
    plugin = MarksPlugin(_marks_set(kind, runs))
    crm = crmkit.open(crm_path, plugins=[plugin])
    crm.db.execute("INSERT INTO marks (customer_id, label) VALUES (1, 'first')")
    crm.close()
    crm = crmkit.open(crm_path, plugins=[plugin])
    assert runs == ["m001", "m002"]
    assert [row["label"] for row in crm.db.query("SELECT label FROM marks")] == ["first"]
    assert [m.name for m in plugin.migrations.applied(crm.db)] == ["m001_marks", "m002_marks_index"]
    crm.close()


def test_the_record_is_shared_with_sqlite_utils_sets(crm_path):
    """Migrations applied by crmkit's set count as applied for sqlite-utils' set of the same
    name, and the other way round: the record has one shape."""
    ours_runs: list[str] = []
    crm = crmkit.open(crm_path, plugins=[MarksPlugin(_marks_set(Migrations, ours_runs))])
    theirs_runs: list[str] = []
    theirs = _marks_set(sqlite_utils.Migrations, theirs_runs)
    assert [m.name for m in theirs.applied(crm.db)] == ["m001_marks", "m002_marks_index"]
    assert theirs.pending(crm.db) == []

    @theirs()
    def m003_marks_note(db):
        db.execute("ALTER TABLE marks ADD COLUMN note TEXT")

    theirs.apply(crm.db)
    ours = _marks_set(Migrations, ours_runs)
    assert [m.name for m in ours.applied(crm.db)] == ["m001_marks", "m002_marks_index", "m003_marks_note"]
    assert theirs_runs == []
    crm.close()


def test_a_failing_migration_leaves_the_crm_as_it_was(crm_path):
    crm = crmkit.open(crm_path)
    tables_before = set(crm.db.table_names())
    crm.close()
    broken = Migrations("broken_plugin")

    @broken()
    def m001_half_made(db):
        db["half_made"].create({"id": int}, pk="id")
        raise RuntimeError("disk on fire")

    with pytest.raises(PluginError, match="disk on fire"):
        crmkit.open(crm_path, plugins=[MarksPlugin(broken)])
    crm = crmkit.open(crm_path)
    assert set(crm.db.table_names()) == tables_before
    assert broken.applied(crm.db) == []
    crm.close()


def test_a_name_registered_twice_is_refused():
    migrations = Migrations("twice")

    @migrations()
    def m001(db):
        pass

    with pytest.raises(ValueError, match="already registered"):
        migrations(name="m001")(lambda db: None)
