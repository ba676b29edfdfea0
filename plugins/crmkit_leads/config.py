"""The leads plugin's options, kept as ``leads.<key>`` settings in the CRM file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crmkit import ValidationError

if TYPE_CHECKING:
    from crmkit import CRM

DEFAULTS: dict[str, Any] = {
    # Days without a follow-up before an assigned lead goes back to the pool, per lead class;
    # "default" covers every class not named.
    "recycle_days": {"default": 7},
    # Days before the previous owner may take a recycled or released lead again.
    "cooldown_days": 3,
    # A task reminds the owner this many days before the lead would be recycled (0: no task).
    "reminder_days": 2,
    # How many extensions a lead may get while with one owner, and how long each lasts.
    "max_extensions": 2,
    "extension_days": 7,
    # Claims per rep per day when the rep has no claim_limit of their own.
    "daily_claim_cap": 10,
    # Automatic allocations per rep per day as a share of capacity (None: no quota).
    "daily_quota": None,
    # Interaction kinds that count as a follow-up when the lead's owner records them.
    "follow_up_kinds": ["call", "visit", "email", "meeting"],
    # The sales funnel of an open lead, in order.
    "stages": ["new", "contacted", "qualified", "proposal"],
    # Reasons a lead may be marked lost with.
    "lost_reasons": ["no budget", "no need", "chose competitor", "no response", "bad data", "other"],
    # A customer added with stage "prospect" through the core API becomes a pool lead.
    "auto_pool": True,
    # Strategy that re-allocates recycled leads during crmkit_due (None: they wait in the pool).
    "recycle_strategy": None,
}


# Bounds of the numeric options, checked whenever one is given. Ten years covers any sales
# cycle, and keeps every date the pool computes (a recycle time with all its extensions
# included) far inside the timestamps both engines store.
MAX_DAYS = 3650
# The most claims, open leads or extensions a count may allow: far above any real team's.
MAX_COUNT = 100_000
MAX_EXTENSIONS = 100
BOUNDS: dict[str, tuple[int, int]] = {
    "recycle_days": (1, MAX_DAYS),
    "cooldown_days": (0, MAX_DAYS),
    "reminder_days": (0, MAX_DAYS),
    "extension_days": (1, MAX_DAYS),
    "max_extensions": (0, MAX_EXTENSIONS),
    "daily_claim_cap": (0, MAX_COUNT),
}


def _whole(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, value, f"a whole number from {low} to {high}")
    return value


def check(name: str, value: Any) -> Any:
    """Validate one option; returns it (normalised) or raises ValidationError."""
    if name not in DEFAULTS:
        raise ValidationError("option", name, "one of " + ", ".join(sorted(DEFAULTS)))
    if name == "recycle_days":
        if not isinstance(value, dict) or "default" not in value:
            raise ValidationError("leads.recycle_days", value, 'a dict of lead class → days with a "default" entry')
        low, high = BOUNDS[name]
        return {str(k): _whole(f"leads.recycle_days[{str(k)!r}]", v, low, high) for k, v in value.items()}
    if name in BOUNDS:
        _whole(f"leads.{name}", value, *BOUNDS[name])
    elif name == "daily_quota":
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1):
            raise ValidationError("leads.daily_quota", value, "None or a share of capacity above 0 and at most 1")
    elif name in ("follow_up_kinds", "stages", "lost_reasons"):
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
            raise ValidationError(f"leads.{name}", value, "a non-empty list of texts")
        return list(value)
    elif name == "auto_pool":
        if not isinstance(value, bool):
            raise ValidationError("leads.auto_pool", value, "True or False")
    elif name == "recycle_strategy":
        if value is not None and not isinstance(value, str):
            raise ValidationError("leads.recycle_strategy", value, "None or a strategy name")
    return value


def in_force(name: str, value: Any) -> Any:
    """A stored option, checked as when it is given.

    A value stored before its bounds existed, or written around the check with
    ``crm.settings.set``, is refused here with the option's name and the way to fix it, not
    deep inside a claim or a due run as a number out of range.
    """
    try:
        return check(name, value)
    except ValidationError as error:
        raise ValidationError(
            error.field, error.value, f"{error.expected}; the stored value is refused, change it with `crmkit config set`",
        ) from None


class Options:
    """Read access to the options with their defaults: ``options.recycle_days``."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(name)
        return in_force(name, self._crm.settings.get(f"leads.{name}", DEFAULTS[name]))

    @staticmethod
    def stored(name: str, text: str | None) -> Any:
        """An option from its stored settings text read in another statement (None: never set)."""
        return DEFAULTS[name] if text is None else in_force(name, json.loads(text))

    def all(self) -> dict[str, Any]:
        """Every option with its current value."""
        return {name: getattr(self, name) for name in DEFAULTS}
