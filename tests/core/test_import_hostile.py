"""Hostile and odd files through `crmkit import`: each refused with one clear line (or a problem
report) and nothing written, or stored exactly; found by trying the CLI as a red team would."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ImportRefused, ValidationError
from crmkit.cli import make_cli
from crmkit.importing import import_file


@pytest.fixture(autouse=True)
def core_only(monkeypatch, tmp_path):
    monkeypatch.setenv("CRMKIT_PLUGINS", "")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def crm(crm_path, clock):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    crm.customers.add_many([
        {"name": "Ann", "external_id": "C1", "email": "ann@example.com"},
        {"name": "Bob", "external_id": "C2", "email": "bob@example.com"},
        {"name": "Sam", "email": "shared@example.com"},
        {"name": "Sue", "email": "Shared@Example.com"},
    ])
    yield crm
    crm.close()


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


def assert_error(result, message: str) -> None:
    """Exit 1, one 'Error: ...' line holding ``message``, no traceback."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def state(crm) -> tuple:
    """Everything an import could have written."""
    return (
        [tuple(r) for r in crm.db.execute("SELECT id, name, email, external_id, region FROM customers ORDER BY id")],
        crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0],
        crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0],
    )


def json_lines(path, objects):
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


# --- two keys of one JSON line feeding one field ----------------------------------------------

@pytest.mark.parametrize("size", [1, 400])
def test_two_keys_feeding_one_field_refuse_the_line_as_two_columns_refuse_a_csv(crm, crm_path, tmp_path, size, small_chunks):
    """A JSON line with customer_external_id and "Customer External ID" named two customers and
    was stored on the second one; a CSV with two such columns is refused. Among 400 lines the
    others are read by column and the odd one row by row: the same refusal."""
    lines = [{"customer_external_id": "C1", "occurred_at": "2024-05-01", "kind": "call"} for _ in range(size - 1)]
    lines.append({"customer_external_id": "C1", "Customer External ID": "C2", "occurred_at": "2024-05-01", "kind": "call"})
    path = json_lines(tmp_path / "calls.jsonl", lines)
    before = state(crm)
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="interactions")
    assert [p.row for p in refused.value.problems] == [size]
    reason = refused.value.problems[0].reason
    assert "customer_external_id" in reason and "Customer External ID" in reason
    assert state(crm) == before


def test_two_keys_feeding_a_customers_email_refuse_the_line(crm, tmp_path):
    path = json_lines(tmp_path / "people.jsonl", [{"name": "Eve", "email": "eve@example.com", "E-Mail": "other@example.com"}])
    before = state(crm)
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="customers")
    assert "E-Mail" in refused.value.problems[0].reason
    assert state(crm) == before


# --- a customers row whose email several customers share ---------------------------------------

def test_a_customers_row_matching_a_shared_email_is_ambiguous_not_the_lowest_id(crm, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,email,region\nShx,shared@example.com,EU\n", encoding="utf-8")
    before = state(crm)
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="customers")
    [problem] = refused.value.problems
    assert (problem.row, problem.field) == (2, "email") and "2 customers" in problem.reason
    assert state(crm) == before
    # With an external id of its own the row matches only a customer without one: still two.
    path.write_text("name,email,external_id\nShx,shared@example.com,N9\n", encoding="utf-8")
    with pytest.raises(ImportRefused):
        import_file(crm, path, kind="customers")
    assert state(crm) == before


def test_upsert_many_refuses_a_shared_email_too(crm):
    before = state(crm)
    with pytest.raises(ValidationError) as refused:
        crm.customers.upsert_many([{"name": "Shx", "email": "SHARED@example.com"}])
    assert "2 customers" in str(refused.value)
    assert state(crm) == before
    assert crm.customers.upsert_many([{"name": "Ann B", "email": "ann@example.com"}]) == {"added": 0, "updated": 1}


# --- numbers too large to write out -------------------------------------------------------------

@pytest.mark.parametrize("number", ["1e99999999999", "1" + "0" * 10_001, "1e20001", "-1e-10001"])
def test_a_number_too_long_for_any_text_field_is_a_problem_not_a_crash(crm, tmp_path, number):
    path = tmp_path / "notes.jsonl"
    path.write_text(f'{{"customer_external_id": "C1", "occurred_at": "2024-05-01", "kind": "call", "notes": {number}}}\n', encoding="utf-8")
    before = state(crm)
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="interactions")
    [problem] = refused.value.problems
    assert problem.field == "notes" and len(problem.value) <= 300
    assert state(crm) == before


