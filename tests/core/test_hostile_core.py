"""Hostile values at the core's edges: each refused before anything is written, alike on both
engines, or stored and read back exactly.

Times with no date on the home zone's calendar, amounts whose totals would leave 64 bits,
attributes compared with text, JSON nested thousands of levels deep, and ``customers update
--tag``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ValidationError
from crmkit.cli import make_cli
from crmkit.errors import ConflictError
from crmkit.models import MAX_NESTING
from crmkit.money import MAX_AMOUNT


@pytest.fixture(autouse=True)
def core_only(monkeypatch, tmp_path):
    monkeypatch.setenv("CRMKIT_PLUGINS", "")
    monkeypatch.chdir(tmp_path)


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


def assert_error(result, *parts: str) -> None:
    """Exit 1, one 'Error: ...' line holding every part, no traceback."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and all(part in errors[0] for part in parts), result.output
    assert "Traceback" not in result.output


def written(crm) -> tuple:
    """What a refused write must not have changed."""
    return (
        crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0],
        crm.db.execute("SELECT count(*) FROM customer_summary").fetchone()[0],
        crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0],
    )


@pytest.fixture
def berlin(crm_path, clock):
    """A CRM whose home zone is east of UTC, with one customer."""
    crm = crmkit.open(crm_path, plugins=[], clock=clock, timezone="Europe/Berlin")
    crm.customers.add(name="Ann")
    yield crm
    crm.close()


@pytest.fixture
def new_york(tmp_path, clock):
    """A CRM whose home zone is west of UTC, with one customer."""
    crm = crmkit.open(tmp_path / "new-york.db", plugins=[], clock=clock, timezone="America/New_York")
    crm.customers.add(name="Ann")
    yield crm
    crm.close()


# --- 1. times with no date in the home zone ---------------------------------------------------

