"""External keys of interactions: a keyed row already recorded for its customer and kind is
skipped, so a daily export can be imported again and again."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ValidationError
from crmkit.cli import make_cli


@pytest.fixture
def crm(crm_path, clock):
    crm = crmkit.open(crm_path, plugins=[], clock=clock)
    yield crm
    crm.close()


def state(crm) -> dict:
    """Every table a repeated import must leave as it was, as sorted rows."""
    tables = ("customers", "interactions", "customer_summary", "audit_log", "settings")
    return {t: sorted(map(tuple, crm.db.execute(f"SELECT * FROM {t}").fetchall()), key=repr) for t in tables}


def purchase(customer_id, day, amount="10.00", **more):
    return {"customer_id": customer_id, "kind": "purchase", "occurred_at": f"2024-05-{day:02d}", "amount": amount, **more}


class TestRecordMany:
    def test_a_recorded_key_is_skipped_for_the_same_customer_and_kind(self, crm):
        ann, bob = (crm.customers.add(name=n).id for n in ("Ann", "Bob"))
        first = crm.interactions.record_many([purchase(ann, 1, external_key="o-1"), purchase(ann, 2)])
        assert (first.count, first.skipped) == (2, 0)
        again = crm.interactions.record_many([
            purchase(ann, 1, external_key="o-1"),                   # recorded: skipped
            purchase(ann, 3, external_key="o-2"),                   # new key
            purchase(ann, 3, external_key="o-2"),                   # earlier in this call: skipped
            purchase(bob, 1, external_key="o-1"),                   # same key, other customer
            {"customer_id": ann, "kind": "refund", "occurred_at": "2024-05-04", "amount": "1.00", "external_key": "o-1"},
            purchase(ann, 2),                                       # no key: always recorded
        ])
        assert (again.count, again.skipped) == (4, 2)
        assert (again.first_id, again.last_id) == (3, 6)  # ids stay contiguous
        keys = crm.db.execute("SELECT id, customer_id, kind, external_key FROM interactions ORDER BY id").fetchall()
        assert [tuple(k) for k in keys] == [
            (1, ann, "purchase", "o-1"), (2, ann, "purchase", None), (3, ann, "purchase", "o-2"),
            (4, bob, "purchase", "o-1"), (5, ann, "refund", "o-1"), (6, ann, "purchase", None),
        ]
        assert crm.interactions.get(3).external_key == "o-2"
        assert crm.db.execute("SELECT purchases, net_spend FROM customer_summary WHERE customer_id = ?", [ann]).fetchone() == (4, 3900)

    def test_a_batch_of_only_recorded_keys_writes_nothing(self, crm):
        ann = crm.customers.add(name="Ann").id
        rows = [purchase(ann, d, external_key=f"o-{d}") for d in range(1, 8)]
        crm.interactions.record_many(rows, batch_size=3)
        before = state(crm)
        again = crm.interactions.record_many(rows, batch_size=3)
        assert (again.count, again.skipped, again.first_id) == (0, 7, None)
        assert state(crm) == before

    def test_a_key_met_in_an_earlier_batch_of_the_call_is_skipped(self, crm):
        """Batches of two: the repeats come one and three batches after their first row, whose
        row is in the table by then (each batch keeps only its own keys in memory)."""
        ann = crm.customers.add(name="Ann").id
        rows = [purchase(ann, 1, external_key="o-1"), purchase(ann, 2, external_key="o-2"), purchase(ann, 3),
                purchase(ann, 4, external_key="o-1"), purchase(ann, 5), purchase(ann, 6),
                purchase(ann, 7, external_key="o-3"), purchase(ann, 8, external_key="o-2")]
        result = crm.interactions.record_many(rows, batch_size=2)
        assert (result.count, result.skipped, result.first_id, result.last_id) == (6, 2, 1, 6)
        days = [r[0][8:10] for r in crm.db.execute("SELECT occurred_at FROM interactions ORDER BY id")]
        assert days == ["01", "02", "03", "05", "06", "07"]

    def test_the_unique_index_holds_without_the_api(self, crm):
        ann = crm.customers.add(name="Ann").id
        crm.interactions.record(ann, "purchase", "2024-05-01", amount="1.00", external_key="o-1")
        insert = ("INSERT INTO interactions(customer_id, kind, occurred_at, recorded_at, amount, external_key) "
                  "VALUES (?, 'purchase', '2024-05-02T00:00:00Z', '2024-05-02T00:00:00Z', 100, ?)")
        with pytest.raises(Exception, match="(?i)unique"):
            crm.db.execute(insert, [ann, "o-1"])
        crm.db.execute(insert, [ann, None])
        crm.db.execute(insert, [ann, None])  # keyless rows never collide

    def test_bad_keys_are_refused_naming_the_row(self, crm):
        ann = crm.customers.add(name="Ann").id
        with pytest.raises(ValidationError, match="row 2: external_key"):
            crm.interactions.record_many([purchase(ann, 1), purchase(ann, 2, external_key="x" * 201)])
        assert crm.interactions.count() == 0


def write_orders(path, rows, header=("Customer No", "Order No", "Date", "Total")):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


ORDERS = [("c1", "1001", "2024-05-01", "10.00"), ("c2", "1002", "2024-05-01", "5.50"), ("c1", "1003", "2024-05-02", "7.25")]
MAPPING = ("--set", "kind=purchase", "--map", "Customer No=customer_external_id", "--map", "Date=occurred_at",
           "--map", "Total=amount", "--create-customers")


class TestImport:
    @pytest.fixture
    def cli(self, crm_path):
        runner = CliRunner()
        command = make_cli()
        assert runner.invoke(command, ["init", str(crm_path)]).exit_code == 0
        return lambda *args: runner.invoke(command, [str(a) for a in args])

    @pytest.mark.parametrize("key", [("--key", "Order No"), ("--map", "Order No=data.order_id", "--key", "data.order_id"),
                                     ("--map", "Order No=external_key")])
    def test_importing_the_same_file_twice_changes_nothing(self, cli, crm_path, tmp_path, key):
        orders = write_orders(tmp_path / "orders.csv", ORDERS)
        first = cli("import", crm_path, orders, "--kind", "interactions", *MAPPING, *key)
        assert first.exit_code == 0, first.output
        with crmkit.open(crm_path) as crm:
            after_first = state(crm)
            assert sorted(r[0] for r in crm.db.execute("SELECT external_key FROM interactions")) == ["1001", "1002", "1003"]
        again = cli("import", crm_path, orders, "--kind", "interactions", *MAPPING, *key)
        assert again.exit_code == 0, again.output
        assert "3 read: 0 new, 3 already recorded." in again.output
        with crmkit.open(crm_path) as crm:
            assert state(crm) == after_first

    def test_a_grown_export_adds_only_its_new_rows(self, cli, crm_path, tmp_path):
        cli("import", crm_path, write_orders(tmp_path / "a.csv", ORDERS[:2]), "--kind", "interactions", *MAPPING, "--key", "Order No")
        grown = cli("import", crm_path, write_orders(tmp_path / "b.csv", ORDERS), "--kind", "interactions", *MAPPING, "--key", "Order No")
        assert "3 read: 1 new, 2 already recorded." in grown.output and "Imported 1 interactions" in grown.output

    def test_without_a_key_a_second_import_records_every_row_again(self, cli, crm_path, tmp_path):
        orders = write_orders(tmp_path / "orders.csv", ORDERS)
        for _ in range(2):
            result = cli("import", crm_path, orders, "--kind", "interactions", *MAPPING, "--map", "Order No=-")
            assert result.exit_code == 0 and "already recorded" not in result.output
        with crmkit.open(crm_path) as crm:
            assert crm.interactions.count() == 6

    def test_key_errors_are_one_line_and_write_nothing(self, cli, crm_path, tmp_path):
        orders = write_orders(tmp_path / "orders.csv", ORDERS)
        missing = write_orders(tmp_path / "missing.csv", ORDERS + [("c3", "", "2024-05-03", "1.00")])
        with crmkit.open(crm_path) as crm:
            before = state(crm)
        for args, message in (
            ((orders, "--kind", "interactions", *MAPPING, "--key", "Order"), "--key: a column of the file"),
            ((orders, "--kind", "interactions", *MAPPING, "--key", "data.order-id"), "--key: a column of the file or a field data.<key>"),
            ((orders, "--kind", "customers", "--map", "Customer No=external_id", "--key", "Order No"), "only for an interactions import"),
        ):
            failed = cli("import", crm_path, *args)
            assert failed.exit_code == 1 and "Traceback" not in failed.output
            (line,) = failed.output.strip().splitlines()
            assert line.startswith("Error: ") and message in line, line
        refused = cli("import", crm_path, missing, "--kind", "interactions", *MAPPING, "--key", "Order No")
        assert refused.exit_code == 1 and "row 5, external_key (column 'Order No'): missing: the key (--key) of every row" in refused.output
        with crmkit.open(crm_path) as crm:
            assert state(crm) == before

    def test_python_api_counts_already_recorded(self, crm_path, clock, tmp_path):
        from crmkit.importing import import_file

        orders = write_orders(tmp_path / "orders.csv", ORDERS)
        mapping = {"Customer No": "customer_external_id", "Date": "occurred_at", "Total": "amount"}
        with crmkit.open(crm_path, plugins=[], clock=clock) as crm:
            options = dict(kind="interactions", mapping=mapping, defaults={"kind": "purchase"}, create_customers=True, key="Order No")
            first = import_file(crm, orders, **options)
            again = import_file(crm, orders, **options)
        assert (first.added, first.already_recorded) == (3, 0)
        assert (again.added, again.already_recorded, again.rows) == (0, 3, 3)
