"""Fixtures of the complaints plugin's tests: a CRM with only this plugin, a small team."""

from __future__ import annotations

import pytest

import crmkit


@pytest.fixture
def crm(clock):
    """A complaints-only CRM in memory; clock at 2025-01-01 09:00 UTC (a Wednesday)."""
    crm = crmkit.open(":memory:", plugins=["complaints"], clock=clock)
    yield crm
    crm.close()


@pytest.fixture
def team(crm):
    """mara (manager) > sam (supervisor) > ann (billing), bob."""
    crm.complaints.add_handler("mara", role="manager")
    crm.complaints.add_handler("sam", role="supervisor", supervisor="mara")
    crm.complaints.add_handler("ann", supervisor="sam", skills=["billing"])
    crm.complaints.add_handler("bob", supervisor="sam")
    return crm


@pytest.fixture
def customer(crm):
    return crm.customers.add(name="Alice Ng", email="alice@example.com")


@pytest.fixture
def snapshot():
    """``snapshot(crm)``: table counts and complaint rows, to prove a refused write wrote nothing."""
    return state_of


def counts(crm) -> dict:
    """Row counts of every table a write could touch, to prove a refused write wrote nothing."""
    tables = ("complaints_complaints", "complaints_history", "complaints_notes", "complaints_pauses",
              "complaints_escalations", "complaints_feedback", "complaints_feedback_requests", "audit_log",
              "interactions", "tasks")
    return {t: crm.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def state_of(crm) -> tuple:
    """Counts plus every complaint row, to compare before and after a refused step."""
    return counts(crm), list(crm.db.query("SELECT * FROM complaints_complaints ORDER BY id"))
