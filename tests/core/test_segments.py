"""The segment language: parsing, type checks, compilation to bound SQL, live membership,
snapshots and their differences."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import ConflictError, F, NotFound, RuleError
from crmkit.segments import parse


@pytest.fixture
def shop(fresh_crm, clock):
    """Four customers with purchases around the fixed clock (2025-01-01)."""
    crm = fresh_crm
    ids = crm.customers.add_many([
        {"name": "Ann", "region": "EU", "size": "large", "tags": ["vip", "b2b"], "email": "ann@example.com"},
        {"name": "Ben", "region": "US", "size": "small", "tags": ["b2b"]},
        {"name": "Cy", "region": "EU", "size": "small"},
        {"name": "O'Brien", "region": "UK", "size": "medium"},
    ])
    ann, ben, cy, obrien = ids
    crm.interactions.record_many([
        {"customer_id": ann, "kind": "purchase", "amount": "4000.00", "occurred_at": "2024-12-01"},
        {"customer_id": ann, "kind": "purchase", "amount": "2000.00", "occurred_at": "2024-03-01"},
        {"customer_id": ann, "kind": "refund", "amount": "500.00", "occurred_at": "2024-12-05"},
        {"customer_id": ben, "kind": "purchase", "amount": "100.00", "occurred_at": "2023-06-01"},
        {"customer_id": cy, "kind": "call", "occurred_at": "2024-12-30"},
    ])
    return crm, dict(ann=ann, ben=ben, cy=cy, obrien=obrien)


def members(crm, rule, as_of=None):
    return [c.name for c in crm.segments.evaluate(rule, as_of=as_of).customers(limit=100)]


class TestRules:
    @pytest.mark.parametrize(
        "rule, expected",
        [
            ("region = 'EU'", ["Ann", "Cy"]),
            ("region != 'EU'", ["Ben", "O'Brien"]),
            ("region in ('US', 'UK')", ["Ben", "O'Brien"]),
            ("region not in ('US', 'UK')", ["Ann", "Cy"]),
            ("tags contains 'b2b'", ["Ann", "Ben"]),
            ("not tags contains 'vip'", ["Ben", "Cy", "O'Brien"]),
            ("name contains 'bri'", ["O'Brien"]),
            ("name = 'O''Brien'", ["O'Brien"]),
            ("email is null", ["Ben", "Cy", "O'Brien"]),
            ("email is not null", ["Ann"]),
            ("tags is null", ["Cy", "O'Brien"]),
            # Ann: 4000 + 2000 - 500 = 5500 lifetime; Ben 100
            ("ltv >= 5500", ["Ann"]),
            ("ltv between 50 and 100", ["Ben"]),
            # within 365 days of 2025-01-01: Ann 4000 + 2000 - 500 (2024-03-01 is inside) = 5500
            ("spend_365d = 5500", ["Ann"]),
            # within 90 days: 4000 - 500 = 3500
            ("spend_90d = 3500.00", ["Ann"]),
            ("purchases_365d = 2", ["Ann"]),
            ("purchases = 1", ["Ben"]),
            # 2024-12-01 → 2025-01-01 09:00 is 31 whole days
            ("last_purchase_days = 31", ["Ann"]),
            ("last_purchase_days <= 90d", ["Ann"]),
            ("last_purchase_days > 1y or last_purchase_days is null", ["Ben", "Cy", "O'Brien"]),
            ("last_contact_days <= 7", ["Cy"]),
            ("interactions_30d >= 1", ["Ann", "Cy"]),
            ("size = 'small' and (region = 'EU' or region = 'US')", ["Ben", "Cy"]),
            ("not (size = 'small' or size = 'large')", ["O'Brien"]),
            ("created_at >= 2025-01-01", ["Ann", "Ben", "Cy", "O'Brien"]),
            ("customer_days = 0", ["Ann", "Ben", "Cy", "O'Brien"]),
        ],
    )
    def test_rule_selects_the_expected_customers(self, shop, rule, expected):
        crm, _ = shop
        assert members(crm, rule) == expected

    def test_as_of_in_the_past_reads_the_log_not_the_summary(self, shop):
        """Lifetime fields as of a past date ignore later interactions."""
        crm, _ = shop
        # On 2024-06-01 Ann had only the 2000.00 purchase; Ben his 100.00.
        assert members(crm, "ltv = 2000", as_of="2024-06-01") == ["Ann"]
        assert members(crm, "purchases = 1", as_of="2024-06-01") == ["Ann", "Ben"]
        assert members(crm, "last_purchase_days = 92", as_of="2024-06-01") == ["Ann"]
        assert crm.segments.evaluate("ltv > 0", as_of="2023-01-01").count() == 0

    def test_count_now_and_in_the_past(self, shop, clock):
        """A count asks whether the time predates the log's horizon or a customer's change in
        the same statement; one that does is counted from the log and the customers' versions."""
        crm, ids = shop
        before_move = clock.current
        clock.advance(days=1)
        crm.customers.update(ids["ben"], region="EU")
        assert crm.segments.evaluate("region = 'EU'").count() == 3
        assert crm.segments.evaluate("region = 'EU'", as_of=before_move).count() == 2
        # Ann 5500 lifetime now; on 2024-06-01 only her 2000.00 purchase, Ben his 100.00.
        assert crm.segments.evaluate("ltv >= 2000").count() == 1
        assert crm.segments.evaluate("ltv = 2000", as_of="2024-06-01").count() == 1
        assert crm.segments.evaluate("purchases = 1", as_of="2024-06-01").count() == 2
        assert crm.segments.evaluate("ltv > 0", as_of="2023-01-01").count() == 0

    def test_a_kept_compiled_rule_sees_a_changed_rule_and_a_new_field(self, shop):
        crm, _ = shop
        # Within 90 days Ann spent 4000 - 500 = 3500; nobody else spent anything.
        assert crm.segments.evaluate("spend_90d >= 3000").count() == 1
        assert crm.segments.evaluate("spend_90d >= 4000").count() == 0
        compiled = crm.segments.compile("spend_90d >= 3000")
        compiled.params.clear()  # a caller's change to its copy reaches no other caller
        assert crm.segments.evaluate("spend_90d >= 3000").count() == 1
        with pytest.raises(RuleError, match="unknown field 'score'"):
            crm.segments.evaluate("score > 1").count()
        crm.fields.add(crmkit.Field("score", "number", "test: the customer's id", "c.id"))
        assert crm.segments.evaluate("score > 1").count() == 3
        # A field named like a family's member takes its place in rules compiled before.
        crm.fields.add(crmkit.Field("spend_90d", "money", "test: everyone spent 5000.00", "500000"))
        assert crm.segments.evaluate("spend_90d >= 3000").count() == 4

    def test_builder_matches_text(self, shop):
        crm, _ = shop
        built = (F.spend_365d >= 5000) & (F.region.in_(["EU", "UK"]) | ~F.tags.contains("vip"))
        text = "spend_365d >= 5000 and (region in ('EU', 'UK') or not tags contains 'vip')"
        assert str(built) == text
        assert parse(str(built)) == parse(text)
        assert crm.segments.compile(built).where == crm.segments.compile(text).where
        assert members(crm, built) == ["Ann"]

    def test_text_round_trips_through_the_tree(self):
        for rule in [
            "a = 1 and (b = 'x' or not c contains 'y')",
            "x between 1 and 2 or y is not null",
            "d >= 2024-05-01T10:30:00Z and e <= 90d",
            "not (a = 1 and b = 2)",
        ]:
            assert parse(str(parse(rule))) == parse(rule)


