"""``crmkit leads ...`` on real files: every command, its output and its error path."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli


@pytest.fixture
def run(monkeypatch):
    """Invoke the crmkit CLI with only the leads plugin active; returns the click result."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "leads")
    monkeypatch.setenv("CRMKIT_ACTOR", "tester")
    runner = CliRunner()
    cli = make_cli()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def db(crm_path, clock):
    """A CRM file with reps ann (retail, capacity 2) and bo (software, capacity 2)."""
    crm = crmkit.open(crm_path, plugins=["leads"], clock=clock)
    crm.leads.add_rep("ann", "Ann", industries=["retail"], capacity=2)
    crm.leads.add_rep("bo", "Bo", industries=["software"], capacity=2)
    crm.close()
    return crm_path


def lead_rows(path):
    crm = crmkit.open(path, plugins=["leads"])
    try:
        return crm.db.execute("SELECT customer_id, status, owner FROM leads_leads ORDER BY customer_id").fetchall()
    finally:
        crm.close()


def test_every_command_has_help(run):
    result = run("leads", "--help")
    assert result.exit_code == 0
    for command in ("add", "import", "pool", "claim", "allocate", "release", "extend", "convert", "lose", "reps", "stats"):
        assert command in result.output
        sub = run("leads", command, "--help")
        assert sub.exit_code == 0 and len(sub.output.split("\n\n")[1].strip()) > 10


def test_missing_file_is_a_one_line_error(run, tmp_path):
    result = run("leads", "pool", tmp_path / "none.db")
    assert result.exit_code == 1
    assert "no CRM file at" in result.output and "Traceback" not in result.output


def test_add_pool_claim_release_extend(run, db):
    result = run("leads", "add", db, "Acme", "--industry", "retail", "--source", "referral", "--priority", "2", "--tag", "vip")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "added lead 1 (Acme): pool"
    pool = run("leads", "pool", db)
    assert "Acme" in pool.output and "1 lead(s) in the pool" in pool.output
    assert run("leads", "claim", db, 1, "ann").output.strip() == "claimed lead 1 (Acme): assigned owner ann"
    failed = run("leads", "claim", db, 1, "bo")
    assert failed.exit_code == 1 and "Error: lead 1 is assigned (owner ann), not in the pool" in failed.output
    extended = run("leads", "extend", db, 1, "ann", "--reason", "on holiday")
    assert "extension 1 of 2" in extended.output and "recycled after 20" in extended.output
    crm = crmkit.open(db, plugins=["leads"])
    lead = crm.leads.get(1)
    assert (lead.recycle_at - lead.assigned_at).days == 14  # 7-day period + one 7-day extension
    crm.close()
    assert run("leads", "extend", db, 1, "bo").exit_code == 1
    assert lead_rows(db) == [(1, "assigned", "ann")]
    wrong = run("leads", "release", db, 1, "bo")
    assert wrong.exit_code == 1 and "belongs to ann" in wrong.output
    assert run("leads", "release", db, 1, "ann", "--reason", "wrong fit").exit_code == 0
    assert lead_rows(db) == [(1, "pool", None)]


def test_import_csv_json_and_refusal(run, db, tmp_path):
    good = tmp_path / "leads.csv"
    good.write_text("name,industry,source,priority,lead_class\nShop,retail,referral,1,hot\nApp,software,web search,,\n")
    result = run("leads", "import", db, good)
    assert result.exit_code == 0 and "imported 2 lead(s)" in result.output
    as_json = tmp_path / "leads.json"
    as_json.write_text(json.dumps([{"name": "Json lead", "needs": "a website"}]))
    assert "imported 1 lead(s)" in run("leads", "import", db, as_json).output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,priority\nFine,1\nBad,high\n")
    refused = run("leads", "import", db, bad)
    assert refused.exit_code == 1 and "row 3: priority: a whole number from -2**63 to 2**63 - 1 (got 'high')" in refused.output  # line 3
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "is not valid JSON" in run("leads", "import", db, broken).output
    assert len(lead_rows(db)) == 3


