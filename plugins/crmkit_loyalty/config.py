"""The loyalty plugin's configurable rules and their documented defaults.

Everything configurable is stored in the CRM file's settings under ``loyalty.<key>`` as JSON
(tier definitions, being rows with history, live in ``loyalty_tiers``). Each record validates on
construction and raises :class:`crmkit.ValidationError` naming the field and the value.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import attrs
from attrs import field, frozen

from crmkit import ValidationError

def exact_number(name: str, value: Any, expected: str) -> Decimal:
    """``value`` (text, an int or a Decimal) as a finite Decimal for the argument ``name``.

    A float, a bool, text that is no number, NaN or infinity is a ValidationError saying
    ``expected``: the caller's bounds are then checked on a number that compares.
    """
    if isinstance(value, (bool, float)):
        raise ValidationError(name, value, expected)
    try:
        number = Decimal(str(value))
    except Exception:  # noqa: BLE001 - any unreadable value gets the same message
        raise ValidationError(name, value, expected) from None
    if not number.is_finite():
        raise ValidationError(name, value, expected)
    return number


# --- RFM ----------------------------------------------------------------------------------------

#: Named RFM segments on the R × F grid, first match wins. Every (r, f) pair is covered.
DEFAULT_RFM_SEGMENTS: tuple[dict, ...] = (
    {"segment": "champions", "r": [5, 5], "f": [4, 5]},
    {"segment": "loyal", "r": [3, 4], "f": [4, 5]},
    {"segment": "potential_loyalists", "r": [4, 5], "f": [2, 3]},
    {"segment": "new", "r": [5, 5], "f": [1, 1]},
    {"segment": "promising", "r": [4, 4], "f": [1, 1]},
    {"segment": "need_attention", "r": [3, 3], "f": [3, 3]},
    {"segment": "about_to_sleep", "r": [3, 3], "f": [1, 2]},
    {"segment": "cannot_lose", "r": [1, 2], "f": [5, 5]},
    {"segment": "at_risk", "r": [1, 2], "f": [3, 4]},
    {"segment": "hibernating", "r": [2, 2], "f": [1, 2]},
    {"segment": "lost", "r": [1, 1], "f": [1, 2]},
)
RFM_SEGMENT_NAMES = tuple(s["segment"] for s in DEFAULT_RFM_SEGMENTS)
UNCLASSIFIED = "unclassified"


def _score_range(name: str):
    def check(instance, attribute, value) -> None:
        if (
            not isinstance(value, tuple) or len(value) != 2
            or not all(isinstance(v, int) and 1 <= v <= 5 for v in value) or value[0] > value[1]
        ):
            raise ValidationError(f"{name}.{attribute.name}", value, "a [low, high] pair of scores 1-5")

    return check


@frozen
class RfmSegmentRule:
    """A named RFM segment: customers whose r, f (and optionally m) scores lie in the ranges."""

    segment: str = field()
    r: tuple[int, int] = field(default=(1, 5), converter=tuple, validator=_score_range("rfm segment"))
    f: tuple[int, int] = field(default=(1, 5), converter=tuple, validator=_score_range("rfm segment"))
    m: tuple[int, int] = field(default=(1, 5), converter=tuple, validator=_score_range("rfm segment"))

    @segment.validator
    def _name(self, attribute, value) -> None:
        if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9_]*$", value):
            raise ValidationError("rfm segment", value, "a lower-case name of letters, digits and _")


def _money_cut(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValidationError("thresholds.m", value, "an exact amount (Decimal, int or text), not a float")
    try:
        number = Decimal(str(value))
    except Exception:  # noqa: BLE001 - any unreadable value gets the same message
        raise ValidationError("thresholds.m", value, "an amount in currency units") from None
    if not number.is_finite():
        raise ValidationError("thresholds.m", value, "an amount in currency units")
    return number


@frozen
class RfmThresholds:
    """Fixed business thresholds (method ``thresholds``): four ascending cut points per dimension.

    R: score 5 when recency_days <= r[0], 4 when <= r[1], ..., 1 above r[3].
    F and M: score 1 + the number of cut points the value reaches (value >= cut).
    ``m`` is in major currency units (Decimal or numeric text).
    """

    r: tuple[int, ...] = field(converter=tuple)
    f: tuple[int, ...] = field(converter=tuple)
    m: tuple[Decimal, ...] = field(converter=lambda v: tuple(_money_cut(x) for x in v))

    def __attrs_post_init__(self) -> None:
        for name in ("r", "f", "m"):
            cuts = getattr(self, name)
            if len(cuts) != 4 or list(cuts) != sorted(cuts) or len(set(cuts)) != 4:
                raise ValidationError(f"thresholds.{name}", list(cuts), "four strictly ascending cut points")

    def to_json(self) -> dict:
        """The cut points as JSON-ready settings; ``m`` as text so the Decimals stay exact."""
        return {"r": list(self.r), "f": list(self.f), "m": [str(x) for x in self.m]}


#: How RFM scores are given: ``quantiles`` (the default: cut points at the quintiles of each
#: value's distribution, equal values get equal scores), ``ntile`` (SQL's ``NTILE(5)``: five groups
#: of equal size, ties broken by customer id) or ``thresholds`` (fixed business cut points).
RFM_METHODS = ("quantiles", "ntile", "thresholds")
DEFAULT_RFM_METHOD = "quantiles"


def check_rfm_method(method: Any) -> str:
    """``method`` if it is one of :data:`RFM_METHODS`, else a ValidationError naming them."""
    if method not in RFM_METHODS:
        raise ValidationError("method", method, "one of " + ", ".join(RFM_METHODS))
    return method


def parse_thresholds(text: str) -> "RfmThresholds":
    """Fixed RFM cut points from text such as ``"r=30,90,180,365 f=2,3,5,8 m=50,100,250,500"``
    (the three parts separated by spaces or ``;``, in any order; ``m`` in currency units)."""
    parts: dict[str, list[str]] = {}
    for item in re.split(r"[;\s]+", str(text).strip()):
        name, sep, values = item.partition("=")
        if not sep or name not in ("r", "f", "m") or name in parts:
            raise ValidationError("thresholds", text, "r=…,…,…,… f=…,…,…,… m=…,…,…,… (four cut points each)")
        parts[name] = [v for v in values.split(",") if v]
    if set(parts) != {"r", "f", "m"}:
        raise ValidationError("thresholds", text, "cut points for each of r, f and m")
    try:
        r = [int(v) for v in parts["r"]]
        f = [int(v) for v in parts["f"]]
    except ValueError:
        raise ValidationError("thresholds", text, "whole numbers of days (r) and purchases (f)") from None
    return RfmThresholds(r=r, f=f, m=parts["m"])


# --- points -------------------------------------------------------------------------------------

def _decimal(name: str):
    def convert(value: Any) -> Decimal:
        if isinstance(value, (bool, float)):
            raise ValidationError(name, value, "an exact number (Decimal, int or text), not a float")
        try:
            number = Decimal(str(value))
        except Exception:  # noqa: BLE001 - any unreadable value gets the same message
            raise ValidationError(name, value, "a number") from None
        if not number.is_finite() or number < 0 or number != number.quantize(Decimal("0.001")):
            raise ValidationError(name, value, "a number >= 0 with at most 3 decimals")
        return number

    return convert


def _one_of(name: str, choices: tuple[str, ...]):
    def check(instance, attribute, value) -> None:
        if value not in choices:
            raise ValidationError(name, value, "one of " + ", ".join(choices))

    return check


def _optional_days(name: str):
    def check(instance, attribute, value) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValidationError(name, value, "a whole number of days >= 0, or None")

    return check


@frozen
class BonusRule:
    """Extra points per interaction of ``kind`` (default purchase), optionally only for a segment."""

    name: str
    points: int
    kind: str = "purchase"
    segment: str | None = None

    def __attrs_post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_]*$", str(self.name)):
            raise ValidationError("bonus.name", self.name, "a lower-case name of letters, digits and _")
        if isinstance(self.points, bool) or not isinstance(self.points, int) or self.points <= 0:
            raise ValidationError("bonus.points", self.points, "a whole number of points > 0")


#: How long an expiring points batch lasts: to the end of the local day or month its
#: ``expiry_days`` end in, or exactly that many days.
EXPIRY_ENDS = ("day", "month", "exact")


@frozen
class PointsPolicy:
    """How points are earned and kept.

    ``rate``: points per major currency unit spent (default 1); ``lock_days``: days before earned
    points can be spent (default 0; cover the return period); ``expiry_days``: days after which
    an earned batch expires (default 365; None: never); ``expiry_end``: an expiring batch lasts
    to the end of that day (``day``, the default), to the end of that month (``month``) or
    exactly ``expiry_days`` days (``exact``). Days are the home zone's: "N days later" keeps the
    wall-clock time there, and a day or month ends at its local midnight.
    """

    rate: Decimal = field(default=Decimal(1), converter=_decimal("points.rate"))
    lock_days: int = field(default=0, validator=_optional_days("points.lock_days"))
    expiry_days: int | None = field(default=365, validator=_optional_days("points.expiry_days"))
    expiry_end: str = field(default="day", validator=_one_of("points.expiry_end", EXPIRY_ENDS))
    bonuses: tuple[BonusRule, ...] = field(
        default=(), converter=lambda v: tuple(b if isinstance(b, BonusRule) else BonusRule(**b) for b in v)
    )

    @property
    def rate_milli(self) -> int:
        return int(self.rate * 1000)

    def to_json(self) -> dict:
        """The policy as JSON-ready settings: ``rate`` as exact text, days as integers, bonuses as dicts."""
        return {
            "rate": str(self.rate), "lock_days": self.lock_days, "expiry_days": self.expiry_days,
            "expiry_end": self.expiry_end, "bonuses": [attrs.asdict(b) for b in self.bonuses],
        }


# --- tiers --------------------------------------------------------------------------------------

METRICS = {
    "spend": "spend_{days}d",
    "purchases": "purchases_{days}d",
    "points": "points_earned_{days}d",
}
DOWNGRADE_POLICIES = ("never", "on_returns", "review")


@frozen
class TierDefinition:
    """A tier: qualification by a rule, or by ``metric >= threshold`` over ``window_days``.

    Tiers are ordered by their position in the list given to ``tiers.define`` (lowest first).
    ``multiplier`` scales the points a member earns (default 1).
    """

    name: str
    rule: str | None = None
    metric: str | None = None
    threshold: Any = None
    window_days: int = 365
    benefits: str | None = None
    multiplier: Decimal = field(default=Decimal(1), converter=_decimal("tier.multiplier"))

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_ -]{0,49}$", self.name):
            raise ValidationError("tier.name", self.name, "a name of letters, digits, space, _ or -")
        if (self.rule is None) == (self.metric is None):
            raise ValidationError("tier.rule", self.rule, f"either a rule or a metric for tier {self.name!r}, not both or neither")
        if self.metric is not None:
            if self.metric not in METRICS:
                raise ValidationError("tier.metric", self.metric, "one of " + ", ".join(METRICS))
            if self.threshold is None or isinstance(self.threshold, (bool, float)):
                raise ValidationError("tier.threshold", self.threshold, "an exact number (int, Decimal or text)")
            if isinstance(self.window_days, bool) or not isinstance(self.window_days, int) or not 1 <= self.window_days <= 99999:
                raise ValidationError("tier.window_days", self.window_days, "a whole number of days from 1 to 99999")

    def rule_text(self) -> str:
        """The segment rule that qualifies a customer for this tier."""
        if self.rule is not None:
            return self.rule
        return f"{METRICS[self.metric].format(days=self.window_days)} >= {Decimal(str(self.threshold))}"


@frozen
class DowngradePolicy:
    """When a customer who no longer qualifies loses a tier.

    ``never``: tiers only go up. ``on_returns``: a downgrade happens only when the customer
    returned something (a refund) since the tier was reached. ``review``: downgrades happen on
    evaluations at least ``days`` after the customer's last tier change.
    """

    policy: str = "review"
    days: int = 365

    def __attrs_post_init__(self) -> None:
        if self.policy not in DOWNGRADE_POLICIES:
            raise ValidationError("downgrade.policy", self.policy, "one of " + ", ".join(DOWNGRADE_POLICIES))
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
            raise ValidationError("downgrade.days", self.days, "a whole number of days >= 0")


# --- churn and cadence --------------------------------------------------------------------------

CHURN_LEVELS = ("none", "low", "medium", "high")


@frozen
class ChurnClass:
    """Churn warning thresholds for one class of customers (a segment name or rule; None: all).

    Signals and their weights in the churn score (0-100):
    ``inactive`` (40) no purchase for more than ``max_days``;
    ``rhythm`` (25) no purchase for more than ``gap_factor`` × the customer's typical gap
    (needs ``min_purchases`` purchases);
    ``spend_drop`` (20) spend in the last ``period_days`` down by more than ``drop_percent`` %
    against the period before;
    ``lost_category`` (15) a category bought at least ``regular_uses`` times in the period
    before was not bought in the last period.
    Level: high from 50, medium from 25, low above 0.

    A task is raised only for customers whose last purchase is at most ``max_days`` +
    ``task_lookback_days`` days ago: the ones slipping now. Customers lapsed longer stay in the
    warnings (and the ``churn_*`` segment fields, for a win-back campaign) without a task each,
    so switching warnings on does not hand owners every customer lost years ago.
    """

    name: str
    segment: str | None = None
    max_days: int = 120
    gap_factor: Decimal = field(default=Decimal(3), converter=_decimal("churn.gap_factor"))
    min_purchases: int = 3
    period_days: int = 90
    drop_percent: int = 50
    regular_uses: int = 3
    warn_level: str = "medium"
    task_lookback_days: int = 30

    def __attrs_post_init__(self) -> None:
        for name in ("max_days", "min_purchases", "period_days", "drop_percent", "regular_uses", "task_lookback_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"churn.{name}", value, "a whole number >= 1")
        if self.drop_percent > 100:
            raise ValidationError("churn.drop_percent", self.drop_percent, "a percentage from 1 to 100")
        if self.warn_level not in CHURN_LEVELS[1:]:
            raise ValidationError("churn.warn_level", self.warn_level, "one of low, medium, high")


DEFAULT_CHURN_CLASSES = (ChurnClass("all"),)


@frozen
class CadenceRule:
    """"``delay_days`` after an interaction of ``kind``, unless one of ``unless`` happened since,
    create a task ``task`` for the owner, due ``due_days`` later", optionally for a segment.

    Only the customer's latest ``kind`` interaction triggers, and only within ``lookback_days``
    after it became due, so that switching a rule on does not flood owners with old cases.
    """

    name: str
    kind: str
    delay_days: int
    task: str
    unless: tuple[str, ...] = field(default=(), converter=tuple)
    due_days: int = 0
    segment: str | None = None
    lookback_days: int = 30

    def __attrs_post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_]*$", str(self.name)):
            raise ValidationError("cadence.name", self.name, "a lower-case name of letters, digits and _")
        for name in ("delay_days", "due_days", "lookback_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"cadence.{name}", value, "a whole number of days >= 0")


DEFAULT_CADENCE = (
    CadenceRule("thank_you", "purchase", 0, "thank_you", unless=("call", "email"), due_days=3, lookback_days=3),
    CadenceRule("satisfaction_check", "purchase", 30, "satisfaction_check", unless=("survey", "call"), due_days=7),
    CadenceRule("retention_call", "purchase", 90, "retention_call", unless=("purchase",), due_days=7),
)

# --- loyalty score ------------------------------------------------------------------------------

DEFAULT_SCORE_WEIGHTS = {
    "tenure": 15, "repeat": 20, "rhythm": 20, "wallet": 10, "satisfaction": 15, "referrals": 10,
    "retention": 10,
}
SCORE_PARTS = tuple(DEFAULT_SCORE_WEIGHTS)


def check_weights(weights: dict) -> dict:
    """Merge loyalty-score weights over the defaults and check them; returns the full weights dict.

    Raises ValidationError for an unknown part, a weight that is not a whole number >= 0, or all weights 0.
    """
    unknown = set(weights) - set(SCORE_PARTS)
    if unknown:
        raise ValidationError("weights", sorted(unknown)[0], "one of " + ", ".join(SCORE_PARTS))
    merged = dict(DEFAULT_SCORE_WEIGHTS, **weights)
    for name, value in merged.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(f"weights.{name}", value, "a whole number >= 0")
    if not any(merged.values()):
        raise ValidationError("weights", weights, "at least one weight above 0")
    return merged


# --- lifecycle ----------------------------------------------------------------------------------

@frozen
class LifecycleRules:
    """Thresholds of the lifecycle stages (see docs/plugins/loyalty.md for the order of rules)."""

    new_days: int = 90
    churned_days: int = 365
    period_days: int = 180
    growth_percent: int = 20
    decline_percent: int = 30

    def __attrs_post_init__(self) -> None:
        for name in attrs.fields_dict(type(self)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"lifecycle.{name}", value, "a whole number >= 1")
