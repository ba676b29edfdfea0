"""Settings and texts the engines cannot keep or the SLA clocks cannot run on are refused when
given, naming the key or field, and nothing is written: SLA targets past 10 years, escalation
levels of the wrong shape, deadlines that cannot be placed, texts with a NUL character."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ValidationError
from crmkit.cli import make_cli
from crmkit.timeutil import to_iso
from crmkit_complaints.service import CALENDAR_REACH_YEARS

MONDAYS = {"timezone": "UTC", "hours": {"mon": "09:00-17:00"}}
WEEKDAYS = {"timezone": "UTC", "hours": {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}}


@pytest.fixture
def refused_state(snapshot):
    """``refused_state(crm)``: what a refused change must leave as it was (the complaint tables,
    the row counts and the settings)."""
    return lambda crm: (snapshot(crm), crm.settings.all())


class TestTargetBounds:
    """An SLA target is more than zero and at most 3650d (10 years), however it is set."""

    @pytest.mark.parametrize("duration", ["3000w", "3651d", "99999999999w", "9" * 5000 + "w", 3650 * 86400 + 1, 0, "0h"])
    def test_set_targets_refuses_a_target_out_of_range(self, crm, duration, refused_state):
        before = refused_state(crm)
        with pytest.raises(ValidationError, match=r"at most 3650d \(10 years\)") as error:
            crm.complaints.set_targets({"resolve": {"normal": duration}})
        assert error.value.field == "complaints.sla.resolve.normal"
        assert refused_state(crm) == before

    def test_a_segment_override_out_of_range_is_refused(self, crm, refused_state):
        before = refused_state(crm)
        with pytest.raises(ValidationError, match="at most 3650d") as error:
            crm.complaints.set_targets({}, segments=[{"segment": "region = 'EU'", "acknowledge": {"high": "600w"}}])
        assert error.value.field == "complaints.sla_segments[1].acknowledge.high"
        assert refused_state(crm) == before

    def test_settings_change_refuses_a_target_out_of_range(self, crm, refused_state):
        before = refused_state(crm)
        with pytest.raises(ValidationError, match="complaints.sla.resolve.normal: .*at most 3650d"):
            crm.settings.change("complaints.sla", {"resolve": {"normal": "99999999999w"}})
        assert refused_state(crm) == before

    def test_the_longest_target_opens_complaints_round_the_clock(self, crm, customer):
        crm.complaints.set_targets({"resolve": {"normal": "3650d"}})
        ticket = crm.complaints.open(customer.id)
        assert to_iso(ticket.resolve_due_at) == "2034-12-30T09:00:00Z"

    def test_a_long_target_in_working_time_is_placed(self, crm, customer):
        """520 weeks of working time at 40 hours a week is 2184 weeks away: laid out that far;
        the count ends at Tuesday's closing time, 2184 weeks after Wednesday's opening."""
        crm.complaints.set_calendar(WEEKDAYS)
        crm.complaints.set_targets({"resolve": {"normal": "520w"}})
        ticket = crm.complaints.open(customer.id)
        assert to_iso(ticket.resolve_due_at) == "2066-11-09T17:00:00Z"
        record = crm.interactions.record(customer.id, "complaint", "2025-01-01T08:00:00Z", data={"description": "late"})
        assert [c.interaction_id for c in crm.complaints.list(customer_id=customer.id)] == [record.id, None]

    def test_a_target_the_calendar_cannot_reach_is_a_clear_error_naming_the_setting(self, crm, customer, refused_state):
        crm.complaints.set_calendar(MONDAYS)
        crm.complaints.set_targets({"resolve": {"normal": "300w"}})  # 6300 Mondays: 121 years
        before = refused_state(crm)
        with pytest.raises(crmkit.CrmError, match=f"beyond the {CALENDAR_REACH_YEARS} years .*complaints.sla"):
            crm.complaints.open(customer.id)
        assert refused_state(crm) == before


class TestDeadline:
    """``crm.complaints.deadline`` returns a time or raises; it never returns None."""

    def test_a_duration_past_the_bound_is_refused(self, crm):
        with pytest.raises(ValidationError, match="at most 3650d") as error:
            crm.complaints.deadline("2025-06-30T12:00:00Z", "99999999w")
        assert error.value.field == "duration"

    def test_a_deadline_past_the_year_9999_is_refused(self, crm):
        with pytest.raises(ValidationError, match="before the year 10000"):
            crm.complaints.deadline("9999-06-30T12:00:00Z", "520w")

    def test_a_deadline_past_the_laid_out_calendar_is_computed(self, crm):
        """90 Mondays of eight hours: further than the 400 days laid out by default."""
        crm.complaints.set_calendar(MONDAYS)
        assert to_iso(crm.complaints.deadline("2025-01-06T09:00:00Z", "30d")) == "2026-09-21T17:00:00Z"

    def test_a_deadline_the_calendar_cannot_reach_is_refused(self, crm):
        crm.complaints.set_calendar(MONDAYS)
        with pytest.raises(ValidationError, match=f"within {CALENDAR_REACH_YEARS} years") as error:
            crm.complaints.deadline("2025-06-30T12:00:00Z", "300w")
        assert error.value.field == "duration"


BAD_LEVELS = [
    ("lol", "complaints.escalation", "a list of at most 20 levels"),
    ({"level": 1}, "complaints.escalation", "a list"),
    ([{"level": 1, "trigger": "breach"}] * 21, "complaints.escalation", "at most 20 levels"),
    (["breach"], "complaints.escalation[1]", "a dict with level"),
    ([{"level": 0, "trigger": "breach"}], "complaints.escalation[1].level", "from 1 to 999"),
    ([{"level": True, "trigger": "breach"}], "complaints.escalation[1].level", "from 1 to 999"),
    ([{"level": 2 ** 70, "trigger": "breach"}], "complaints.escalation[1].level", "from 1 to 999"),
    ([{"level": 1, "trigger": "breach"}, {"level": 1, "trigger": "breach"}], "complaints.escalation[2].level", "not used before"),
    ([{"level": 1, "trigger": "breach", "when": "now"}], "complaints.escalation[1]", "keys level, name"),
    ([{"level": 1, "trigger": "breach", "name": ["x"]}], "complaints.escalation[1].name", "a text"),
    ([{"level": 1, "trigger": "breach", "name": "a\x00b"}], "complaints.escalation[1].name", "without NUL"),
    ([{"level": 1, "trigger": "soon"}], "complaints.escalation[1].trigger", "share, breach, after_breach"),
    ([{"level": 1, "trigger": "breach", "target": "close"}], "complaints.escalation[1].target", "acknowledge or resolve"),
    ([{"level": 1, "trigger": "breach", "action": "email"}], "complaints.escalation[1].action", "task or escalate"),
    ([{"level": 1, "trigger": "share"}], "complaints.escalation[1].share", "between 0 and 1"),
    ([{"level": 1, "trigger": "share", "share": 1.5}], "complaints.escalation[1].share", "between 0 and 1"),
    ([{"level": 1, "trigger": "breach", "share": 0.5}], "complaints.escalation[1].share", "unless the trigger is share"),
    ([{"level": 1, "trigger": "after_breach"}], "complaints.escalation[1].after", "a duration like"),
    ([{"level": 1, "trigger": "after_breach", "after": "3000w"}], "complaints.escalation[1].after", "at most 3650d"),
    ([{"level": 1, "trigger": "breach", "after": "1h"}], "complaints.escalation[1].after", "unless the trigger is after_breach"),
]


class TestEscalationSetting:
    """``complaints.escalation`` is checked level by level when it is set."""

    @pytest.mark.parametrize("value,field,expected", BAD_LEVELS)
    def test_set_escalation_refuses_a_bad_shape(self, crm, value, field, expected, refused_state):
        before = refused_state(crm)
        with pytest.raises(ValidationError, match=expected) as error:
            crm.complaints.set_escalation(value)
        assert error.value.field == field
        assert refused_state(crm) == before

    @pytest.mark.parametrize("value,field,expected", BAD_LEVELS[:3])
    def test_settings_change_refuses_a_bad_shape(self, crm, value, field, expected, refused_state):
        before = refused_state(crm)
        with pytest.raises(ValidationError, match=expected):
            crm.settings.change("complaints.escalation", value)
        assert refused_state(crm) == before

    def test_good_levels_are_stored_and_run(self, team, customer, clock):
        levels = [{"level": 1, "name": "warn", "target": "resolve", "trigger": "share", "share": 0.5, "action": "task"}]
        team.settings.change("complaints.escalation", levels)
        assert team.settings.get("complaints.escalation") == levels
        team.complaints.open(customer.id)
        clock.advance(days=3)
        assert team.run_due().results["complaints"]["escalated"] == {"warn": 1}

    def test_none_goes_back_to_the_defaults(self, crm):
        crm.complaints.set_escalation([{"level": 1, "trigger": "breach"}])
        crm.complaints.set_escalation(None)
        assert [level["name"] for level in crm.complaints.policy().levels][0] == "acknowledge overdue"

    def test_a_bad_value_stored_around_the_check_names_the_key_when_read(self, crm):
        crm.settings.set("complaints.escalation", "lol")  # the raw store checks nothing
        with pytest.raises(ValidationError, match="complaints.escalation: a list"):
            crm.complaints.run_due()
        assert "complaints.escalation: a list" in crm.run_due().errors["complaints"]


class TestNulInTexts:
    """A NUL character is refused in a complaint's texts on both engines, naming the field."""

    @pytest.fixture
    def ticket(self, team, customer):
        return team.complaints.open(customer.id, description="broken")

    def test_open_refuses_nul(self, crm, customer, refused_state):
        for field in ("description", "desired_outcome", "category", "product", "channel"):
            before = refused_state(crm)
            with pytest.raises(ValidationError, match="without NUL") as error:
                crm.complaints.open(customer.id, **{field: "a\x00b"})
            assert error.value.field == field
            assert refused_state(crm) == before

    @pytest.mark.parametrize("step,field", [
        (lambda c, i: c.complaints.add_note(i, "a\x00b"), "text"),
        (lambda c, i: c.complaints.acknowledge(i, message="a\x00b"), "message"),
        (lambda c, i: c.complaints.assign(i, "bob", message="a\x00b"), "message"),
        (lambda c, i: c.complaints.pause(i, "a\x00b"), "reason"),
        (lambda c, i: c.complaints.reject(i, "a\x00b"), "reason"),
        (lambda c, i: c.complaints.resolve(i, "refund", detail="a\x00b"), "detail"),
        (lambda c, i: c.complaints.feedback.record(None, "a\x00b"), "text"),
        (lambda c, i: c.complaints.feedback.record(None, "idea", title="a\x00b"), "title"),
    ])
    def test_steps_refuse_nul(self, team, ticket, step, field, refused_state):
        before = refused_state(team)
        with pytest.raises(ValidationError, match="without NUL") as error:
            step(team, ticket.id)
        assert error.value.field == field
        assert refused_state(team) == before

    @pytest.mark.parametrize("kind,data,where", [
        ("complaint", {"description": "a\x00b"}, "data.description"),
        ("complaint", {"category": "billing", "extra": {"lines": ["ok", "a\x00b"]}}, "data.extra.lines[1]"),
        ("feedback", {"text": "dark mode\x00"}, "data.text"),
    ])
    def test_an_interaction_with_nul_in_its_data_is_refused_whole(self, crm, customer, kind, data, where, refused_state):
        """Both engines refuse it alike (one would cut the text at the NUL, the other cannot read
        the document): the core refuses it for every kind, before the plugin reads the data."""
        before = refused_state(crm)
        rows = [{"customer_id": customer.id, "kind": kind}, {"customer_id": customer.id, "kind": kind, "data": data}]
        with pytest.raises(ValidationError, match=f"text without NUL.* in {re.escape(where)}"):
            crm.interactions.record_many(rows)
        assert refused_state(crm) == before

    def test_an_escaped_backslash_is_no_nul(self, crm, customer):
        crm.interactions.record(customer.id, "complaint", data={"description": "C:\\u0000 path"})
        assert crm.complaints.get(1).description == "C:\\u0000 path"

    def test_a_handler_name_with_nul_is_refused(self, crm):
        with pytest.raises(ValidationError, match="without NUL") as error:
            crm.complaints.add_handler("a\x00b")
        assert error.value.field == "name"
        assert crm.complaints.handlers() == []


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def db(crm_path, monkeypatch, clock):
    """A CRM file with the complaints plugin and one customer; commands load only this plugin."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "complaints")
    with crmkit.open(crm_path, plugins=["complaints"], clock=clock) as crm:
        crm.customers.add(name="Alice")
    return str(crm_path)


@pytest.fixture
def file_state(refused_state):
    """``file_state(path)``: ``refused_state`` of a CRM file."""

    def read(path) -> tuple:
        with crmkit.open(path, plugins=["complaints"]) as crm:
            return refused_state(crm)

    return read


def one_error_line(result) -> str:
    """The single line a refused command printed (exit status 1, no traceback)."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.mark.parametrize("key,value,message", [
    ("complaints.sla", '{"resolve": {"normal": "99999999999w"}}', "complaints.sla.resolve.normal: a duration like 8h"),
    ("complaints.sla", '{"acknowledge": {"low": "3651d"}}', "at most 3650d (10 years)"),
    ("complaints.escalation", "lol", "complaints.escalation: a list of at most 20 levels"),
    ("complaints.escalation", '[{"level": 1, "trigger": "share", "share": 2}]', "complaints.escalation[1].share"),
    ("complaints.sla_segments", '{"segment": "vip"}', "complaints.sla_segments[1]: a dict with a segment"),
    ("complaints.sla_segments", '[{"segment": "tags contains \'vip\'", "resolve": {"normal": "0h"}}]',
     "complaints.sla_segments[1].resolve.normal"),
])
def test_config_set_refuses_with_one_error_line(db, key, value, message, file_state):
    before = file_state(db)
    result = CliRunner().invoke(make_cli(), ["config", "set", db, key, value])
    assert message in one_error_line(result)
    assert file_state(db) == before


