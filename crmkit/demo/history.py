"""Demo interactions: the history of one chunk of customers, generated column-wise with numpy.

Each kind is drawn as whole arrays (who, when, how much), the arrays are concatenated and sorted
by customer and time, and only then turned into the dict rows ``record_many`` takes, lazily.

Behaviour follows the customer's archetype: a growing customer buys more and more often towards
"today", a declining one less and less, a churned one stops at a churn date (and only hears from
us for a while after), a one-off buys once, a prospect never. Spend is the product's list price
times a quantity drawn around the customer's spend multiplier, so a few customers hold most of
the revenue (top 20% ≈ three quarters).
"""

from __future__ import annotations

from typing import Iterator

import attrs
import numpy as np
from attrs import frozen

from . import catalog
from .people import ARCHETYPE, CATEGORIES, Profiles, weights
from .timeline import DAY, YEAR, Timeline

KINDS = ("purchase", "refund", "call", "email", "visit", "meeting", "complaint", "feedback", "survey", "referral")
KIND = {name: code for code, name in enumerate(KINDS)}
REFUND_SHARE = 0.03
# contact kind: (channel choices, contacts per year before the size multiplier)
CONTACTS = {
    "email": (("email",), 2.6),
    "call": (("phone",), 1.6),
    "visit": (("onsite",), 0.25),
    "meeting": (("video", "in person"), 0.5),
}
COMPLAINTS_PER_YEAR = 0.10
FEEDBACK_PER_YEAR = 0.12
SURVEYS_PER_YEAR = 0.3
# archetype: satisfaction score weights for 5, 4, 3, 2, 1
SCORES = {
    "growing": (50, 33, 10, 4, 3), "steady": (38, 38, 15, 6, 3), "declining": (6, 20, 34, 25, 15),
    "churned": (3, 10, 27, 30, 30), "one-off": (20, 34, 30, 10, 6), "prospect": (20, 30, 30, 12, 8),
}
CHANNELS = tuple(catalog.PURCHASE_CHANNELS) + tuple(dict.fromkeys(c for spec in CONTACTS.values() for c in spec[0]))
PRODUCTS = tuple((category, product, price) for category, items in catalog.PRODUCTS.items() for product, price in items.items())
PRODUCT_CATEGORY = np.array([CATEGORIES.index(category) for category, _, _ in PRODUCTS])
PRICE_CENTS = np.array([int(price.replace(".", "")) for _, _, price in PRODUCTS], dtype=np.int64)
SEVERITIES = tuple(catalog.SEVERITIES)


@frozen
class Events:
    """A chunk's interactions as parallel columns (-1 marks "none" in code columns)."""

    customer: np.ndarray
    time: np.ndarray
    kind: np.ndarray
    cents: np.ndarray
    product: np.ndarray
    channel: np.ndarray
    rep: np.ndarray
    detail: np.ndarray   # kind-specific code: score, severity, topic, referred customer id
    extra: np.ndarray    # kind-specific second code: complaint category

    def __len__(self) -> int:
        return len(self.customer)


def make_events(rng: np.random.Generator, profiles: Profiles, timeline: Timeline) -> Events:
    """Every interaction of the chunk's customers, sorted by customer and time."""
    today = timeline.today
    count = len(profiles)
    archetype = profiles.archetype
    buyer = archetype != ARCHETYPE["prospect"]
    first_buy = np.minimum(profiles.created + (rng.exponential(14.0, count) * DAY).astype(np.int64), today)
    churned = archetype == ARCHETYPE["churned"]
    span = np.maximum(today - 90 * DAY - first_buy, 0)
    churn_at = first_buy + (rng.uniform(0.15, 0.85, count) * span).astype(np.int64)
    active_end = np.where(churned, churn_at, today)
    active = np.maximum(active_end - first_buy, 0)

    parts = [_purchases(rng, profiles, first_buy, active, buyer, today)]
    parts.append(_refunds(rng, parts[0], today))
    contact_end = np.where(churned, np.minimum(churn_at + 60 * DAY, today), today)
    parts += _contacts(rng, profiles, contact_end)
    parts.append(_complaints(rng, profiles, first_buy, active, buyer))
    parts.append(_feedback(rng, profiles, first_buy, active, buyer))
    parts.append(_surveys(rng, profiles, first_buy, active, buyer))
    parts.append(_referrals(rng, profiles, timeline))
    names = [column.name for column in attrs.fields(Events)]
    events = Events(*(np.concatenate([getattr(part, name) for part in parts]) for name in names))
    order = np.lexsort((events.kind, events.time, events.customer))
    return Events(*(getattr(events, name)[order] for name in names))


