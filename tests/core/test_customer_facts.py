"""Customer facts: every plugin's facts about a batch of customers through one hook, and
``crmkit customers show`` printing them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.facts import Fact
from crmkit.testing import FixedClock

PLUGINS = ["loyalty", "leads", "complaints"]


@pytest.fixture
def shop(crm_path):
    """Ada: gold tier (bought 600.00 on 2025-01-10, tiers evaluated 2025-01-11), 600 points
    (rate 1, no lock, no expiry), one complaint received 2025-02-01. Bo: a lead claimed by rep ann.
    Cy: nothing at all."""
    with crmkit.open(crm_path, plugins=PLUGINS, clock=FixedClock("2025-03-01T09:00:00Z")) as crm:
        crm.loyalty.points.set_policy(rate="1", lock_days=0, expiry_days=None)
        crm.loyalty.tiers.define([{"name": "gold", "metric": "spend", "threshold": 500}])
        ada = crm.customers.add(name="Ada").id
        crm.interactions.record(ada, "purchase", "2025-01-10", amount="600.00")
        crm.loyalty.tiers.evaluate("2025-01-11")
        complaint = crm.complaints.open(ada, received_at="2025-02-01T10:00:00Z")
        crm.leads.add_rep("ann", "Ann")
        bo = crm.leads.add("Bo").id
        crm.leads.claim(bo, "ann")
        cy = crm.customers.add(name="Cy").id
    return {"path": crm_path, "ada": ada, "bo": bo, "cy": cy, "ack_due": complaint.ack_due_at}


def values(facts: list[Fact]) -> dict[str, object]:
    return {fact.name: fact.value for fact in facts}


def test_one_batch_gives_every_plugins_facts(shop):
    with crmkit.open(shop["path"], plugins=PLUGINS) as crm:
        facts = crm.customers.facts([shop["ada"], shop["bo"], shop["cy"], 999], as_of="2025-01-20")
    assert set(facts) == {shop["ada"], shop["bo"], shop["cy"]}  # 999 names no customer
    assert values(facts[shop["ada"]]) == {
        "tier": "gold", "points": 600, "lead_status": None, "lead_rep": None, "open_complaints": 0, "sla": None,
    }
    assert values(facts[shop["bo"]])["lead_status"] == "assigned"
    assert values(facts[shop["bo"]])["lead_rep"] == "ann"
    assert values(facts[shop["cy"]]) == {
        "tier": None, "points": 0, "lead_status": None, "lead_rep": None, "open_complaints": 0, "sla": None,
    }
    assert {fact.plugin for fact in facts[shop["ada"]]} == set(PLUGINS)


def test_complaint_sla_state_follows_the_deadline(shop):
    assert shop["ack_due"] > datetime(2025, 2, 1, 10, 30, tzinfo=timezone.utc)
    with crmkit.open(shop["path"], plugins=PLUGINS) as crm:
        on_time = values(crm.customers.facts([shop["ada"]], as_of="2025-02-01T10:30:00Z")[shop["ada"]])
        late = crm.customers.facts([shop["ada"]], as_of=shop["ack_due"] + timedelta(hours=1))
    assert (on_time["open_complaints"], on_time["sla"]) == (1, "on time")
    assert (values(late[shop["ada"]])["open_complaints"], values(late[shop["ada"]])["sla"]) == (1, "breached")


def test_a_core_only_crm_has_no_facts_and_bad_ids_are_refused(shop):
    with crmkit.open(shop["path"], plugins=[]) as crm:
        assert crm.customers.facts([shop["ada"]]) == {shop["ada"]: []}
        with pytest.raises(crmkit.ValidationError):
            crm.customers.facts(["1"])


def test_customers_show_prints_the_facts(shop):
    result = CliRunner().invoke(make_cli(), ["customers", "show", str(shop["path"]), str(shop["ada"])], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "Loyalty tier: gold" in lines
    assert "Lead rep: -" in lines
    assert "Open complaints: 1" in lines