def test_import_errors_name_the_line_and_every_field_a_lead_may_have(run, db, tmp_path):
    """Row numbers are file lines (a quoted cell may span two); an unknown column lists lead and customer fields."""
    spanning = tmp_path / "spanning.csv"
    spanning.write_text('name,needs,priority\nShop,"a till\nand a scale",1\nApp,,soon\n')
    refused = run("leads", "import", db, spanning)
    assert refused.exit_code == 1 and "row 4: priority" in refused.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("name,budget\nShop,100\n")
    refused = run("leads", "import", db, unknown)
    assert refused.exit_code == 1
    assert "row 2: budget: a lead field (priority, needs" in refused.output and "a customer field (name" in refused.output
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("name\nShop,retail\n")
    assert "line 2 of" in run("leads", "import", db, ragged).output
    assert len(lead_rows(db)) == 0


def test_allocate_dry_run_then_for_real(run, db):
    for name, industry in (("Shop", "retail"), ("App", "software"), ("Store", "retail")):
        run("leads", "add", db, name, "--industry", industry)
    dry = run("leads", "allocate", db, "--strategy", "skill_match > least_loaded", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "lead 1 → ann: skills 1/1 (industry retail); least_loaded (load 1/2)" in dry.output
    assert "would allocate 3 lead(s) with skill_match > least_loaded; 0 left in the pool (ann 2, bo 1)" in dry.output
    assert {row[1] for row in lead_rows(db)} == {"pool"}
    real = run("leads", "allocate", db, 1, 2, "-s", "round_robin", "-q")
    # Store (lead 3) was not named: it is still in the pool, and the summary counts it.
    assert real.output.strip() == "allocated 2 lead(s) with round_robin; 1 left in the pool (ann 1, bo 1)"
    bad = run("leads", "allocate", db, "--strategy", "magic")
    assert bad.exit_code == 1 and "unknown allocation strategy 'magic'" in bad.output
    again = run("leads", "allocate", db, 1)
    assert again.exit_code == 1 and "not in the pool: 1 (assigned)" in again.output


def test_convert_and_lose(run, db):
    run("leads", "add", db, "Acme")
    run("leads", "add", db, "Globex")
    run("leads", "claim", db, 1, "ann")
    converted = run("leads", "convert", db, 1)
    assert converted.output.strip() == "converted lead 1: customer 1 (Acme) is now new, owner ann"
    assert "already converted" in run("leads", "convert", db, 1).output
    refused = run("leads", "lose", db, 2, "bad luck")
    assert refused.exit_code == 1 and "one of no budget" in refused.output
    assert run("leads", "lose", db, 2, "no need").output.strip() == "lead 2 lost: no need"
    assert lead_rows(db) == [(1, "converted", "ann"), (2, "lost", None)]


def test_reps_list_add_update(run, db):
    listing = run("leads", "reps", db)
    assert "ann" in listing.output and "0/2" in listing.output
    added = run("leads", "reps", db, "--add", "cy", "--name", "Cy", "--team", "b", "--capacity", "5", "--industries", "retail,food")
    assert added.output.strip() == "added rep cy"
    assert run("leads", "reps", db, "--add", "cy", "--inactive").output.strip() == "updated rep cy"
    assert "no" in [line for line in run("leads", "reps", db).output.splitlines() if line.startswith("cy")][0]
    nameless = run("leads", "reps", db, "--add", "dee")
    assert nameless.exit_code == 1 and "give --name" in nameless.output
    invalid = run("leads", "reps", db, "--add", "ann", "--capacity", "0")
    assert invalid.exit_code == 1 and "capacity" in invalid.output


def test_stats(run, db):
    run("leads", "add", db, "Acme", "--source", "referral")
    run("leads", "claim", db, 1, "ann")
    run("leads", "convert", db, 1)
    table = run("leads", "stats", db, "--by", "source")
    assert table.exit_code == 0 and "referral" in table.output and "fairness" in table.output
    data = json.loads(run("leads", "stats", db, "--json").output)
    assert data["rows"][0]["converted"] == 1 and data["fairness"]["gini"] == 0.0
    bad = run("leads", "stats", db, "--as-of", "yesterday")
    assert bad.exit_code == 1 and "ISO-8601" in bad.output
