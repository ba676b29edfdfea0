"""Core bugs the property-based tests found, each pinned by a plain example."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from crmkit import Customer, F, Interaction, RuleError, Task, ValidationError
from crmkit.money import MAX_MINOR, to_minor
from crmkit.segments import parse
from crmkit.timeutil import from_iso, parse_duration, to_datetime, to_iso


class TestMoneyIsExactAtEveryScale:
    def test_digits_past_the_default_precision_are_not_rounded_away(self):
        """1.0000000000000000000000000001 has 28 decimals; it used to round to 1.00 (100 cents)."""
        with pytest.raises(ValidationError, match="at most 2 decimal places"):
            to_minor("1.0000000000000000000000000001", 2)

    def test_tiny_amounts_are_not_flushed_to_zero(self):
        """1E-999999999 used to underflow to 0 cents instead of being refused."""
        with pytest.raises(ValidationError, match="at most 2 decimal places"):
            to_minor("1E-999999999", 2)

    @pytest.mark.parametrize("value", ["9E+999999", "1e30", Decimal("92233720368547758.08"), 10**30])
    def test_amounts_beyond_sqlite_integers_are_refused(self, value):
        """Minor units are SQLite INTEGERs (64-bit): larger amounts raised decimal.Overflow or
        failed at insert with OverflowError; now they are ValidationErrors."""
        with pytest.raises(ValidationError, match="in absolute value"):
            to_minor(value, 2)

    def test_the_largest_storable_amount_is_kept_to_the_cent(self):
        # 2**63 - 1 = 9223372036854775807 cents = 92233720368547758.07
        assert to_minor("92233720368547758.07", 2) == MAX_MINOR == 9223372036854775807
        assert to_minor("-92233720368547758.07", 2) == -MAX_MINOR

    def test_an_oversized_purchase_writes_nothing(self, fresh_crm):
        alice = fresh_crm.customers.add(name="Alice")
        with pytest.raises(ValidationError, match="amount"):
            fresh_crm.interactions.record(alice.id, "purchase", "2024-05-01", amount="1e30")
        assert fresh_crm.interactions.count() == 0


class TestTimesBeforeYear1000AndAtTheEdges:
    def test_storage_text_keeps_four_digit_years(self):
        """strftime('%Y') wrote '999-01-01T...' (19 characters): not sortable and not readable back."""
        assert to_iso(date(999, 1, 1)) == "0999-01-01T00:00:00Z"
        assert from_iso("0999-01-01T00:00:00Z") == datetime(999, 1, 1, tzinfo=timezone.utc)
        assert to_iso("0999-12-31") < to_iso("1000-01-01")

    @pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
    def test_times_outside_utc_are_validation_errors(self, text):
        """Year 1 at +05:00 is before 0001-01-01 UTC; astimezone raised OverflowError."""
        with pytest.raises(ValidationError, match="exists in UTC"):
            to_datetime(text, "occurred_at")

    def test_a_customer_with_such_a_time_is_refused_cleanly(self, fresh_crm):
        with pytest.raises(ValidationError, match="created_at"):
            fresh_crm.customers.add(name="Old", created_at="0001-01-01T00:00:00+01:00")
        assert fresh_crm.customers.count() == 0

    def test_rule_dates_before_1000_render_as_parseable_text(self):
        """The builder rendered date(999, 1, 1) as '999-01-01', which the parser refused."""
        condition = F.created_at >= date(999, 1, 1)
        assert str(condition) == "created_at >= 0999-01-01"
        assert parse(str(condition)) == condition.node


class TestRecordsNameTheFieldTheyRefuse:
    @pytest.mark.parametrize("value", [None, "1", 1.0, True])
    def test_interaction_customer_id_must_be_an_integer(self, value):
        """attrs' instance_of raised TypeError; records raise ValidationError naming the field."""
        with pytest.raises(ValidationError) as caught:
            Interaction(customer_id=value, kind="call", occurred_at="2024-05-01")
        assert caught.value.field == "customer_id"

    @pytest.mark.parametrize("record, field", [(Customer, "created_at"), (Customer, "updated_at"), (Task, "due_at"), (Task, "closed_at")])
    def test_time_fields_are_named(self, record, field):
        """Time converters used to report the field as 'time'."""
        base = {"name": "A"} if record is Customer else {"kind": "call"}
        with pytest.raises(ValidationError) as caught:
            record(**base, **{field: "yesterday"})
        assert caught.value.field == field


