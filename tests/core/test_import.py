"""Importing customers and interactions from CSV, JSON lines and Excel files on real CRM files."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from datetime import datetime
from decimal import Decimal

import pytest

import crmkit
from crmkit import CrmError, ImportRefused, ValidationError
from crmkit.importing import import_file


@pytest.fixture
def crm(crm_path, clock):
    """A core-only CRM on a real file."""
    handle = crmkit.open(crm_path, plugins=[], clock=clock)
    yield handle
    handle.close()


def write_csv(path, rows, encoding="utf-8", delimiter=","):
    with open(path, "w", newline="", encoding=encoding) as out:
        csv.writer(out, delimiter=delimiter).writerows(rows)
    return path


def write_jsonl(path, objects):
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def file_hash(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def counts(crm) -> tuple[int, int, int]:
    """Customers, interactions and audit entries: what a refused import must leave alone."""
    audit = crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    return crm.customers.count(), crm.interactions.count(), audit


def spend(crm, customer_id) -> Decimal:
    """Net spend of one customer from the segment field ``ltv``, as exact money."""
    return sum(
        (i.amount if i.kind == "purchase" else -i.amount)
        for i in crm.interactions.history(customer_id, limit=1000) if i.amount is not None
    ) or Decimal("0")


class TestCustomersCsv:
    def test_columns_named_like_fields_map_themselves(self, crm, tmp_path):
        """Case, spaces, hyphens and underscores in headers do not matter; unknown columns are ignored."""
        path = write_csv(tmp_path / "c.csv", [
            ["External ID", "Name", "E-mail", "phone", "SIZE", "Tags", "Favourite colour"],
            ["C1", "Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "small", "vip,b2b", "blue"],
            ["C2", "Bob Stone", "", "", "", "", ""],
        ])
        result = import_file(crm, path, kind="customers")
        assert (result.rows, result.added, result.updated, result.skipped) == (2, 2, 0, 0)
        assert result.ignored_columns == ("Favourite colour",)
        ada = crm.customers.find(external_id="C1")[0]
        assert (ada.name, ada.email, ada.phone, ada.size, ada.tags) == (
            "Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "small", ("vip", "b2b"))
        bob = crm.customers.find(external_id="C2")[0]
        assert (bob.email, bob.phone, bob.size, bob.tags) == (None, None, None, ())

    def test_explicit_mapping_nested_attributes_and_ignored_column(self, crm, tmp_path):
        """--map COLUMN=FIELD wins over names; attributes.<key> sets one key; '-' drops a column."""
        path = write_csv(tmp_path / "c.csv", [
            ["Kundennummer", "Firma", "Segment Code", "name"],
            ["K-7", "Acme GmbH", "42", "Not this one"],
        ])
        mapping = {"Kundennummer": "external_id", "Firma": "name", "Segment Code": "attributes.segment_code", "name": "-"}
        result = import_file(crm, path, kind="customers", mapping=mapping)
        assert result.columns == {"Kundennummer": "external_id", "Firma": "name", "Segment Code": "attributes.segment_code"}
        customer = crm.customers.find(external_id="K-7")[0]
        assert customer.name == "Acme GmbH"
        assert customer.attributes == {"segment_code": 42}

    def test_utf8_with_bom(self, crm, tmp_path):
        """A BOM (Excel's 'CSV UTF-8') does not end up in the first column's name."""
        path = tmp_path / "bom.csv"
        path.write_bytes(b"\xef\xbb\xbfexternal_id,name\r\nB1,Zo\xc3\xab\r\n")
        result = import_file(crm, path, kind="customers")
        assert result.columns == {"external_id": "external_id", "name": "name"}
        assert crm.customers.find(external_id="B1")[0].name == "Zoë"

    def test_gbk_with_encoding_option(self, crm, tmp_path):
        """A GBK file reads right with encoding='gbk'."""
        path = write_csv(tmp_path / "gbk.csv", [["external_id", "name", "region"], ["G1", "王小明", "华东"]], encoding="gbk")
        import_file(crm, path, kind="customers", encoding="gbk")
        customer = crm.customers.find(external_id="G1")[0]
        assert (customer.name, customer.region) == ("王小明", "华东")

    def test_undecodable_bytes_name_the_row_and_write_nothing(self, crm, crm_path, tmp_path):
        """The GBK file read as UTF-8: each undecodable row is reported with its line; nothing is written."""
        path = write_csv(tmp_path / "gbk.csv", [["external_id", "name"], ["G1", "plain"], ["G2", "王小明"], ["G3", "李"]], encoding="gbk")
        before = counts(crm)
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="customers")
        assert [p.row for p in refused.value.problems] == [3, 4]
        assert "not valid utf-8" in refused.value.problems[0].reason
        assert "--encoding" in refused.value.problems[0].reason
        assert counts(crm) == before

    def test_semicolon_separated(self, crm, tmp_path):
        """European spreadsheets write ';' between cells; the header tells which separator is used."""
        path = write_csv(tmp_path / "c.csv", [["external_id", "name", "region"], ["S1", "Lund, Ann", "SE"]], delimiter=";")
        import_file(crm, path, kind="customers")
        assert crm.customers.find(external_id="S1")[0].name == "Lund, Ann"

    def test_formula_guard_of_the_export_is_taken_off(self, crm, tmp_path):
        """A cell exported as "'+44 ..." (formula guard) reads back as "+44 ..."."""
        path = write_csv(tmp_path / "c.csv", [["name", "phone"], ["Ann", "'+44 20 7946 0001"]])
        import_file(crm, path, kind="customers")
        assert crm.customers.find(name="Ann")[0].phone == "+44 20 7946 0001"


class TestUpsert:
    def test_match_on_external_id_then_email_changes_only_given_fields(self, crm, tmp_path):
        """Existing customers are updated (only non-empty cells), new ones added; counts say which."""
        by_id = crm.customers.add(name="Ada", external_id="C1", region="EU", company="Old Co", attributes={"a": 1})
        by_mail = crm.customers.add(name="Bob", email="Bob@Example.com", region="US")
        path = write_csv(tmp_path / "c.csv", [
            ["external_id", "name", "email", "company", "region", "attributes.b"],
            ["C1", "", "", "New Co", "", "2"],
            ["", "Bob B.", "bob@example.com", "", "", ""],
            ["C3", "Cleo", "cleo@example.com", "", "APAC", ""],
        ])
        result = import_file(crm, path, kind="customers")
        assert (result.added, result.updated, result.imported) == (1, 2, 3)
        ada = crm.customers.get(by_id.id)
        assert (ada.name, ada.company, ada.region, ada.attributes) == ("Ada", "New Co", "EU", {"a": 1, "b": 2})
        bob = crm.customers.get(by_mail.id)
        assert (bob.name, bob.region) == ("Bob B.", "US")
        assert crm.customers.count() == 3

    def test_duplicates_within_the_file_are_reported(self, crm, tmp_path):
        """The same external id twice, the same email without external id twice: later rows are bad."""
        path = write_csv(tmp_path / "c.csv", [
            ["external_id", "name", "email"],
            ["D1", "Dan", "dan@example.com"],
            ["D1", "Dan again", ""],
            ["", "Eve", "eve@example.com"],
            ["", "Eve twin", "EVE@example.com"],
            ["", "Dan by mail", "dan@example.com"],
        ])
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="customers")
        found = [(p.row, p.field, p.reason) for p in refused.value.problems]
        assert found == [
            (3, "external_id", "duplicate: row 2 has the same external_id"),
            (5, "email", "duplicate: row 4 has the same email and no external_id tells them apart"),
            (6, "email", "duplicate: row 2 has the same email and no external_id tells them apart"),
        ]
        assert crm.customers.count() == 0


    def test_another_external_id_with_a_known_email_is_a_new_customer(self, crm, tmp_path):
        """A customer's external id is never overwritten by a row that carries another one."""
        ada = crm.customers.add(name="Ada", external_id="X1", email="ada@example.com")
        bob = crm.customers.add(name="Bob", email="bob@example.com")
        path = write_csv(tmp_path / "c.csv", [
            ["external_id", "name", "email"],
            ["X2", "Ada (second shop)", "ADA@example.com"],
            ["B7", "", "bob@example.com"],
        ])
        result = import_file(crm, path, kind="customers")
        assert (result.added, result.updated) == (1, 1)
        assert (crm.customers.get(ada.id).external_id, crm.customers.get(ada.id).name) == ("X1", "Ada")
        assert (crm.customers.get(bob.id).external_id, crm.customers.get(bob.id).name) == ("B7", "Bob")
        assert crm.customers.count() == 3

    @pytest.mark.parametrize("filler", [0, 40])
    def test_an_external_id_after_a_row_without_one_and_the_same_email_is_a_duplicate(self, crm, tmp_path, monkeypatch, filler):
        """Whether the two rows are neighbours or chunks apart (the first checked by column)."""
        from crmkit import columnar

        monkeypatch.setattr(columnar, "CHUNK_BYTES", 256)
        rows = [["external_id", "name", "email"], ["", "Ann", "ann@example.com"]]
        rows += [[f"F{n}", f"Filler {n}", f"f{n}@example.com"] for n in range(filler)]
        rows += [["A9", "Ann again", "ann@example.com"], ["D2", "Dee", "dee@example.com"]]
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, write_csv(tmp_path / "c.csv", rows), kind="customers")
        found = [(p.row, p.field, p.reason) for p in refused.value.problems]
        assert found == [(3 + filler, "email", "duplicate: row 2 has the same email and no external_id tells them apart")]
        assert crm.customers.count() == 0

