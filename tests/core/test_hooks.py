"""Hooks are called with the right arguments, at the right time, once per batch; a failing
plugin rolls the write back and is named in the error."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from sqlite_utils import Migrations

import crmkit
from crmkit import CrmError, Field, InteractionKind, PluginError, Section, ValidationError, hookimpl
from crmkit import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HOOK_NAMES = sorted(name for name in dir(hookspecs) if name.startswith("crmkit_"))


class Recorder:
    """A test plugin that records every event hook call."""

    name = "recorder"

    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def crmkit_customers_added(self, customers):
        self.calls.append(("added", [c.name for c in customers]))

    @hookimpl
    def crmkit_customers_updated(self, changes):
        self.calls.append(("updated", [(c.before.region, c.after.region) for c in changes]))

    @hookimpl
    def crmkit_interactions_recorded(self, crm, interactions):
        # The batch is already in the table, inside the same transaction.
        ids = [i.id for i in interactions]
        stored = crm.db.execute("SELECT count(*) FROM interactions WHERE id BETWEEN ? AND ?", [min(ids), max(ids)]).fetchone()[0]
        self.calls.append(("recorded", len(interactions), stored))

    @hookimpl
    def crmkit_customer_forgotten(self, customer_id):
        self.calls.append(("forgotten", customer_id))

    @hookimpl
    def crmkit_customers_merged(self, kept_id, merged_id):
        self.calls.append(("merged", kept_id, merged_id))

    @hookimpl
    def crmkit_due(self, now):
        self.calls.append(("due", now.isoformat()))
        return {"ran": True}


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def crm(recorder, clock):
    crm = crmkit.open(":memory:", plugins=[recorder], clock=clock)
    yield crm
    crm.close()


class TestEvents:
    def test_add_many_is_one_call_per_batch(self, crm, recorder):
        crm.customers.add_many([{"name": f"c{i}"} for i in range(25)], batch_size=10)
        assert [len(names) for kind, names in recorder.calls] == [10, 10, 5]

    def test_record_many_is_one_call_per_batch_not_per_row(self, crm, recorder):
        customer = crm.customers.add(name="A")
        recorder.calls.clear()
        rows = ({"customer_id": customer.id, "kind": "call", "occurred_at": "2024-01-01"} for _ in range(12))
        crm.interactions.record_many(rows, batch_size=5)
        assert recorder.calls == [("recorded", 5, 5), ("recorded", 5, 5), ("recorded", 2, 2)]

    def test_single_record_is_a_batch_of_one(self, crm, recorder):
        customer = crm.customers.add(name="A")
        crm.interactions.record(customer.id, "email")
        assert recorder.calls[-1] == ("recorded", 1, 1)

    def test_update_passes_before_and_after(self, crm, recorder):
        customer = crm.customers.add(name="A", region="EU")
        crm.customers.update(customer.id, region="US")
        assert recorder.calls[-1] == ("updated", [("EU", "US")])

    def test_forget_and_merge_reach_plugins(self, crm, recorder):
        a, b = crm.customers.add(name="A"), crm.customers.add(name="B")
        crm.customers.merge(a.id, b.id)
        crm.forget(a.id)
        assert ("merged", a.id, b.id) in recorder.calls
        assert ("forgotten", a.id) in recorder.calls

    def test_run_due_passes_now_and_collects_results(self, crm, recorder):
        report = crm.run_due(now="2025-02-01T00:00:00Z")
        assert report.ok and report.results == {"recorder": {"ran": True}}
        assert recorder.calls[-1] == ("due", "2025-02-01T00:00:00+00:00")


class Exploding:
    name = "exploding"

    @hookimpl
    def crmkit_interactions_recorded(self, interactions):
        if any(i.kind == "email" for i in interactions):
            raise RuntimeError("cannot digest emails")

    @hookimpl
    def crmkit_customers_added(self, customers):
        if any(c.name == "Bad" for c in customers):
            raise ValueError("no bad names")

    @hookimpl
    def crmkit_due(self, now):
        raise RuntimeError("due broke")


class TestFailingPlugins:
    def test_event_failure_rolls_back_whole_write_and_names_plugin(self, recorder, clock):
        crm = crmkit.open(":memory:", plugins=[Exploding(), recorder], clock=clock)
        customer = crm.customers.add(name="A")
        before = crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0]
        rows = [{"customer_id": customer.id, "kind": "call", "occurred_at": "2024-01-01"}] * 3 + [
            {"customer_id": customer.id, "kind": "email", "occurred_at": "2024-01-02"}
        ]
        with pytest.raises(PluginError) as caught:
            crm.interactions.record_many(rows, batch_size=3)
        assert caught.value.plugin == "exploding"
        assert caught.value.hook == "crmkit_interactions_recorded"
        assert "cannot digest emails" in str(caught.value)
        assert crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0] == before
        assert crm.db.execute("SELECT interactions FROM customer_summary").fetchall() == []

    def test_failed_add_leaves_no_customer_and_no_audit(self, clock):
        crm = crmkit.open(":memory:", plugins=[Exploding()], clock=clock)
        audit_before = crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        with pytest.raises(PluginError, match="exploding"):
            crm.customers.add_many([{"name": "Good"}, {"name": "Bad"}])
        assert crm.customers.count() == 0
        assert crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audit_before

    def test_failing_due_is_reported_and_others_still_run(self, recorder, clock):
        crm = crmkit.open(":memory:", plugins=[Exploding(), recorder], clock=clock)
        report = crm.run_due()
        assert not report.ok
        assert "exploding" in report.errors and "due broke" in report.errors["exploding"]
        assert report.results["recorder"] == {"ran": True}


class TestSetUpHooks:
    def test_plugin_migrations_fields_kinds_and_extensions(self, clock):
        migrations = Migrations("test_plugin")

        @migrations()
        def create_notes(db):
            db["test_notes"].create({"id": int, "customer_id": int}, pk="id")

        class Plugin:
            name = "testplugin"

            @hookimpl
            def crmkit_migrations(self):
                return migrations

            @hookimpl
            def crmkit_interaction_kinds(self):
                def validate(data):
                    if "minutes" not in data:
                        raise ValidationError("data.minutes", None, "the length of the demo")

                return [InteractionKind("demo_given", "A product demo.", contact=True, validate=validate)]

            @hookimpl
            def crmkit_fields(self, crm):
                return [Field("note_count", "number", "Notes about the customer.", "(SELECT count(*) FROM test_notes n WHERE n.customer_id = c.id)")]

            @hookimpl
            def crmkit_extend(self, crm):
                return {"notes": "the notes service"}

        crm = crmkit.open(":memory:", plugins=[Plugin()], clock=clock)
        assert crm.db["test_notes"].exists()
        assert crm.notes == "the notes service"
        customer = crm.customers.add(name="A")
        crm.db.execute("INSERT INTO test_notes(customer_id) VALUES (?)", [customer.id])
        assert crm.segments.evaluate("note_count = 1").count() == 1
        crm.interactions.record(customer.id, "demo_given", data={"minutes": 30})
        with pytest.raises(ValidationError, match="data.minutes"):
            crm.interactions.record(customer.id, "demo_given")
        # contact kinds from plugins count as contacts in the summary
        assert crm.segments.evaluate("last_contact_days = 0").count() == 1

    def test_service_name_clash_names_both_plugins(self, clock):
        class One:
            name = "one"

            @hookimpl
            def crmkit_extend(self):
                return {"shared": 1}

        class Two:
            name = "two"

            @hookimpl
            def crmkit_extend(self):
                return {"shared": 2}

        with pytest.raises(CrmError) as caught:
            crmkit.open(":memory:", plugins=[One(), Two()], clock=clock)
        assert "'one'" in str(caught.value) and "'two'" in str(caught.value)

    def test_service_may_not_shadow_the_core(self, clock):
        class Greedy:
            name = "greedy"

            @hookimpl
            def crmkit_extend(self):
                return {"customers": None}

        with pytest.raises(CrmError, match="core uses that name"):
            crmkit.open(":memory:", plugins=[Greedy()], clock=clock)

    def test_misspelt_hook_fails_loudly(self, clock):
        class Typo:
            name = "typo"

            @hookimpl
            def crmkit_interaction_recorded(self, interactions):  # missing "s"
                pass

        with pytest.raises(CrmError, match="typo"):
            crmkit.open(":memory:", plugins=[Typo()], clock=clock)

    def test_unknown_plugin_name_lists_installed(self, clock):
        with pytest.raises(CrmError, match="unknown plugin 'nope'"):
            crmkit.open(":memory:", plugins=["nope"], clock=clock)

    def test_environment_allow_list(self, monkeypatch, clock):
        monkeypatch.setenv("CRMKIT_PLUGINS", "")
        crm = crmkit.open(":memory:", clock=clock)
        assert crm.plugins.names() == []

    def test_report_sections_one_failure_does_not_hide_others(self, clock):
        class Good:
            name = "good"

            @hookimpl
            def crmkit_report_sections(self, as_of):
                return [Section("good.s", "Good", figures={"as_of": as_of.date().isoformat()})]

        class Bad:
            name = "bad"

            @hookimpl
            def crmkit_report_sections(self):
                raise RuntimeError("broken section")

        crm = crmkit.open(":memory:", plugins=[Good(), Bad()], clock=clock)
        results = {plugin: (result, error) for plugin, result, error in crm.plugins.each("crmkit_report_sections", crm=crm, as_of=crm.now())}
        assert results["good"][0][0].figures == {"as_of": "2025-01-01"}
        assert isinstance(results["bad"][1], RuntimeError)

    def test_plugin_adds_its_own_hookspecs(self, clock):
        class Specs:
            @crmkit.plugins.pluggy.HookspecMarker("crmkit")
            def crmkit_test_strategies(self):
                """Strategies another plugin contributes."""

        class Host:
            name = "host"

            @hookimpl
            def crmkit_addhooks(self, pm):
                pm.add_hookspecs(Specs)

        class Guest:
            name = "guest"

            @hookimpl(optionalhook=True)
            def crmkit_test_strategies(self):
                return "guest strategy"

        crm = crmkit.open(":memory:", plugins=[Host(), Guest()], clock=clock)
        assert crm.plugins.hook.crmkit_test_strategies() == ["guest strategy"]


class TestHookDocumentation:
    @pytest.mark.parametrize("name", HOOK_NAMES)
    def test_every_hookspec_has_a_docstring(self, name):
        assert inspect.getdoc(getattr(hookspecs, name)), f"{name} has no docstring"

    @pytest.mark.parametrize("name", HOOK_NAMES)
    def test_every_hookspec_is_documented_with_its_signature(self, name):
        text = DOCS.read_text(encoding="utf-8")
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert re.search(rf"^## `{name}\({re.escape(params)}\)`", text, re.MULTILINE), (
            f"docs/hooks.md lacks a heading '## `{name}({params})`'"
        )
