"""A segment exported as of a past date carries its members' fields as they were then (both
engines): the rule chose them by those values, so the file must agree with the rule."""

from __future__ import annotations

import csv

from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.exporting import records
from crmkit.testing import FixedClock


def _crm_with_a_move(path):
    """Ada in the EU with tag 'vip' from 1 March; on 1 May she moves to Mars, loses the tag and
    is renamed. Bob joins in June, in the EU."""
    clock = FixedClock("2025-03-01T09:00:00Z")
    crm = crmkit.open(path, plugins=[], clock=clock)
    ada = crm.customers.add(name="Ada", region="EU", tags=["vip"], stage="growing", attributes={"tier": "gold"})
    clock.advance(days=61)
    crm.customers.update(ada.id, region="Mars", tags=[], name="Ada Lovelace", stage="churned", attributes={})
    clock.advance(days=31)
    crm.customers.add(name="Bob", region="EU")
    return crm, ada.id


def test_a_past_membership_is_exported_with_the_values_it_was_chosen_by(crm_path):
    crm, ada = _crm_with_a_move(crm_path)
    with crm:
        then = list(records(crm, "segment", segment="region = 'EU'", as_of="2025-04-15"))
        assert [(r["id"], r["region"], r["tags"], r["stage"], r["attributes"]) for r in then] == [
            (ada, "EU", ["vip"], "growing", {"tier": "gold"}),
        ]
        assert then[0]["name"] == "Ada Lovelace"  # identity fields are not versioned: today's
        assert then[0]["updated_at"] == "2025-03-01T09:00:00Z"  # her version's start, not May's change
        now = list(records(crm, "segment", segment="region = 'EU'"))
        assert [(r["name"], r["region"]) for r in now] == [("Bob", "EU")]
        moved = list(records(crm, "segment", segment="region = 'Mars'", as_of="2025-05-15"))
        assert [(r["id"], r["region"], r["tags"]) for r in moved] == [(ada, "Mars", [])]


def test_the_cli_export_as_of_a_date_writes_that_dates_values(crm_path, tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "")
    crm, ada = _crm_with_a_move(crm_path)
    crm.close()
    target = tmp_path / "eu.csv"
    result = CliRunner().invoke(make_cli(), [
        "export", str(crm_path), str(target), "--kind", "segment", "--segment", "region = 'EU'", "--as-of", "2025-04-15",
    ])
    assert result.exit_code == 0, result.output
    with open(target, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(int(r["id"]), r["region"], r["tags"]) for r in rows] == [(ada, "EU", "vip")]