class TestRefusal:
    BAD = [
        ["external_id", "name", "email", "size", "created_at"],
        ["R1", "Good One", "one@example.com", "small", "2024-01-05"],
        ["R2", "Bad Mail", "not-an-email", "huge", ""],
        ["R3", "", "", "", ""],
        ["R4", "Good Two", "", "", "2024-13-01"],
        ["R5", "Good Three", "", "large", ""],
    ]

    def test_every_bad_row_is_listed_and_the_file_is_byte_for_byte_unchanged(self, crm_path, clock, tmp_path):
        """All-or-nothing: four problems in three rows, each with row, column, value and reason."""
        handle = crmkit.open(crm_path, plugins=[], clock=clock)
        handle.customers.add(name="Existing")
        handle.close()
        before = file_hash(crm_path)
        handle = crmkit.open(crm_path, plugins=[], clock=clock)
        path = write_csv(tmp_path / "bad.csv", self.BAD)
        with pytest.raises(ImportRefused) as refused:
            import_file(handle, path, kind="customers", report=tmp_path / "report.csv")
        handle.close()
        assert file_hash(crm_path) == before
        problems = [(p.row, p.column, p.field, p.value) for p in refused.value.problems]
        assert problems == [
            (3, "email", "email", "not-an-email"),
            (3, "size", "size", "huge"),
            (4, "name", "name", ""),
            (5, "created_at", "created_at", "2024-13-01"),
        ]
        message = str(refused.value)
        assert "4 problem(s) in 3 row(s) (rows 3, 4, 5)" in message and "nothing was imported" in message
        with open(tmp_path / "report.csv", newline="", encoding="utf-8") as report:
            rows = list(csv.DictReader(report))
        assert [(r["row"], r["field"]) for r in rows] == [("3", "email"), ("3", "size"), ("4", "name"), ("5", "created_at")]
        assert rows[1]["reason"] == "one of micro, small, medium, large, enterprise"

    def test_skip_invalid_imports_good_rows_and_writes_the_report(self, crm, tmp_path):
        """--skip-invalid: the two good rows go in, the three bad ones are in the report."""
        path = write_csv(tmp_path / "bad.csv", self.BAD)
        result = import_file(crm, path, kind="customers", skip_invalid=True, report=tmp_path / "r.csv")
        assert (result.rows, result.added, result.skipped) == (5, 2, 3)
        assert sorted(c.external_id for c in crm.customers.list()) == ["R1", "R5"]
        assert crm.customers.find(external_id="R1")[0].created_at == datetime.fromisoformat("2024-01-05T00:00:00+00:00")
        assert (tmp_path / "r.csv").read_text(encoding="utf-8").count("\n") == 1 + 4
        entry = crm.audit.query(action="import.run")[0]
        assert (entry.entity_id, entry.after) == ("bad.csv", {"kind": "customers", "added": 2, "updated": 0, "skipped": 3})

    def test_report_cells_are_spreadsheet_safe(self, crm, tmp_path):
        """A bad value like '=cmd()' is written to the report with a leading quote."""
        path = write_csv(tmp_path / "c.csv", [["name", "email"], ["X", "=cmd()"]])
        with pytest.raises(ImportRefused):
            import_file(crm, path, kind="customers", report=tmp_path / "r.csv")
        assert "'=cmd()" in (tmp_path / "r.csv").read_text(encoding="utf-8")


