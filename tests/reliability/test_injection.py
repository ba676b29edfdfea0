"""Segment rules cannot inject SQL: whatever the rule text or the values in it, the schema and
every table stay as they were, and the members are exactly those a Python-side reading of the
same rule picks from the same customers."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import crmkit
from crmkit import CrmError, F
from crmkit.money import to_minor
from crmkit.segments import parse
from crmkit.segments.ast import And, Between, Compare, Contains, In, IsNull, Not, Or, Truthy
from crmkit.testing import FixedClock

from .helpers import connect_raw, fingerprint

EVIL = [
    "'", "''", '"', "';--", "'; DROP TABLE customers; --", "x' OR '1'='1", "' UNION SELECT name FROM sqlite_master --",
    "/*", "*/", "-- comment", "; DELETE FROM interactions", ") OR 1=1 --", "\\", "%", "_", "%_%", "\\%", "名前",
    "Zoë", "ÉLODIE", "\u202e", "\U0001F600", "NULL", "null", "\x00", "a\x00b", "\ud800", "\t\n", " ", "",
    "O'Brien", 'Robert"); DROP TABLE customers;--',
]

CUSTOMERS = [
    {"name": "O'Brien", "email": "ob@example.com", "region": "EU", "company": "Acme; Inc", "tags": ["vip", "'; DROP TABLE x"],
     "attributes": {"code": "A1"}},
    {"name": 'Robert"); DROP TABLE customers;--', "email": "bobby@example.com", "region": "UK", "company": "Tables",
     "tags": ["x' OR '1'='1"], "attributes": {"code": "' OR 1=1 --"}},
    {"name": "100% real", "region": "EU", "company": "Percent_Co", "tags": ["%", "_"], "attributes": {"code": "%"}},
    {"name": "under_score", "region": "US", "tags": [], "attributes": {}},
    {"name": "back\\slash", "region": None, "company": "\\", "tags": ["\\"]},
    {"name": "名前 太郎", "email": "taro@example.jp", "region": "JP", "company": "株式会社", "tags": ["名前"],
     "attributes": {"code": "名前"}},
    {"name": "ÉLODIE Zoë", "region": "eu", "company": "acme; inc", "tags": ["VIP"]},
    {"name": "UNION SELECT * FROM audit_log", "region": "EU", "company": "/* comment */", "tags": ["--"]},
    {"name": "semi;colon", "email": "semi@example.com", "region": "NULL", "company": None, "tags": ["null"],
     "attributes": {"code": "null"}},
    {"name": "Plain Person", "region": "UK", "company": "Acme; Inc", "stage": "churned", "attributes": {"code": "7"}},
    {"name": "emoji \U0001F600", "region": "\u202e", "tags": ["\U0001F600"]},
    {"name": "'", "region": "'", "company": "''", "tags": ["'"], "attributes": {"code": "'"}},
]
# (customer index, kind, amount)
PURCHASES = [(0, "purchase", "120.00"), (0, "refund", "20.00"), (1, "purchase", "5000.50"), (2, "purchase", "0.01"),
             (5, "purchase", "999.99"), (5, "purchase", "0.01"), (6, "refund", "10.00"), (9, "purchase", "250.00"),
             (11, "purchase", "1000.00"), (11, "refund", "1000.00")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A CRM file with customers whose data is itself hostile, plus the Python view of them."""
    path = tmp_path_factory.mktemp("injection") / "crm.db"
    crm = crmkit.open(path, plugins=[], clock=FixedClock("2025-01-01T09:00:00Z"))
    ids = crm.customers.add_many(CUSTOMERS)
    crm.interactions.record_many(
        {"customer_id": ids[i], "kind": kind, "occurred_at": "2024-06-01", "amount": amount} for i, kind, amount in PURCHASES
    )
    crm.segments.define("existing", "ltv > 0", description="a saved segment")
    raw = connect_raw(path)
    people = []
    for row in raw.execute(
        "SELECT id, name, email, region, company, stage, tags, attributes, " + ", ".join(PLAIN_TEXT_FIELDS)
        + " FROM customers ORDER BY id"
    ):
        cid, name, email, region, company, stage, tags, attributes, *plain = row
        ltv = sum(
            (to_minor(amount, 2) if kind == "purchase" else -to_minor(amount, 2))
            for i, kind, amount in PURCHASES if ids[i] == cid
        )
        purchases = sum(1 for i, kind, _ in PURCHASES if ids[i] == cid and kind == "purchase")
        people.append({
            "id": cid, "name": name, "email": email, "region": region, "company": company, "stage": stage,
            "tags": json.loads(tags), "attr_code": json.loads(attributes).get("code"), "ltv": ltv, "purchases": purchases,
            **dict(zip(PLAIN_TEXT_FIELDS, plain)),
        })
    yield crm, raw, people
    raw.close()
    crm.close()


# --- a Python reading of the rule language (SQL's three-valued logic) ---------------------------

