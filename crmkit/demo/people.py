"""Demo customers: one chunk of consecutive ids at a time, generated with numpy.

A chunk's :class:`Profiles` hold what the history generator needs (when each customer arrived,
how they behave, how much they spend); :func:`customer_rows` turns them into the dicts that
``crm.customers.add_many`` takes. Ids follow arrival time, so customer ``j`` arrived after every
customer ``i < j`` — which is what lets a referral always point at a later customer.
"""

from __future__ import annotations

import numpy as np
from attrs import frozen

from . import catalog
from .timeline import Timeline

ARCHETYPES = tuple(catalog.ARCHETYPES)
SIZES = tuple(catalog.SIZES)
REGIONS = tuple(catalog.REGIONS)
SOURCES = tuple(catalog.SOURCES)
INDUSTRIES = tuple(catalog.INDUSTRIES)
CATEGORIES = tuple(catalog.PRODUCTS)
ARCHETYPE = {name: code for code, name in enumerate(ARCHETYPES)}
DUPLICATE_SHARE = 0.002
_REFERRAL = SOURCES.index("referral")


def weights(table: dict) -> np.ndarray:
    """Normalised weights of a catalogue table whose values are a weight or (weight, ...)."""
    raw = np.array([v[0] if isinstance(v, tuple) else v for v in table.values()], dtype=float)
    return raw / raw.sum()


@frozen
class Profiles:
    """The customers of one chunk, column by column (index ``k`` is customer ``ids[k]``)."""

    ids: np.ndarray          # int64, consecutive
    created: np.ndarray      # int64 epoch seconds, non-decreasing
    archetype: np.ndarray    # codes into ARCHETYPES
    size: np.ndarray         # codes into SIZES
    region: np.ndarray       # codes into REGIONS
    owner: np.ndarray        # codes into catalog.REPS
    spend: np.ndarray        # float, spend multiplier of an order
    rate: np.ndarray         # float, purchases per year while active
    favourite: np.ndarray    # codes into CATEGORIES
    source: np.ndarray       # codes into SOURCES
    referrer: np.ndarray     # int64 id of the customer who referred this one, 0 if none
    duplicate_of: np.ndarray  # int64 id this customer duplicates, 0 if none
    total: int               # customers in the whole demo, not just this chunk

    def __len__(self) -> int:
        return len(self.ids)


def make_profiles(rng: np.random.Generator, first_id: int, count: int, total: int, timeline: Timeline) -> Profiles:
    """Profiles of customers ``first_id .. first_id + count - 1`` out of ``total``."""
    ids = np.arange(first_id, first_id + count, dtype=np.int64)
    created = timeline.arrival((ids - 1 + rng.random(count)) / total)
    archetype = rng.choice(len(ARCHETYPES), count, p=weights(catalog.ARCHETYPES))
    # A customer of less than half a year cannot have declined or churned yet.
    recent = created > timeline.today - 180 * 86_400
    settled = np.isin(archetype, [ARCHETYPE["declining"], ARCHETYPE["churned"]])
    archetype = np.where(recent & settled, ARCHETYPE["steady"], archetype)
    size = rng.choice(len(SIZES), count, p=weights(catalog.SIZES))
    region = rng.choice(len(REGIONS), count, p=weights(catalog.REGIONS))
    owner = _owners(rng, region)
    size_spend = np.array([v[1] for v in catalog.SIZES.values()])[size]
    spend = size_spend * rng.lognormal(0.0, 0.7, count)
    rate = np.clip(rng.lognormal(np.log(2.6), 0.8, count), 0.3, 60.0)
    rate = np.where(archetype == ARCHETYPE["growing"], rate * 1.4, rate)
    favourite = rng.choice(len(CATEGORIES), count, p=weights(catalog.CATEGORY_WEIGHTS))
    source = rng.choice(len(SOURCES), count, p=weights(catalog.SOURCES))
    referrer = np.where(
        (source == _REFERRAL) & (ids > 1), np.floor(rng.random(count) * (ids - 1)).astype(np.int64) + 1, 0
    )
    duplicate_of = np.zeros(count, dtype=np.int64)
    position = np.arange(count)
    is_duplicate = (rng.random(count) < DUPLICATE_SHARE) & (position > 0)
    back = np.minimum(position, rng.integers(1, 400, count))
    duplicate_of[is_duplicate] = ids[is_duplicate] - back[is_duplicate]
    # A duplicate signed up again on its own (found through a web search), referred by nobody.
    source = np.where(is_duplicate, SOURCES.index("web search"), source)
    referrer = np.where(is_duplicate, 0, referrer)
    # A duplicate is a second sign-up: it rarely buys much.
    archetype = np.where(is_duplicate, np.where(rng.random(count) < 0.5, ARCHETYPE["one-off"], ARCHETYPE["prospect"]), archetype)
    return Profiles(
        ids, created, archetype, size, region, owner, spend, rate, favourite, source, referrer, duplicate_of, total
    )


