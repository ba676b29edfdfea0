"""Fixtures of the leads plugin's tests: a CRM with only the leads plugin, and a small team."""

from __future__ import annotations

import pytest

import crmkit


@pytest.fixture
def crm(clock):
    """An in-memory CRM with only the leads plugin, on the fixed clock."""
    crm = crmkit.open(":memory:", plugins=["leads"], clock=clock)
    yield crm
    crm.close()


@pytest.fixture
def file_crm(crm_path, clock):
    """A CRM file with only the leads plugin (for tests that need a real file)."""
    crm = crmkit.open(crm_path, plugins=["leads"], clock=clock)
    yield crm
    crm.close()


@pytest.fixture
def team(crm):
    """The crm with three reps: ann (retail, 4), bo (software, 4), cy (retail+software, 8, team b)."""
    add_team(crm)
    return crm


@pytest.fixture
def row_counts():
    """A function giving the row counts (and lead owners) a failed write must leave unchanged."""
    return counts


@pytest.fixture
def run(monkeypatch):
    """Invoke the crmkit CLI with only the leads plugin active; returns the click result."""
    from click.testing import CliRunner

    from crmkit.cli import make_cli

    monkeypatch.setenv("CRMKIT_PLUGINS", "leads")
    runner = CliRunner()
    cli = make_cli()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def one_error_line():
    """A function giving the single line a refused command printed (exit status 1, no traceback)."""

    def line(result) -> str:
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
        return lines[0]

    return line


def add_team(crm) -> None:
    """Three reps: ann (retail, 4), bo (software, 4), cy (retail+software, 8, team b)."""
    crm.leads.add_rep("ann", "Ann Lee", team="a", industries=["retail"], capacity=4, experience=2)
    crm.leads.add_rep("bo", "Bo Diaz", team="a", industries=["software"], capacity=4, experience=4)
    crm.leads.add_rep("cy", "Cy Park", team="b", industries=["retail", "software"], capacity=8, experience=3)


def counts(crm) -> dict:
    """Row counts that a failed write must leave unchanged."""
    tables = ("leads_leads", "leads_assignments", "leads_reps", "leads_rules", "audit_log", "customers", "tasks")
    out = {t: crm.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    out["owners"] = crm.db.execute("SELECT group_concat(customer_id || ':' || status || ':' || COALESCE(owner, '-')) FROM leads_leads").fetchone()[0]
    return out