def event_rows(events: Events, timeline: Timeline) -> Iterator[dict]:
    """The events as ``record_many`` rows, built one at a time."""
    times = timeline.iso(events.time)
    columns = zip(
        events.customer.tolist(), times, events.kind.tolist(), events.cents.tolist(), events.product.tolist(),
        events.channel.tolist(), events.rep.tolist(), events.detail.tolist(), events.extra.tolist(),
    )
    for customer, when, kind_code, cents, product, channel, rep, detail, extra in columns:
        kind = KINDS[kind_code]
        row = {"customer_id": customer, "kind": kind, "occurred_at": when}
        if cents >= 0:
            row["amount"] = f"{cents // 100}.{cents % 100:02d}"
        if product >= 0:
            category, name, _ = PRODUCTS[product]
            row["product"], row["category"] = name, category
        if channel >= 0:
            row["channel"] = CHANNELS[channel]
        if rep >= 0:
            row["rep"] = catalog.REPS[rep]
        if kind == "survey":
            row["data"] = {"score": detail}
        elif kind == "complaint":
            category = catalog.COMPLAINT_CATEGORIES[extra]
            row["data"] = {"category": category, "severity": SEVERITIES[detail], "product": row["product"]}
            row["notes"] = f"Customer reports {category} ({row['product']})."
        elif kind == "feedback":
            row["data"] = {"topic": catalog.FEEDBACK_TOPICS[detail]}
        elif kind == "referral":
            row["data"] = {"referred_customer_id": detail}
        yield row


# --- one kind at a time ---------------------------------------------------------------------------

def _events(customer, time, kind, **columns) -> Events:
    size = len(customer)
    none = np.full(size, -1, dtype=np.int64)
    values = {name: columns.get(name, none) for name in ("cents", "product", "channel", "rep", "detail", "extra")}
    return Events(customer.astype(np.int64), time.astype(np.int64), np.full(size, KIND[kind], dtype=np.int64), **values)


def _spread(rng, counts, start, length) -> tuple[np.ndarray, np.ndarray]:
    """``counts[k]`` uniform times in ``[start[k], start[k] + length[k]]``; returns (owner index, time)."""
    who = np.repeat(np.arange(len(counts)), counts)
    return who, start[who] + (rng.random(len(who)) * length[who]).astype(np.int64)


def _purchases(rng, profiles: Profiles, first_buy, active, buyer, today) -> Events:
    archetype = profiles.archetype
    one_off = archetype == ARCHETYPE["one-off"]
    expected = profiles.rate * active / YEAR
    counts = np.where(one_off, 1, 1 + rng.poisson(expected))
    counts = np.where(buyer, counts, 0)
    who = np.repeat(np.arange(len(counts)), counts)
    u = rng.random(len(who))
    kind = archetype[who]
    # Density rising towards today (growing) or falling from the first purchase (declining).
    shape = np.where(kind == ARCHETYPE["growing"], np.sqrt(u), np.where(kind == ARCHETYPE["declining"], 1 - np.sqrt(1 - u), u))
    first = np.r_[True, who[1:] != who[:-1]] if len(who) else np.zeros(0, dtype=bool)
    shape = np.where(first, 0.0, shape)  # the first purchase is on the first-buy date
    time = first_buy[who] + (shape * active[who]).astype(np.int64)
    favourite = rng.random(len(who)) < 0.6
    category = np.where(favourite, profiles.favourite[who], rng.choice(len(CATEGORIES), len(who), p=weights(catalog.CATEGORY_WEIGHTS)))
    product = _product_in(rng, category)
    quantity = np.maximum(1, np.rint(rng.lognormal(np.log(np.maximum(profiles.spend[who], 0.2)), 0.45)))
    discount = np.where(rng.random(len(who)) < 0.15, 90, 100)
    cents = (PRICE_CENTS[product] * quantity.astype(np.int64) * discount) // 100
    channel = rng.choice(len(catalog.PURCHASE_CHANNELS), len(who), p=weights(catalog.PURCHASE_CHANNELS))
    field_sales = channel == list(catalog.PURCHASE_CHANNELS).index("field sales")
    rep = np.where(field_sales, profiles.owner[who], -1)
    return _events(profiles.ids[who], time, "purchase", cents=cents, product=product, channel=channel, rep=rep)


def _product_in(rng, category: np.ndarray) -> np.ndarray:
    """A product of each given category, uniformly."""
    product = np.empty(len(category), dtype=np.int64)
    for code in range(len(CATEGORIES)):
        members = np.flatnonzero(PRODUCT_CATEGORY == code)
        chosen = category == code
        product[chosen] = members[rng.integers(0, len(members), int(chosen.sum()))]
    return product