class TestTimesOnTheHomeCalendar:
    def test_the_range_is_utcs_narrowed_by_the_zone(self, berlin, new_york):
        """Berlin's year 9999 ends an hour before UTC's; New York's year 1 starts at 04:56:02
        UTC (its local mean time)."""
        assert berlin.calendar.stored_range == ("0001-01-01T00:00:00Z", "9999-12-31T22:59:59Z")
        assert new_york.calendar.stored_range == ("0001-01-01T04:56:02Z", "9999-12-31T23:59:59Z")

    def test_cli_refuses_a_time_in_the_year_10000_there_and_writes_nothing(self, crm_path):
        """It printed 'a number or date is out of range' after committing the interaction, and
        listing the customer's interactions failed from then on."""
        assert run("init", crm_path, "--plugins", "", "--timezone", "Europe/Berlin").exit_code == 0
        assert run("customers", "add", crm_path, "--name", "Ann").exit_code == 0
        result = run("interactions", "record", crm_path, 1, "call", "--at", "9999-12-31T23:59:59Z")
        assert_error(result, "occurred_at", "Europe/Berlin", "9999-12-31T22:59:59Z")
        listed = run("interactions", "list", crm_path, 1)
        assert listed.exit_code == 0 and "No interactions." in listed.output
        assert run("customers", "show", crm_path, 1).exit_code == 0

    def test_the_last_second_of_9999_there_is_kept_and_shown(self, berlin, crm_path):
        berlin.interactions.record(1, "call", "9999-12-31T22:59:59Z")
        listed = run("interactions", "list", crm_path, 1)
        assert listed.exit_code == 0 and "9999-12-31 23:59" in listed.output, listed.output

    def test_record_refuses_before_year_1_there(self, new_york):
        before = written(new_york)
        with pytest.raises(ValidationError, match="^occurred_at.*America/New_York"):
            new_york.interactions.record(1, "call", "0001-01-01T00:00:00Z")
        assert written(new_york) == before

    @pytest.mark.parametrize("when", ["9999-12-31T23:00:00Z", "9999-12-31T23:59:59+00:00"])
    def test_record_many_names_the_row_on_the_plain_and_the_general_path(self, berlin, when):
        """Plain rows (checked by column) and converted ones (row by row) alike."""
        rows = [{"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01T00:00:00Z"} for _ in range(9)]
        rows.insert(6, {"customer_id": 1, "kind": "call", "occurred_at": when})
        before = written(berlin)
        with pytest.raises(ValidationError, match="row 7: occurred_at"):
            berlin.interactions.record_many(rows, batch_size=4)
        assert written(berlin) == before

    def test_record_checked_refuses_a_stored_row_too(self, berlin):
        row = (1, "call", None, "9999-12-31T23:30:00Z", None, None, None, None, None, None)
        with pytest.raises(ValidationError, match="row 2: occurred_at"):
            berlin.interactions.record_checked([[row[:3] + ("2024-01-01T00:00:00Z",) + row[4:], row]])
        assert written(berlin)[0] == 0

    def test_a_utc_crm_keeps_utcs_whole_range(self, fresh_crm):
        ann = fresh_crm.customers.add(name="Ann")
        fresh_crm.interactions.record(ann.id, "call", "9999-12-31T23:59:59Z")
        fresh_crm.interactions.record(ann.id, "call", "0001-01-01T00:00:00Z")
        assert fresh_crm.interactions.count(ann.id) == 2

    @pytest.mark.parametrize("size", [2, 400])
    def test_an_import_reports_the_row_and_writes_nothing(self, berlin, crm_path, tmp_path, size):
        """One row among many: the file is read by column, the odd chunk row by row."""
        lines = ["customer_id,kind,occurred_at"] + ["1,call,2024-01-01T00:00:00Z"] * (size - 1)
        lines.insert(2, "1,call,9999-12-31T23:30:00Z")
        path = tmp_path / "calls.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        before = written(berlin)
        result = run("import", crm_path, path, "--kind", "interactions")
        assert_error(result, "nothing was imported")
        assert "row 3, occurred_at '9999-12-31T23:30:00Z'" in result.output
        assert written(berlin) == before
        result = run("import", crm_path, path, "--kind", "interactions", "--skip-invalid")
        assert result.exit_code == 0, result.output
        assert berlin.interactions.count() == size - 1

    def test_a_customers_import_refuses_such_a_created_at(self, berlin, crm_path, tmp_path):
        path = tmp_path / "people.jsonl"
        path.write_text(json.dumps({"name": "Bob", "created_at": "9999-12-31T23:30:00Z"}) + "\n", encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "customers")
        assert_error(result, "nothing was imported")
        assert "created_at" in result.output and "Europe/Berlin" in result.output
        assert berlin.customers.count() == 1


# --- 2. money: one interaction's amount, and a customer's total ------------------------------

