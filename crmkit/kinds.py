"""Interaction kinds: the core's own and those plugins add through ``crmkit_interaction_kinds``."""

from __future__ import annotations

from typing import Callable

from attrs import field, frozen

from .errors import CrmError, ValidationError

MONEY_IN, MONEY_OUT = "in", "out"


@frozen
class InteractionKind:
    """A kind of interaction, e.g. ``purchase``.

    ``money`` is ``"in"`` for kinds that add to a customer's spend (purchase), ``"out"`` for kinds
    that take from it (refund) and ``None`` for kinds without an amount. ``contact`` marks kinds
    that are a conversation with the customer (call, email, visit, meeting). ``validate(data)``
    may raise :class:`crmkit.ValidationError` for a bad ``data`` payload.
    """

    name: str
    description: str
    money: str | None = None
    contact: bool = False
    validate: Callable[[dict], None] | None = field(default=None, eq=False, repr=False)
    plugin: str = "core"


def _optional_number(key: str, low: float, high: float):
    def check(data: dict) -> None:
        if key in data and data[key] is not None:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValidationError(f"data.{key}", value, f"a number from {low:g} to {high:g}")

    return check


def _referral(data: dict) -> None:
    referred = data.get("referred_customer_id")
    if referred is not None and (isinstance(referred, bool) or not isinstance(referred, int)):
        raise ValidationError("data.referred_customer_id", referred, "a customer id (integer)")


CORE_KINDS = (
    InteractionKind("purchase", "The customer bought something; amount is what they paid.", money=MONEY_IN),
    InteractionKind("refund", "Money paid back to the customer; amount is the refund.", money=MONEY_OUT),
    InteractionKind("call", "A phone call with the customer.", contact=True),
    InteractionKind("email", "An email exchanged with the customer.", contact=True),
    InteractionKind("visit", "A visit, at the customer's or ours.", contact=True),
    InteractionKind("meeting", "A meeting, in person or online.", contact=True),
    InteractionKind("complaint", "The customer complained; data may hold category, severity."),
    InteractionKind("feedback", "A suggestion or stated need; data may hold topic."),
    InteractionKind("referral", "The customer referred someone (data.referred_customer_id).", validate=_referral),
    InteractionKind("survey", "A survey answer; data.score is satisfaction from 1 to 5.", validate=_optional_number("score", 1, 5)),
    InteractionKind("note", "An internal note about the customer."),
)


class KindRegistry:
    """The interaction kinds known to one CRM object."""

    def __init__(self) -> None:
        self._kinds: dict[str, InteractionKind] = {}

    def add(self, kind: InteractionKind, plugin: str = "core") -> None:
        """Register a kind; a name registered twice is an error naming both owners."""
        existing = self._kinds.get(kind.name)
        if existing is not None:
            raise CrmError(
                f"interaction kind {kind.name!r} is registered by both {existing.plugin!r} and {plugin!r}"
            )
        self._kinds[kind.name] = InteractionKind(
            kind.name, kind.description, kind.money, kind.contact, kind.validate, plugin
        )

    def __getitem__(self, name: str) -> InteractionKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise ValidationError("kind", name, "one of " + ", ".join(sorted(self._kinds))) from None

    def __contains__(self, name: str) -> bool:
        return name in self._kinds

    def __iter__(self):
        return iter(self._kinds.values())

    def names(self, money: str | None = None, contact: bool | None = None) -> list[str]:
        """Kind names, optionally only those moving money in/out or only contact kinds."""
        return sorted(
            k.name for k in self._kinds.values()
            if (money is None or k.money == money) and (contact is None or k.contact == contact)
        )
