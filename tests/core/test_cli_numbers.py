"""Whole numbers past what a database stores, typed where the CLI takes an id or a count: one
`Error:` line, never a traceback (`customers show shop.db 99999999999999999999999` raised
OverflowError from the database driver)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli

HUGE = "99999999999999999999999"


@pytest.fixture
def db(crm_path, clock):
    with crmkit.open(crm_path, plugins=["complaints"], clock=clock) as crm:
        crm.customers.add(name="Ann")
    return crm_path


@pytest.mark.parametrize("args", [
    ["customers", "show", "{db}", HUGE],
    ["customers", "list", "{db}", "--limit", HUGE],
    ["customers", "list", "{db}", "--offset", HUGE],
    ["interactions", "list", "{db}", HUGE],
    ["complaints", "show", "{db}", HUGE],  # a plugin's argument typed as a plain int
])
def test_a_number_past_64_bits_is_one_error_line(db, monkeypatch, args):
    monkeypatch.setenv("CRMKIT_PLUGINS", "complaints")
    result = CliRunner().invoke(make_cli(), [a.format(db=db) for a in args], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output
    assert "9223372036854775807" in lines[0] or "out of range" in lines[0]
    with crmkit.open(db, plugins=[]) as crm:
        assert crm.customers.count() == 1
