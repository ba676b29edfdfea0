"""``crmkit report`` and ``crmkit reports ...`` through click's runner on a real CRM file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from reports_shop import load_shop

import crmkit
from crmkit.cli import make_cli


@pytest.fixture
def db(crm_path, clock, monkeypatch):
    """The shop in a file; commands load only the reports plugin."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "reports")
    crm = crmkit.open(crm_path, plugins=["reports"], clock=clock)
    load_shop(crm)
    crm.close()
    return crm_path


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


def audit_count(path) -> int:
    crm = crmkit.open(path, plugins=["reports"])
    try:
        return crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    finally:
        crm.close()


def test_report_prints_tables(db):
    result = run("report", db, "--as-of", "2024-07-01")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Report as of 2024-07-01 00:00 UTC  period Jun 1, 2024 – Jun 30, 2024")
    assert "Churn  [reports.churn]" in result.output and "25.0%" in result.output


def test_report_writes_html_csv_and_json_and_says_where(db, tmp_path):
    html, out = tmp_path / "report.html", tmp_path / "out"
    result = run("report", db, "--as-of", "2024-07-01", "--period", "quarter", "--segment", "region = 'EU'",
                 "--html", html, "--csv", out, "--json", out)
    assert result.exit_code == 0, result.output
    assert f"HTML report written to {html.resolve()}" in result.output
    assert f"12 CSV files written to {out.resolve()}" in result.output
    assert html.read_text().count("<svg") >= 5
    data = json.loads((out / "reports.acquisition.json").read_text())
    assert data["report"]["period"]["label"] == "2024-Q2" and data["report"]["segment"] == "region = 'EU'"


def test_explicit_period_and_no_compare(db, tmp_path):
    result = run("report", db, "--as-of", "2024-07-01", "--from", "2024-06-01", "--to", "2024-06-16", "--no-compare", "--json", tmp_path / "j")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "j" / "reports.repeat_purchase.json").read_text())
    assert data["report"]["previous"] is None and data["section"]["figures"]["buyers"] == 4


@pytest.mark.parametrize("args, message", [
    (["--as-of", "someday"], "Error: as_of: an ISO-8601 date or time"),
    (["--segment", "vip"], "Error: no segment named 'vip'"),
    (["--from", "2024-06-01"], "Error: give both --from and --to"),
    (["--from", "2024-06-16", "--to", "2024-06-01"], "Error: period: an end after the start"),
    (["--html", "nowhere/report.html"], "does not exist"),
])
def test_report_errors_are_one_line_and_write_nothing(db, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    before = (audit_count(db), sorted(p.name for p in tmp_path.iterdir()))
    result = run("report", db, *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert (audit_count(db), sorted(p.name for p in tmp_path.iterdir())) == before


def test_missing_database(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "reports")
    result = run("report", tmp_path / "none.db")
    assert result.exit_code == 1 and "no CRM file at" in result.output
    assert not (tmp_path / "none.db").exists()


def test_configure_and_definitions(db):
    result = run("reports", "configure", db, "--churn-days", "90")
    assert result.exit_code == 0 and "reports.churn_days = 90" in result.output
    assert "reports.churn_days = 90" in run("reports", "configure", db).output
    before = audit_count(db)
    bad = run("reports", "configure", db, "--churn-days", "0", "--cost-key", "margin")
    assert bad.exit_code == 1 and "churn_days: a whole number from 1 to 3650" in bad.output
    assert audit_count(db) == before and "reports.cost_key = cost" in run("reports", "configure", db).output
    listing = run("reports", "definitions").output
    assert "churn: Churn" in listing and "cohorts: Cohort retention" in listing


def test_every_command_has_help():
    cli = make_cli()
    for name in ("report", "reports"):
        assert cli.commands[name].help
    for command in cli.commands["reports"].commands.values():
        assert command.help


def test_report_locale_option(db, tmp_path):
    """--locale formats the terminal and HTML report; an unknown locale is one error line and nothing is written."""
    result = run("report", db, "--as-of", "2024-07-01", "--locale", "zh_CN")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Report as of 2024-07-01 00:00 UTC  period 2024年6月1日 – 2024年6月30日")
    html = tmp_path / "report.html"
    bad = run("report", db, "--as-of", "2024-07-01", "--locale", "xx_YY", "--html", html)
    assert bad.exit_code != 0 and bad.output.strip().splitlines() == ["Error: unknown locale 'xx_YY'; give one like en_US or zh_CN"]
    assert not html.exists()


def test_the_html_report_is_never_written_over_the_crm_file(db, tmp_path, monkeypatch):
    """`crmkit report shop.db --html shop.db` replaced the CRM with HTML."""
    monkeypatch.chdir(tmp_path)
    before = (audit_count(db), Path(db).stat().st_size)
    for target in (db, f"{db}-wal"):
        result = run("report", db, "--html", target)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Error: --html:" in result.output and "database" in result.output
    assert (audit_count(db), Path(db).stat().st_size) == before


@pytest.mark.parametrize("args", [("report",), ("reports", "configure"), ("reports", "configure", "--churn-days", "30")])
def test_a_crm_without_the_reports_plugin_is_one_error_line(crm_path, clock, monkeypatch, args):
    """A file made with ``--plugins ""`` has no reports: one Error line, exit 1, nothing written."""
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    with crmkit.open(crm_path, plugins=[], clock=clock) as crm:
        crm.customers.add(name="Alice")

    def state():
        with crmkit.open(crm_path) as crm:
            return crm.settings.all(), crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0], crm.plugins.names()

    before = state()
    result = CliRunner().invoke(make_cli(), [args[0], *args[1:2], str(crm_path), *args[2:]])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and lines == [f"Error: the reports plugin is not active in {crm_path}"], result.output
    assert state() == before
