"""Property-based tests: records, money, times and the rule language refuse bad input only with
crmkit's own errors, and rule text survives a round trip through the syntax tree."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import crmkit
from crmkit import CrmError, Customer, F, Interaction, RuleError, Task, ValidationError
from crmkit.money import from_minor, to_decimal, to_minor
from crmkit.segments import parse
from crmkit.segments.ast import And, Between, Compare, Contains, In, IsNull, Literal, Name, Not, Or
from crmkit.timeutil import from_iso, parse_duration, to_datetime, to_iso

# Anything a caller might pass where a field value is expected.
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=60),
    st.binary(max_size=20), st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.just(timezone.utc) | st.none()), st.dates(),
    st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3),
    st.sampled_from(["", " ", "[", "[1", "{", "{}", "[]", "null", "2024-13-45", "0001-01-01T00:00:00+05:00",
                     "9999-12-31T23:59:59-05:00", "NaN", "-Infinity", "1e999999", "sNaN", "\x00", "\ud800"]),
)

CUSTOMER_FIELDS = ("name", "external_id", "email", "phone", "address", "region", "company", "industry",
                   "size", "source", "owner", "stage", "tags", "attributes", "created_at", "updated_at")
INTERACTION_FIELDS = ("customer_id", "kind", "occurred_at", "amount", "channel", "product", "category",
                      "rep", "notes", "data")
TASK_FIELDS = ("kind", "customer_id", "owner", "due_at", "reason", "source", "status", "key",
               "created_at", "closed_at", "data")

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fields_of(names, required):
    """Keyword arguments: the required names always present, the others sometimes."""
    return st.fixed_dictionaries(
        {name: ANY_VALUE for name in required},
        optional={name: ANY_VALUE for name in names if name not in required},
    )


BASE = {
    Customer: {"name": "Ada"},
    Interaction: {"customer_id": 1, "kind": "call", "occurred_at": "2024-05-01"},
    Task: {"kind": "call"},
}
ONE_FIELD = [(Customer, f) for f in CUSTOMER_FIELDS] + [(Interaction, f) for f in INTERACTION_FIELDS] + [
    (Task, f) for f in TASK_FIELDS]


class TestRecordValidators:
    @pytest.mark.parametrize("record, name", ONE_FIELD, ids=[f"{r.__name__}.{f}" for r, f in ONE_FIELD])
    @settings(max_examples=40, deadline=None)
    @given(value=ANY_VALUE)
    def test_one_field_accepts_or_raises_validation_error_naming_it(self, record, name, value):
        """Any value in any single field builds a record or raises ValidationError naming the field."""
        try:
            record(**dict(BASE[record], **{name: value}))
        except ValidationError as error:
            assert error.field == name and error.expected

    @FAST
    @given(fields_of(CUSTOMER_FIELDS, ("name",)))
    def test_customer_accepts_or_raises_validation_error(self, kwargs):
        """Customer(...) with any values either builds a record or raises ValidationError."""
        try:
            Customer(**kwargs)
        except ValidationError as error:
            assert error.field and error.expected

    @FAST
    @given(fields_of(INTERACTION_FIELDS, ("customer_id", "kind", "occurred_at")))
    def test_interaction_accepts_or_raises_validation_error(self, kwargs):
        try:
            record = Interaction(**kwargs)
        except ValidationError as error:
            assert error.field and error.expected
        else:
            assert isinstance(record.customer_id, int) and not isinstance(record.customer_id, bool)

    @FAST
    @given(fields_of(TASK_FIELDS, ("kind",)))
    def test_task_accepts_or_raises_validation_error(self, kwargs):
        try:
            Task(**kwargs)
        except ValidationError as error:
            assert error.field and error.expected

    @FAST
    @given(ANY_VALUE, st.sampled_from([0, 2, 3]))
    def test_money_accepts_or_raises_validation_error(self, value, exponent):
        """to_minor either gives an int that fits SQLite's INTEGER or raises ValidationError."""
        try:
            minor = to_minor(value, exponent)
        except ValidationError:
            return
        assert isinstance(minor, int) and -(2**63) <= minor < 2**63
        # Exact round trip: minor units back to Decimal equal the Decimal read.
        assert from_minor(minor, exponent) == to_decimal(value)

    @FAST
    @given(ANY_VALUE)
    def test_times_accept_or_raise_validation_error(self, value):
        """A time is read as aware UTC and its storage text is fixed width and reads back equal."""
        try:
            moment = to_datetime(value)
            text = to_iso(moment)
        except ValidationError:
            return
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
        assert len(text) == len("2024-05-01T10:00:00Z")
        assert from_iso(text) == moment

    @FAST
    @given(st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])))
    def test_any_aware_datetime_is_stored_in_sortable_text(self, moment):
        """Storage text of every representable time sorts like the times it stands for."""
        try:
            text = to_iso(moment)
        except ValidationError:
            return  # outside the range UTC can hold (e.g. year 1 at +14:00)
        assert from_iso(text) == moment.replace(microsecond=0)
        assert (text < to_iso("2000-01-01")) == (moment.replace(microsecond=0) < datetime(2000, 1, 1, tzinfo=timezone.utc))

    @FAST
    @given(st.text(max_size=30))
    def test_durations_accept_or_raise_validation_error(self, text):
        try:
            parse_duration(text)
        except ValidationError:
            pass