@pytest.mark.parametrize("number, stored", [("1e40", "1" + "0" * 40), ("1" + "0" * 5000, "1" + "0" * 5000), ("-2.5e-3", "-0.0025")])
def test_a_long_number_within_the_limit_is_stored_as_its_digits(crm, tmp_path, number, stored):
    """A whole number of more than 4,300 digits, which Python will not parse as an int, too."""
    path = tmp_path / "notes.jsonl"
    path.write_text(f'{{"customer_external_id": "C1", "occurred_at": "2024-05-01", "kind": "call", "notes": {number}}}\n', encoding="utf-8")
    import_file(crm, path, kind="interactions")
    assert crm.db.execute("SELECT notes FROM interactions").fetchone()[0] == stored


# --- options and files the reader cannot take -----------------------------------------------------

def test_a_csv_read_as_xlsx_is_one_error_line(crm, crm_path, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name\nZed\n", encoding="utf-8")
    before = state(crm)
    assert_error(run("import", crm_path, path, "--kind", "customers", "--format", "xlsx"), "not a readable .xlsx workbook")
    assert state(crm) == before


@pytest.mark.parametrize("codec", ["rot13", "base64", "zlib"])
def test_a_codec_that_is_not_a_text_encoding_is_one_error_line(crm, crm_path, tmp_path, codec):
    path = tmp_path / "people.csv"
    path.write_text("name\nZed\n", encoding="utf-8")
    assert_error(run("import", crm_path, path, "--kind", "customers", "--encoding", codec), "for text")


@pytest.mark.parametrize("codec", ["undefined", "no\x00such"])
def test_an_encoding_name_python_cannot_use_is_a_validation_error(crm, tmp_path, codec):
    # "undefined" is a codec that refuses every text; a NUL cannot be in a codec's name (the
    # HTTP import passes these names through from its query string).
    path = tmp_path / "people.csv"
    path.write_text("name\nZed\n", encoding="utf-8")
    before = state(crm)
    with pytest.raises(ValidationError, match="^encoding: "):
        import_file(crm, path, kind="customers", encoding=codec)
    assert state(crm) == before


def test_a_report_into_a_missing_folder_is_one_error_line_before_anything_is_written(crm, crm_path, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name\nZed\n", encoding="utf-8")
    before = state(crm)
    assert_error(run("import", crm_path, path, "--kind", "customers", "--report", tmp_path / "missing" / "r.csv"), "--report")
    assert state(crm) == before


def test_lone_carriage_returns_are_named_as_such(crm, crm_path, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(b"name,email\rZed,zed@example.com\r")
    assert_error(run("import", crm_path, path, "--kind", "customers"), "carriage return")


def test_a_cell_longer_than_the_reader_takes_is_named_as_such(crm, crm_path, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text('name,email,address\nZed,z@example.com,"' + "A" * 140_000 + '"\n', encoding="utf-8")
    before = state(crm)
    result = run("import", crm_path, path, "--kind", "customers")
    assert_error(result, "characters")
    assert "quote" not in result.output
    assert state(crm) == before


def test_set_names_itself_in_its_errors(crm, crm_path, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("customer_external_id,occurred_at\nC1,2024-05-01\n", encoding="utf-8")
    result = run("import", crm_path, path, "--kind", "interactions", "--set", "kind=call", "--set", "colour=red")
    assert_error(result, "--set colour")
    assert "--map" not in result.output and "a interaction" not in result.output
    assert_error(run("import", crm_path, path, "--kind", "interactions", "--set", "kind=call", "--set", "kind=visit"), "--set kind")
    assert crm.interactions.count() == 0


def test_a_huge_bad_value_is_cut_short_on_the_terminal_and_whole_in_the_report(crm, crm_path, tmp_path):
    path = tmp_path / "calls.csv"
    huge = "9" * 100_000  # within what the CSV reader takes in one cell
    path.write_text(f"customer_external_id,occurred_at,kind,amount\nC1,2024-05-01,purchase,{huge}\n", encoding="utf-8")
    result = run("import", crm_path, path, "--kind", "interactions")
    assert result.exit_code == 1
    assert "(100,000 characters)" in result.output
    assert max(len(line) for line in result.output.splitlines()) < 1000
    report = tmp_path / "problems.csv"
    assert run("import", crm_path, path, "--kind", "interactions", "--report", report).exit_code == 1
    assert huge in report.read_text(encoding="utf-8")


# --- outputs never written over a database --------------------------------------------------------

def test_no_output_overwrites_the_crm_file_or_another_database(crm, crm_path, tmp_path):
    """`--report shop.db`, `export shop.db shop.db` and `report --html shop.db` each replaced the
    CRM with a CSV or HTML file; now each is one error line and the CRM is untouched."""
    people = tmp_path / "people.csv"
    people.write_text("name\nZed\n", encoding="utf-8")
    other = tmp_path / "other.db"  # another application's SQLite database, on either engine's run
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes(text)")
        connection.execute("INSERT INTO notes VALUES ('keep me')")
    connection.close()
    before = state(crm)
    for output in (crm_path, other, f"{crm_path}-wal"):
        assert_error(run("import", crm_path, people, "--kind", "customers", "--report", output), "database")
        assert_error(run("export", crm_path, output, "--format", "csv"), "database")
    assert state(crm) == before
    connection = sqlite3.connect(other)
    assert connection.execute("SELECT text FROM notes").fetchall() == [("keep me",)]
    connection.close()


def test_export_of_a_segment_without_one_says_which_option_is_missing(crm, crm_path, tmp_path):
    result = run("export", crm_path, tmp_path / "out.csv", "--kind", "segment")
    assert_error(result, "--kind segment needs --segment")
    assert not (tmp_path / "out.csv").exists()


def test_a_data_number_beyond_a_float_says_so(crm, tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"customer_external_id": "C1", "occurred_at": "2024-05-01", "kind": "call", "data": {"n": 1e5000}}\n', encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(crm, path, kind="interactions")
    assert "beyond a float's range" in refused.value.problems[0].reason
    assert crm.interactions.count() == 0


def test_data_and_attribute_values_keep_leading_zeros_and_every_digit(crm, tmp_path):
    """attributes.zip = 01234 was stored as the number 1234."""
    path = tmp_path / "people.csv"
    path.write_text(
        "name,attributes.zip,attributes.floor,attributes.ratio,attributes.pi,attributes.big,attributes.code\n"
        "Zoe,01234,3,0.25,3.14159265358979323846,123456789012345678901,٣\n", encoding="utf-8")
    import_file(crm, path, kind="customers")
    stored = json.loads(crm.db.execute("SELECT attributes FROM customers WHERE name = 'Zoe'").fetchone()[0])
    assert stored == {"zip": "01234", "floor": 3, "ratio": 0.25, "pi": "3.14159265358979323846",
                      "big": "123456789012345678901", "code": "٣"}


def test_a_pipe_as_the_output_is_written_not_read(crm, tmp_path):
    """The database check must not open a pipe or device to read it (it would wait for input)."""
    import os
    import threading

    from crmkit.outputs import check_output

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    answer = []
    worker = threading.Thread(target=lambda: answer.append(check_output(crm, fifo, "the export")), daemon=True)
    worker.start()
    worker.join(10)
    assert answer == [fifo]


class _NpsKind:
    """A plugin kind whose validator needs a score, as the plugin author's guide writes one."""

    @crmkit.hookimpl
    def crmkit_interaction_kinds(self):
        def needs_a_score(data):
            if data.get("score") not in range(11):
                raise ValidationError("data.score", data.get("score"), "a whole number from 0 to 10")

        return [crmkit.InteractionKind("nps", "NPS", validate=needs_a_score)]


@pytest.mark.parametrize("name, body", [
    ("bad.jsonl", '{"customer_id": 1, "kind": "nps", "occurred_at": "2025-02-10", "data": {"score": 11}}\n'),
    ("bad.csv", 'customer_id,kind,occurred_at,data\n1,nps,2025-02-10,"{""score"": 11}"\n'),
])
def test_a_validator_that_needs_its_data_reports_a_bad_row_once(crm_path, tmp_path, name, body):
    """The importer drops a refused field and checks the row again, to find its other bad
    fields; the validator then complained about the missing score too: the same problem twice."""
    with crmkit.open(crm_path, plugins=[_NpsKind()]) as crm:
        crm.customers.add(name="Ada")
        source = tmp_path / name
        source.write_text(body, encoding="utf-8")
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, source, kind="interactions")
        assert [(p.field, p.reason) for p in refused.value.problems] == [("data", "a whole number from 0 to 10")]
        assert crm.interactions.count() == 0