class TestRuleTextRoundTrip:
    @pytest.mark.parametrize("text", [
        "(name = 'a' and region = 'b') and stage = 'new'",
        "(name = 'a' or region = 'b') or stage = 'new'",
        "name = 'a' and (region = 'b' and (stage = 'new' or (ltv > 1 or ltv < 0)))",
    ])
    def test_nested_groups_of_the_same_operator_survive(self, text):
        """And inside And rendered without parentheses and parsed back as one flat And."""
        tree = parse(text)
        assert parse(str(tree)) == tree

    def test_builder_rules_still_render_flat(self):
        rule = (F.ltv > 1) & (F.region == "EU") & ((F.stage == "new") | (F.stage == "growing") | (F.ltv < 0))
        assert str(rule) == "ltv > 1 and region = 'EU' and (stage = 'new' or stage = 'growing' or ltv < 0)"


class TestHugeDurations:
    @pytest.mark.parametrize("text", ["99999999999999999999d", "1000000000d", "999999999999h", "3000000y"])
    def test_are_validation_errors(self, text):
        """timedelta raised OverflowError, which escaped the rule parser."""
        with pytest.raises(ValidationError, match="999999999 days"):
            parse_duration(text)

    def test_in_a_rule_they_are_rule_errors_with_a_position(self):
        with pytest.raises(RuleError) as caught:
            parse("last_purchase_days > 99999999999999999999d")
        assert caught.value.position == 21


class TestJsonFieldsRefuseWhatSqliteCannotRead:
    @pytest.mark.parametrize("tags", ["[", "[1", '["a"', "[" * 100_000])
    def test_bad_json_tags_are_validation_errors(self, tags):
        """json.loads' JSONDecodeError and RecursionError escaped from Customer(tags=...)."""
        with pytest.raises(ValidationError) as caught:
            Customer(name="A", tags=tags)
        assert caught.value.field == "tags"
        assert len(str(caught.value)) < 400  # the message shows a cut-down value

    @pytest.mark.parametrize("value", ['{"a":' * 100_000, {"a": float("nan")}, {"b": float("inf")}, {"c": 10**5000}])
    def test_bad_json_objects_are_validation_errors(self, value):
        with pytest.raises(ValidationError) as caught:
            Customer(name="A", attributes=value)
        assert caught.value.field == "attributes"

    def test_one_nan_attribute_no_longer_breaks_every_attribute_rule(self, fresh_crm):
        """{'a': nan} was stored as '{"a":NaN}', which SQLite's json_extract calls malformed:
        every attr_ rule then failed with sqlite3.OperationalError for the whole CRM."""
        with pytest.raises(ValidationError):
            fresh_crm.customers.add(name="X", attributes={"a": float("nan")})
        with pytest.raises(ValidationError):
            Interaction(customer_id=1, kind="note", occurred_at="2024-01-01", data={"score": float("inf")})
        fresh_crm.customers.add(name="Y", attributes={"a": 1})
        assert fresh_crm.segments.evaluate("attr_a = 1").count() == 1