@pytest.fixture(scope="module")
def api_crm():
    """One core-only CRM for the whole module: hypothesis runs many examples against it."""
    crm = crmkit.open(":memory:", plugins=[])
    crm.customers.add(name="Someone")
    yield crm
    crm.close()


def _totals(crm):
    return crm.db.execute(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM interactions), "
        "(SELECT coalesce(sum(net_spend), 0) FROM customer_summary), (SELECT count(*) FROM audit_log)"
    ).fetchone()


class TestRecordWritesThroughTheApi:
    """The same, end to end: bad values never escape as anything but crmkit errors, never write."""

    @FAST
    @given(fields_of(CUSTOMER_FIELDS, ("name",)))
    def test_customers_add(self, api_crm, kwargs):
        before = _totals(api_crm)
        try:
            api_crm.customers.add(**kwargs)
        except CrmError:
            assert _totals(api_crm) == before

    @FAST
    @given(st.fixed_dictionaries({"kind": st.sampled_from(["purchase", "refund", "call", "survey", "referral", "bogus"])},
                                 optional={k: ANY_VALUE for k in ("occurred_at", "amount", "channel", "notes", "data", "product")}))
    def test_interactions_record(self, api_crm, kwargs):
        before = _totals(api_crm)
        try:
            api_crm.interactions.record(1, **kwargs)
        except CrmError:
            assert _totals(api_crm) == before

    @FAST
    @given(st.fixed_dictionaries(
        {"customer_id": st.just(1), "kind": st.sampled_from(["purchase", "call", "survey"]),
         "occurred_at": st.sampled_from(["2024-05-01T10:00:00Z", "2024-12-31T23:59:59Z"])},
        optional={"amount": st.one_of(st.sampled_from(["1.00", "0.5", "12"]), ANY_VALUE),
                  **{k: ANY_VALUE for k in ("channel", "product", "category", "rep", "notes", "data")}}))
    def test_canonical_rows_take_the_same_checks(self, api_crm, row):
        """Rows already in storage form (the bulk fast path) are checked like any other row:
        same refusals (NUL, surrogates, NaN in data...), and what is stored reads back equal."""
        before = _totals(api_crm)
        try:
            result = api_crm.interactions.record_many([row])
        except CrmError:
            assert _totals(api_crm) == before
            return
        stored = api_crm.interactions.get(result.first_id)
        assert stored == Interaction(**dict(row, id=result.first_id))

    @FAST
    @given(st.lists(st.fixed_dictionaries({"customer_id": st.sampled_from([1, 1, 1, 999, "1", None]),
                                           "kind": st.sampled_from(["purchase", "call"])},
                                          optional={"amount": ANY_VALUE, "occurred_at": ANY_VALUE}),
                    min_size=1, max_size=5))
    def test_record_many_is_all_or_nothing(self, api_crm, rows):
        before = _totals(api_crm)
        try:
            api_crm.interactions.record_many(rows)
        except CrmError:
            assert _totals(api_crm) == before
        else:
            assert _totals(api_crm)[1] == before[1] + len(rows)


