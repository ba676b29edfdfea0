"""The plugin's own tests: run with the plugin installed (`pip install .` then `pytest`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.testing import FixedClock


@pytest.fixture
def crm(tmp_path):
    crm = crmkit.open(tmp_path / "crm.db", plugins=["competitors"], clock=FixedClock("2025-03-01"))
    yield crm
    crm.close()


def test_wins_and_losses_and_the_segment_field(crm):
    acme = crm.competitors.add("Acme CRM", products="CRM, Helpdesk", positioning="budget")
    assert acme.products == ("CRM", "Helpdesk")
    crm.competitors.add("Bigco", positioning="premium")
    ids = crm.customers.add_many([{"name": n} for n in ("Ann", "Ben", "Cy")])
    crm.competitors.link(ids[0], "Acme CRM", "lost_to", noted_at="2025-01-10", notes="cheaper")
    crm.competitors.link(ids[1], "Acme CRM", "also_serves", noted_at="2025-02-01")
    crm.competitors.link(ids[2], "Bigco", "won_from", noted_at="2025-02-15")
    rows = {r["competitor"]: (r["lost_to"], r["won_from"], r["also_serves"]) for r in crm.competitors.wins_and_losses()}
    assert rows == {"Acme CRM": (1, 0, 1), "Bigco": (0, 1, 0)}
    assert crm.segments.evaluate("lost_to_competitor = 'Acme CRM'").count() == 1
    assert crm.segments.evaluate("lost_to_competitor = 'Acme CRM'", as_of="2025-01-01").count() == 0
    assert crm.segments.evaluate("competitors_serving >= 1").count() == 1


def test_bad_input_writes_nothing(crm):
    ann = crm.customers.add(name="Ann")
    with pytest.raises(crmkit.ValidationError):
        crm.competitors.add("X", positioning="cheap")
    crm.competitors.add("Acme CRM")
    with pytest.raises(crmkit.ConflictError):
        crm.competitors.add("Acme CRM")
    with pytest.raises(crmkit.ValidationError):
        crm.competitors.link(ann.id, "Acme CRM", "hates")
    with pytest.raises(crmkit.NotFound):
        crm.competitors.link(ann.id, "Nobody")
    assert crm.db.execute("SELECT count(*) FROM competitors_links").fetchone()[0] == 0


def test_forget_and_merge(crm):
    a, b = crm.customers.add(name="Ann"), crm.customers.add(name="Ann B")
    crm.competitors.add("Acme CRM")
    crm.competitors.link(b.id, "Acme CRM", "lost_to", notes="Ann said the price was too high")
    crm.customers.merge(a.id, b.id)
    assert [l["competitor"] for l in crm.competitors.links(a.id)] == ["Acme CRM"]
    crm.forget(a.id)
    assert crm.competitors.links(a.id)[0]["notes"] is None


def test_report_section(crm):
    crm.competitors.add("Acme CRM")
    sections = crm.plugins.call("crmkit_report_sections", crm=crm, as_of=crm.now())
    assert sections[0][0].key == "competitors.wins_losses"


def test_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "competitors")
    path = str(tmp_path / "cli.db")
    crmkit.open(path).close()
    runner = CliRunner()
    cli = make_cli()
    result = runner.invoke(cli, ["competitors", "add", path, "Acme CRM", "--positioning", "budget"])
    assert result.exit_code == 0, result.output
    assert "added competitor Acme CRM" in result.output
    result = runner.invoke(cli, ["competitors", "add", path, "Acme CRM"])
    assert result.exit_code == 1 and "exists" in result.output
    result = runner.invoke(cli, ["competitors", "stats", path])
    assert "Acme CRM\t0\t0\t0" in result.output