class TestMoneyTotals:
    def test_the_largest_amount_is_fifteen_digits(self, fresh_crm):
        ann = fresh_crm.customers.add(name="Ann")
        paid = fresh_crm.interactions.record(ann.id, "purchase", "2025-01-01", amount="9999999999999.99")
        assert paid.amount == Decimal("9999999999999.99") and MAX_AMOUNT == 999999999999999

    @pytest.mark.parametrize("amount", ["10000000000000", "10000000000000.00", 10**13, Decimal("92233720368547758.07")])
    def test_a_larger_amount_is_refused_on_every_path(self, fresh_crm, amount):
        ann = fresh_crm.customers.add(name="Ann")
        before = written(fresh_crm)
        with pytest.raises(ValidationError, match=r"^amount: at most 9999999999999\.99"):
            fresh_crm.interactions.record(ann.id, "purchase", "2025-01-01", amount=amount)
        plain = [{"customer_id": ann.id, "kind": "purchase", "occurred_at": "2025-01-01T00:00:00Z", "amount": amount}] * 3
        with pytest.raises(ValidationError, match=r"row 1: amount: at most 9999999999999\.99"):
            fresh_crm.interactions.record_many(plain)
        assert written(fresh_crm) == before

    def test_the_documented_repro_is_refused_alike_and_nothing_is_a_float(self, crm_path, clock):
        """92233720368547758.07 then 0.01: SQLite stored a float net spend, PostgreSQL refused
        the second with 'bigint out of range'."""
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        ann = crm.customers.add(name="Ann")
        with pytest.raises(ValidationError, match="amount"):
            crm.interactions.record(ann.id, "purchase", "2025-01-01", amount="92233720368547758.07")
        crm.interactions.record(ann.id, "purchase", "2025-01-02", amount="0.01")
        assert crm.db.execute("SELECT net_spend FROM customer_summary").fetchall() == [(1,)]
        crm.close()

    @pytest.mark.parametrize("batch_size", [5000, 20000])
    def test_a_net_spend_past_64_bits_is_refused_and_nothing_is_written(self, crm_path, clock, batch_size):
        """9,300 of the largest purchases: every engine refuses the call with the same error,
        whether the batch holds them all or not; 9,000 fit, exactly."""
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        ann = crm.customers.add(name="Ann")
        rows = [{"customer_id": ann.id, "kind": "purchase", "occurred_at": "2025-01-01T00:00:00Z",
                 "amount": "9999999999999.99"}] * 9300
        before = written(crm)
        with pytest.raises(ConflictError, match=f"customer {ann.id}: the net spend would pass 92233720368547758.07"):
            crm.interactions.record_many(rows, batch_size=batch_size)
        assert written(crm) == before
        crm.interactions.record_many(rows[:9000], batch_size=batch_size)
        net = crm.db.execute("SELECT net_spend FROM customer_summary").fetchone()[0]
        assert type(net) is int and net == 9000 * MAX_AMOUNT
        assert crm.segments.evaluate("spend_365d > 0").count(as_of="2025-06-01") == 1
        crm.close()

    def test_cli_refuses_a_larger_amount_in_one_line(self, crm_path):
        assert run("init", crm_path, "--plugins", "").exit_code == 0
        assert run("customers", "add", crm_path, "--name", "Ann").exit_code == 0
        result = run("interactions", "record", crm_path, 1, "purchase", "--amount", "10000000000000")
        assert_error(result, "amount", "9999999999999.99")
        assert run("interactions", "list", crm_path, 1).output.strip() == "No interactions."

    @pytest.mark.parametrize("size", [2, 400])
    def test_an_import_reports_a_larger_amount_as_a_row(self, crm_path, clock, tmp_path, size):
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        crm.customers.add(name="Ann")
        lines = ["customer_id,kind,occurred_at,amount"] + ["1,purchase,2024-01-01,1.00"] * (size - 1)
        lines.insert(2, "1,purchase,2024-01-01,10000000000000.00")
        path = tmp_path / "orders.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "interactions")
        assert_error(result, "nothing was imported")
        assert "row 3, amount" in result.output and "9999999999999.99" in result.output
        assert crm.interactions.count() == 0
        crm.close()


# --- 3. attributes compared with text --------------------------------------------------------

ATTRIBUTES = {"code": 7, "rate": 7.5, "big": 1e20, "vip": True, "off": False, "name": "x", "none": None}


@pytest.mark.parametrize("rule", [
    "attr_code = '7'", "attr_code = 7", "attr_code in ('7', '9')", "attr_code contains '7'",
    "attr_rate = '7.5'", "attr_rate = 7.5", "attr_big = '1e+20'", "attr_vip = 'true'", "attr_off = 'false'",
    "attr_name = 'x'", "attr_none is null", "attr_missing is null",
])
def test_an_attribute_reads_as_the_same_text_on_both_engines(crm_path, clock, rule):
    """{"code": 7} matched attr_code = '7' on PostgreSQL and not on SQLite: a number, true or
    false compared with text is its JSON text on both."""
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    crm.customers.add(name="Bob", attributes=ATTRIBUTES)
    crm.customers.add(name="Eve", attributes={"code": 8, "rate": 1, "big": 2, "vip": False, "off": True, "name": "y", "none": 1, "missing": 1})
    assert crm.segments.evaluate(rule).count() == 1
    crm.close()


# --- 4. JSON nested deeper than anything reads ------------------------------------------------

def deep(levels: int) -> str:
    """JSON text of lists nested ``levels`` deep."""
    return "[" * levels + "]" * levels