# --- the rule language -----------------------------------------------------------------------

FIELD_NAMES = st.sampled_from(["name", "region", "email", "tags", "ltv", "purchases", "spend_90d", "created_at",
                               "last_purchase_days", "attr_code", "stage"])
# Text a rule can hold: the parser refuses NUL and lone surrogates (see test_regressions.py).
TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
LITERALS = st.one_of(
    TEXTS.map(lambda t: Literal("text", t)),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9).map(lambda d: Literal("number", d)),
    st.integers(-10**6, 10**6).map(lambda i: Literal("number", Decimal(i))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)).map(
        lambda d: Literal("date", d.replace(microsecond=0))),
    st.integers(0, 10**5).map(lambda n: Literal("duration", n)),
    st.booleans().map(lambda b: Literal("bool", b)),
)
LEAVES = st.one_of(
    st.builds(Compare, FIELD_NAMES.map(Name), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), LITERALS),
    st.builds(In, FIELD_NAMES.map(Name), st.lists(LITERALS, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.builds(Between, FIELD_NAMES.map(Name), LITERALS, LITERALS, st.booleans()),
    st.builds(Contains, FIELD_NAMES.map(Name), LITERALS, st.booleans()),
    st.builds(IsNull, FIELD_NAMES.map(Name), st.booleans()),
)
TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        children.map(Not),
    ),
    max_leaves=8,
)

# Rule-ish text: keywords, names, operators, values and the characters SQL injection relies on.
RULE_PIECES = st.sampled_from([
    "name", "region", "ltv", "tags", "spend_365d", "attr_x", "and", "or", "not", "in", "between", "contains",
    "is", "null", "true", "false", "=", "!=", "<>", "<=", ">", "(", ")", ",", "'a'", "'it''s'", '"x"', "42",
    "-1.5", "2024-05-01", "2024-05-01T10:00:00Z", "90d", "12w", "99999999999999999999d", "'", '"', ";", "--",
    "/*", "*/", "UNION", "SELECT", "DROP TABLE customers", "\x00", "é", "名前", "\\", "%", "_", " ", "\n",
    "0000-00-00", "9999-12-31T23:59:59-12:00", "1e5", "1.", ".5", "- 1",
])
VALUE_TEXT = st.one_of(
    st.integers(-10**30, 10**30).map(str),
    st.tuples(st.integers(0, 10**25), st.sampled_from("dwmyh")).map(lambda t: f"{t[0]}{t[1]}"),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
    st.tuples(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)).map(lambda t: "%04d-%02d-%02d" % t),
    st.text(max_size=10).map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.sampled_from(["true", "false", "null"]),
)
CONDITION_TEXT = st.tuples(
    st.sampled_from(["name", "ltv", "tags", "created_at", "last_purchase_days", "spend_30d", "attr_x", "stage", "nope"]),
    st.sampled_from(["=", "!=", "<", ">=", "in", "not in", "between", "contains", "is", "is not"]),
    st.lists(VALUE_TEXT, min_size=1, max_size=2),
).map(lambda t: f"{t[0]} {t[1]} " + (
    f"({', '.join(t[2])})" if t[1].endswith("in") else " and ".join(t[2]) if t[1] == "between" else t[2][0]))
RULE_TEXT = st.one_of(
    st.lists(RULE_PIECES, max_size=12).map(" ".join),
    st.lists(RULE_PIECES, max_size=12).map("".join),
    st.lists(CONDITION_TEXT, min_size=1, max_size=3).map(" and ".join),
    st.text(max_size=40),
)


@pytest.fixture(scope="module")
def rule_crm():
    crm = crmkit.open(":memory:", plugins=[])
    yield crm
    crm.close()


