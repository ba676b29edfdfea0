"""Records validate on construction and name the field and value when they refuse."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from crmkit import Customer, Interaction, Segment, Task, ValidationError
from crmkit.models import normalise_email, normalise_phone
from crmkit.money import from_minor, to_minor


class TestCustomer:
    def test_cleans_text_and_tags(self):
        """Whitespace is trimmed, empty text becomes None, tags are de-duplicated in order."""
        customer = Customer(name="  Ada Lovelace ", email=" ", tags="vip, b2b ,vip")
        assert customer.name == "Ada Lovelace"
        assert customer.email is None
        assert customer.tags == ("vip", "b2b")

    @pytest.mark.parametrize(
        "fields, field_name",
        [
            ({"name": ""}, "name"),
            ({"name": "A", "email": "not-an-email"}, "email"),
            ({"name": "A", "phone": "call me"}, "phone"),
            ({"name": "A", "size": "huge"}, "size"),
            ({"name": "A", "stage": "lead"}, "stage"),
            ({"name": "A", "attributes": "[1, 2]"}, "attributes"),
            ({"name": "A" * 201}, "name"),
        ],
    )
    def test_refuses_bad_values_naming_the_field(self, fields, field_name):
        with pytest.raises(ValidationError) as caught:
            Customer(**fields)
        assert caught.value.field == field_name
        assert field_name in str(caught.value)

    def test_row_round_trip(self):
        """to_row/from_row is the only bridge to the table layout and loses nothing."""
        customer = Customer(
            id=7, name="Bo", email="Bo@Example.com", phone="+44 20 7946 0000", tags=["a"],
            attributes={"margin": "0.3"}, created_at="2024-01-02", updated_at="2024-01-03T04:05:06Z",
        )
        row = customer.to_row()
        assert row["email_norm"] == "bo@example.com"
        assert row["phone_norm"] == "+442079460000"
        assert Customer.from_row(dict(row, forgotten_at=None)) == customer

    def test_a_stored_row_reads_as_the_checked_record(self, fresh_crm):
        """from_row takes stored values as they are: it must give the same record as building it
        with every converter and validator, for rows the store wrote (None, '' and full fields)."""
        import attrs

        added = [
            fresh_crm.customers.add(name="Ann"),
            fresh_crm.customers.add(
                name=" Bo  Li ", external_id="X-1", email="Bo@Example.com", phone="+44 20 7946 0000",
                address="1 High St", region="EU", company="Acme", industry="retail", size="large",
                source="web", owner="rep-1", stage="growing", tags=["vip", " b "],
                attributes={"margin": "0.3", "nested": {"a": [1, 2]}},
            ),
        ]
        for customer in added:
            row = next(fresh_crm.db.query("SELECT * FROM customers WHERE id = ?", [customer.id]))
            read = Customer.from_row(row)
            checked = Customer(**{f.name: getattr(read, f.name) for f in attrs.fields(Customer)})
            assert read == checked == fresh_crm.customers.get(customer.id)
            assert read.created_at.tzinfo is not None and isinstance(read.tags, tuple)


class TestInteraction:
    def test_amount_is_exact(self):
        interaction = Interaction(customer_id=1, kind="purchase", occurred_at="2024-05-01", amount="19.99")
        assert interaction.amount == Decimal("19.99")
        assert interaction.occurred_at == datetime(2024, 5, 1, tzinfo=timezone.utc)

    @pytest.mark.parametrize(
        "amount, reason",
        [(19.99, "float"), ("abc", "number"), ("-5", "zero or more"), (True, "float or bool"), ("NaN", "finite")],
    )
    def test_refuses_inexact_or_negative_money(self, amount, reason):
        with pytest.raises(ValidationError) as caught:
            Interaction(customer_id=1, kind="purchase", occurred_at="2024-05-01", amount=amount)
        assert caught.value.field == "amount"
        assert reason in str(caught.value)

    def test_refuses_bad_time(self):
        with pytest.raises(ValidationError) as caught:
            Interaction(customer_id=1, kind="call", occurred_at="yesterday")
        assert caught.value.field == "occurred_at"

    def test_naive_time_is_utc_and_offsets_are_converted(self):
        assert Interaction(customer_id=1, kind="call", occurred_at="2024-05-01T12:00:00+02:00").occurred_at == datetime(
            2024, 5, 1, 10, tzinfo=timezone.utc
        )
        assert Interaction(customer_id=1, kind="call", occurred_at="2024-05-01 12:00").occurred_at.hour == 12


class TestOtherRecords:
    def test_segment_name_must_be_simple(self):
        with pytest.raises(ValidationError) as caught:
            Segment(name="vip; drop", rule="ltv > 1")
        assert caught.value.field == "name"

    def test_task_status_must_be_known(self):
        with pytest.raises(ValidationError):
            Task(kind="call", status="maybe")


class TestMoney:
    def test_minor_units_round_trip(self):
        assert to_minor("19.99", 2) == 1999
        assert to_minor(Decimal("1000"), 0) == 1000
        assert to_minor("1.234", 3) == 1234
        assert from_minor(1999, 2) == Decimal("19.99")

    def test_more_decimals_than_the_currency_has_is_refused(self):
        with pytest.raises(ValidationError, match="at most 2 decimal places"):
            to_minor("19.999", 2)


def test_normalisation_of_contact_details():
    assert normalise_email("  A.B@Example.COM ") == "a.b@example.com"
    assert normalise_phone("(020) 7946-0000") == "02079460000"
    assert normalise_phone("+1 415 555 0100") == "+14155550100"
    assert normalise_phone("") is None
