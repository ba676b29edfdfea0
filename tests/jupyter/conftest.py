"""Fixtures of the Jupyter extension's tests."""

from __future__ import annotations

import pytest

import crmkit
from jupyter_helpers import fill


@pytest.fixture
def shop(crm_path, clock):
    """The 30-customer shop in a real SQLite file, core only, clock fixed at 2025-01-01 09:00."""
    crm = fill(crmkit.open(crm_path, plugins=[], clock=clock))
    yield crm
    crm.close()
