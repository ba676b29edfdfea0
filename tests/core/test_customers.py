"""Customers: adding, updating, finding, paging, duplicates, merging and forgetting."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import ConflictError, NotFound, ValidationError


def audit_rows(crm) -> int:
    return crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]


class TestAddAndUpdate:
    def test_add_returns_the_stored_record(self, fresh_crm, clock):
        ada = fresh_crm.customers.add(name="Ada", email="ADA@example.com", tags=["vip"], attributes={"tier": "A"})
        assert ada.id == 1
        assert fresh_crm.customers.get(ada.id) == ada
        assert ada.created_at == clock.current
        assert fresh_crm.audit.query(entity="customer", entity_id=ada.id)[0].action == "customer.add"

    def test_add_many_is_all_or_nothing(self, fresh_crm):
        before = audit_rows(fresh_crm)
        with pytest.raises(ValidationError) as caught:
            fresh_crm.customers.add_many([{"name": "A"}, {"name": "B", "email": "broken"}])
        assert caught.value.field == "email"
        assert fresh_crm.customers.count() == 0
        assert audit_rows(fresh_crm) == before

    def test_unknown_field_is_refused(self, fresh_crm):
        with pytest.raises(ValidationError, match="a customer field"):
            fresh_crm.customers.add(name="A", favourite_colour="blue")

    def test_external_id_is_unique(self, fresh_crm):
        fresh_crm.customers.add(name="A", external_id="X-1")
        with pytest.raises(ConflictError, match="already belongs to customer 1"):
            fresh_crm.customers.add(name="B", external_id="X-1")
        with pytest.raises(ConflictError, match="appears twice"):
            fresh_crm.customers.add_many([{"name": "C", "external_id": "X-2"}, {"name": "D", "external_id": "X-2"}])
        assert fresh_crm.customers.count() == 1

    def test_update_records_before_and_after(self, fresh_crm, clock):
        ada = fresh_crm.customers.add(name="Ada", region="EU")
        clock.advance(days=1)
        updated = fresh_crm.customers.update(ada.id, region="US", stage="growing")
        assert (updated.region, updated.stage) == ("US", "growing")
        assert updated.updated_at == clock.current
        entry = fresh_crm.audit.query(action="customer.update")[0]
        assert entry.before == {"region": "EU", "stage": "new"}
        assert entry.after == {"region": "US", "stage": "growing"}

    def test_update_errors_change_nothing(self, fresh_crm):
        ada = fresh_crm.customers.add(name="Ada")
        before = audit_rows(fresh_crm)
        with pytest.raises(ValidationError):
            fresh_crm.customers.update(ada.id, stage="vip")
        with pytest.raises(ValidationError):
            fresh_crm.customers.update(ada.id, id=5)
        with pytest.raises(NotFound):
            fresh_crm.customers.update(99, name="x")
        assert fresh_crm.customers.get(ada.id) == ada
        assert audit_rows(fresh_crm) == before

    def test_upsert_matches_external_id_then_email(self, fresh_crm):
        fresh_crm.customers.add(name="Ada", external_id="A1")
        fresh_crm.customers.add(name="Bob", email="bob@example.com")
        counts = fresh_crm.customers.upsert_many([
            {"external_id": "A1", "name": "Ada L."},
            {"email": "BOB@example.com", "name": "Bob", "region": "EU"},
            {"name": "Cy"},
        ])
        assert counts == {"added": 1, "updated": 2}
        assert fresh_crm.customers.get(1).name == "Ada L."
        assert fresh_crm.customers.get(2).region == "EU"


    @pytest.mark.parametrize("gap", [0, 3, 600])
    def test_upsert_applies_rows_in_order_wherever_the_batches_end(self, fresh_crm, gap):
        """A row matching a customer added earlier in the same call updates it, whether the two
        rows are neighbours or a batch (500 rows) apart: the result is that of one row at a time."""
        filler = [{"name": f"Filler {n}"} for n in range(gap)]
        counts = fresh_crm.customers.upsert_many([
            {"external_id": "A1", "name": "Ada", "email": "ada@example.com"},
            *filler,
            {"external_id": "A1", "name": "Ada Lovelace"},
            {"email": "ADA@example.com", "region": "EU"},
        ])
        assert counts == {"added": 1 + gap, "updated": 2}
        rows = fresh_crm.db.execute(
            "SELECT external_id, name, email, region FROM customers WHERE email_norm = 'ada@example.com'"
        ).fetchall()
        assert [tuple(r) for r in rows] == [("A1", "Ada Lovelace", "ADA@example.com", "EU")]
        assert fresh_crm.customers.count() == 1 + gap

    def test_another_external_id_is_another_customer_even_with_the_same_email(self, fresh_crm):
        keyed = fresh_crm.customers.add(name="Ada", external_id="X1", email="ada@example.com")
        unkeyed = fresh_crm.customers.add(name="Bob", email="bob@example.com")
        counts = fresh_crm.customers.upsert_many([
            {"external_id": "X2", "name": "Ada (shop 2)", "email": "ADA@example.com"},
            {"external_id": "B7", "email": "bob@example.com", "region": "EU"},
        ])
        assert counts == {"added": 1, "updated": 1}
        assert fresh_crm.customers.get(keyed.id).external_id == "X1"
        bob = fresh_crm.customers.get(unkeyed.id)
        assert (bob.external_id, bob.region) == ("B7", "EU")

    @pytest.mark.parametrize("gap", [0, 600])
    def test_two_external_ids_with_one_email_in_one_call_are_two_customers(self, fresh_crm, gap):
        fresh_crm.customers.upsert_many([
            {"external_id": "X1", "name": "Ada", "email": "ada@example.com"},
            *({"name": f"Filler {n}"} for n in range(gap)),
            {"external_id": "X2", "name": "Ada (shop 2)", "email": "ada@example.com"},
        ])
        rows = fresh_crm.db.execute("SELECT external_id, name FROM customers WHERE email_norm = 'ada@example.com' ORDER BY id")
        assert [tuple(r) for r in rows] == [("X1", "Ada"), ("X2", "Ada (shop 2)")]

class TestFindingAndPaging:
    @pytest.fixture
    def crm(self, fresh_crm):
        fresh_crm.customers.add_many([
            {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0001", "company": "Engines"},
            {"name": "Charles Babbage", "company": "Engines", "external_id": "cb"},
            {"name": "Grace 100% Hopper", "phone": "(555) 010-0000"},
        ])
        return fresh_crm

    def test_find(self, crm):
        assert [c.name for c in crm.customers.find(name="love")] == ["Ada Lovelace"]
        assert [c.name for c in crm.customers.find(email=" ADA@EXAMPLE.COM")] == ["Ada Lovelace"]
        assert [c.name for c in crm.customers.find(phone="+44 (20) 7946-0001")] == ["Ada Lovelace"]
        assert [c.name for c in crm.customers.find(external_id="cb")] == ["Charles Babbage"]
        assert [c.name for c in crm.customers.find(name="100%")] == ["Grace 100% Hopper"]
        assert crm.customers.find(name="_") == []

    def test_find_needs_a_criterion(self, crm):
        with pytest.raises(ValidationError, match="at least one"):
            crm.customers.find()

    def test_paged_listing(self, crm):
        assert [c.name for c in crm.customers.list(limit=2)] == ["Ada Lovelace", "Charles Babbage"]
        assert [c.name for c in crm.customers.list(limit=2, offset=2)] == ["Grace 100% Hopper"]
        assert [c.id for c in crm.customers.list(order_by="name", descending=True)] == [3, 2, 1]
        assert crm.customers.count(search="engines") == 2
        with pytest.raises(ValidationError, match="order_by"):
            crm.customers.list(order_by="name; drop table customers")


class TestDuplicatesAndMerge:
    def test_duplicates_with_reasons(self, fresh_crm):
        crm = fresh_crm
        crm.customers.add_many([
            {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Engines Ltd"},
            {"name": "A. Lovelace", "email": "ADA@example.com "},
            {"name": "Charles Babbage", "phone": "+44 20 7946 0000", "company": "Engines Ltd"},
            {"name": "Charles  Babbage.", "company": "engines ltd"},
            {"name": "Chas B", "phone": "+44 (20) 7946-0000"},
            {"name": "Unrelated", "company": "Engines Ltd"},
        ])
        pairs = {(p.first.id, p.second.id): p.reason for p in crm.customers.duplicates()}
        assert pairs == {
            (1, 2): "same email (ada@example.com)",
            (3, 5): "same phone (+442079460000)",
            (3, 4): "near-identical name within company 'engines ltd'",
        }

    def test_merge_moves_everything_in_one_transaction(self, fresh_crm):
        crm = fresh_crm
        keep = crm.customers.add(name="Ada", tags=["vip"])
        other = crm.customers.add(name="Ada L", email="ada@example.com", tags=["b2b"])
        crm.interactions.record(keep.id, "purchase", "2024-01-01", amount="10")
        crm.interactions.record(other.id, "purchase", "2024-02-01", amount="20")
        crm.tasks.create("call back", other.id, owner="rep-1")
        merged = crm.customers.merge(keep.id, other.id)
        assert merged.email == "ada@example.com"
        assert merged.tags == ("vip", "b2b")
        assert crm.interactions.count(keep.id) == 2
        assert crm.tasks.open(customer_id=keep.id)[0].kind == "call back"
        assert crm.segments.evaluate("ltv = 30 and purchases = 2").count() == 1
        with pytest.raises(NotFound):
            crm.customers.get(other.id)
        entry = crm.audit.query(action="customer.merge")[0]
        assert entry.before["merged"]["email"] == "ada@example.com"

    def test_merge_errors(self, fresh_crm):
        ada = fresh_crm.customers.add(name="Ada")
        with pytest.raises(ValidationError):
            fresh_crm.customers.merge(ada.id, ada.id)
        with pytest.raises(NotFound):
            fresh_crm.customers.merge(ada.id, 42)
        assert fresh_crm.customers.count() == 1


class TestForget:
    def test_forget_removes_personal_data_keeps_aggregates(self, fresh_crm):
        crm = fresh_crm
        ada = crm.customers.add(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0001",
                                address="12 St James's Square", external_id="AL-1", attributes={"dob": "1815-12-10"})
        crm.customers.update(ada.id, email="ada.l@example.com")
        crm.interactions.record(ada.id, "purchase", "2024-01-01", amount="99.50", notes="Ada asked for gift wrap")
        crm.interactions.record(ada.id, "email", "2024-01-02", data={"subject": "Hello Ada"})
        survey = crm.interactions.record(ada.id, "survey", "2024-01-03", data={"score": 4, "comment": "Ada loves it", "anonymous": False})
        crm.tasks.create("call", ada.id, reason="Ask Ada Lovelace about her engine")
        crm.forget(ada.id)
        dump = "\n".join(
            repr(tuple(row)) for table in crm.db.table_names() for row in crm.db.execute(f'SELECT * FROM "{table}"')
        )
        # The phone as given and as matched (four digits alone would also turn up in the
        # microseconds of a migration's applied_at now and then).
        phone = ("7946 0001", "2079460001")
        for secret in ("Lovelace", "ada@example.com", "ada.l@example.com", *phone, "St James", "AL-1", "1815", "gift wrap", "Hello Ada", "loves it"):
            assert secret not in dump, secret
        assert crm.segments.evaluate("ltv = 99.50 and interactions = 3").count() == 1
        assert crm.interactions.get(survey.id).data == {"score": 4, "anonymous": False}
        assert crm.customers.get(ada.id).name == f"forgotten customer {ada.id}"
        assert crm.audit.query(action="customer.forget")[0].entity_id == str(ada.id)

    def test_forget_unknown_customer(self, fresh_crm):
        with pytest.raises(NotFound):
            fresh_crm.forget(5)


class TestOpen:
    def test_currency_is_kept(self, crm_path):
        with crmkit.open(crm_path, plugins=[], currency="EUR") as crm:
            assert crm.currency == "EUR"
        with crmkit.open(crm_path, plugins=[]) as crm:
            assert crm.currency == "EUR"

    @pytest.mark.sqlite_only
    def test_file_settings(self, crm_path):
        with crmkit.open(crm_path, plugins=[]) as crm:
            assert crm.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert crm.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert crm.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
            # A page cache of tens of MiB (given in KiB, negative), not SQLite's 2 MiB default.
            assert crm.db.execute("PRAGMA cache_size").fetchone()[0] <= -32 * 1024

    def test_currency_is_fixed_at_creation(self, crm_path):
        crmkit.open(crm_path, plugins=[], currency="JPY").close()
        with pytest.raises(crmkit.CrmError, match="keeps money in JPY"):
            crmkit.open(crm_path, plugins=[], currency="EUR")

    def test_bad_currency_and_missing_folder(self, tmp_path):
        with pytest.raises(ValidationError, match="ISO 4217"):
            crmkit.open(tmp_path / "a.db", plugins=[], currency="EURO")
        with pytest.raises(crmkit.CrmError, match="does not exist"):
            crmkit.open(tmp_path / "missing" / "a.db", plugins=[])

    @pytest.mark.sqlite_only
    def test_not_a_database(self, tmp_path):
        path = tmp_path / "notes.txt"
        path.write_text("hello, this is not SQLite" * 100)
        with pytest.raises(crmkit.CrmError):
            crmkit.open(path, plugins=[])
        assert path.read_text().startswith("hello")

    def test_plugins_setting_selects_plugins(self, crm_path, monkeypatch):
        monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
        with crmkit.open(crm_path, plugins=[]) as crm:
            crm.settings.set("plugins", [])
        with crmkit.open(crm_path) as crm:
            assert crm.plugins.names() == []

    def test_unknown_attribute_names_active_plugins(self, fresh_crm):
        with pytest.raises(AttributeError, match="active plugins: none"):
            fresh_crm.loyalty


def test_a_frozen_file_keeps_its_moment_as_now(crm_path, clock):
    """Demo files are frozen at their "today": every default as_of is that moment, unless a
    clock is passed; clearing the setting returns the file to the wall clock."""
    with crmkit.open(crm_path, plugins=[], clock=clock) as crm:
        crm.settings.set("core.frozen_at", "2025-06-30T12:00:00Z")
    with crmkit.open(crm_path, plugins=[]) as crm:
        assert crm.now().isoformat() == "2025-06-30T12:00:00+00:00"
        assert crm.customers.add(name="Ada").created_at == crm.now()
        crm.settings.set("core.frozen_at", None)
    with crmkit.open(crm_path, plugins=[], clock=clock) as crm:
        assert crm.now() == clock.current