class TestInteractions:
    @pytest.fixture
    def people(self, crm):
        ada = crm.customers.add(name="Ada", external_id="C1", email="ada@example.com")
        bob = crm.customers.add(name="Bob", email="bob@example.com")
        return ada, bob

    def test_references_by_id_external_id_and_email_with_exact_money(self, crm, tmp_path, people):
        """Three ways to name the customer; 0.10 three times is exactly 0.30, a refund subtracts."""
        ada, bob = people
        path = write_csv(tmp_path / "i.csv", [
            ["customer_id", "customer_external_id", "customer_email", "kind", "occurred_at", "amount", "product", "data.score"],
            [str(ada.id), "", "", "purchase", "2024-05-01", "0.10", "pen", ""],
            ["", "C1", "", "purchase", "2024-05-02T10:30:00Z", "0.10", "pen", ""],
            ["", "", "ADA@example.com", "purchase", "2024-05-03 08:00:00+02:00", "0.10", "", ""],
            ["", "", "bob@example.com", "refund", "2024-05-04", "1.50", "", ""],
            ["", "", "bob@example.com", "survey", "2024-05-05", "", "", "4"],
        ])
        result = import_file(crm, path, kind="interactions")
        assert (result.added, result.updated) == (5, 0)
        assert spend(crm, ada.id) == Decimal("0.30")  # 0.10 + 0.10 + 0.10
        assert spend(crm, bob.id) == Decimal("-1.50")  # one refund of 1.50
        third = crm.interactions.history(ada.id, limit=1)[0]
        assert third.occurred_at == datetime.fromisoformat("2024-05-03T06:00:00+00:00")
        survey = crm.interactions.history(bob.id, kinds=["survey"])[0]
        assert survey.data == {"score": 4}
        assert crm.segments.evaluate("ltv >= 0.3").ids().__next__() == ada.id

    def test_bad_rows_are_all_reported(self, crm, tmp_path, people):
        """Unknown customer, too many decimals, missing amount, unknown kind, bad data, ambiguous email."""
        crm.customers.add(name="Bob twin", email="BOB@example.com")
        path = write_csv(tmp_path / "i.csv", [
            ["customer_external_id", "customer_email", "kind", "occurred_at", "amount", "data.score"],
            ["C9", "", "call", "2024-05-01", "", ""],
            ["C1", "", "purchase", "2024-05-01", "1.005", ""],
            ["C1", "", "purchase", "2024-05-01", "", ""],
            ["C1", "", "teleport", "2024-05-01", "", ""],
            ["C1", "", "survey", "2024-05-01", "", "9"],
            ["", "bob@example.com", "call", "2024-05-01", "", ""],
            ["C1", "", "call", "yesterday", "", ""],
            ["C1", "", "call", "2024-05-01", "", ""],
        ])
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="interactions")
        found = [(p.row, p.field, p.reason) for p in refused.value.problems]
        assert found == [
            (2, "customer_external_id", "no customer has this external id (--create-customers adds one)"),
            (3, "amount", "at most 2 decimal places"),
            (4, "amount", "an amount: a purchase moves money"),
            (5, "kind", "one of call, complaint, email, feedback, meeting, note, purchase, referral, refund, survey, visit"),
            (6, "data.score", "a number from 1 to 5"),
            (7, "customer_email", "ambiguous: 2 customers have this email; use customer_id"),
            (8, "occurred_at", "an ISO-8601 date or time like 2024-05-01"),
        ]
        assert crm.interactions.count() == 0

    def test_jsonl_keeps_numbers_exact_and_nested_data(self, crm, tmp_path, people):
        """JSON numbers are read as decimals (19.99 stays 19.99), objects go into data."""
        ada, _ = people
        path = tmp_path / "i.jsonl"
        path.write_text(
            '{"customer_external_id": "C1", "kind": "purchase", "occurred_at": "2024-06-01", "amount": 19.99, "data": {"order": "A-1"}}\n'
            "\n"
            '{"customer_external_id": "C1", "kind": "purchase", "occurred_at": "2024-06-02", "amount": 0.01}\n',
            encoding="utf-8",
        )
        result = import_file(crm, path, kind="interactions")
        assert result.added == 2
        assert spend(crm, ada.id) == Decimal("20.00")  # 19.99 + 0.01
        assert crm.interactions.history(ada.id, kinds=["purchase"])[-1].data == {"order": "A-1"}

    def test_jsonl_bad_lines_report_their_line_numbers(self, crm, tmp_path, people):
        """Lines that are not JSON objects are bad rows with their line number (blank lines count)."""
        path = tmp_path / "i.jsonl"
        path.write_text(
            '{"customer_external_id": "C1", "kind": "call", "occurred_at": "2024-06-01"}\n'
            "\n"
            "[1, 2]\n"
            '{"customer_external_id": "C1", "kind": "call", "occurred_at": \n',
            encoding="utf-8",
        )
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="interactions")
        assert [p.row for p in refused.value.problems] == [3, 4]
        assert "not a JSON object" in refused.value.problems[0].reason
        assert "not valid JSON" in refused.value.problems[1].reason

    def test_xlsx_rows_numbers_and_dates(self, crm, tmp_path, people):
        """Excel: numbers as the decimals they show, datetimes as UTC, worksheet row numbers in problems."""
        openpyxl = pytest.importorskip("openpyxl")
        ada, _ = people
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["Customer ID", "Kind", "Occurred At", "Amount"])
        sheet.append([ada.id, "purchase", datetime(2024, 7, 1, 9, 30), 12.5])
        sheet.append([ada.id, "purchase", datetime(2024, 7, 2), 0.1])
        sheet.append([ada.id, "purchase", datetime(2024, 7, 3), 0.2])
        book.save(tmp_path / "i.xlsx")
        result = import_file(crm, tmp_path / "i.xlsx", kind="interactions")
        assert (result.format, result.added) == ("xlsx", 3)
        assert spend(crm, ada.id) == Decimal("12.80")  # 12.5 + 0.1 + 0.2, no float residue
        assert crm.interactions.history(ada.id)[-1].occurred_at == datetime.fromisoformat("2024-07-01T09:30:00+00:00")
        sheet.append([ada.id, "purchase", datetime(2024, 7, 4), 0.125])
        sheet.append([None, None, None, None])
        sheet.append([9999, "call", datetime(2024, 7, 5), None])
        book.save(tmp_path / "bad.xlsx")
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, tmp_path / "bad.xlsx", kind="interactions")
        assert [(p.row, p.field) for p in refused.value.problems] == [(5, "amount"), (7, "customer_id")]
        assert crm.interactions.count() == 3

    def test_xlsx_without_openpyxl_is_a_clear_error(self, crm, tmp_path, monkeypatch):
        """Without openpyxl installed, .xlsx files fail with how to install it."""
        (tmp_path / "i.xlsx").write_bytes(b"PK")
        monkeypatch.setitem(sys.modules, "openpyxl", None)
        with pytest.raises(CrmError, match=r"needs openpyxl: pip install 'crmkit\[excel\]'"):
            import_file(crm, tmp_path / "i.xlsx", kind="interactions")

    def test_progress_reports_both_stages(self, crm, tmp_path, people):
        """progress(stage, done, total): 'check' ends at the file size in bytes, 'write' at the row count."""
        rows = [["customer_external_id", "kind", "occurred_at"]] + [["C1", "call", f"2024-01-{d:02d}"] for d in range(1, 29)]
        path = write_csv(tmp_path / "i.csv", rows)
        calls = []
        import_file(crm, path, kind="interactions", progress=lambda *args: calls.append(args))
        size = path.stat().st_size
        assert calls[0] == ("check", size, size)
        assert calls[-1] == ("write", 28, 28)


