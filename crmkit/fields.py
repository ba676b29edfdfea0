"""The field registry: every name a segment rule or a report breakdown may use.

A field is an SQL expression with one value per customer. In the expression the customer row is
``c``, the core's per-customer summary is ``s`` (``customer_summary``) and the evaluation time is
the named parameter ``:as_of``. Constants go in ``params``, never into the text. A field of the
customer's own editable columns also has ``sql_versioned``, over ``h``: the customer's version in
``customer_history`` valid at ``:as_of`` (see :mod:`crmkit.history`).
"""

from __future__ import annotations

import difflib
import re
from typing import Callable

import attrs
from attrs import field, frozen

from . import history
from .errors import CrmError, RuleError
from .calendar import HomeCalendar
from .engine.sql import json_text_param
from .store import shift_days

TYPES = ("number", "money", "text", "date", "bool", "tags")


@frozen
class Field:
    """A named per-customer value usable in segment rules.

    ``type`` is one of number, money (integer minor units in SQL, major units in rules), text,
    date (ISO text), bool or tags (a JSON list of texts). ``sql_as_of`` is an alternative
    expression used when a rule is evaluated as of a time before the newest interaction, for
    fields whose ``sql`` reads a summary that only holds the present.

    ``sql_versioned`` reads the customer's version ``h`` (a ``customer_history`` row) valid at
    ``as_of``; the compiler uses it when a customer changed after ``as_of``, so a past date is
    answered with the values the customer had then.

    ``since`` (and ``since_as_of``) mark a "whole days since a time" field: the SQL of that time.
    The compiler then turns ``field <= 90`` into a comparison of that time with one bound
    timestamp instead of date arithmetic on every customer.

    ``holder`` marks a text field naming the user who holds a customer besides its ``owner``
    (the leads plugin's ``lead_owner``: the rep working a lead). A user's row scope keeps an
    unowned customer only while every holder field is empty or names someone in that scope.
    """

    name: str
    type: str
    description: str
    sql: str
    params: dict = field(factory=dict)
    sql_as_of: str | None = None
    choices: tuple[str, ...] = field(default=(), converter=tuple)
    plugin: str = "core"
    since: str | None = None
    since_as_of: str | None = None
    sql_versioned: str | None = None
    holder: bool = False

    def __attrs_post_init__(self) -> None:
        if self.type not in TYPES:
            raise CrmError(f"field {self.name!r}: type must be one of {', '.join(TYPES)}, not {self.type!r}")
        if self.holder and self.type != "text":
            raise CrmError(f"field {self.name!r}: a holder field names a user, so its type is text, not {self.type!r}")
        if not re.match(r"^[a-z][a-z0-9_]*$", self.name):
            raise CrmError(f"field name {self.name!r}: use lower-case letters, digits and _")


@frozen
class FieldFamily:
    """Fields named by a pattern, e.g. ``spend_<N>d``: ``make(match)`` builds the field."""

    pattern: str
    example: str
    description: str
    make: Callable[[re.Match], Field] = field(eq=False)
    plugin: str = "core"


class FieldRegistry:
    """The fields of one CRM object: the core's plus every plugin's ``crmkit_fields``."""

    def __init__(self, calendar: "HomeCalendar | None" = None) -> None:
        #: the home calendar: whole-day fields count days on its wall clock.
        self.calendar = calendar or HomeCalendar()
        self._fields: dict[str, Field] = {}
        self._families: list[FieldFamily] = []

    def add(self, item: Field | FieldFamily, plugin: str = "core") -> None:
        """Register a field or family; a name registered twice is an error naming both owners."""
        if isinstance(item, FieldFamily):
            self._families.append(FieldFamily(item.pattern, item.example, item.description, item.make, plugin))
            return
        existing = self._fields.get(item.name)
        if existing is not None:
            raise CrmError(f"field {item.name!r} is registered by both {existing.plugin!r} and {plugin!r}")
        self._fields[item.name] = attrs.evolve(item, params=dict(item.params), plugin=plugin)

    def get(self, name: str) -> Field | None:
        """The field called ``name``, including pattern fields such as ``spend_90d``, or None."""
        if name in self._fields:
            return self._fields[name]
        for family in self._families:
            match = re.fullmatch(family.pattern, name)
            if match:
                made = family.make(match)
                return attrs.evolve(made, plugin=family.plugin)
        return None

    def resolve(self, name: str, rule: str | None = None, position: int | None = None) -> Field:
        """Like :meth:`get`, but an unknown name raises RuleError with a suggestion."""
        found = self.get(name)
        if found is not None:
            return found
        candidates = list(self._fields) + [f.example for f in self._families]
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else "; `crmkit segments fields DB` lists them"
        raise RuleError(f"unknown field {name!r}{hint}", rule, position)

    def __iter__(self):
        return iter(sorted(self._fields.values(), key=lambda f: (f.plugin != "core", f.name)))

    def holders(self) -> list[str]:
        """The names of the holder fields (see :class:`Field`), which row scope reads."""
        return [f.name for f in self if f.holder]

    def families(self) -> list[FieldFamily]:
        """The pattern families (``spend_<N>d``, ...)."""
        return list(self._families)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


