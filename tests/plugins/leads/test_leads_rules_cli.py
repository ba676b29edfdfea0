"""``crmkit leads rules``: the allocation rules of the ``rules`` strategy from the command line
(list, add, remove), on real files of both engines, with each refusal one ``Error:`` line that
changes nothing."""

from __future__ import annotations

import pytest

import crmkit


@pytest.fixture
def db(file_crm, crm_path):
    """A CRM file with reps ann (team a) and cy (team b), and two leads: one retail, one software."""
    file_crm.leads.add_rep("ann", "Ann Lee", team="a", capacity=5)
    file_crm.leads.add_rep("cy", "Cy Park", team="b", capacity=5)
    file_crm.leads.add("Shop", industry="retail")
    file_crm.leads.add("App", industry="software")
    file_crm.close()
    return crm_path


def _rules(path) -> list[tuple]:
    with crmkit.open(path, plugins=["leads"]) as crm:
        return [(r.name, r.rule, r.team, r.reps) for r in crm.leads.rules()]


def test_add_list_use_and_remove_rules(run, db):
    added = run("leads", "rules", db, "--add", "retail", "--rule", "industry = 'retail'", "--rep", "cy")
    assert added.exit_code == 0, added.output
    assert "added allocation rule retail" in added.output
    assert run("leads", "rules", db, "--add", "rest", "--rule", "lead_status = 'pool'", "--team", "a").exit_code == 0
    assert _rules(db) == [("retail", "industry = 'retail'", None, ("cy",)), ("rest", "lead_status = 'pool'", "a", ())]

    listed = run("leads", "rules", db).output.splitlines()
    assert listed[0].split() == ["position", "name", "rule", "team", "reps"]
    assert [line.split()[1] for line in listed[1:]] == ["retail", "rest"]

    allocated = run("leads", "allocate", db, "--strategy", "rules > least_loaded")
    assert allocated.exit_code == 0, allocated.output
    with crmkit.open(db, plugins=["leads"]) as crm:
        owners = {lead.name: lead.owner for lead in crm.leads.leads(status="assigned")}
    assert owners == {"Shop": "cy", "App": "ann"}  # retail to cy by the first rule, the rest to team a

    removed = run("leads", "rules", db, "--remove", "retail")
    assert removed.exit_code == 0 and "removed allocation rule retail" in removed.output
    assert [name for name, *_ in _rules(db)] == ["rest"]


def test_no_rules_lists_none(run, db):
    assert run("leads", "rules", db).output.strip() == "(none)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--add", "x", "--rule", "industry = 'retail'"], "a team or a list of reps"),
        (["--add", "x", "--team", "a"], "--rule"),
        (["--rule", "industry = 'retail'"], "--add"),
        (["--add", "x", "--remove", "y", "--rule", "industry = 'retail'", "--team", "a"], "either --add or --remove"),
        (["--remove", "nope"], "no allocation rule named 'nope'"),
        (["--add", "", "--rule", "industry = 'retail'", "--team", "a"], "name"),
    ],
)
def test_refusals_are_one_error_line_and_change_nothing(run, db, one_error_line, args, message):
    before = _rules(db)
    assert message in one_error_line(run("leads", "rules", db, *args))
    assert _rules(db) == before


@pytest.mark.parametrize("rule", ["industry ==== 'retail'", "no_such_field = 1"])
def test_a_bad_rule_is_refused_with_the_place_it_goes_wrong(run, db, rule):
    result = run("leads", "rules", db, "--add", "x", "--rule", rule, "--team", "a")
    lines = result.output.splitlines()
    assert result.exit_code == 1 and lines[0].startswith("Error: ") and lines[1].strip() == rule and lines[2].strip() == "^"
    assert _rules(db) == []


def test_a_name_taken_is_refused(run, db, one_error_line):
    assert run("leads", "rules", db, "--add", "x", "--rule", "industry = 'retail'", "--team", "a").exit_code == 0
    line = one_error_line(run("leads", "rules", db, "--add", "x", "--rule", "industry = 'software'", "--team", "b"))
    assert "exists" in line
    assert _rules(db) == [("x", "industry = 'retail'", "a", ())]


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_names_no_engine_stores_are_refused_alike(file_crm, row_counts, text):
    """A NUL (PostgreSQL cannot store one, SQLite would) or a lone surrogate in a rule's name, a
    rep's id or a team: a ValidationError or NotFound on both engines, nothing written."""
    file_crm.leads.add_rep("ann", "Ann Lee", team="a", capacity=5)
    before = row_counts(file_crm)
    with pytest.raises(crmkit.ValidationError, match="^name: "):
        file_crm.leads.add_rule(text, "industry = 'retail'", team="a")
    with pytest.raises(crmkit.NotFound):
        file_crm.leads.add_rule("ok", "industry = 'retail'", reps=[text])
    with pytest.raises(crmkit.NotFound):
        file_crm.leads.remove_rule(text)
    with pytest.raises(crmkit.NotFound):
        file_crm.leads.rep(text)
    assert row_counts(file_crm) == before


def test_a_rule_name_is_at_most_100_characters(file_crm):
    file_crm.leads.add_rep("ann", "Ann Lee", team="a", capacity=5)
    with pytest.raises(crmkit.ValidationError, match="at most 100"):
        file_crm.leads.add_rule("x" * 101, "industry = 'retail'", team="a")
    assert file_crm.leads.add_rule("x" * 100, "industry = 'retail'", team="a").name == "x" * 100