class TestRuleLanguage:
    @settings(max_examples=200, deadline=None)
    @given(RULE_TEXT)
    def test_parser_raises_only_rule_errors(self, text):
        try:
            parse(text)
        except RuleError as error:
            assert str(error)

    @settings(max_examples=150, deadline=None)
    @given(RULE_TEXT)
    def test_compiler_raises_only_crmkit_errors(self, rule_crm, text):
        try:
            compiled = rule_crm.segments.compile(text)
        except CrmError:
            return
        assert compiled.params["as_of"]

    @settings(max_examples=150, deadline=None)
    @given(RULE_TEXT)
    def test_parsed_rules_round_trip(self, text):
        """parse(str(tree)) == tree for every rule the parser accepts."""
        try:
            tree = parse(text)
        except RuleError:
            return
        assert parse(str(tree)) == tree

    @settings(max_examples=100, deadline=None)
    @given(TREES)
    def test_generated_trees_round_trip(self, tree):
        """Any tree the builder can make renders to text that parses back to an equal tree."""
        text = str(tree)
        assume(len(text) <= 10_000)
        assert parse(text) == tree

    @settings(max_examples=200, deadline=None)
    @given(TREES)
    def test_compiling_a_tree_raises_only_crmkit_errors(self, rule_crm, tree):
        try:
            rule_crm.segments.compile(str(tree))
        except CrmError:
            pass


def _build(tree):
    """The builder expression equivalent to a syntax tree (F.x == v, &, |, ~)."""
    if isinstance(tree, And):
        out = _build(tree.items[0])
        for item in tree.items[1:]:
            out = out & _build(item)
        return out
    if isinstance(tree, Or):
        out = _build(tree.items[0])
        for item in tree.items[1:]:
            out = out | _build(item)
        return out
    if isinstance(tree, Not):
        return ~_build(tree.item)
    ref = F(tree.field.name)
    if isinstance(tree, Compare):
        value = _value(tree.value)
        return {"=": ref.__eq__, "!=": ref.__ne__, "<": ref.__lt__, "<=": ref.__le__, ">": ref.__gt__, ">=": ref.__ge__}[tree.op](value)
    if isinstance(tree, In):
        values = [_value(v) for v in tree.values]
        return ref.not_in(values) if tree.negated else ref.in_(values)
    if isinstance(tree, Between):
        condition = ref.between(_value(tree.low), _value(tree.high))
        return ~condition if tree.negated else condition
    if isinstance(tree, Contains):
        condition = ref.contains(_value(tree.value))
        return ~condition if tree.negated else condition
    if isinstance(tree, IsNull):
        return ref.is_not_null() if tree.negated else ref.is_null()
    raise AssertionError(tree)


def _value(literal):
    if literal.kind == "duration":
        return timedelta(days=literal.value)
    return literal.value


SIMPLE_TREES = st.recursive(
    st.one_of(
        st.builds(Compare, FIELD_NAMES.map(Name), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), LITERALS),
        st.builds(In, FIELD_NAMES.map(Name), st.lists(LITERALS, min_size=1, max_size=3).map(tuple), st.booleans()),
        st.builds(Between, FIELD_NAMES.map(Name), LITERALS, LITERALS),
        st.builds(Contains, FIELD_NAMES.map(Name), LITERALS),
        st.builds(IsNull, FIELD_NAMES.map(Name), st.booleans()),
    ),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        children.map(Not),
    ),
    max_leaves=6,
)


class TestBuilderAndTextAgree:
    @settings(max_examples=150, deadline=None)
    @given(SIMPLE_TREES)
    def test_builder_and_text_compile_to_the_same_sql(self, rule_crm, tree):
        """F-expressions and their rule text compile to identical SQL and parameters (or fail alike)."""
        condition = _build(tree)
        text = str(condition)
        assert parse(text) == condition.node
        outcomes = []
        for rule in (condition, text):
            try:
                compiled = rule_crm.segments.compile(rule, as_of="2025-01-01")
                outcomes.append((compiled.where, compiled.params))
            except CrmError as error:
                outcomes.append(type(error).__name__)
        assert outcomes[0] == outcomes[1]

    @FAST
    @given(st.one_of(st.floats(), st.complex_numbers(), st.binary(), st.lists(st.integers(), max_size=2), st.none()))
    def test_builder_refuses_bad_values_with_rule_error(self, value):
        with pytest.raises(RuleError):
            F.ltv >= value

    @FAST
    @given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
    def test_builder_dates_of_every_year_render_as_rule_text(self, day):
        condition = F.created_at >= day
        assert parse(str(condition)) == condition.node