TEXT_FIELDS = ("name", "email", "region", "company", "stage", "attr_code")
# The core's other text fields, stored as they read: modelled too, so that an arbitrary text that
# happens to be a rule on one of them ("owner is not null") is checked like the others.
PLAIN_TEXT_FIELDS = ("external_id", "industry", "owner", "phone", "size", "source")


class Unmodelled(Exception):
    """A rule on a field this Python reading does not compute (dates, day counts)."""


def _sql_value(field, literal):
    """The value the compiler binds for a literal compared with ``field`` (see compiler.convert)."""
    if field == "ltv":
        return to_minor(literal.value, 2)
    if literal.kind == "number":
        value = literal.value
        return int(value) if value == value.to_integral_value() else float(value)
    return literal.value


def _class(value):
    return 1 if isinstance(value, (int, float, Decimal)) else 2  # SQLite: numbers sort before text


def _cmp(a, op, b):
    if a is None or b is None:
        return None
    if _class(a) != _class(b):
        order = (_class(a) > _class(b)) - (_class(a) < _class(b))
    elif isinstance(a, str):
        x, y = a.encode("utf-8"), b.encode("utf-8")  # BINARY collation: byte order
        order = (x > y) - (x < y)
    else:
        order = (a > b) - (a < b)
    return {"=": order == 0, "!=": order != 0, "<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


def _not(value):
    return None if value is None else not value


def _ascii_lower(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def evaluate(node, person):
    """True, False or None (SQL NULL) for one customer."""
    if isinstance(node, And):
        values = [evaluate(item, person) for item in node.items]
        return False if False in values else (None if None in values else True)
    if isinstance(node, Or):
        values = [evaluate(item, person) for item in node.items]
        return True if True in values else (None if None in values else False)
    if isinstance(node, Not):
        return _not(evaluate(node.item, person))
    if isinstance(node, Truthy):
        raise AssertionError("no bool fields in the core")
    field = node.field.name
    if field not in person:
        raise Unmodelled(field)
    value = person[field]
    if isinstance(node, IsNull):
        empty = (not value) if field == "tags" else value is None
        return not empty if node.negated else empty
    if isinstance(node, Compare):
        return _cmp(value, node.op, _sql_value(field, node.value))
    if isinstance(node, In):
        results = [_cmp(value, "=", _sql_value(field, v)) for v in node.values]
        found = True if True in results else (None if None in results else False)
        return _not(found) if node.negated else found
    if isinstance(node, Between):
        low, high = _cmp(value, ">=", _sql_value(field, node.low)), _cmp(value, "<=", _sql_value(field, node.high))
        inside = False if False in (low, high) else (None if None in (low, high) else True)
        return _not(inside) if node.negated else inside
    if isinstance(node, Contains):
        if field == "tags":
            found = node.value.value in value
        else:
            found = None if value is None else _ascii_lower(node.value.value) in _ascii_lower(value)
        return _not(found) if node.negated else found
    raise AssertionError(node)


def expected_ids(tree, people):
    return [p["id"] for p in people if evaluate(tree, p) is True]


# --- rules to try ----------------------------------------------------------------------------

VALUES = st.one_of(st.sampled_from(EVIL), st.sampled_from([c["name"] for c in CUSTOMERS]), st.text(max_size=12))
NUMBERS = st.one_of(st.integers(-10, 600_000), st.decimals(min_value=-10, max_value=10_000, places=2))
TEXT_FIELD = st.sampled_from(TEXT_FIELDS)


def _condition():
    text_ref = TEXT_FIELD.map(F)
    ops = st.sampled_from(["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"])
    return st.one_of(
        st.builds(lambda ref, op, v: getattr(ref, op)(v), text_ref, ops, VALUES),
        st.builds(lambda ref, vs: ref.in_(vs), text_ref, st.lists(VALUES, min_size=1, max_size=3)),
        st.builds(lambda ref, vs: ref.not_in(vs), text_ref, st.lists(VALUES, min_size=1, max_size=3)),
        st.builds(lambda ref, a, b: ref.between(a, b), text_ref, VALUES, VALUES),
        st.builds(lambda ref, v: ref.contains(v), text_ref, VALUES),
        st.builds(lambda v: F.tags.contains(v), VALUES),
        st.builds(lambda ref: ref.is_null(), st.sampled_from(TEXT_FIELDS + ("tags",)).map(F)),
        st.builds(lambda ref: ref.is_not_null(), st.sampled_from(TEXT_FIELDS + ("tags",)).map(F)),
        st.builds(lambda op, v: getattr(F.ltv, op)(v), ops, NUMBERS),
        st.builds(lambda op, v: getattr(F.purchases, op)(v), ops, NUMBERS),
        st.builds(lambda op, v: getattr(F.id, op)(v), ops, st.integers(-1, 20)),
    )


CONDITIONS = st.recursive(
    _condition(),
    lambda children: st.one_of(
        st.tuples(children, children).map(lambda t: t[0] & t[1]),
        st.tuples(children, children).map(lambda t: t[0] | t[1]),
        children.map(lambda c: ~c),
    ),
    max_leaves=5,
)
# Rule text written by hand, with hostile values spliced in without quoting rules.
SPLICED = st.tuples(
    st.sampled_from([
        "name = '{}'", 'name = "{}"', "region != '{}' or name contains '{}'", "tags contains '{}'",
        "company in ('{}', '{}')", "attr_code = '{}'", "name = '{}' and ltv > 0", "{}", "ltv > {}",
        "not (name = '{}')", "email between '{}' and '{}'",
    ]),
    st.lists(st.one_of(st.sampled_from(EVIL), st.text(max_size=8)), min_size=2, max_size=2),
).map(lambda t: t[0].format(*t[1]) if t[0].count("{}") == 2 else t[0].format(t[1][0]))

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _check(crm, raw, people, rule, before):
    """Evaluate ``rule`` every way the API offers and compare with the Python reading."""
    try:
        tree = crm.segments.parse(rule)
        view = crm.segments.evaluate(rule)
        got = list(view.ids())
    except CrmError:
        assert fingerprint(raw) == before
        return None
    try:
        wanted = expected_ids(tree, people)
    except Unmodelled:
        assume(False)  # only arbitrary text reaches fields the reading leaves out
    assert got == wanted, (str(tree), got, wanted)
    assert view.count() == len(wanted)
    assert [c.id for c in view.customers(limit=100)] == wanted
    assert fingerprint(raw) == before
    return wanted


class TestRulesCannotInject:
    @SETTINGS
    @given(CONDITIONS)
    def test_builder_rules_with_hostile_values(self, world, condition):
        crm, raw, people = world
        before = fingerprint(raw)
        by_builder = _check(crm, raw, people, condition, before)
        by_text = _check(crm, raw, people, str(condition), before)
        assert by_builder == by_text

    @SETTINGS
    @given(SPLICED)
    def test_hostile_text_spliced_into_rule_text(self, world, rule):
        """Either a RuleError, or a rule whose members are what its own syntax tree says."""
        crm, raw, people = world
        _check(crm, raw, people, rule, fingerprint(raw))

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(max_size=60))
    @example("owner IS NOT NULL")
    @example("phone = '' or source in ('a', 'b')")
    def test_arbitrary_text(self, world, rule):
        crm, raw, people = world
        _check(crm, raw, people, rule, fingerprint(raw))

    def test_every_hostile_value_matches_only_itself(self, world):
        """name = <value> finds exactly the customers with that name, for every hostile value."""
        crm, raw, people = world
        before = fingerprint(raw)
        for value in EVIL + [c["name"] for c in CUSTOMERS]:
            try:
                got = list(crm.segments.evaluate(F.name == value).ids())
            except CrmError:
                assert "\x00" in value or "\ud800" in value  # refused with a RuleError, by design
                continue
            assert got == [p["id"] for p in people if p["name"] == value]
        assert fingerprint(raw) == before
        assert len(people) == len(CUSTOMERS)


class TestWritesWithHostileRules:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(CONDITIONS, st.sampled_from(EVIL))
    def test_saved_segments_and_snapshots_store_exactly_the_members(self, world, condition, description):
        """define/snapshot/delete write only their own rows: other tables and the schema stay."""
        crm, raw, people = world
        try:
            tree = parse(str(condition))
            crm.segments.compile(condition)
        except CrmError:
            return
        if "\x00" in description or "\ud800" in description:
            description = "hostile"
        untouched = {k: v for k, v in fingerprint(raw).items() if k not in ("segments", "segment_snapshots", "segment_snapshot_members", "audit_log")}
        crm.segments.define("probe", condition, description=description)
        try:
            assert crm.segments.get("probe").rule == str(condition)
            assert crm.segments.get("probe").description == (description.strip() or None)
            snapshot = crm.segments["probe"].snapshot()
            assert crm.segments.snapshot_members(snapshot) == expected_ids(tree, people)
        finally:
            crm.segments.delete("probe")
        after = {k: v for k, v in fingerprint(raw).items() if k not in ("segments", "segment_snapshots", "segment_snapshot_members", "audit_log")}
        assert after == untouched
        assert [r[0] for r in raw.execute("SELECT name FROM segments")] == ["existing"]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(VALUES)
    def test_customer_search_is_literal(self, world, term):
        """customers.find/list treat %, _ and \\ in a search as plain characters."""
        crm, raw, people = world
        before = fingerprint(raw)
        try:
            found = [c.id for c in crm.customers.find(name=term, limit=100)] if term.strip() else None
            listed = [c.id for c in crm.customers.list(search=term, limit=100)]
        except CrmError:
            assert "\x00" in term or "\ud800" in term
            return
        needle = _ascii_lower(term.strip())
        if found is not None:
            assert found == [p["id"] for p in people if needle in _ascii_lower(p["name"])]
        if term:
            assert listed == [p["id"] for p in people if any(
                v is not None and needle in _ascii_lower(v) for v in (p["name"], p["email"], p["company"]))]
        assert fingerprint(raw) == before