class TestRuleErrors:
    def test_unknown_field_suggests_a_name(self, fresh_crm):
        with pytest.raises(RuleError) as caught:
            fresh_crm.segments.compile("regoin = 'EU'")
        assert "unknown field 'regoin'" in str(caught.value)
        assert "did you mean 'region'" in str(caught.value)
        assert caught.value.position == 0

    def test_unknown_windowed_field_suggests_the_family(self, fresh_crm):
        with pytest.raises(RuleError, match="did you mean 'spend_365d'"):
            fresh_crm.segments.compile("spend_365 > 5")

    def test_syntax_error_gives_the_position(self, fresh_crm):
        with pytest.raises(RuleError) as caught:
            fresh_crm.segments.compile("region = 'EU' and and")
        assert caught.value.position == 18
        assert "expected a field name" in str(caught.value)
        assert "^" in str(caught.value)

    @pytest.mark.parametrize(
        "rule, message",
        [
            ("region > 5", "field 'region' is text"),
            ("ltv = 'a lot'", "field 'ltv' is money"),
            ("ltv > 10.001", "at most 2 decimal places"),
            ("tags = 'vip'", "use `tags contains 'tag'`"),
            ("purchases contains 'x'", "`contains` works on text and tag fields"),
            ("region", "compare it"),
            ("region = 'EU", "unterminated string"),
            ("region = EU", "expected a value"),
            ("(region = 'EU'", "expected ')'"),
            ("region = 'EU' ; drop table customers", "unexpected character ';'"),
            ("", "empty rule"),
        ],
    )
    def test_bad_rules_are_refused_with_a_reason(self, fresh_crm, rule, message):
        with pytest.raises(RuleError) as caught:
            fresh_crm.segments.compile(rule)
        assert message in str(caught.value)

    def test_deep_nesting_is_refused_not_a_crash(self, fresh_crm):
        with pytest.raises(RuleError, match="nests deeper"):
            fresh_crm.segments.compile("(" * 500 + "region = 'EU'" + ")" * 500)