class TestExportsOfOtherSystems:
    """Files as shop systems and spreadsheets write them: no kind column, local times, other date spellings."""

    @pytest.fixture
    def shop(self, crm):
        return crm.customers.add(name="Ada", external_id="K-1001"), crm.customers.add(name="Bob", external_id="K-1002")

    def orders(self, tmp_path):
        return write_csv(tmp_path / "orders.csv", [
            ["Order ID", "Customer No", "Order Date", "Total", "Payment"],
            ["A-1", "K-1001", "31.03.2024 23:30", "120.50", "card"],
            ["A-2", "K-1002", "01.07.2024 09:15", "19.99", "invoice"],
        ], delimiter=";")

    def test_constant_kind_date_format_and_time_zone(self, crm, tmp_path, shop):
        """--set fills the missing kind; German dates in Berlin time are stored in UTC (summer and winter)."""
        ada, bob = shop
        result = import_file(
            crm, self.orders(tmp_path), kind="interactions", defaults={"kind": "purchase", "channel": "web"},
            mapping={"Customer No": "customer_external_id", "Order Date": "occurred_at", "Total": "amount",
                     "Order ID": "data.order_id", "Payment": "data.payment"},
            date_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin",
        )
        assert result.added == 2
        first = crm.interactions.history(ada.id)[0]
        assert (first.kind, first.channel, first.amount) == ("purchase", "web", Decimal("120.50"))
        assert first.occurred_at == datetime.fromisoformat("2024-03-31T21:30:00+00:00")  # CEST, UTC+2
        assert first.data == {"order_id": "A-1", "payment": "card"}
        second = crm.interactions.history(bob.id)[0]
        assert second.occurred_at == datetime.fromisoformat("2024-07-01T07:15:00+00:00")
        assert spend(crm, ada.id) == Decimal("120.50")

    def test_a_column_wins_over_the_default(self, crm, tmp_path, shop):
        """A row's own value is kept; the default fills only empty cells."""
        path = write_csv(tmp_path / "i.csv", [
            ["customer_external_id", "kind", "occurred_at", "amount"],
            ["K-1001", "refund", "2024-05-01", "5.00"],
            ["K-1001", "", "2024-05-02", "7.00"],
        ])
        import_file(crm, path, kind="interactions", defaults={"kind": "purchase"})
        kinds = sorted(i.kind for i in crm.interactions.history(shop[0].id))
        assert kinds == ["purchase", "refund"]

    def test_iso_times_without_offset_take_the_zone_and_with_offset_keep_it(self, crm, tmp_path, shop):
        path = write_csv(tmp_path / "i.csv", [
            ["customer_external_id", "kind", "occurred_at", "amount"],
            ["K-1001", "purchase", "2024-01-15 12:00", "1.00"],
            ["K-1001", "purchase", "2024-01-16T12:00:00Z", "1.00"],
            ["K-1001", "purchase", "2024-01-17", "1.00"],
        ])
        import_file(crm, path, kind="interactions", timezone="America/New_York")
        times = sorted(i.occurred_at for i in crm.interactions.history(shop[0].id))
        assert times == [datetime.fromisoformat(t) for t in (
            "2024-01-15T17:00:00+00:00", "2024-01-16T12:00:00+00:00", "2024-01-17T05:00:00+00:00")]

    def test_customers_created_at_in_a_us_spelling(self, crm, tmp_path):
        path = write_csv(tmp_path / "c.csv", [["name", "created_at"], ["Cleo", "12/31/2023"]])
        import_file(crm, path, kind="customers", date_format="%m/%d/%Y", defaults={"source": "trade show"})
        cleo = crm.customers.find(name="Cleo")[0]
        assert (cleo.created_at.isoformat(), cleo.source) == ("2023-12-31T00:00:00+00:00", "trade show")

    def test_a_time_not_in_the_format_is_a_bad_row_naming_the_format(self, crm, crm_path, tmp_path, shop):
        path = write_csv(tmp_path / "i.csv", [
            ["customer_external_id", "occurred_at", "amount"],
            ["K-1001", "31.03.2024 23:30", "1.00"],
            ["K-1001", "2024-03-31", "1.00"],
        ])
        before = file_hash(crm_path)
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, date_format="%d.%m.%Y %H:%M")
        [problem] = refused.value.problems
        assert (problem.row, problem.field) == (3, "occurred_at")
        assert "a time written as %d.%m.%Y %H:%M, like 01.05.2024 14:30" in problem.reason
        assert file_hash(crm_path) == before

    def test_a_bad_default_value_is_reported_on_every_row_as_the_option(self, crm, tmp_path, shop):
        path = write_csv(tmp_path / "i.csv", [["customer_external_id", "occurred_at", "amount"], ["K-1001", "2024-03-31", "1.00"]])
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="interactions", defaults={"kind": "purchse"})
        [problem] = refused.value.problems
        assert (problem.column, problem.field, problem.value) == ("--set kind", "kind", "purchse")

    def test_orders_of_unknown_customers_create_them_once(self, crm, crm_path, tmp_path, shop):
        """A transaction log alone is enough: new references become customers, named by customer_name."""
        path = write_csv(tmp_path / "log.csv", [
            ["customer_external_id", "customer_email", "customer_name", "occurred_at", "amount"],
            ["K-1001", "", "", "2024-01-02", "5.00"],              # an existing customer
            ["K-2000", "", "Cleo Park", "2024-01-03", "7.00"],      # new, named
            ["K-2000", "", "Someone Else", "2024-02-03", "3.00"],   # the same new customer
            ["", "Dan@Example.com", "", "2024-01-04", "1.00"],      # new, by email, named by it
        ])
        result = import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, create_customers=True)
        assert (result.added, result.customers_added) == (4, 2)
        cleo = crm.customers.find(external_id="K-2000")[0]
        dan = crm.customers.find(email="dan@example.com")[0]
        assert (cleo.name, dan.name) == ("Cleo Park", "dan@example.com")
        assert spend(crm, cleo.id) == Decimal("10.00") and spend(crm, dan.id) == Decimal("1.00")
        assert crm.customers.count() == 4
        [entry] = [e for e in crm.audit.query(action="import.run")]
        assert entry.after["customers_added"] == 2

    def test_new_customers_are_checked_and_a_refusal_creates_none(self, crm, crm_path, tmp_path, shop):
        path = write_csv(tmp_path / "log.csv", [
            ["customer_email", "occurred_at", "amount"],
            ["new@example.com", "2024-01-03", "7.00"],
            ["not-an-email", "2024-01-04", "1.00"],
        ])
        before = file_hash(crm_path)
        with pytest.raises(ImportRefused) as refused:
            import_file(crm, path, kind="interactions", defaults={"kind": "purchase"}, create_customers=True)
        [problem] = refused.value.problems
        assert (problem.row, problem.field) == (3, "customer_email")
        assert problem.reason.startswith("cannot create the customer: an email address")
        assert file_hash(crm_path) == before
        with pytest.raises(CrmError, match="create_customers: only for an interactions import"):
            import_file(crm, path, kind="customers", create_customers=True)

    @pytest.mark.parametrize("kwargs, message", [
        ({"defaults": {"colour": "red"}}, "--set colour: a customer field"),
        ({"timezone": "Mars/Olympus"}, r"timezone: a time zone name .*\(got 'Mars/Olympus'\)"),
        ({"date_format": "dd.mm.yyyy"}, r"date_format: a strptime format .*\(got 'dd.mm.yyyy'\)"),
    ])
    def test_bad_options_are_refused_before_reading(self, crm, tmp_path, kwargs, message):
        path = write_csv(tmp_path / "c.csv", [["name"], ["Ann"]])
        before = counts(crm)
        with pytest.raises(CrmError, match=message):
            import_file(crm, path, kind="customers", **kwargs)
        assert counts(crm) == before