# --- the core's fields ------------------------------------------------------------------------

def _customer_column(name: str, type_: str, description: str, choices=()) -> Field:
    versioned = f"h.{name}" if name in history.COLUMNS else None
    return Field(name, type_, description, f"c.{name}", choices=choices, sql_versioned=versioned)


def _days_since(column_sql: str, calendar: HomeCalendar) -> str:
    return f"CAST({calendar.days_sql(column_sql, ':as_of')} AS INTEGER)"


def days_field(
    name: str, description: str, time_sql: str, time_sql_as_of: str | None = None, params: dict | None = None,
    calendar: HomeCalendar | None = None,
) -> Field:
    """A number field counting whole days from a time (``time_sql``) to ``as_of``, on the wall
    clock of ``calendar`` (the CRM's home zone; default UTC)."""
    calendar = calendar or HomeCalendar()
    return Field(
        name, "number", description, _days_since(time_sql, calendar), params=params or {},
        sql_as_of=_days_since(time_sql_as_of, calendar) if time_sql_as_of else None,
        since=time_sql, since_as_of=time_sql_as_of,
    )


def core_fields(
    purchase_kinds: list[str], refund_kinds: list[str], contact_kinds: list[str], calendar: HomeCalendar | None = None,
) -> list[Field | FieldFamily]:
    """The fields the core offers, given which kinds move money and which are contacts; day
    counts are whole days on the wall clock of ``calendar`` (the home zone; default UTC)."""
    from .models import SIZES, STAGES

    kinds_in = {f"_k_in{i}": k for i, k in enumerate(purchase_kinds)}
    kinds_out = {f"_k_out{i}": k for i, k in enumerate(refund_kinds)}
    kinds_contact = {f"_k_contact{i}": k for i, k in enumerate(contact_kinds)}
    in_list = ", ".join(":" + p for p in kinds_in) or "NULL"
    out_list = ", ".join(":" + p for p in kinds_out) or "NULL"
    contact_list = ", ".join(":" + p for p in kinds_contact) or "NULL"
    money_params = {**kinds_in, **kinds_out}
    signed_amount = f"CASE WHEN i.kind IN ({in_list}) THEN i.amount WHEN i.kind IN ({out_list}) THEN -i.amount ELSE 0 END"

    def log(select: str, where: str = "1 = 1") -> str:
        return f"(SELECT {select} FROM interactions i WHERE i.customer_id = c.id AND i.occurred_at <= :as_of AND {where})"

    fields: list[Field | FieldFamily] = [
        _customer_column("id", "number", "The customer's id."),
        _customer_column("external_id", "text", "The id the customer has in another system."),
        _customer_column("name", "text", "Name of the person or company."),
        _customer_column("email", "text", "Email address."),
        _customer_column("phone", "text", "Phone number."),
        _customer_column("region", "text", "Region (country, state or sales area)."),
        _customer_column("company", "text", "Company the customer belongs to."),
        _customer_column("industry", "text", "Industry."),
        _customer_column("size", "text", "Size class.", SIZES),
        _customer_column("source", "text", "Channel the customer came from (referral, trade show, ...)."),
        _customer_column("owner", "text", "The responsible rep's id."),
        _customer_column("stage", "text", "Lifecycle stage as stored on the customer.", STAGES),
        Field("tags", "tags", "Tags; use `tags contains 'x'`.", "c.tags", sql_versioned="h.tags"),
        _customer_column("created_at", "date", "When the customer was added."),
        Field("updated_at", "date", "When the customer was last changed.", "c.updated_at", sql_versioned="h.valid_from"),
        days_field("customer_days", "Days since the customer was added.", "c.created_at", calendar=calendar),
        Field(
            "ltv", "money", "Net spend to date: purchases minus refunds.", "COALESCE(s.net_spend, 0)",
            params=money_params, sql_as_of=f"COALESCE({log(f'SUM({signed_amount})')}, 0)",
        ),
        Field(
            "purchases", "number", "Number of purchases to date.", "COALESCE(s.purchases, 0)",
            params=kinds_in, sql_as_of=log("COUNT(*)", f"i.kind IN ({in_list})"),
        ),
        Field(
            "first_purchase_at", "date", "Time of the first purchase.", "s.first_purchase_at",
            params=kinds_in, sql_as_of=log("MIN(i.occurred_at)", f"i.kind IN ({in_list})"),
        ),
        Field(
            "last_purchase_at", "date", "Time of the latest purchase.", "s.last_purchase_at",
            params=kinds_in, sql_as_of=log("MAX(i.occurred_at)", f"i.kind IN ({in_list})"),
        ),
        days_field(
            "last_purchase_days", "Whole days since the latest purchase (null: never bought).",
            "s.last_purchase_at", log("MAX(i.occurred_at)", f"i.kind IN ({in_list})"), kinds_in, calendar,
        ),
        days_field(
            "first_purchase_days", "Whole days since the first purchase (null: never bought).",
            "s.first_purchase_at", log("MIN(i.occurred_at)", f"i.kind IN ({in_list})"), kinds_in, calendar,
        ),
        days_field(
            "last_contact_days", "Whole days since the latest call, email, visit or meeting.",
            "s.last_contact_at", log("MAX(i.occurred_at)", f"i.kind IN ({contact_list})"), kinds_contact, calendar,
        ),
        days_field(
            "last_interaction_days", "Whole days since the latest interaction of any kind.",
            "s.last_interaction_at", log("MAX(i.occurred_at)"), calendar=calendar,
        ),
        Field(
            "interactions", "number", "Number of interactions of any kind to date.",
            "COALESCE(s.interactions, 0)", sql_as_of=log("COUNT(*)"),
        ),
    ]

    home = calendar or HomeCalendar()

    def window(days: int) -> str:
        # The last N local days up to as_of: after as_of moved back N days on the home wall clock
        # (as of a date, from its local midnight N days before; a daylight-saving day is one day).
        start = shift_days(":as_of", -days) if home.is_utc else home.add_days_sql(":as_of", str(-days))
        return f"i.occurred_at > {start} AND i.occurred_at <= :as_of"

    def windowed(select: str, where: str) -> str:
        return f"(SELECT {select} FROM interactions i WHERE i.customer_id = c.id AND {where})"

    fields += [
        FieldFamily(
            r"spend_(\d{1,5})d", "spend_365d",
            "Net spend (purchases minus refunds) in the last N days: after as_of moved back N local days, up to as_of.",
            lambda m: Field(
                m.group(0), "money", f"Net spend in the {m.group(1)} days up to as_of.",
                f"COALESCE({windowed(f'SUM({signed_amount})', window(int(m.group(1))))}, 0)",
                params=money_params,
            ),
        ),
        FieldFamily(
            r"purchases_(\d{1,5})d", "purchases_365d", "Number of purchases in the last N days.",
            lambda m: Field(
                m.group(0), "number", f"Purchases in the {m.group(1)} days up to as_of.",
                windowed("COUNT(*)", f"i.kind IN ({in_list}) AND {window(int(m.group(1)))}"),
                params=kinds_in,
            ),
        ),
        FieldFamily(
            r"interactions_(\d{1,5})d", "interactions_90d", "Number of interactions of any kind in the last N days.",
            lambda m: Field(
                m.group(0), "number", f"Interactions in the {m.group(1)} days up to as_of.",
                windowed("COUNT(*)", window(int(m.group(1)))),
            ),
        ),
        FieldFamily(
            r"contacts_(\d{1,5})d", "contacts_90d", "Number of calls, emails, visits and meetings in the last N days.",
            lambda m: Field(
                m.group(0), "number", f"Contacts in the {m.group(1)} days up to as_of.",
                windowed("COUNT(*)", f"i.kind IN ({contact_list}) AND {window(int(m.group(1)))}"),
                params=kinds_contact,
            ),
        ),
        FieldFamily(
            r"attr_([a-z][a-z0-9_]{0,63})", "attr_segment_code",
            "A value from the customer's free `attributes` JSON (attr_<key>), compared as text or number.",
            lambda m: Field(
                m.group(0), "text", f"attributes.{m.group(1)}",
                json_text_param("c.attributes", f":_attr_{m.group(1)}"),
                params={f"_attr_{m.group(1)}": f"$.{m.group(1)}"},
                sql_versioned=json_text_param("h.attributes", f":_attr_{m.group(1)}"),
            ),
        ),
    ]
    return fields