def _refunds(rng, purchases: Events, today) -> Events:
    """About 3% of purchases come back, fully or in part, two days to six weeks later."""
    picked = np.flatnonzero(rng.random(len(purchases)) < REFUND_SHARE)
    time = purchases.time[picked] + rng.integers(2 * DAY, 45 * DAY, len(picked))
    keep = time < today
    picked, time = picked[keep], time[keep]
    paid = purchases.cents[picked]
    partial = rng.random(len(picked)) < 0.35
    cents = np.where(partial, np.maximum(1, (paid * rng.integers(20, 61, len(picked))) // 100), paid)
    return _events(
        purchases.customer[picked], time, "refund", cents=cents, product=purchases.product[picked],
        channel=purchases.channel[picked], rep=purchases.rep[picked],
    )


def _contacts(rng, profiles: Profiles, end) -> list[Events]:
    size_contact = np.array([v[2] for v in catalog.SIZES.values()])[profiles.size]
    length = np.maximum(end - profiles.created, 0)
    out = []
    for kind, (channels, per_year) in CONTACTS.items():
        counts = rng.poisson(per_year * size_contact * length / YEAR)
        who, time = _spread(rng, counts, profiles.created, length)
        choice = rng.integers(0, len(channels), len(who))
        channel = np.array([CHANNELS.index(c) for c in channels])[choice]
        rep = np.where(rng.random(len(who)) < 0.9, profiles.owner[who], rng.integers(0, len(catalog.REPS), len(who)))
        out.append(_events(profiles.ids[who], time, kind, channel=channel, rep=rep))
    return out


def _complaints(rng, profiles: Profiles, first_buy, active, buyer) -> Events:
    unhappy = np.isin(profiles.archetype, [ARCHETYPE["declining"], ARCHETYPE["churned"]])
    rate = COMPLAINTS_PER_YEAR * np.where(unhappy, 3.0, 1.0) * buyer
    counts = rng.poisson(rate * active / YEAR)
    who, time = _spread(rng, counts, first_buy, active)
    category = np.where(rng.random(len(who)) < 0.7, profiles.favourite[who], rng.integers(0, len(CATEGORIES), len(who)))
    product = _product_in(rng, category)
    severity = rng.choice(len(SEVERITIES), len(who), p=weights(catalog.SEVERITIES))
    topic = rng.integers(0, len(catalog.COMPLAINT_CATEGORIES), len(who))
    channel = rng.choice([CHANNELS.index("email"), CHANNELS.index("phone")], len(who))
    return _events(profiles.ids[who], time, "complaint", product=product, channel=channel, detail=severity, extra=topic)


def _feedback(rng, profiles: Profiles, first_buy, active, buyer) -> Events:
    counts = rng.poisson(FEEDBACK_PER_YEAR * buyer * active / YEAR)
    who, time = _spread(rng, counts, first_buy, active)
    topic = rng.integers(0, len(catalog.FEEDBACK_TOPICS), len(who))
    return _events(profiles.ids[who], time, "feedback", channel=np.full(len(who), CHANNELS.index("email")), detail=topic)


def _surveys(rng, profiles: Profiles, first_buy, active, buyer) -> Events:
    counts = rng.poisson(SURVEYS_PER_YEAR * buyer * active / YEAR)
    who, time = _spread(rng, counts, first_buy, active)
    score = np.empty(len(who), dtype=np.int64)
    for name, code in ARCHETYPE.items():
        chosen = profiles.archetype[who] == code
        p = np.array(SCORES[name], dtype=float)
        score[chosen] = 5 - rng.choice(5, int(chosen.sum()), p=p / p.sum())
    return _events(profiles.ids[who], time, "survey", channel=np.full(len(who), CHANNELS.index("email")), detail=score)


def _referrals(rng, profiles: Profiles, timeline: Timeline) -> Events:
    """A referral on the referrer's record, shortly before the referred customer arrived.

    The referrer's id is lower, so it arrived before ``timeline.arrival(referrer / total)``,
    which bounds the referral's time from below.
    """
    referred = np.flatnonzero(profiles.referrer > 0)
    referrer = profiles.referrer[referred]
    arrived = profiles.created[referred]
    earliest = np.minimum(timeline.arrival(referrer / profiles.total), arrived)
    time = np.maximum(arrived - rng.integers(DAY, 14 * DAY, len(referred)), earliest)
    channel = np.full(len(referred), CHANNELS.index("email"))
    return _events(referrer, time, "referral", channel=channel, detail=profiles.ids[referred])