class TestUserErrors:
    """Bad calls fail before anything is read or written, with a message saying what to do."""

    @pytest.mark.parametrize("kwargs, message", [
        ({"kind": "orders"}, "kind: one of customers, interactions"),
        ({"kind": "customers", "encoding": "klingon"}, "encoding: an encoding Python knows"),
        ({"kind": "customers", "encoding": "utf-16"}, "save UTF-16 files as UTF-8"),
        ({"kind": "customers", "format": "parquet"}, "format: one of csv, jsonl, xlsx"),
        ({"kind": "customers", "mapping": {"name": "nickname"}}, "--map name: a customer field"),
        ({"kind": "customers", "mapping": {"Surname": "name"}}, "--map: a column of the file"),
        ({"kind": "interactions"}, "needs a kind column"),
    ])
    def test_refused_calls(self, crm, tmp_path, kwargs, message):
        path = write_csv(tmp_path / "c.csv", [["name", "email"], ["Ann", "ann@example.com"]])
        before = counts(crm)
        with pytest.raises(CrmError, match=message.replace("[", r"\[")):
            import_file(crm, path, **kwargs)
        assert counts(crm) == before

    def test_missing_file_unknown_extension_empty_file(self, crm, tmp_path):
        with pytest.raises(CrmError, match="no file at"):
            import_file(crm, tmp_path / "nope.csv", kind="customers")
        (tmp_path / "data.dat").write_text("name\nAnn\n")
        with pytest.raises(CrmError, match="pass --format"):
            import_file(crm, tmp_path / "data.dat", kind="customers")
        (tmp_path / "empty.csv").write_text("")
        with pytest.raises(CrmError, match="no header row"):
            import_file(crm, tmp_path / "empty.csv", kind="customers")

    def test_two_columns_for_one_field(self, crm, tmp_path):
        path = write_csv(tmp_path / "c.csv", [["name", "Full Name"], ["A", "B"]])
        with pytest.raises(CrmError, match="both map to name"):
            import_file(crm, path, kind="customers", mapping={"Full Name": "name"})

    def test_validation_error_is_a_crm_error(self):
        assert issubclass(ValidationError, CrmError)


_PEAK_RSS = """
import resource, sys
import crmkit
from crmkit.importing import import_file
crm = crmkit.open(sys.argv[1], plugins=[])
crm.customers.add(name="Ada", external_id="C1")
import_file(crm, sys.argv[2], kind="interactions")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_memory_stays_flat_as_the_file_grows(tmp_path):
    """Peak memory (RSS, each import in its own process) grows by less than 8 MB from a 5,000-row
    to a 25,000-row file; holding the rows (200-character notes each) would cost more than that."""
    import subprocess

    peaks = []
    for size in (5_000, 25_000):
        path = write_csv(tmp_path / f"i{size}.csv", [["customer_external_id", "kind", "occurred_at", "amount", "notes"]] + [
            ["C1", "purchase", f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}", f"{n % 997}.{n % 100:02d}", "x" * 200]
            for n in range(size)
        ])
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, str(tmp_path / f"crm{size}.db"), str(path)],
            capture_output=True, text=True, check=True,
        )
        peaks.append(int(done.stdout.split()[-1]))  # kilobytes on Linux
    assert peaks[1] - peaks[0] < 8 * 1024, peaks
