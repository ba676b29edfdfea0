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


@pytest.fixture(autouse=True)
def english_locale(monkeypatch):
    """Texts these tests compare are en_US: a reader's LANG or LC_ALL must not change them."""
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
