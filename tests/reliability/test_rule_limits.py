"""Rules within their limits always run: the parser bounds nesting (MAX_DEPTH) and the number of
conditions (MAX_CONDITIONS) so that every rule it accepts compiles and runs, with every field of
every installed plugin, as of now and as of a past date. Whatever the database still refuses
becomes a RuleError, and a refused ``define`` leaves nothing behind."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmkit
from crmkit import RuleError, hookimpl
from crmkit.cli import make_cli
from crmkit.fields import Field
from crmkit.plugins import installed_entry_points
from crmkit.segments.parser import MAX_CONDITIONS, MAX_DEPTH, MAX_RULE_LENGTH
from crmkit.testing import FixedClock

PLUGINS = sorted(installed_entry_points())
PAST = "2024-01-15"


@pytest.fixture(scope="module")
def crm(tmp_path_factory):
    """Every plugin, a customer whose region changed after PAST (so past dates read versions)."""
    clock = FixedClock("2024-01-01T09:00:00Z")
    with crmkit.open(tmp_path_factory.mktemp("limits") / "crm.db", plugins=PLUGINS, clock=clock) as crm:
        person = crm.customers.add(name="Ann", region="EU")
        crm.interactions.record(person.id, "purchase", "2024-01-02", amount="10.00")
        clock.set("2024-03-01T09:00:00Z")
        crm.customers.update(person.id, region="US")
        crm.interactions.record(person.id, "purchase", "2024-02-02", amount="10.00")
        yield crm


def conditions(crm) -> list[str]:
    return [f"{f.name} is null" for f in crm.fields]


def runs(crm, rule: str) -> None:
    for as_of in (None, PAST):
        crm.segments.evaluate(rule, as_of=as_of).count()


def nested(cond: str, levels: int, how: str) -> str:
    if how == "not":
        return "not " * levels + cond
    if how == "parens":
        return "".join(f"({cond} {'and' if i % 2 else 'or'} " for i in range(levels)) + cond + ")" * levels
    return "".join(f"not ({cond} or " for _ in range(levels // 2)) + cond + ")" * (levels // 2)


class TestTheIssuesRules:
    """Before: raw sqlite3.OperationalError (expression tree too large, parser stack overflow)."""

    def test_a_long_flat_or_chain_is_a_rule_error(self, crm):
        rule = " or ".join(["id = 1"] * 988)
        assert len(rule) < MAX_RULE_LENGTH
        with pytest.raises(RuleError, match=f"more than {MAX_CONDITIONS} conditions"):
            crm.segments.evaluate(rule)

    @pytest.mark.parametrize("count", [40, 45, 49])
    def test_chained_nots_are_a_rule_error(self, crm, count):
        with pytest.raises(RuleError, match="nests deeper"):
            crm.segments.evaluate("not " * count + "id = 1")


class TestAtTheLimits:
    def test_the_longest_flat_chain_runs(self, crm):
        runs(crm, " or ".join(["id = 1"] * MAX_CONDITIONS))
        runs(crm, " and ".join(["id > 0"] * MAX_CONDITIONS))

    @pytest.mark.parametrize("how", ["not", "parens", "not-parens"])
    def test_the_deepest_nesting_runs_with_every_field(self, crm, how):
        for cond in conditions(crm):
            levels = MAX_DEPTH - 1
            rule = nested(cond, levels, how)
            crm.segments.parse(rule)  # accepted ...
            runs(crm, rule)           # ... and runs

    def test_a_full_chain_around_the_deepest_nesting_runs(self, crm):
        heavy = [nested(cond, MAX_DEPTH - 2, "parens") for cond in conditions(crm)]
        for deep in heavy:
            rule = " or ".join(["id = 1"] * (MAX_CONDITIONS - deep.count(" is null"))) + " or (" + deep + ")"
            if len(rule) <= MAX_RULE_LENGTH:
                runs(crm, rule)


@st.composite
def rules(draw, fields: list[str], depth: int = MAX_DEPTH - 1):
    """Rule text: conditions, nots, and/or chains (long ones too) nested up to the depth limit."""
    choice = draw(st.integers(0, 3)) if depth > 1 else 0
    if choice == 0:
        return draw(st.sampled_from(fields))
    if choice == 1:
        return "not " + draw(rules(fields, depth - 1))
    if choice == 2:
        return "(" + draw(rules(fields, depth - 1)) + ")"
    items = draw(st.lists(rules(fields, depth - 1), min_size=2, max_size=draw(st.sampled_from([3, 40, 300]))))
    return "(" + f" {draw(st.sampled_from(['and', 'or']))} ".join(items) + ")"


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_accepted_rule_runs(crm, data):
    rule = data.draw(rules(conditions(crm)))
    try:
        crm.segments.parse(rule)
    except RuleError:
        return  # over a limit: refused with a reason, which is allowed
    runs(crm, rule)


class BrokenField:
    """A plugin whose field's SQL the database cannot run."""

    name = "broken_field"

    @hookimpl
    def crmkit_fields(self, crm):
        return [Field("broken", "number", "SQL the engine refuses", "no_such_function(c.id)")]


class TestEngineErrorsAreRuleErrors:
    def test_running_a_rule_the_database_refuses(self, tmp_path):
        with crmkit.open(tmp_path / "crm.db", plugins=[BrokenField()]) as crm:
            crm.customers.add(name="Ann")
            view = crm.segments.evaluate("broken > 1")
            for use in (view.count, lambda: view.customers(), lambda: list(view.ids()), lambda: 1 in view):
                with pytest.raises(RuleError, match="could not run this rule"):
                    use()
            with pytest.raises(RuleError, match="could not run this rule"):
                crm.segments.check("broken > 1")

    def test_a_refused_define_leaves_nothing_behind(self, tmp_path):
        with crmkit.open(tmp_path / "crm.db", plugins=[BrokenField()]) as crm:
            entries = len(crm.audit.query())
            with pytest.raises(RuleError):
                crm.segments.define("bad", "broken > 1")
            assert crm.segments.list() == [] and len(crm.audit.query()) == entries

    def test_cli_define_over_the_limit_is_one_error_line_and_list_still_counts(self, tmp_path):
        db = str(tmp_path / "crm.db")
        crmkit.open(db, plugins=[]).close()
        cli, env = make_cli(), {"CRMKIT_PLUGINS": ""}
        runner = CliRunner()
        refused = runner.invoke(cli, ["segments", "define", db, "big", " or ".join(["id = 1"] * 988)], env=env)
        assert refused.exit_code != 0 and refused.output.startswith("Error: ") and "Traceback" not in refused.output
        listed = runner.invoke(cli, ["segments", "list", db, "--counts"], env=env)
        assert listed.exit_code == 0 and "No segments saved." in listed.output
