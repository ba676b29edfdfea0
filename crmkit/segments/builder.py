"""The Python builder: ``F.spend_365d >= 5000`` makes the same tree as the text rule.

>>> from crmkit import F
>>> rule = (F.spend_365d >= 5000) & (F.region.in_(["EU", "UK"]) | ~F.tags.contains("test"))
>>> str(rule)
"spend_365d >= 5000 and (region in ('EU', 'UK') or not tags contains 'test')"
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable

from ..errors import RuleError
from ..timeutil import to_datetime
from .ast import And, Between, Compare, Contains, In, IsNull, Literal, Name, Not, Or, Truthy


def literal(value: Any) -> Literal:
    """A Python value as a rule literal (floats are refused: write Decimal or str for money)."""
    if isinstance(value, bool):
        return Literal("bool", value)
    if isinstance(value, int):
        return Literal("number", Decimal(value))
    if isinstance(value, Decimal):
        return Literal("number", value)
    if isinstance(value, float):
        raise RuleError(f"{value!r}: use an int, Decimal or str instead of a float in rules")
    if isinstance(value, str):
        return Literal("text", value)
    if isinstance(value, (datetime, date)):
        return Literal("date", to_datetime(value))
    if isinstance(value, timedelta):
        return Literal("duration", value.days)
    raise RuleError(f"{value!r} ({type(value).__name__}) cannot be a rule value")


class Condition:
    """A rule built in Python; combine with ``&``, ``|`` and ``~``; ``str()`` gives rule text."""

    def __init__(self, node):
        self.node = node

    def __and__(self, other: "Condition") -> "Condition":
        return Condition(And(_flatten(And, self.node, _node(other))))

    def __or__(self, other: "Condition") -> "Condition":
        return Condition(Or(_flatten(Or, self.node, _node(other))))

    def __invert__(self) -> "Condition":
        return Condition(Not(self.node))

    def __bool__(self):
        raise TypeError("use & | ~ to combine rule conditions, not and/or/not")

    def __str__(self) -> str:
        return str(self.node)

    def __repr__(self) -> str:
        return f"<rule {self}>"


def _node(item) -> Any:
    if isinstance(item, Condition):
        return item.node
    if isinstance(item, FieldRef):
        return Truthy(Name(item.name))
    raise TypeError(f"cannot combine a rule with {item!r}")


def _flatten(kind, left, right) -> tuple:
    items = []
    for node in (left, right):
        items.extend(node.items if isinstance(node, kind) else [node])
    return tuple(items)


class FieldRef:
    """A field named in Python; comparisons on it make :class:`Condition` objects."""

    def __init__(self, name: str):
        self.name = name

    def _cmp(self, op: str, value: Any) -> Condition:
        return Condition(Compare(Name(self.name), op, literal(value)))

    def __eq__(self, value: Any) -> Condition:  # type: ignore[override]
        return self._cmp("=", value)

    def __ne__(self, value: Any) -> Condition:  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value: Any) -> Condition:
        return self._cmp("<", value)

    def __le__(self, value: Any) -> Condition:
        return self._cmp("<=", value)

    def __gt__(self, value: Any) -> Condition:
        return self._cmp(">", value)

    def __ge__(self, value: Any) -> Condition:
        return self._cmp(">=", value)

    __hash__ = None  # type: ignore[assignment]

    def in_(self, values: Iterable[Any]) -> Condition:
        """``field in (values)``."""
        return Condition(In(Name(self.name), tuple(literal(v) for v in values)))

    def not_in(self, values: Iterable[Any]) -> Condition:
        """``field not in (values)``."""
        return Condition(In(Name(self.name), tuple(literal(v) for v in values), negated=True))

    def between(self, low: Any, high: Any) -> Condition:
        """``field between low and high``, both ends included."""
        return Condition(Between(Name(self.name), literal(low), literal(high)))

    def contains(self, value: Any) -> Condition:
        """``field contains value``: a tag of a tag list, or a part of a text."""
        return Condition(Contains(Name(self.name), literal(value)))

    def is_null(self) -> Condition:
        """``field is null``."""
        return Condition(IsNull(Name(self.name)))

    def is_not_null(self) -> Condition:
        """``field is not null``."""
        return Condition(IsNull(Name(self.name), negated=True))

    def __invert__(self) -> Condition:
        return Condition(Not(Truthy(Name(self.name))))

    def __and__(self, other) -> Condition:
        return Condition(Truthy(Name(self.name))) & other

    def __or__(self, other) -> Condition:
        return Condition(Truthy(Name(self.name))) | other


class _FieldNamespace:
    """``F.<field>`` gives a :class:`FieldRef`; ``F("name")`` too, for names made at run time."""

    def __getattr__(self, name: str) -> FieldRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return FieldRef(name)

    def __call__(self, name: str) -> FieldRef:
        return FieldRef(name)


F = _FieldNamespace()
