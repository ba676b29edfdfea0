"""A corpus of malformed import files: each gives a clear crmkit error or a row-level report,
and a refused import leaves the database file byte for byte as it was. Exports do not let a
spreadsheet run cell text as a formula, and money keeps every cent both ways."""

from __future__ import annotations

import csv
import io
import json

import pytest

import crmkit
from crmkit import CrmError, ImportRefused
from crmkit.testing import FixedClock

importing = pytest.importorskip("crmkit.importing")
exporting = pytest.importorskip("crmkit.exporting")

HEADER = "external_id,name,email\n"


@pytest.fixture
def shop(tmp_path):
    """A closed CRM file with two customers and a purchase; returns its path."""
    path = tmp_path / "shop.db"
    with crmkit.open(path, plugins=[], clock=FixedClock()) as crm:
        crm.customers.add(name="Ada", email="ada@example.com", external_id="C1")
        crm.customers.add(name="Bob", email="bob@example.com", external_id="C2")
        crm.interactions.record(1, "purchase", "2024-05-01", amount="10.00")
    return path


def write(path, content, encoding="utf-8"):
    if isinstance(content, str):
        path.write_bytes(content.encode(encoding))
    else:
        path.write_bytes(content)
    return path


CUSTOMER_CORPUS = {
    "gbk_without_encoding.csv": ("name,email\n张伟,zhang@example.com\n李娜,li@example.com\n", "gbk"),
    "missing_name_column.csv": ("email,region\nnew@example.com,EU\n", "utf-8"),
    "bad_email.csv": (HEADER + "C9,Eve,not-an-email\n", "utf-8"),
    "duplicate_ids.csv": (HEADER + "C9,Eve,eve@example.com\nC9,Eva,eva@example.com\n", "utf-8"),
    "huge_field.csv": (HEADER + "C9," + "x" * 1_000_000 + ",eve@example.com\n", "utf-8"),
    "nul_in_cell.csv": (HEADER + "C9,Ev\x00e,eve@example.com\n", "utf-8"),
    "unknown_size.csv": ("name,size\nEve,gigantic\n", "utf-8"),
    "bad_created_at.csv": ("name,created_at\nEve,2024-13-45\n", "utf-8"),
    "bad_attributes.csv": ('name,attributes\nEve,"{not json"\n', "utf-8"),
    "truncated.jsonl": ('{"name": "Eve", "email": "eve@example.com"}\n{"name": "Ev', "utf-8"),
    "not_objects.jsonl": ("[1, 2, 3]\n", "utf-8"),
    "fake_excel.xlsx": ("name\nEve\n", "utf-8"),
    "empty.csv": ("", "utf-8"),
}
INTERACTION_CORPUS = {
    "bad_date.csv": "customer_id,kind,occurred_at,amount\n1,purchase,2024-13-45,10.00\n",
    "negative_money.csv": "customer_id,kind,occurred_at,amount\n1,purchase,2024-05-01,-5.00\n",
    "text_money.csv": "customer_id,kind,occurred_at,amount\n1,purchase,2024-05-01,ten\n",
    "sub_cent_money.csv": "customer_id,kind,occurred_at,amount\n1,purchase,2024-05-01,10.005\n",
    "float_overflow_money.csv": "customer_id,kind,occurred_at,amount\n1,purchase,2024-05-01,1e30\n",
    "unknown_customer.csv": "customer_id,kind,occurred_at,amount\n999,purchase,2024-05-01,1.00\n",
    "unknown_kind.csv": "customer_id,kind,occurred_at\n1,teleportation,2024-05-01\n",
    "amount_on_a_call.csv": "customer_id,kind,occurred_at,amount\n1,call,2024-05-01,3.00\n",
    "good_then_bad.csv": "customer_id,kind,occurred_at,amount\n1,purchase,2024-05-01,1.00\n2,purchase,yesterday,1.00\n",
}


class TestRefusedImportsChangeNothing:
    @pytest.mark.parametrize("name", sorted(CUSTOMER_CORPUS))
    def test_customer_files(self, shop, tmp_path, name):
        content, encoding = CUSTOMER_CORPUS[name]
        source = write(tmp_path / name, content, encoding)
        self.refused(shop, source, "customers")

    @pytest.mark.parametrize("name", sorted(INTERACTION_CORPUS))
    def test_interaction_files(self, shop, tmp_path, name):
        source = write(tmp_path / name, INTERACTION_CORPUS[name])
        self.refused(shop, source, "interactions")

    def refused(self, shop, source, kind):
        before = shop.read_bytes()
        with crmkit.open(shop, plugins=[], clock=FixedClock()) as crm:
            with pytest.raises(CrmError) as caught:
                result = importing.import_file(crm, source, kind=kind)
                if result.rows == 0:  # an empty file is not an error, but imports nothing
                    raise CrmError("nothing imported")
            message = str(caught.value)
            assert message.strip() and len(message) < 2000  # clear, and short even for a 1 MB cell
            if isinstance(caught.value, ImportRefused):
                assert caught.value.problems and all(p.row >= 1 for p in caught.value.problems)
        assert shop.read_bytes() == before


