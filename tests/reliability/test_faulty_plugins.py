"""A plugin that raises in any hook: the write is rolled back entirely, the error is a
PluginError naming the plugin and the hook, other data is intact and the CRM still opens."""

from __future__ import annotations

import pytest
from sqlite_utils import Migrations

import crmkit
from crmkit import PluginError, hookimpl
from crmkit.store import json_values
from crmkit.testing import FixedClock

from .helpers import connect_raw, fingerprint

good_migrations = Migrations("crmkit_goodplugin")


@good_migrations()
def m001_notes(db):
    db["goodplugin_notes"].create(
        {"id": int, "customer_id": int, "note": str}, pk="id", foreign_keys=[("customer_id", "customers", "id")]
    )


class GoodPlugin:
    """A well-behaved plugin with its own table, written from the event hooks."""

    name = "goodplugin"

    @hookimpl
    def crmkit_migrations(self):
        return good_migrations

    @hookimpl
    def crmkit_customers_added(self, crm, customers):
        crm.db.execute(
            f"INSERT INTO goodplugin_notes(customer_id, note) SELECT id, 'welcome' FROM customers WHERE id IN ({json_values('?', 'INTEGER')})",
            [f"[{','.join(str(c.id) for c in customers)}]"],
        )

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        crm.db.execute(
            "INSERT INTO goodplugin_notes(customer_id, note) SELECT customer_id, 'saw ' || kind FROM interactions WHERE id BETWEEN ? AND ?",
            [interactions[0].id, interactions[-1].id],
        )

    @hookimpl
    def crmkit_customer_forgotten(self, crm, customer_id):
        crm.db.execute("DELETE FROM goodplugin_notes WHERE customer_id = ?", [customer_id])

    @hookimpl
    def crmkit_customers_merged(self, crm, kept_id, merged_id):
        crm.db.execute("UPDATE goodplugin_notes SET customer_id = ? WHERE customer_id = ?", [kept_id, merged_id])

    @hookimpl
    def crmkit_due(self, crm, now):
        return {"tasks_created": crm.tasks.create_many([{"kind": "good-check", "key": f"good:{now:%Y%m%d}", "source": "goodplugin"}])}


class Faulty:
    """Base of the faulty plugins: write something first, then fail, so a rollback is visible."""

    name = "faulty"

    def fail(self, hook, crm=None):
        if crm is not None:
            crm.audit.record("faulty.partial", "plugin", "faulty", source="faulty")
            crm.tasks.create_many([{"kind": "half-done", "source": "faulty"}])
        raise RuntimeError(f"boom in {hook}")


class BadMigrationsHook(Faulty):
    @hookimpl
    def crmkit_migrations(self):
        self.fail("crmkit_migrations")


class BadExtend(Faulty):
    @hookimpl
    def crmkit_extend(self, crm):
        self.fail("crmkit_extend")


class BadFields(Faulty):
    @hookimpl
    def crmkit_fields(self, crm):
        self.fail("crmkit_fields")


class BadKinds(Faulty):
    @hookimpl
    def crmkit_interaction_kinds(self):
        self.fail("crmkit_interaction_kinds")


class BadAdded(Faulty):
    @hookimpl
    def crmkit_customers_added(self, crm, customers):
        self.fail("crmkit_customers_added", crm)


class BadUpdated(Faulty):
    @hookimpl
    def crmkit_customers_updated(self, crm, changes):
        self.fail("crmkit_customers_updated", crm)


class BadRecorded(Faulty):
    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        if interactions[-1].id > 4000:  # fail in a later batch, after earlier batches were written
            self.fail("crmkit_interactions_recorded", crm)


class BadForgotten(Faulty):
    @hookimpl
    def crmkit_customer_forgotten(self, crm, customer_id):
        self.fail("crmkit_customer_forgotten", crm)


class BadMerged(Faulty):
    @hookimpl
    def crmkit_customers_merged(self, crm, kept_id, merged_id):
        crm.db.execute("UPDATE interactions SET customer_id = ? WHERE customer_id = ?", [kept_id, merged_id])
        self.fail("crmkit_customers_merged", crm)


