"""The core records: customers, interactions, segments, tasks and audit entries.

Records are immutable values read from the store. They validate on construction and raise
:class:`crmkit.ValidationError` naming the field and the value. ``from_row`` / ``to_row`` are the
only places that know the table layout.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from attrs import field, frozen

from .engine.base import is_storable_text  # noqa: F401 - part of this module's API: whether check_storable_text accepts a text
from .errors import ValidationError
from .money import from_minor, to_decimal
from .timeutil import from_iso, to_datetime, to_iso

STAGES = ("prospect", "new", "growing", "mature", "declining", "churned")
SIZES = ("micro", "small", "medium", "large", "enterprise")
TASK_STATUSES = ("open", "done", "cancelled")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"^[0-9+()./\-\s]*(?:(?:ext|x)\.?\s*\d+)?$", re.IGNORECASE)


def normalise_email(email: str | None) -> str | None:
    """Lower-cased, trimmed email; the form duplicates are matched on."""
    return email.strip().lower() if email else None


def normalise_phone(phone: str | None) -> str | None:
    """Digits only (a leading + kept), the form duplicates are matched on."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return None
    return ("+" + digits) if phone.strip().startswith("+") else digits


# --- converters and validators shared by the records ------------------------------------------

def optional_text(value: Any) -> str | None:
    """A text field as stored: trimmed, and None when nothing is left (a number becomes its text)."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    return value or None


def _required_text(instance, attribute, value) -> None:
    if not value:
        raise ValidationError(attribute.name, value, "a non-empty text")


def check_storable_text(value: str, field: str) -> str:
    """``value``, refused (a ValidationError naming ``field``) when it holds what the engines do
    not store faithfully: a lone surrogate ('\\ud800'), which UTF-8 cannot encode, or a NUL
    character, at which SQLite's LIKE and length() stop and which PostgreSQL refuses. For the
    free texts plugins keep, so that they refuse alike on both engines."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError(field, value, f"valid Unicode text (lone surrogate at {error.start})") from None
    if "\x00" in value:
        raise ValidationError(field, value, f"text without NUL characters (one at {value.index(chr(0))})")
    return value


def _unicode(instance, attribute, value) -> None:
    """Text both engines store and compare faithfully (:func:`check_storable_text`)."""
    if value is not None:
        check_storable_text(value, attribute.name)


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(instance, attribute, value) -> None:
    """A name is one line: a line break in it is a CSV cell gone wrong, and breaks every list."""
    if value is not None:
        at = next((i for i, char in enumerate(value) if char in _LINE_BREAKS), None)
        if at is not None:
            raise ValidationError(attribute.name, value, f"one line of text (a line break at {at})")


def _max_length(limit: int):
    def check(instance, attribute, value) -> None:
        _unicode(instance, attribute, value)
        if value is not None and len(value) > limit:
            raise ValidationError(attribute.name, value[:40] + "...", f"at most {limit} characters")

    return check


def _one_of(choices: tuple[str, ...], optional: bool = True):
    def check(instance, attribute, value) -> None:
        if value is None and optional:
            return
        if value not in choices:
            raise ValidationError(attribute.name, value, "one of " + ", ".join(choices))

    return check


def _email(instance, attribute, value) -> None:
    if value is not None and not _EMAIL.match(value):
        raise ValidationError(attribute.name, value, "an email address like name@example.com")


def _phone(instance, attribute, value) -> None:
    if value is None:
        return
    if not _PHONE_CHARS.match(value) or not re.search(r"\d{3}", re.sub(r"\D", "", value) or ""):
        raise ValidationError(attribute.name, value, "a phone number of digits, spaces, + - ( )")


def _optional_time(name: str):
    def convert(value: Any) -> datetime | None:
        return None if value is None or value == "" else to_datetime(value, name)

    return convert