class TestInjection:
    @pytest.mark.parametrize(
        "value",
        [
            "EU' OR '1'='1",
            "EU'; DROP TABLE customers; --",
            "x' UNION SELECT name FROM sqlite_master --",
            "/* comment */ EU",
            "%",
            "_",
        ],
    )
    def test_hostile_values_are_plain_values(self, shop, value):
        """A quoted value is bound as a parameter: it matches nothing and runs nothing."""
        crm, _ = shop
        schema = (crm.db.table_names(), crm.db.index_definitions(crm.db.table_names()))
        quoted = "'" + value.replace("'", "''") + "'"
        for rule in (f"region = {quoted}", f"name contains {quoted}", f"tags contains {quoted}"):
            compiled = crm.segments.compile(rule)
            assert any(value in str(bound).replace("\\", "") for bound in compiled.params.values())
            assert len(value) < 3 or value not in compiled.where
            assert crm.segments.evaluate(rule).count() == 0
        assert (crm.db.table_names(), crm.db.index_definitions(crm.db.table_names())) == schema
        assert crm.customers.count() == 4

    @pytest.mark.parametrize(
        "rule",
        [
            "region = 'EU' or 1=1",
            "region = 'EU' union select 1",
            "region = 'EU' -- comment",
            "region = 'EU'); DROP TABLE customers; --",
            "c.id > 0",
            "sqlite_version() = 1",
        ],
    )
    def test_sql_in_rule_text_does_not_parse(self, fresh_crm, rule):
        with pytest.raises(RuleError):
            fresh_crm.segments.compile(rule)


class TestSavedSegments:
    def test_define_count_list_update_delete(self, shop):
        crm, ids = shop
        view = crm.segments.define("eu", "region = 'EU'", description="Europe")
        assert view.count() == 2
        assert [c.name for c in view.customers(limit=1, offset=1)] == ["Cy"]
        assert list(view.ids()) == [ids["ann"], ids["cy"]]
        assert ids["ann"] in view and ids["ben"] not in view
        assert [s.name for s in crm.segments.list()] == ["eu"]
        crm.segments.update("eu", rule="region = 'EU' and size = 'large'")
        assert crm.segments["eu"].count() == 1
        assert crm.segments["eu"].description == "Europe"
        crm.segments.delete("eu")
        assert "eu" not in crm.segments
        actions = [e.action for e in crm.audit.query(entity="segment")]
        assert actions == ["segment.delete", "segment.update", "segment.define"]

    def test_errors_write_nothing(self, shop):
        crm, _ = shop
        crm.segments.define("eu", "region = 'EU'")
        audit_count = len(crm.audit.query(limit=1000))
        with pytest.raises(ConflictError, match="exists"):
            crm.segments.define("eu", "region = 'US'")
        with pytest.raises(RuleError):
            crm.segments.define("bad", "regoin = 'US'")
        with pytest.raises(RuleError):
            crm.segments.update("eu", rule="nonsense >")
        with pytest.raises(NotFound, match="saved segments: eu"):
            crm.segments["nope"]
        assert crm.segments.get("eu").rule == "region = 'EU'"
        assert len(crm.audit.query(limit=1000)) == audit_count

    def test_resolve_takes_a_name_or_a_rule(self, shop):
        crm, _ = shop
        crm.segments.define("eu", "region = 'EU'")
        assert crm.segments.resolve("eu") == "region = 'EU'"
        assert crm.segments.resolve("region = 'US'") == "region = 'US'"


class TestSnapshots:
    def test_snapshot_then_diff_after_more_purchases(self, shop, clock):
        crm, ids = shop
        vip = crm.segments.define("vip", "spend_365d >= 1000")
        may = vip.snapshot()
        assert may.members == 1
        clock.advance(days=30)
        crm.interactions.record(ids["ben"], "purchase", amount="1500.00")
        # Ann's 2024-03-01 purchase is still within 365 days on 2025-01-31
        june = vip.snapshot()
        diff = crm.segments.diff(may, june)
        assert diff.joined == [ids["ben"]]
        assert diff.left == []
        assert diff.stayed == 1
        assert [s.id for s in vip.snapshots()] == [may.id, june.id]
        assert crm.segments.snapshot_members(june) == sorted([ids["ann"], ids["ben"]])

    def test_snapshot_as_of_a_past_date(self, shop):
        crm, ids = shop
        vip = crm.segments.define("vip", "ltv >= 1000")
        past = vip.snapshot(as_of="2024-01-01")
        now = vip.snapshot()
        assert past.members == 0
        assert crm.segments.diff(past, now).joined == [ids["ann"]]

    def test_diff_of_unknown_snapshot(self, fresh_crm):
        with pytest.raises(NotFound):
            fresh_crm.segments.diff(1, 2)


