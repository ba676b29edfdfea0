"""The syntax tree of segment rules, shared by the parser, the Python builder and the compiler.

``str(node)`` renders rule text that parses back to an equal tree.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attrs import field, frozen


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@frozen
class Literal:
    """A constant: number (Decimal), text, date (aware datetime), duration in days, or bool."""

    kind: str  # number | text | date | duration | bool | null
    value: object

    def __str__(self) -> str:
        if self.kind == "text":
            return _quote(self.value)
        if self.kind == "date":
            moment: datetime = self.value
            year = f"{moment.year:04d}"  # strftime's %Y drops leading zeros before year 1000
            if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
                return year + moment.strftime("-%m-%d")
            return year + moment.strftime("-%m-%dT%H:%M:%SZ")
        if self.kind == "duration":
            return f"{self.value}d"
        if self.kind == "bool":
            return "true" if self.value else "false"
        value: Decimal = self.value
        return format(value, "f")


@frozen
class Name:
    """A field name as written in the rule, with its position for error messages."""

    name: str
    position: int = field(default=0, eq=False)

    def __str__(self) -> str:
        return self.name


@frozen
class Compare:
    """``field op value`` with op one of = != < <= > >=."""

    field: Name
    op: str
    value: Literal

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"


@frozen
class In:
    """``field in (a, b, ...)`` or ``field not in (...)``."""

    field: Name
    values: tuple[Literal, ...]
    negated: bool = False

    def __str__(self) -> str:
        items = ", ".join(str(v) for v in self.values)
        return f"{self.field} {'not in' if self.negated else 'in'} ({items})"


@frozen
class Between:
    """``field between low and high`` (both ends included)."""

    field: Name
    low: Literal
    high: Literal
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.field} {'not between' if self.negated else 'between'} {self.low} and {self.high}"


@frozen
class Contains:
    """``field contains value``: a tag in a tag list, or a part of a text (case-insensitive)."""

    field: Name
    value: Literal
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.field} {'not contains' if self.negated else 'contains'} {self.value}"


@frozen
class IsNull:
    """``field is null`` / ``field is not null``."""

    field: Name
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.field} is {'not null' if self.negated else 'null'}"


@frozen
class Truthy:
    """A bare boolean field used as a condition, e.g. ``unresolved_complaint``."""

    field: Name

    def __str__(self) -> str:
        return str(self.field)


@frozen
class And:
    """All of ``items`` hold."""

    items: tuple

    def __str__(self) -> str:
        return " and ".join(_wrap(item, (And, Or)) for item in self.items)  # keeps nesting: round trip


@frozen
class Or:
    """At least one of ``items`` holds."""

    items: tuple

    def __str__(self) -> str:
        return " or ".join(_wrap(item, Or) for item in self.items)


@frozen
class Not:
    """``item`` does not hold (a comparison with a missing value is neither true nor its not)."""

    item: object

    def __str__(self) -> str:
        return "not " + _wrap(self.item, (And, Or))


def _wrap(node, kinds) -> str:
    return f"({node})" if isinstance(node, kinds) else str(node)


Node = Compare | In | Between | Contains | IsNull | Truthy | And | Or | Not