class TestWhatIsAccepted:
    def test_gbk_with_its_encoding_and_utf8_with_bom(self, shop, tmp_path):
        gbk = write(tmp_path / "gbk.csv", "name,email\n张伟,zhang@example.com\n", "gbk")
        bom = write(tmp_path / "bom.csv", "\ufeffname,email\nAna,ana@example.com\n")
        with crmkit.open(shop, plugins=[], clock=FixedClock()) as crm:
            assert importing.import_file(crm, gbk, kind="customers", encoding="gbk").added == 1
            result = importing.import_file(crm, bom, kind="customers")
            assert result.added == 1 and "name" in result.columns.values()
            assert crm.customers.find(email="zhang@example.com")[0].name == "张伟"
            assert crm.customers.find(email="ana@example.com")[0].name == "Ana"

    def test_extra_columns_are_listed_not_imported(self, shop, tmp_path):
        source = write(tmp_path / "extra.csv", "name,shoe_size\nEve,42\n")
        with crmkit.open(shop, plugins=[], clock=FixedClock()) as crm:
            result = importing.import_file(crm, source, kind="customers")
            assert result.added == 1 and result.ignored_columns == ("shoe_size",)

    def test_skip_invalid_reports_each_bad_row_and_keeps_the_good(self, shop, tmp_path):
        source = write(tmp_path / "mixed.csv", INTERACTION_CORPUS["good_then_bad.csv"] + "1,refund,2024-05-02,-1\n")
        report = tmp_path / "problems.csv"
        with crmkit.open(shop, plugins=[], clock=FixedClock()) as crm:
            result = importing.import_file(crm, source, kind="interactions", skip_invalid=True, report=report)
            assert (result.rows, result.added, result.skipped) == (3, 1, 2)
            assert sorted({p.row for p in result.problems}) == [3, 4]  # file lines; line 1 is the header
            assert crm.interactions.count() == 2
        assert len(list(csv.reader(report.open(encoding="utf-8")))) >= 3  # header + one line per problem


class TestMoneyAndFormulas:
    def test_cents_survive_import_arithmetic_and_export(self, shop, tmp_path):
        """0.10 + 0.20 is 0.30 exactly; a 15-digit amount keeps its last cent."""
        source = write(tmp_path / "money.csv", "customer_id,kind,occurred_at,amount\n"
                       "2,purchase,2024-06-01,0.10\n2,purchase,2024-06-02,0.20\n2,purchase,2024-06-03,1234567890123.45\n"
                       "2,refund,2024-06-04,0.05\n")
        with crmkit.open(shop, plugins=[], clock=FixedClock()) as crm:
            importing.import_file(crm, source, kind="interactions")
            # 0.10 + 0.20 + 1234567890123.45 - 0.05 = 1234567890123.70
            assert crm.segments.evaluate("id = 2 and ltv = 1234567890123.70").count() == 1
            out = io.StringIO()
            exporting.export_file(crm, out, "interactions", format="csv")
        rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["customer_id"] == "2"]
        assert [r["amount"] for r in rows] == ["0.10", "0.20", "1234567890123.45", "0.05"]

    @pytest.mark.parametrize("cell", ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)",
                                      "\t=1", "\r=1"])
    def test_exported_csv_cells_never_start_a_formula(self, tmp_path, cell):
        path = tmp_path / "f.db"
        with crmkit.open(path, plugins=[], clock=FixedClock()) as crm:
            # Validators trim whitespace, so a cell starting with a tab or CR can only come from
            # outside the API (an older tool, a hand edit): write one directly to be sure.
            crm.db.execute("INSERT INTO customers(id, name, stage, created_at, updated_at, company) "
                           "VALUES (1, 'Formula', 'new', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', ?)", [cell])
            crm.customers.add(name=cell.strip() or "x", company=cell.strip() or None)
            out = io.StringIO()
            exporting.export_file(crm, out, "customers", format="csv")
            lines = io.StringIO()
            exporting.export_file(crm, lines, "customers", format="jsonl")
        for row in csv.DictReader(io.StringIO(out.getvalue())):
            for value in row.values():
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
        # JSON lines are not read by spreadsheets: the text is kept as it was.
        assert json.loads(lines.getvalue().splitlines()[0])["company"] == cell
