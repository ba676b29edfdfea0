"""``crmkit config get/set``: the settings the core and the plugins declare, from the shell —
each change checked before it is written and recorded in the audit log."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], env={"COLUMNS": "200"}, catch_exceptions=False)


@pytest.fixture
def shop(crm_path):
    with crmkit.open(crm_path, plugins=["leads", "reports"]) as crm:
        crm.customers.add(name="Ada")
    return crm_path


def state(path) -> tuple[dict, int]:
    """Every stored setting and the number of audit entries."""
    with crmkit.open(path) as crm:
        stored = {k: json.loads(v) for k, v in crm.db.execute("SELECT key, value FROM settings")}
        return stored, crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_get_lists_every_declared_setting_with_its_value(shop):
    result = run("config", "get", shop)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1] for line in result.output.splitlines()[2:] if line[:1].strip()}
    # The leads plugin's defaults (crmkit_leads.config) and the reports plugin's, as JSON.
    assert rows["leads.cooldown_days"] == "3"
    assert rows["leads.auto_pool"] == "true"
    assert rows["leads.daily_quota"] == "null"
    assert rows["reports.churn_days"] == "180"
    assert rows["reports.cost_key"] == '"cost"'
    assert rows["core.locale"] == "null"
    assert "Days before the previous owner may take a recycled or released lead again." in " ".join(result.output.split())
    assert run("config", "get", shop, "leads.stages").output.strip() == '["new", "contacted", "qualified", "proposal"]'


def test_set_checks_stores_and_audits(shop):
    before, audits = state(shop)
    result = run("config", "set", shop, "leads.cooldown_days", "5")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "leads.cooldown_days: 3 -> 5"
    assert run("config", "set", shop, "reports.cost_key", "acquisition_cost").exit_code == 0  # plain text, no quotes
    assert run("config", "set", shop, "leads.follow_up_kinds", '["call", "visit"]').exit_code == 0
    assert run("config", "set", shop, "core.locale", "zh-CN").exit_code == 0
    after, audits_after = state(shop)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {
        "leads.cooldown_days": 5, "reports.cost_key": "acquisition_cost",
        "leads.follow_up_kinds": ["call", "visit"], "core.locale": "zh_CN",
    }
    with crmkit.open(shop) as crm:
        assert crm.leads.options.cooldown_days == 5
        assert crm.reports.settings()["cost_key"] == "acquisition_cost"
        log = crm.db.execute(
            "SELECT entity_id, after FROM audit_log WHERE action = 'setting.set' ORDER BY id"
        ).fetchall()
    assert [(key, json.loads(after)["value"]) for key, after in log][-4:] == [
        ("leads.cooldown_days", 5), ("reports.cost_key", "acquisition_cost"),
        ("leads.follow_up_kinds", ["call", "visit"]), ("core.locale", "zh_CN"),
    ]
    assert audits_after > audits
    assert run("config", "get", shop, "leads.cooldown_days").output.strip() == "5"


@pytest.mark.parametrize("args, says", [
    (("leads.cooldown", "5"), "did you mean leads.cooldown_days"),
    (("leads.cooldown_days", "-1"), "leads.cooldown_days"),
    (("leads.cooldown_days", "soon"), "leads.cooldown_days"),
    (("leads.stages", "[]"), "leads.stages"),
    (("reports.churn_days", "0"), "churn_days"),
    (("core.locale", "xx_YY"), "core.locale"),
    (("plugins", '["leads"]'), "setting"),
])
def test_bad_key_or_value_is_one_error_line_and_writes_nothing(shop, args, says):
    before = state(shop)
    result = run("config", "set", shop, *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert says in result.output
    assert state(shop) == before


def test_a_plugin_not_in_the_file_has_no_settings_here(crm_path):
    crmkit.open(crm_path, plugins=[]).close()
    listed = run("config", "get", crm_path)
    assert [line.split()[0] for line in listed.output.splitlines()[2:] if line[:1].strip()] == ["core.locale"]
    refused = run("config", "set", crm_path, "leads.cooldown_days", "5")
    assert refused.exit_code == 1 and refused.output.startswith("Error: ")
    missing = run("config", "get", crm_path.parent / "nothing.db")
    assert missing.exit_code == 1 and missing.output.startswith("Error: ")


def test_loyalty_policies_are_checked_by_the_plugin(crm_path):
    crmkit.open(crm_path, plugins=["loyalty"]).close()
    assert run("config", "set", crm_path, "loyalty.downgrade", '{"policy": "never"}').exit_code == 0
    assert run("config", "set", crm_path, "loyalty.points", '{"rate": "2", "lock_days": 14}').exit_code == 0
    with crmkit.open(crm_path) as crm:
        assert crm.loyalty.tiers.downgrade_policy().policy == "never"
        policy = crm.loyalty.points.policy()
        assert (str(policy.rate), policy.lock_days) == ("2", 14)
    before = state(crm_path)
    for value in ('{"policy": "sometimes"}', '{"polcy": "never"}', "never"):
        refused = run("config", "set", crm_path, "loyalty.downgrade", value)
        assert refused.exit_code == 1 and refused.output.startswith("Error: ") and len(refused.output.splitlines()) == 1
    assert state(crm_path) == before


def test_complaint_targets_from_the_shell_set_the_next_deadlines(crm_path):
    crmkit.open(crm_path, plugins=["complaints"]).close()
    result = run("config", "set", crm_path, "complaints.sla", '{"acknowledge": {"critical": "90min"}}')
    assert result.exit_code == 0, result.output
    with crmkit.open(crm_path) as crm:
        ada = crm.customers.add(name="Ada").id
        ticket = crm.complaints.open(ada, severity="critical", received_at="2025-03-03T10:00:00Z")
    assert ticket.ack_due_at == datetime(2025, 3, 3, 11, 30, tzinfo=timezone.utc)  # round the clock: +90 minutes
    before = state(crm_path)
    for key, value in (("complaints.sla", '{"acknowledge": {"critical": "soon"}}'), ("complaints.calendar", '{"timezone": "Mars/Base"}')):
        refused = run("config", "set", crm_path, key, value)
        assert refused.exit_code == 1 and refused.output.startswith("Error: ") and len(refused.output.splitlines()) == 1
    assert state(crm_path) == before