class BadDue(Faulty):
    @hookimpl
    def crmkit_due(self, crm, now):
        self.fail("crmkit_due", crm)


class BadSections(Faulty):
    @hookimpl
    def crmkit_report_sections(self, crm, as_of):
        self.fail("crmkit_report_sections")


class Interrupted(Faulty):
    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        crm.audit.record("faulty.partial", "plugin", "faulty", source="faulty")
        raise KeyboardInterrupt


@pytest.fixture
def populated(tmp_path):
    """A CRM file with the good plugin's data in it, closed (so its bytes are settled)."""
    path = tmp_path / "crm.db"
    with crmkit.open(path, plugins=[GoodPlugin()], clock=FixedClock()) as crm:
        ids = crm.customers.add_many({"name": f"Person {i}", "email": f"p{i}@example.com"} for i in range(10))
        crm.interactions.record_many(
            {"customer_id": ids[i % 10], "kind": "purchase", "amount": "12.34", "occurred_at": "2024-05-01"} for i in range(30)
        )
    return path


def open_with(path, plugin):
    return crmkit.open(path, plugins=[GoodPlugin(), plugin], clock=FixedClock())


def assert_names(error: PluginError, hook: str) -> None:
    assert error.plugin == "faulty" and error.hook == hook
    assert "faulty" in str(error) and hook in str(error) and "boom" in str(error)


class TestSetUpHooks:
    @pytest.mark.parametrize("plugin, hook", [
        (BadMigrationsHook(), "crmkit_migrations"), (BadExtend(), "crmkit_extend"), (BadFields(), "crmkit_fields"),
        (BadKinds(), "crmkit_interaction_kinds"),
    ])
    def test_open_fails_naming_the_plugin_and_the_file_is_untouched(self, populated, plugin, hook):
        before = populated.read_bytes()
        with pytest.raises(PluginError) as caught:
            open_with(populated, plugin)
        assert_names(caught.value, hook)
        assert populated.read_bytes() == before
        with crmkit.open(populated, plugins=[GoodPlugin()]) as crm:  # opens without the faulty plugin
            assert crm.customers.count() == 10 and crm.interactions.count() == 30

    def test_a_failing_migration_leaves_the_file_byte_for_byte_as_it_was(self, populated):
        broken = Migrations("crmkit_faulty")

        @broken()
        def m001_table(db):
            db["faulty_things"].create({"id": int}, pk="id")
            db["customers"].add_column("faulty_flag", int)
            db.execute("UPDATE customers SET name = 'overwritten'")

        @broken()
        def m002_fails(db):
            raise RuntimeError("boom in crmkit_migrations")

        class BadMigration(Faulty):
            @hookimpl
            def crmkit_migrations(self):
                return broken

        before = populated.read_bytes()
        with pytest.raises(PluginError) as caught:
            open_with(populated, BadMigration())
        assert_names(caught.value, "crmkit_migrations")
        assert populated.read_bytes() == before
        with crmkit.open(populated, plugins=[GoodPlugin()]) as crm:
            assert "faulty_things" not in crm.db.table_names()
            assert "faulty_flag" not in crm.db["customers"].columns_dict
            assert crm.customers.get(1).name == "Person 0"

    def test_a_failing_migration_on_a_new_file_leaves_no_schema(self, tmp_path):
        broken = Migrations("crmkit_faulty")

        @broken()
        def m001_fails(db):
            db["faulty_things"].create({"id": int}, pk="id")
            raise RuntimeError("boom in crmkit_migrations")

        class BadMigration(Faulty):
            @hookimpl
            def crmkit_migrations(self):
                return broken

        path = tmp_path / "new.db"
        with pytest.raises(PluginError):
            crmkit.open(path, plugins=[BadMigration()])
        raw = connect_raw(path)
        assert raw.table_names() == []  # not even the core's tables
        raw.close()
        with crmkit.open(path, plugins=[]) as crm:
            assert crm.customers.count() == 0