def _customer_id(instance, attribute, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(attribute.name, value, "a customer id (integer)")


def _tags(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.startswith("[") else value.split(",")
        except (ValueError, RecursionError):
            raise ValidationError("tags", value, "a JSON list of texts or texts separated by commas") from None
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ValidationError("tags", value, "a list of texts")
    cleaned = []
    for tag in value:
        if not isinstance(tag, str):
            raise ValidationError("tags", tag, "a text")
        tag = tag.strip()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return tuple(cleaned)


#: How deep ``data`` and ``attributes`` may nest lists and objects (deeper ones are no data a
#: CRM stores, and past some hundreds no JSON reader in the chain reads them): refused before
#: the JSON encoder's recursion fails, on every path that stores them.
MAX_NESTING = 100


def check_json_value(value: Any, field: str) -> Any:
    """``value`` (a ``data`` or ``attributes`` object), checked to be what both engines store and
    read alike: lists and objects nested at most :data:`MAX_NESTING` levels deep, and no key or
    text holding a NUL character or a lone surrogate (:func:`check_storable_text`; SQLite's JSON
    functions cut a text at a NUL, PostgreSQL's ``jsonb`` refuses it and every rule reading it).
    A ValidationError names ``field``; its reason says where inside it (``in data.extra[2]``). Read
    level by level, without recursion."""
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_NESTING:
            raise ValidationError(field, value, f"nested at most {MAX_NESTING} levels deep")
        children = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
                children.extend(key for key in item if isinstance(key, str))
            elif isinstance(item, list):
                children.extend(item)
            elif isinstance(item, str) and not is_storable_text(item):
                _refuse_text_inside(value, field)
        level = children
    return value


def _refuse_text_inside(value: Any, field: str) -> None:
    """Raise the ValidationError (naming ``field``) of the first key or text inside ``value``
    that is not storable, its reason saying where it is (``in data.extra[2]``, ``in a key of
    data.extra``)."""
    places = [(field, value)]
    while places:
        place, item = places.pop(0)
        texts = []
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    texts.append((key, f"a key of {place}"))
                places.append((place + _json_step(key), child))
        elif isinstance(item, list):
            places.extend((f"{place}[{index}]", child) for index, child in enumerate(item))
        elif isinstance(item, str):
            texts.append((item, place))
        for text, where in texts:
            try:
                check_storable_text(text, field)
            except ValidationError as error:
                raise ValidationError(field, text, f"{error.expected} in {where}") from None


def _json_step(key: Any) -> str:
    """How a place inside a JSON object names its ``key``: ``.note``, or ``["a b"]`` for a key
    that is not a plain name."""
    if isinstance(key, str) and key.isidentifier() and key.isascii():
        return f".{key}"
    return f"[{json.dumps(key, ensure_ascii=True)}]"


def _json_object(name: str):
    def convert(value: Any) -> dict:
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError(name, value, "a JSON object") from None
            except RecursionError:
                raise ValidationError(name, value, f"nested at most {MAX_NESTING} levels deep") from None
        if not isinstance(value, dict):
            raise ValidationError(name, value, "a JSON object (dict)")
        check_json_value(value, name)
        try:
            # NaN and Infinity are not JSON: SQLite's json functions would reject the stored text.
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ValidationError(name, value, "JSON-serialisable values (no NaN, no infinity, no number beyond a float's range of about 1e308)") from None
        return value

    return convert


def _optional_money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return to_decimal(value, "amount")


def _dump(value: dict) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# --- records ----------------------------------------------------------------------------------

_CUSTOMER_TEXTS = ("name", "external_id", "email", "phone", "address", "region", "company", "industry",
                   "size", "source", "owner")


@frozen(kw_only=True)
class Customer:
    """A person or company the business serves, or may serve (a prospect)."""

    id: int | None = None
    name: str = field(converter=optional_text, validator=[_required_text, _max_length(200), _one_line])
    external_id: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    email: str | None = field(default=None, converter=optional_text, validator=[_max_length(254), _email])
    phone: str | None = field(default=None, converter=optional_text, validator=[_max_length(40), _phone])
    address: str | None = field(default=None, converter=optional_text, validator=_max_length(500))
    region: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    company: str | None = field(default=None, converter=optional_text, validator=_max_length(200))
    industry: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    size: str | None = field(default=None, converter=optional_text, validator=_one_of(SIZES))
    source: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    owner: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    stage: str = field(default="new", converter=lambda v: optional_text(v) or "new", validator=_one_of(STAGES, optional=False))
    tags: tuple[str, ...] = field(default=(), converter=_tags)
    attributes: dict = field(factory=dict, converter=_json_object("attributes"))
    created_at: datetime | None = field(default=None, converter=_optional_time("created_at"))
    updated_at: datetime | None = field(default=None, converter=_optional_time("updated_at"))

    EDITABLE = (
        "name", "external_id", "email", "phone", "address", "region", "company", "industry",
        "size", "source", "owner", "stage", "tags", "attributes",
    )

    @classmethod
    def from_row(cls, row: dict) -> "Customer":
        """Build a record from a ``customers`` table row.

        A stored row was converted and checked when it was written, so its values are taken as
        they are, without the converters and validators of ``Customer(...)``: lists and pages
        read customers far more often than anyone writes one (a page of 50 on a server spent
        most of its time re-checking them). Text the store holds as '' reads as None, as the
        converters would make it.
        """
        record = object.__new__(cls)
        put = object.__setattr__
        put(record, "id", row["id"])
        for name in _CUSTOMER_TEXTS:
            put(record, name, row[name] or None)
        put(record, "stage", row["stage"] or "new")
        put(record, "tags", tuple(json.loads(row["tags"] or "[]")))
        put(record, "attributes", json.loads(row["attributes"] or "{}"))
        put(record, "created_at", from_iso(row["created_at"] or None))
        put(record, "updated_at", from_iso(row["updated_at"] or None))
        return record

    def to_row(self) -> dict:
        """The ``customers`` table row for this record (without ``id`` when it has none)."""
        row = {
            "external_id": self.external_id, "name": self.name, "email": self.email,
            "email_norm": normalise_email(self.email), "phone": self.phone,
            "phone_norm": normalise_phone(self.phone), "address": self.address,
            "region": self.region, "company": self.company, "industry": self.industry,
            "size": self.size, "source": self.source, "owner": self.owner, "stage": self.stage,
            "tags": json.dumps(list(self.tags)), "attributes": _dump(self.attributes),
            "created_at": to_iso(self.created_at) if self.created_at else None,
            "updated_at": to_iso(self.updated_at) if self.updated_at else None,
        }
        if self.id is not None:
            row["id"] = self.id
        return row

    def _repr_html_(self) -> str:
        from .display import customer_html

        return customer_html(self)


@frozen(kw_only=True)
class Interaction:
    """One event in a customer's history: a purchase, a call, a complaint, ...

    The log is append-only; a correction is a new interaction (a refund, a void).
    ``amount`` is exact money in the CRM's currency (positive; a refund's amount is what was
    paid back).
    """

    id: int | None = None
    customer_id: int = field(validator=_customer_id)
    kind: str = field(converter=optional_text, validator=[_required_text, _max_length(50)])
    occurred_at: datetime = field(converter=lambda v: to_datetime(v, "occurred_at"))
    amount: Decimal | None = field(default=None, converter=_optional_money)
    channel: str | None = field(default=None, converter=optional_text, validator=_max_length(50))
    product: str | None = field(default=None, converter=optional_text, validator=_max_length(200))
    category: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    rep: str | None = field(default=None, converter=optional_text, validator=_max_length(100))
    notes: str | None = field(default=None, converter=optional_text, validator=_max_length(10_000))
    data: dict = field(factory=dict, converter=_json_object("data"))
    #: The interaction's key in the system it came from (e.g. an order number); recording a key
    #: already recorded for the same customer and kind is skipped. None: no key.
    external_key: str | None = field(default=None, converter=optional_text, validator=_max_length(200))

    @amount.validator
    def _check_amount(self, attribute, value) -> None:
        if value is not None and value < 0:
            raise ValidationError("amount", value, "zero or more (a refund is its own kind)")

    @classmethod
    def from_row(cls, row: dict, exponent: int) -> "Interaction":
        """Build a record from an ``interactions`` row; ``exponent`` is the currency's places."""
        return cls(
            id=row["id"], customer_id=row["customer_id"], kind=row["kind"],
            occurred_at=from_iso(row["occurred_at"]), amount=from_minor(row["amount"], exponent),
            channel=row["channel"], product=row["product"], category=row["category"],
            rep=row["rep"], notes=row["notes"], data=json.loads(row["data"] or "{}"),
            external_key=row.get("external_key"),
        )


@frozen(kw_only=True)
class Segment:
    """A named rule over customers; membership is computed live from the rule."""

    name: str = field(converter=optional_text, validator=[_required_text, _max_length(100)])
    rule: str = field(converter=optional_text, validator=_required_text)
    description: str | None = field(default=None, converter=optional_text, validator=_unicode)
    created_at: datetime | None = field(default=None, converter=_optional_time("created_at"))
    updated_at: datetime | None = field(default=None, converter=_optional_time("updated_at"))

    @name.validator
    def _check_name(self, attribute, value) -> None:
        if value and not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$", value):
            raise ValidationError("name", value, "letters, digits, spaces, _ . or -")

    @classmethod
    def from_row(cls, row: dict) -> "Segment":
        """Build a record from a ``segments`` row."""
        return cls(
            name=row["name"], rule=row["rule"], description=row["description"],
            created_at=row["created_at"], updated_at=row["updated_at"],
        )


@frozen(kw_only=True)
class Task:
    """A follow-up owed to a customer, created by a person or a plugin's rules."""

    id: int | None = None
    kind: str = field(converter=optional_text, validator=[_required_text, _max_length(100)])
    customer_id: int | None = None
    owner: str | None = field(default=None, converter=optional_text, validator=_unicode)
    due_at: datetime | None = field(default=None, converter=_optional_time("due_at"))
    reason: str | None = field(default=None, converter=optional_text, validator=_unicode)
    source: str = field(default="user", converter=lambda v: optional_text(v) or "user")
    status: str = field(default="open", validator=_one_of(TASK_STATUSES, optional=False))
    key: str | None = field(default=None, converter=optional_text, validator=_unicode)
    created_at: datetime | None = field(default=None, converter=_optional_time("created_at"))
    closed_at: datetime | None = field(default=None, converter=_optional_time("closed_at"))
    data: dict = field(factory=dict, converter=_json_object("data"))

    @classmethod
    def from_row(cls, row: dict) -> "Task":
        """Build a record from a ``tasks`` row."""
        return cls(
            id=row["id"], kind=row["kind"], customer_id=row["customer_id"], owner=row["owner"],
            due_at=row["due_at"], reason=row["reason"], source=row["source"],
            status=row["status"], key=row["key"], created_at=row["created_at"],
            closed_at=row["closed_at"], data=json.loads(row["data"] or "{}"),
        )


@frozen(kw_only=True)
class AuditEntry:
    """One state change made through the API: who, when, what, before and after."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    before: dict | None
    after: dict | None
    source: str

    @classmethod
    def from_row(cls, row: dict) -> "AuditEntry":
        """Build a record from an ``audit_log`` row."""
        return cls(
            id=row["id"], at=from_iso(row["at"]), actor=row["actor"], action=row["action"],
            entity=row["entity"], entity_id=row["entity_id"],
            before=json.loads(row["before"]) if row["before"] else None,
            after=json.loads(row["after"]) if row["after"] else None, source=row["source"],
        )


@frozen(kw_only=True)
class CustomerChange:
    """What one update did to one customer: the record before and after."""

    before: Customer
    after: Customer

    @property
    def changed(self) -> dict[str, tuple[Any, Any]]:
        """Field name → (old value, new value) for every field that changed."""
        return {
            name: (getattr(self.before, name), getattr(self.after, name))
            for name in Customer.EDITABLE
            if getattr(self.before, name) != getattr(self.after, name)
        }


def record_dict(record: Any) -> dict:
    """A JSON-ready dict of a record (times as ISO text, Decimals as text)."""
    out = {}
    for key, value in attrs.asdict(record, recurse=False).items():
        if isinstance(value, datetime):
            value = to_iso(value)
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