class TestNesting:
    @pytest.mark.parametrize("value", [f'{{"x": {deep(5000)}}}', deep(5000), f'{{"x": {deep(MAX_NESTING)}}}'])
    def test_a_json_line_too_deep_is_a_problem_row(self, crm_path, clock, tmp_path, value):
        """5,000 levels raised RecursionError (a traceback; HTTP 500); 101 are past the limit."""
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        crm.customers.add(name="Ann")
        good = '{"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01"}'
        path = tmp_path / "calls.jsonl"
        path.write_text(f"{good}\n" + good[:-1] + f', "data": {value}}}\n', encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "interactions")
        assert_error(result, "nothing was imported")
        assert "row 2" in result.output and "data" in result.output and f"{MAX_NESTING} levels" in result.output
        assert crm.interactions.count() == 0
        assert run("import", crm_path, path, "--kind", "interactions", "--skip-invalid").exit_code == 0
        assert crm.interactions.count() == 1
        crm.close()

    def test_a_hundred_levels_are_kept(self, fresh_crm, tmp_path):
        from crmkit.importing import import_file

        fresh_crm.customers.add(name="Ann")
        path = tmp_path / "calls.jsonl"
        data = {"x": json.loads(deep(MAX_NESTING - 1))}
        path.write_text(json.dumps({"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01", "data": data}) + "\n")
        import_file(fresh_crm, path, kind="interactions")
        assert fresh_crm.interactions.history(1)[0].data == data

    @pytest.mark.parametrize("suffix", ["jsonl", "csv"])
    def test_a_customers_attributes_too_deep_are_a_problem_row(self, crm_path, clock, tmp_path, suffix):
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        path = tmp_path / f"people.{suffix}"
        attributes = f'{{"x": {deep(5000)}}}'
        if suffix == "jsonl":
            path.write_text(f'{{"name": "Bob", "attributes": {attributes}}}\n', encoding="utf-8")
        else:
            path.write_text('name,attributes\nBob,"' + attributes.replace('"', '""') + '"\n', encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "customers")
        assert_error(result, "nothing was imported")
        assert "attributes" in result.output and f"{MAX_NESTING} levels" in result.output
        assert crm.customers.count() == 0
        crm.close()

    def test_a_csv_data_cell_too_deep_is_a_problem_row(self, crm_path, clock, tmp_path):
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        crm.customers.add(name="Ann")
        path = tmp_path / "calls.csv"
        data = f'{{"x": {deep(5000)}}}'.replace('"', '""')
        path.write_text(f'customer_id,kind,occurred_at,data\n1,call,2024-01-01,"{data}"\n', encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "interactions")
        assert_error(result, "nothing was imported")
        assert "row 2, data" in result.output and f"nested at most {MAX_NESTING} levels deep" in result.output
        assert crm.interactions.count() == 0
        crm.close()


# --- 4b. texts inside JSON that one engine would cut and the other refuses --------------------

UNSTORABLE = [
    ({"note": "a\x00b"}, "data.note", "without NUL"),
    ({"a\x00": 1}, "a key of data", "without NUL"),
    ({"": {"x y": "\x00"}}, 'data[""]["x y"]', "without NUL"),
    ({"extra": {"lines": ["ok", "z\x00"]}}, "data.extra.lines[1]", "without NUL"),
    ({"note": "\ud800"}, "data.note", "lone surrogate"),
]