def _owners(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """Each customer's rep, drawn from the reps of its region."""
    starts, counts = [], []
    offset = 0
    for _, _, reps in catalog.REGIONS.values():
        starts.append(offset)
        counts.append(len(reps))
        offset += len(reps)
    starts, counts = np.array(starts), np.array(counts)
    return starts[region] + np.floor(rng.random(len(region)) * counts[region]).astype(np.int64)


def customer_rows(rng: np.random.Generator, profiles: Profiles, timeline: Timeline) -> list[dict]:
    """The chunk's customers as ``add_many`` rows: names, contacts, company, tags, dates."""
    count = len(profiles)
    first = rng.integers(0, len(catalog.FIRST_NAMES), count).tolist()
    last = rng.integers(0, len(catalog.LAST_NAMES), count).tolist()
    word = rng.integers(0, len(catalog.COMPANY_WORDS), count).tolist()
    noun = rng.integers(0, len(catalog.COMPANY_NOUNS), count).tolist()
    suffix = rng.integers(0, len(catalog.COMPANY_SUFFIXES), count).tolist()
    personal = ((profiles.size == 0) & (rng.random(count) < 0.4)).tolist()
    mail = rng.integers(0, len(catalog.PERSONAL_MAIL_DOMAINS), count).tolist()
    industry = rng.choice(len(INDUSTRIES), count, p=weights(catalog.INDUSTRIES)).tolist()
    tag_draws = {tag: (rng.random(count) < share).tolist() for tag, share in catalog.TAG_CHOICES.items()}
    street = rng.integers(1, 400, count).tolist()
    variant = rng.integers(0, 3, count).tolist()
    created = timeline.iso(profiles.created)
    codes = [spec[1] for spec in catalog.REGIONS.values()]
    rows, by_id = [], {}
    for k, customer_id in enumerate(profiles.ids.tolist()):
        first_name, last_name = catalog.FIRST_NAMES[first[k]], catalog.LAST_NAMES[last[k]]
        size_code = int(profiles.size[k])
        if personal[k]:
            company, domain = None, catalog.PERSONAL_MAIL_DOMAINS[mail[k]]
        else:
            stem = f"{catalog.COMPANY_WORDS[word[k]]} {catalog.COMPANY_NOUNS[noun[k]]}"
            company = f"{stem} {catalog.COMPANY_SUFFIXES[suffix[k]]}"
            domain = stem.lower().replace(" ", "") + ".example"
        region_code = int(profiles.region[k])
        digits = f"{(customer_id * 7919 + 10_000_019) % 1_000_000_000:09d}"
        tags = [tag for tag, drawn in tag_draws.items() if drawn[k]]
        if size_code >= 3:
            tags.append("key-account")
        row = {
            "external_id": f"DEMO-{customer_id:07d}",
            "name": f"{first_name} {last_name}",
            "email": f"{first_name}.{last_name}{customer_id}@{domain}".lower(),
            "phone": f"+{codes[region_code]} {digits[:3]} {digits[3:6]} {digits[6:]}",
            "address": f"{street[k]} {catalog.COMPANY_WORDS[word[k]]} Street",
            "region": REGIONS[region_code],
            "company": company,
            "industry": INDUSTRIES[industry[k]],
            "size": SIZES[size_code],
            "source": SOURCES[int(profiles.source[k])],
            "owner": catalog.REPS[int(profiles.owner[k])],
            "stage": _stage(int(profiles.archetype[k]), int(profiles.created[k]), timeline),
            "tags": tags,
            "attributes": {"archetype": ARCHETYPES[int(profiles.archetype[k])]},
            "created_at": created[k],
        }
        original = by_id.get(int(profiles.duplicate_of[k]))
        if original is not None and original["external_id"] is not None:  # never a duplicate of a duplicate
            row = _duplicate(row, original, variant[k])
        by_id[customer_id] = row
        rows.append(row)
    return rows


def _stage(archetype: int, created: int, timeline: Timeline) -> str:
    if ARCHETYPES[archetype] == "prospect":
        return "prospect"
    if created > timeline.today - 90 * 86_400:
        return "new"
    return catalog.ARCHETYPES[ARCHETYPES[archetype]][1]


def _duplicate(row: dict, original: dict, variant: int) -> dict:
    """A realistic second record of the same person: what ``customers.duplicates()`` should find."""
    copy = dict(row, name=original["name"], company=original["company"], region=original["region"],
                industry=original["industry"], size=original["size"], owner=original["owner"],
                external_id=None, tags=[])
    if variant == 0:  # signed up again with the same address, typed in capitals
        copy["email"] = original["email"].upper()
        copy["phone"] = None
    elif variant == 1:  # same phone, written without spaces, no email given
        copy["phone"] = original["phone"].replace(" ", "")
        copy["email"] = None
    elif original["company"] is None:  # nothing else to match a private person on
        return _duplicate(row, original, 0)
    else:  # the name misspelt, within the same company
        first, _, last = original["name"].partition(" ")
        copy["name"] = f"{first} {last}{last[-1]}"
        copy["phone"] = None
    return copy
