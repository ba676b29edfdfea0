"""Reports at the edges: periods reaching past year 1 or 9999 are refused (library, CLI, HTTP API),
and output folders follow one rule: the folder a target goes in must exist."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from reports_shop import load_shop

import crmkit
from crmkit.cli import make_cli

OUT_OF_YEARS = "within the years 1 to 9999"


@pytest.fixture
def db(crm_path, clock, monkeypatch):
    """The shop in a file, with an analyst who may read reports; commands load only reports."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "reports")
    with crmkit.open(crm_path, plugins=["reports"], clock=clock) as crm:
        load_shop(crm)
        crm.users.add("ann", "Ann", role="analyst")
    return crm_path


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


def audit_count(path) -> int:
    with crmkit.open(path, plugins=["reports"]) as crm:
        return crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]


class TestYearsOneTo9999:
    @pytest.mark.parametrize("as_of, period", [
        ("9999-12-31", "month"), ("9999-12-31T23:59:59Z", "day"), ("0001-01-01", "month"),
        ("0001-02-01", "day"), ("0002-01-01", "year"),
    ])
    def test_calendar_periods_past_the_edges_are_refused(self, db, as_of, period):
        with crmkit.open(db, plugins=["reports"]) as crm:
            with pytest.raises(crmkit.ValidationError, match=OUT_OF_YEARS) as error:
                crm.reports.kpis(as_of=as_of, period=period)
            assert error.value.field == "as_of"
            with pytest.raises(crmkit.ValidationError, match=OUT_OF_YEARS):
                crm.reports.build(as_of=as_of, period=period)

    def test_an_explicit_range_whose_previous_range_is_before_year_1(self, db):
        with crmkit.open(db, plugins=["reports"]) as crm:
            with pytest.raises(crmkit.ValidationError, match=OUT_OF_YEARS) as error:
                crm.reports.kpis(period=("0001-01-01", "0001-02-01"))
            assert error.value.field == "period"

    def test_a_longer_trend_reaches_further_back(self, db):
        with crmkit.open(db, plugins=["reports"]) as crm:
            assert len(crm.reports.trend(as_of="0006-01-01", months=12)) == 12
            with pytest.raises(crmkit.ValidationError, match=OUT_OF_YEARS):
                crm.reports.trend(as_of="0006-01-01", months=120)

    def test_reports_near_the_edges_still_work(self, db):
        with crmkit.open(db, plugins=["reports"]) as crm:
            for as_of in ("0003-01-01", "9999-10-01"):
                report = crm.reports.build(as_of=as_of)
                assert report.failed == [], as_of


@pytest.mark.parametrize("args, message", [
    (["--as-of", "9999-12-31"], "Error: as_of: "),
    (["--as-of", "0001-01-01"], "Error: as_of: "),
    (["--as-of", "9999-12-31", "--html", "r.html", "--csv", "csv", "--json", "json"], "Error: as_of: "),
    (["--from", "0001-01-01", "--to", "0001-02-01", "--json", "json"], "Error: period: "),
    (["--html", "a/x.html"], "Error: --html: cannot write a/x.html: folder a does not exist"),
    (["--csv", "b/deep/er"], "Error: --csv: cannot write into b/deep/er: folder b/deep does not exist"),
    (["--json", "c/deep"], "Error: --json: cannot write into c/deep: folder c does not exist"),
    (["--html", "r.html", "--csv", "csv", "--json", "c/deep"], "Error: --json: cannot write into c/deep"),
    (["--csv", "csv", "--html", "a/x.html"], "Error: --html: cannot write a/x.html"),
])
def test_cli_refusals_are_one_line_and_write_nothing(db, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    before = (audit_count(db), sorted(p.name for p in tmp_path.iterdir()))
    result = run("report", db, *args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith(message), result.output
    assert (audit_count(db), sorted(p.name for p in tmp_path.iterdir())) == before


def test_cli_creates_a_missing_folder_inside_one_that_exists(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("report", db, "--as-of", "2024-07-01", "--csv", "csv", "--json", "json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "csv" / "reports.churn.csv").is_file() and (tmp_path / "json" / "reports.churn.json").is_file()


def test_the_library_follows_the_same_folder_rule(db, tmp_path):
    with crmkit.open(db, plugins=["reports"]) as crm:
        report = crm.reports.build(as_of="2024-07-01")
        for write in (report.write_csv, report.write_json):
            with pytest.raises(crmkit.CrmError, match="does not exist"):
                write(tmp_path / "missing" / "deeper")
        assert not (tmp_path / "missing").exists()


class TestHttpApi:
    @pytest.fixture
    def client(self, db):
        from fastapi.testclient import TestClient

        from crmkit_api.app import create_app

        with crmkit.open(db, plugins=["reports"]) as crm:
            token = crm.users.issue_token("ann")[1]
            yield TestClient(create_app(crm), headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)

    @pytest.mark.parametrize("route", ["/reports/kpis", "/reports/html"])
    @pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00", "9999-12-31T00:00:00Z"])
    def test_as_of_past_the_edges_is_a_problem_422(self, client, route, as_of):
        answer = client.get(route, params={"as_of": as_of})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert OUT_OF_YEARS in answer.text

    def test_an_ordinary_as_of_still_answers(self, client):
        assert client.get("/reports/kpis", params={"as_of": "2024-07-01T00:00:00Z"}).status_code == 200