class TestEventHooks:
    """Each write fails as a whole: compare every table of the file before and after."""

    def check(self, path, plugin, hook, write):
        crm = open_with(path, plugin)
        raw = connect_raw(path)
        before = fingerprint(raw)
        with pytest.raises(PluginError) as caught:
            write(crm)
        assert_names(caught.value, hook)
        assert fingerprint(raw) == before
        assert not crm.db.in_transaction
        # The CRM object and the file are still usable, by this object and by a new one.
        crm.customers.add(name="After the failure") if hook != "crmkit_customers_added" else None
        crm.close()
        raw.close()
        with crmkit.open(path, plugins=[GoodPlugin()]) as again:
            assert again.interactions.count() == 30
            assert again.db.execute("SELECT count(*) FROM goodplugin_notes").fetchone()[0] >= 40

    def test_customers_added(self, populated):
        self.check(populated, BadAdded(), "crmkit_customers_added",
                   lambda crm: crm.customers.add_many([{"name": "New A"}, {"name": "New B"}]))

    def test_customers_updated(self, populated):
        self.check(populated, BadUpdated(), "crmkit_customers_updated",
                   lambda crm: crm.customers.update(1, name="Renamed", email="renamed@example.com"))

    def test_customers_updated_through_upsert(self, populated):
        self.check(populated, BadUpdated(), "crmkit_customers_updated",
                   lambda crm: crm.customers.upsert_many([{"email": "p3@example.com", "region": "EU"}, {"name": "Fresh"}]))

    def test_interactions_recorded_in_a_later_batch(self, populated):
        """Batches 1-4 were inserted and announced; batch 5 fails: none of them stays."""
        self.check(populated, BadRecorded(), "crmkit_interactions_recorded",
                   lambda crm: crm.interactions.record_many(
                       ({"customer_id": 1 + i % 10, "kind": "call", "occurred_at": "2024-06-01"} for i in range(5000)),
                       batch_size=1000))

    def test_customer_forgotten(self, populated):
        self.check(populated, BadForgotten(), "crmkit_customer_forgotten", lambda crm: crm.forget(2))

    def test_customers_merged(self, populated):
        self.check(populated, BadMerged(), "crmkit_customers_merged", lambda crm: crm.customers.merge(1, 2))

    def test_an_interrupt_rolls_back_too(self, populated):
        crm = open_with(populated, Interrupted())
        raw = connect_raw(populated)
        before = fingerprint(raw)
        with pytest.raises(KeyboardInterrupt):
            crm.interactions.record(1, "call", "2024-06-01")
        assert fingerprint(raw) == before
        crm.close()
        raw.close()


class TestWorkAndOutput:
    def test_a_failing_due_run_is_reported_and_rolled_back_others_still_run(self, populated):
        with open_with(populated, BadDue()) as crm:
            report = crm.run_due("2025-01-02T08:00:00Z")
            assert not report.ok
            assert set(report.errors) == {"faulty"}
            assert "faulty" in report.errors["faulty"] and "crmkit_due" in report.errors["faulty"]
            assert report.results == {"goodplugin": {"tasks_created": 1}}
            kinds = [r[0] for r in crm.db.execute("SELECT kind FROM tasks")]
            assert kinds == ["good-check"]  # the faulty plugin's half-done task was rolled back
            assert crm.db.execute("SELECT count(*) FROM audit_log WHERE action = 'faulty.partial'").fetchone()[0] == 0
            assert [r[0] for r in crm.db.execute("SELECT source FROM audit_log WHERE action = 'due.run'")] == ["goodplugin"]

    def test_a_failing_report_section_is_shown_as_failed(self, populated):
        try:
            crm = crmkit.open(populated, plugins=["reports", GoodPlugin(), BadSections()], clock=FixedClock())
        except crmkit.CrmError as error:
            pytest.skip(f"reports plugin not available: {error}")
        with crm:
            report = crm.reports.build(as_of="2024-12-31")
            failed = [s for s in report.failed if s.plugin == "faulty"]
            assert len(failed) == 1 and "boom in crmkit_report_sections" in failed[0].error
            assert len(report.sections) > len(report.failed)  # the other sections are there
