"""Fixtures of the reports plugin's tests: the hand-worked shop on a real SQLite file."""

from __future__ import annotations

import pytest
from reports_shop import load_shop

import crmkit


@pytest.fixture
def shop(crm_path, clock):
    """The shop of reports_shop.py in a CRM file with only the reports plugin; the clock is in August."""
    clock.set("2024-08-15T09:00:00Z")
    crm = crmkit.open(crm_path, plugins=["reports"], clock=clock)
    crm.ids = load_shop(crm)
    yield crm
    crm.close()