class TestTextsInsideJson:
    """A NUL character or a lone surrogate inside ``data`` or ``attributes``. SQLite stored it and
    its JSON functions cut the text at the NUL (``attr_note = 'a'`` matched 'a\\x00b'); PostgreSQL
    stored it too, and from then on every rule reading an attribute failed for the whole CRM."""

    @pytest.mark.parametrize("data, place, reason", UNSTORABLE)
    def test_record_and_record_many_refuse_it(self, fresh_crm, data, place, reason):
        ann = fresh_crm.customers.add(name="Ann")
        before = written(fresh_crm)
        with pytest.raises(ValidationError, match="^data: .*" + reason + ".* in " + re.escape(place)) as refused:
            fresh_crm.interactions.record(ann.id, "call", "2024-01-01", data=data)
        assert refused.value.field == "data"
        with pytest.raises(ValidationError, match="^row 2: data: .*" + reason + ".* in " + re.escape(place)):
            fresh_crm.interactions.record_many([
                {"customer_id": ann.id, "kind": "call", "occurred_at": "2024-01-01"},
                {"customer_id": ann.id, "kind": "call", "occurred_at": "2024-01-01", "data": data},
            ])
        assert written(fresh_crm) == before

    @pytest.mark.parametrize("data, place, reason", UNSTORABLE)
    def test_attributes_refuse_it(self, fresh_crm, data, place, reason):
        place = place.replace("data", "attributes", 1)
        with pytest.raises(ValidationError, match="^attributes: .*" + reason + ".* in " + re.escape(place)):
            fresh_crm.customers.add(name="Ann", attributes=data)
        ann = fresh_crm.customers.add(name="Ann", attributes={"note": "kept"})
        with pytest.raises(ValidationError, match=re.escape(place)):
            fresh_crm.customers.update(ann.id, attributes=data)
        assert fresh_crm.customers.get(ann.id).attributes == {"note": "kept"}
        assert list(fresh_crm.segments.evaluate("attr_note = 'kept'").ids()) == [ann.id]

    def test_texts_both_engines_store_are_kept(self, fresh_crm):
        """Emoji (a surrogate pair in UTF-16), a backslash spelling u0000, other control characters."""
        data = {"note": "\U0001F600 ok", "path": "C:\\u0000", "tab": "a\tb", "\u00e9": ["\u202e"]}
        ann = fresh_crm.customers.add(name="Ann", attributes=data)
        fresh_crm.interactions.record(ann.id, "call", "2024-01-01", data=data)
        fresh_crm.interactions.record_many([{"customer_id": ann.id, "kind": "call", "occurred_at": "2024-01-01", "data": data}])
        assert [i.data for i in fresh_crm.interactions.history(ann.id)] == [data, data]
        assert fresh_crm.customers.get(ann.id).attributes == data
        assert list(fresh_crm.segments.evaluate("attr_path = 'C:\\u0000'").ids()) == [ann.id]

    @pytest.mark.parametrize("suffix", ["csv", "jsonl"])
    def test_an_import_names_the_row_and_writes_nothing(self, crm_path, clock, tmp_path, suffix):
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        crm.customers.add(name="Ann")
        rows = [{"customer_id": 1, "kind": "call", "occurred_at": "2024-01-01", "data": {"note": "fine"}},
                {"customer_id": 1, "kind": "call", "occurred_at": "2024-01-02", "data": {"note": "a\x00b"}}]
        path = tmp_path / f"calls.{suffix}"
        if suffix == "jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        else:
            cells = ['1,call,{},"{}"'.format(row["occurred_at"], json.dumps(row["data"]).replace('"', '""')) for row in rows]
            path.write_text("customer_id,kind,occurred_at,data\n" + "\n".join(cells) + "\n", encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "interactions")
        assert_error(result, "nothing was imported")
        line = 3 if suffix == "csv" else 2  # the header is line 1 of a CSV file
        assert f"row {line}, data" in result.output and "text without NUL characters (one at 1) in data.note" in result.output
        assert crm.interactions.count() == 0
        assert run("import", crm_path, path, "--kind", "interactions", "--skip-invalid").exit_code == 0
        assert [i.data for i in crm.interactions.history(1)] == [{"note": "fine"}]
        crm.close()

    def test_a_customers_import_refuses_it_in_attributes(self, crm_path, clock, tmp_path):
        crm = crmkit.open(crm_path, plugins=[], clock=clock)
        path = tmp_path / "people.jsonl"
        path.write_text('{"name": "Bob", "attributes": {"code": "x\\u0000y"}}\n', encoding="utf-8")
        result = run("import", crm_path, path, "--kind", "customers")
        assert_error(result, "nothing was imported")
        assert "attributes.code" in result.output and "NUL" in result.output
        assert crm.customers.count() == 0
        crm.close()


