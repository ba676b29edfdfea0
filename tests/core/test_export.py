"""Exporting customers, interactions and segment members to CSV and JSON lines."""

from __future__ import annotations

import csv
import io
import json

import pytest

import crmkit
from crmkit import CrmError, NotFound, RuleError, ValidationError
from crmkit.exporting import CUSTOMER_COLUMNS, csv_safe, export_file, records
from crmkit.importing import import_file


@pytest.fixture
def crm(crm_path, clock):
    handle = crmkit.open(crm_path, plugins=[], clock=clock)
    ada = handle.customers.add(
        name="Ada Lovelace", external_id="C1", email="ada@example.com", phone="+44 20 7946 0000",
        tags=["vip", "b2b"], attributes={"segment_code": 7}, region="EU",
    )
    bob = handle.customers.add(name="=HYPERLINK(\"http://x\")", external_id="C2", region="US")
    handle.interactions.record(ada.id, "purchase", "2024-03-01", amount="120.50", product="lamp")
    handle.interactions.record(ada.id, "purchase", "2024-11-01", amount="10", product="bulb")
    handle.interactions.record(bob.id, "call", "2024-11-02", notes="-called back")
    yield handle
    handle.close()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class TestCsv:
    def test_customers_with_formula_guard(self, crm, tmp_path):
        """Every customer column; '+44...' and '=HYPERLINK(...)' get a leading quote; tags comma-joined."""
        result = export_file(crm, tmp_path / "c.csv", "customers")
        assert (result.rows, result.format) == (2, "csv")
        rows = read_csv(tmp_path / "c.csv")
        assert list(rows[0]) == list(CUSTOMER_COLUMNS)
        assert rows[0]["phone"] == "'+44 20 7946 0000"
        assert rows[0]["tags"] == "vip,b2b"
        assert json.loads(rows[0]["attributes"]) == {"segment_code": 7}
        assert rows[1]["name"] == "'=HYPERLINK(\"http://x\")"
        assert rows[1]["email"] == ""

    def test_interactions_money_as_decimal_text(self, crm, tmp_path):
        """Amounts are minor units turned back into exact decimal text with the currency's places."""
        export_file(crm, tmp_path / "i.csv", "interactions")
        rows = read_csv(tmp_path / "i.csv")
        assert [r["amount"] for r in rows] == ["120.50", "10.00", ""]
        assert rows[2]["notes"] == "'-called back"
        assert rows[0]["occurred_at"] == "2024-03-01T00:00:00Z"

    @pytest.mark.parametrize("text, safe", [
        ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "-1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"), (None, ""),
    ])
    def test_csv_safe(self, text, safe):
        assert csv_safe(text) == safe

    def test_export_then_import_round_trip(self, crm, tmp_path, clock):
        """Customers exported to CSV import into a fresh CRM with the same fields (formula guard undone)."""
        export_file(crm, tmp_path / "c.csv", "customers")
        with crmkit.open(tmp_path / "copy.db", plugins=[], clock=clock) as copy:
            mapping = {"id": "-", "updated_at": "-"}
            result = import_file(copy, tmp_path / "c.csv", kind="customers", mapping=mapping)
            assert result.added == 2
            original = [(c.external_id, c.name, c.email, c.phone, c.tags, c.attributes, c.created_at) for c in crm.customers.list()]
            copied = [(c.external_id, c.name, c.email, c.phone, c.tags, c.attributes, c.created_at) for c in copy.customers.list()]
            assert copied == original


class TestJsonLines:
    def test_one_object_per_line(self, crm, tmp_path):
        export_file(crm, tmp_path / "i.jsonl", "interactions")
        lines = [json.loads(line) for line in (tmp_path / "i.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [(x["kind"], x["amount"], x["product"]) for x in lines] == [("purchase", "120.50", "lamp"), ("purchase", "10.00", "bulb"), ("call", None, None)]
        assert lines[2]["notes"] == "-called back"  # no formula guard outside CSV

    def test_to_a_stream(self, crm):
        out = io.StringIO()
        result = export_file(crm, out, "customers", format="jsonl")
        first = json.loads(out.getvalue().splitlines()[0])
        assert result.rows == 2
        assert (first["tags"], first["attributes"]) == (["vip", "b2b"], {"segment_code": 7})


class TestSegment:
    def test_members_as_of_a_date(self, crm, tmp_path):
        """ltv >= 100: Ada from March 2024 on (120.50); before that nobody."""
        crm.segments.define("big", "ltv >= 100")
        assert export_file(crm, tmp_path / "now.csv", "segment", segment="big").rows == 1
        assert [r["external_id"] for r in read_csv(tmp_path / "now.csv")] == ["C1"]
        assert export_file(crm, tmp_path / "then.csv", "segment", segment="big", as_of="2024-02-01").rows == 0
        assert read_csv(tmp_path / "then.csv") == []

    def test_a_rule_instead_of_a_name(self, crm):
        assert [r["external_id"] for r in records(crm, "segment", segment="region = 'US'")] == ["C2"]


class TestErrors:
    """Refused exports leave no file behind."""

    @pytest.mark.parametrize("kind, segment, error, message", [
        ("orders", None, ValidationError, "kind: one of customers, interactions, segment"),
        ("segment", None, ValidationError, "a saved segment's name or a rule"),
        ("customers", "vip", ValidationError, "given only with kind 'segment'"),
        ("segment", "vip", NotFound, "no segment named 'vip'"),
        ("segment", "spend_365d >> 5", RuleError, "position"),
    ])
    def test_refused(self, crm, tmp_path, kind, segment, error, message):
        with pytest.raises(error, match=message):
            export_file(crm, tmp_path / "out.csv", kind, segment=segment)
        assert list(tmp_path.glob("out.csv*")) == [] and list(tmp_path.glob(".out.csv*")) == []

    def test_unknown_extension_and_missing_folder(self, crm, tmp_path):
        with pytest.raises(CrmError, match="pass --format csv|jsonl"):
            export_file(crm, tmp_path / "out.xlsx", "customers")
        with pytest.raises(CrmError, match="does not exist"):
            export_file(crm, tmp_path / "no" / "out.csv", "customers")
