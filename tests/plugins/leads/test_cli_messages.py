"""``crmkit leads import`` and ``pool``: every refusal is one ``Error:`` line naming where, and writes nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ValidationError
from crmkit.cli import make_cli


@pytest.fixture
def db(crm_path, clock):
    """A CRM file with the leads plugin and one lead already in the pool."""
    with crmkit.open(crm_path, plugins=["leads"], clock=clock) as crm:
        crm.leads.add("Existing", email="existing@x.example")
    return crm_path


@pytest.fixture
def file_counts(row_counts):
    """A function giving the row counts of a CRM file that a refused command must leave unchanged."""

    def read(path) -> dict:
        with crmkit.open(path, plugins=["leads"]) as crm:
            return row_counts(crm)

    return read


class TestImportNamesTheLine:
    """Rows are numbered by their line in the CSV file: the header is line 1, the first lead line 2."""

    @pytest.mark.parametrize("text, expected", [
        ("name,email\nA,a@x.example\n,b@x.example\n", "Error: row 3: name: a non-empty text (got None)"),
        ("email\nb@x.example\n", "Error: row 2: name: a non-empty text (got None)"),
        ("name,email\nA,a@x.example\nB,not-an-email\n",
         "Error: row 3: email: an email address like name@example.com (got 'not-an-email')"),
        ("name,size\nA,small\n\nB,huge\n", "Error: row 4: size: one of micro, small, medium, large, enterprise (got 'huge')"),
    ])
    def test_a_bad_customer_field_names_its_line_and_nothing_is_imported(self, one_error_line, run, db, file_counts, tmp_path, text, expected):
        """A blank line still counts (B is on line 4 of the last file)."""
        source = tmp_path / "leads.csv"
        source.write_text(text, encoding="utf-8")
        before = file_counts(db)
        assert one_error_line(run("leads", "import", db, source)) == expected
        assert file_counts(db) == before

    def test_a_json_list_names_the_position(self, one_error_line, run, db, file_counts, tmp_path):
        source = tmp_path / "leads.json"
        source.write_text(json.dumps([{"name": "A"}, {"email": "b@x.example"}]), encoding="utf-8")
        before = file_counts(db)
        assert one_error_line(run("leads", "import", db, source)) == "Error: row 2: name: a non-empty text (got None)"
        assert file_counts(db) == before

    def test_add_many_names_the_row_and_writes_nothing(self, crm, row_counts):
        before = row_counts(crm)
        with pytest.raises(ValidationError, match=r"^row 2: email: an email address") as refused:
            crm.leads.add_many([{"name": "A"}, {"name": "B", "email": "not-an-email"}])
        assert (refused.value.field, refused.value.value) == ("row 2: email", "not-an-email")
        with pytest.raises(ValidationError, match=r"^row 12: name: a non-empty text"):
            crm.leads.add_many([{"name": "A"}, {"name": " "}], row_numbers=[11, 12])
        assert row_counts(crm) == before


class TestPoolLimit:
    def test_a_negative_limit_is_refused(self, one_error_line, run, db, file_counts):
        before = file_counts(db)
        assert one_error_line(run("leads", "pool", db, "--limit", -1)).startswith("Error: --limit: -1 is not in the range 0<=x")
        assert file_counts(db) == before

    def test_limit_zero_lists_no_lead_but_counts_the_pool(self, run, db):
        shown = run("leads", "pool", db, "--limit", 0)
        assert shown.exit_code == 0 and shown.output.strip().splitlines()[-1] == "1 lead(s) in the pool"
        assert "Existing" not in shown.output


@pytest.mark.parametrize("lead", ["0", "99999999999999999999"])
def test_a_lead_id_out_of_range_is_one_error_line(tmp_path, monkeypatch, lead):
    """A lead id past 64 bits used to reach the driver (its overflow message); 0 is no id."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(make_cli(), ["init", "p.db", "--plugins", "leads"]).exit_code == 0
    result = runner.invoke(make_cli(), ["leads", "claim", "p.db", lead, "ann"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == f"Error: LEAD: {lead} is not in the range 1<=x<=9223372036854775807."