# --- 5. customers update --tag ----------------------------------------------------------------

class TestUpdateTags:
    @pytest.fixture
    def tagged(self, crm_path):
        assert run("init", crm_path, "--plugins", "").exit_code == 0
        assert run("customers", "add", crm_path, "--name", "Ann", "--tag", "a", "--tag", "b").exit_code == 0
        return crm_path

    def tags(self, path) -> tuple:
        crm = crmkit.open(path, plugins=[])
        try:
            return crm.customers.get(1).tags
        finally:
            crm.close()

    def test_tag_replaces_the_tags(self, tagged):
        result = run("customers", "update", tagged, 1, "--tag", "c", "--tag", "d")
        assert result.exit_code == 0, result.output
        assert self.tags(tagged) == ("c", "d")

    def test_clear_tags_removes_them(self, tagged):
        assert run("customers", "update", tagged, 1, "--clear", "tags").exit_code == 0
        assert self.tags(tagged) == ()

    @pytest.mark.parametrize("args, option", [
        (("--tag", "c", "--clear", "tags"), "--tag"), (("--region", "EU", "--clear", "region"), "--region"),
    ])
    def test_a_field_both_given_and_cleared_is_refused(self, tagged, args, option):
        crm = crmkit.open(tagged, plugins=[])
        before = written(crm)
        crm.close()
        assert_error(run("customers", "update", tagged, 1, *args), option, "--clear")
        assert self.tags(tagged) == ("a", "b")
        crm = crmkit.open(tagged, plugins=[])
        assert written(crm) == before
        crm.close()


class TestThePythonApiRefusesWhatImportsRefuse:
    """The same limits through crm.customers.add and crm.interactions.record as through an import."""

    def test_a_created_at_with_no_date_in_the_home_zone(self, crm_path):
        with crmkit.open(crm_path, plugins=[]) as crm:
            crm.set_timezone("Europe/Berlin")
            with pytest.raises(crmkit.ValidationError, match="created_at: a time whose date in the home zone"):
                crm.customers.add(name="Ann", created_at="9999-12-31T23:30:00Z")
            assert crm.customers.count() == 0
            assert crm.customers.add(name="Bo", created_at="9999-12-31T22:59:59Z").id == 1

    def test_data_nested_past_the_limit(self, crm_path):
        with crmkit.open(crm_path, plugins=[]) as crm:
            ann = crm.customers.add(name="Ann")
            too_deep = json.loads(deep(MAX_NESTING + 1))
            with pytest.raises(crmkit.ValidationError, match=f"data: nested at most {MAX_NESTING} levels deep"):
                crm.interactions.record(ann.id, "call", data={"x": too_deep})
            with pytest.raises(crmkit.ValidationError, match=f"attributes: nested at most {MAX_NESTING} levels deep"):
                crm.customers.update(ann.id, attributes={"x": too_deep})
            assert crm.interactions.count() == 0 and crm.customers.get(ann.id).attributes == {}
            crm.interactions.record(ann.id, "call", data={"x": json.loads(deep(MAX_NESTING - 1))})


# --- 4c. names that no saved segment can have ----------------------------------------------------

@pytest.mark.parametrize("text", ["vip\x00", "tags contains 'x\x00'", "\ud800"])
def test_a_segment_name_no_segment_can_have_is_simply_not_one(crm_path, text):
    """Looking up a text with a NUL or a lone surrogate as a segment's name raised the engine's
    error on PostgreSQL (its texts cannot hold a NUL) and UnicodeEncodeError on both: such a text
    names no saved segment, and as a rule it is refused as every bad rule is."""
    with crmkit.open(crm_path, plugins=[]) as crm:
        crm.segments.define("vip", "tags contains 'vip'")
        assert text not in crm.segments
        with pytest.raises(crmkit.NotFound):
            crm.segments.get(text)
        assert crm.segments.resolve(text) == text  # a rule, then
        with pytest.raises(crmkit.RuleError):
            crm.segments.evaluate(text)