class TestLoneSurrogates:
    """'\\ud800' is a valid Python str but not UTF-8: SQLite's driver raised UnicodeEncodeError."""

    @pytest.mark.parametrize("field", ["name", "email", "address", "notes_of_interaction", "reason_of_task"])
    def test_records_refuse_them(self, field):
        with pytest.raises(ValidationError) as caught:
            if field == "notes_of_interaction":
                Interaction(customer_id=1, kind="call", occurred_at="2024-01-01", notes="a\ud800")
            elif field == "reason_of_task":
                Task(kind="call", reason="b\udfff")
            else:
                Customer(**{"name": "A", field: "x\ud800@example.com"})
        assert "surrogate" in caught.value.expected

    def test_rules_refuse_them_with_the_position(self):
        with pytest.raises(RuleError) as caught:
            parse("name = 'a\ud800'")
        assert "position 9" in str(caught.value)

    def test_nothing_is_written(self, fresh_crm):
        alice = fresh_crm.customers.add(name="Alice")
        with pytest.raises(ValidationError):
            fresh_crm.customers.add(name="\ud800")
        with pytest.raises(ValidationError):
            fresh_crm.interactions.record_many([{"customer_id": alice.id, "kind": "call", "notes": "\ud800"}])
        assert (fresh_crm.customers.count(), fresh_crm.interactions.count()) == (1, 0)


class TestNulCharacters:
    """SQLite's LIKE reads text up to a NUL: 'contains' and searches matched more than asked."""

    def test_rules_refuse_them(self, fresh_crm):
        fresh_crm.customers.add(name="Xa")
        # Before: "name contains 'a\\x00zzz'" compiled to LIKE '%a\\x00zzz%', which SQLite read
        # as '%a' and so matched 'Xa'.
        with pytest.raises(RuleError, match="NUL"):
            fresh_crm.segments.evaluate("name contains 'a\x00zzz'").count()

    def test_searches_refuse_them(self, fresh_crm):
        fresh_crm.customers.add(name="Xa")
        with pytest.raises(ValidationError):
            fresh_crm.customers.find(name="\x00")  # was: every customer
        with pytest.raises(ValidationError):
            fresh_crm.customers.list(search="a\x00zzz")

    def test_records_refuse_them(self):
        with pytest.raises(ValidationError) as caught:
            Customer(name="a\x00b")
        assert caught.value.field == "name"


class TestSearchesRefuseTextSqliteCannotSearch:
    @pytest.mark.parametrize("criteria", [{"name": "\ud800"}, {"email": "a\udfff@example.com"}, {"external_id": "\x00"}])
    def test_find(self, fresh_crm, criteria):
        """Surrogates made find() raise UnicodeEncodeError from the driver."""
        with pytest.raises(ValidationError) as caught:
            fresh_crm.customers.find(**criteria)
        assert caught.value.field == next(iter(criteria))

    def test_list_and_count(self, fresh_crm):
        for call in (fresh_crm.customers.list, fresh_crm.customers.count):
            with pytest.raises(ValidationError):
                call(search="\ud800")


class TestCustomerIdsAreNeverReused:
    def test_after_merging_away_the_newest_customer(self, fresh_crm):
        """ids were max(id) + 1: merging away the newest customer handed its id to the next one,
        so audit entries and outside references to the duplicate pointed at a stranger."""
        keep = fresh_crm.customers.add(name="Keep")
        duplicate = fresh_crm.customers.add(name="Duplicate")
        fresh_crm.customers.merge(keep.id, duplicate.id)
        newcomer = fresh_crm.customers.add(name="Newcomer")
        assert newcomer.id == duplicate.id + 1 == 3
        assert fresh_crm.customers.add_many([{"name": "Next"}]) == [4]
        assert [e.after for e in fresh_crm.audit.query(entity="customer", entity_id=duplicate.id, action="customer.add")] == [
            {"name": "Duplicate"}]

    def test_the_high_water_mark_only_rises(self, fresh_crm):
        ids = fresh_crm.customers.add_many([{"name": f"C{i}"} for i in range(5)])  # 1..5
        fresh_crm.customers.merge(ids[0], ids[4])  # 5 deleted
        fresh_crm.customers.merge(ids[0], ids[1])  # 2 deleted; the mark stays 5
        assert fresh_crm.customers.add(name="After").id == 6
