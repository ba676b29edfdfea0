"""Fixtures shared by the whole suite: CRMs on :memory: or on real files, with a fixed clock."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.testing import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at 2025-01-01 09:00 UTC; tests move it explicitly."""
    return FixedClock("2025-01-01T09:00:00Z")


@pytest.fixture
def fresh_crm(clock):
    """A core-only CRM (no plugins) in memory."""
    crm = crmkit.open(":memory:", plugins=[], clock=clock)
    yield crm
    crm.close()


@pytest.fixture
def crm_path(tmp_path):
    """Path of a CRM file in the test's temporary folder (not created yet)."""
    return tmp_path / "crm.db"