def test_fields_from_plugins_are_listed_with_their_owner(fresh_crm):
    names = {f.name: f.plugin for f in fresh_crm.fields}
    assert names["ltv"] == "core"
    assert "spend_365d" in fresh_crm.fields
    assert fresh_crm.fields.get("spend_30d").type == "money"


def test_attribute_fields(fresh_crm):
    crm = fresh_crm
    crm.customers.add(name="A", attributes={"segment_code": "X1", "margin": 0.3})
    crm.customers.add(name="B", attributes={"segment_code": "Y"})
    assert crm.segments.evaluate("attr_segment_code = 'X1'").count() == 1
    assert crm.segments.evaluate("attr_margin >= 0.25").count() == 1


class TestDaysSinceRewrite:
    """`last_purchase_days <op> n` compiles to a comparison of the purchase time with one bound
    time; it must select exactly what the day count itself selects, at every boundary."""

    OFFSETS_HOURS = [-30, -1, 0, 1, 23, 24, 25, 47, 48, 49, 24 * 30 - 1, 24 * 30, 24 * 30 + 1, 24 * 31, 24 * 90 + 5]

    @pytest.fixture(params=["summary", "log"])
    def crm(self, request, fresh_crm, clock):
        """"summary": nothing after as_of, rules read the core summary; "log": purchases after
        as_of exist, so the same rules are answered from the interaction log."""
        from datetime import timedelta

        offsets = self.OFFSETS_HOURS if request.param == "log" else [h for h in self.OFFSETS_HOURS if h >= 0]
        ids = fresh_crm.customers.add_many([{"name": f"c{h}"} for h in offsets] + [{"name": "never"}])
        fresh_crm.interactions.record_many([
            {"customer_id": cid, "kind": "purchase", "amount": "1", "occurred_at": clock.current - timedelta(hours=h)}
            for cid, h in zip(ids, offsets)
        ])
        return fresh_crm

    def expected(self, op, n):
        import operator

        compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq, "!=": operator.ne}[op]
        # Whole days, truncated toward zero as CAST(... AS INTEGER) does. Purchases after as_of
        # (negative offsets) do not exist yet as of then: those customers have no value.
        return sorted(f"c{h}" for h in self.OFFSETS_HOURS if h >= 0 and compare(int(h / 24), n))

    @pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "=", "!="])
    @pytest.mark.parametrize("n", [0, 1, 2, 30, 31, 90])
    def test_same_members_as_the_day_count(self, crm, op, n):
        got = sorted(c.name for c in crm.segments.evaluate(f"last_purchase_days {op} {n}").customers(limit=100))
        assert got == self.expected(op, n)

    def test_between_and_durations(self, crm):
        got = sorted(c.name for c in crm.segments.evaluate("last_purchase_days between 1 and 30d").customers(limit=100))
        assert got == sorted(f"c{h}" for h in self.OFFSETS_HOURS if h >= 0 and 1 <= int(h / 24) <= 30)

    def test_rewritten_sql_does_no_date_arithmetic(self, crm):
        from crmkit.store import days_between

        arithmetic = days_between("a", "b").lstrip("(").split("(")[0]  # the engine's date function
        assert arithmetic not in crm.segments.compile("last_purchase_days <= 90").where
        assert arithmetic in crm.segments.compile("last_purchase_days != 90").where

    def test_cheap_terms_are_evaluated_first(self, crm):
        where = crm.segments.compile("spend_365d >= 10 and region = 'EU'").where
        assert where.index("c.region") < where.index("SELECT")


@pytest.mark.parametrize("descending", [False, True])
def test_a_page_ordered_by_a_field_customers_may_leave_empty_ends_with_them_on_both_engines(crm_path, descending):
    # SQLite puts NULL first in an ascending order and PostgreSQL last: the same page of the same
    # CRM differed by engine. Customers without the field now come last either way.
    with crmkit.open(crm_path, plugins=[]) as crm:
        for name, region in (("Ann", "EU"), ("Bo", None), ("Cy", "US"), ("Di", None), ("Ed", "APAC")):
            crm.customers.add(name=name, region=region, company=region and f"{region} Ltd", owner=region and region.lower())
        view = crm.segments.evaluate("id > 0")
        for field in ("region", "company", "owner"):
            names = [c.name for c in view.customers(order_by=field, descending=descending)]
            ordered = ["Ed", "Ann", "Cy"] if not descending else ["Cy", "Ann", "Ed"]
            assert names == ordered + (["Bo", "Di"] if not descending else ["Di", "Bo"]), field
            pages = [c.name for offset in range(0, 5, 2) for c in view.customers(limit=2, offset=offset, order_by=field, descending=descending)]
            assert pages == names