def test_config_set_of_good_escalation_levels(db):
    result = CliRunner().invoke(make_cli(), ["config", "set", db, "complaints.escalation", '[{"level": 1, "trigger": "breach"}]'])
    assert result.exit_code == 0, result.output
    with crmkit.open(db, plugins=["complaints"]) as crm:
        assert [level["name"] for level in crm.complaints.policy().levels] == ["level 1"]


def test_config_set_of_segment_targets_keeps_the_base_targets(db, clock):
    runner = CliRunner()
    assert runner.invoke(make_cli(), ["config", "set", db, "complaints.sla", '{"resolve": {"normal": "48h"}}']).exit_code == 0
    given = '[{"segment": "tags contains \'vip\'", "resolve": {"normal": "4h"}}]'
    result = runner.invoke(make_cli(), ["config", "set", db, "complaints.sla_segments", given])
    assert result.exit_code == 0, result.output
    with crmkit.open(db, plugins=["complaints"], clock=clock) as crm:
        vip = crm.customers.add(name="Vera", tags=["vip"])
        hours = {}
        for customer in (vip.id, 1):
            ticket = crm.complaints.open(customer, description="late parcel", severity="normal")
            hours[customer] = (ticket.resolve_due_at - ticket.received_at).total_seconds() / 3600
    assert hours == {vip.id: 4, 1: 48}  # the override for the segment, the base target for the rest
    assert runner.invoke(make_cli(), ["config", "set", db, "complaints.sla_segments", "null"]).exit_code == 0
    with crmkit.open(db, plugins=["complaints"]) as crm:
        assert crm.settings.get("complaints.sla_segments") in (None, [])
        assert crm.settings.get("complaints.sla") == {"resolve": {"normal": "48h"}}


def test_open_with_a_nul_in_the_description_is_one_error_line(db, file_state):
    before = file_state(db)
    result = CliRunner().invoke(make_cli(), ["complaints", "open", db, "1", "--description", "a\x00b"])
    assert "Error: description: text without NUL characters" in one_error_line(result)
    assert file_state(db) == before


@pytest.mark.parametrize("args", [
    ["complaints", "list", "{db}", "--limit", "-1"],
    ["complaints", "show", "{db}", "99999999999999999999"],
    ["complaints", "open", "{db}", "0", "--category", "delivery"],
])
def test_ids_and_limits_out_of_range_are_one_error_line(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(make_cli(), ["init", "c.db", "--plugins", "complaints"]).exit_code == 0
    result = runner.invoke(make_cli(), [a.replace("{db}", "c.db") for a in args])
    assert result.exit_code != 0
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "is not in the range" in last, result.output
