"""Fixtures of the loyalty plugin's tests: a CRM file with only the loyalty plugin."""

from __future__ import annotations

import pytest

import crmkit


@pytest.fixture
def crm(crm_path, clock):
    """A CRM file with only the loyalty plugin, on the fixed clock (2025-01-01 09:00 UTC)."""
    crm = crmkit.open(crm_path, plugins=["loyalty"], clock=clock)
    yield crm
    crm.close()


@pytest.fixture
def snapshot():
    """A function giving row counts of every table a failed write must leave unchanged."""
    return table_counts


def table_counts(crm) -> dict[str, int]:
    tables = [
        "loyalty_points", "loyalty_point_allocations", "loyalty_tier_history", "loyalty_tiers",
        "loyalty_runs", "loyalty_rfm", "interactions", "tasks", "audit_log", "settings",
    ]
    return {t: crm.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


@pytest.fixture
def add_customers():
    """A function adding ``count`` customers named c1..cN to a CRM; returns their ids."""

    def add(crm, count: int, **fields) -> list[int]:
        return [crm.customers.add(name=f"c{i}", **fields).id for i in range(1, count + 1)]

    return add
