"""Result records of the loyalty plugin: values returned by ``crm.loyalty``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, overload

from attrs import field, frozen

from crmkit.money import from_minor


@frozen
class Run:
    """A stored computation (RFM, loyalty score, churn warnings, CLV) as of a time."""

    id: int
    kind: str
    as_of: datetime
    created_at: datetime
    params: dict
    customers: int


@frozen
class RfmScore:
    """One customer's RFM figures in a run (monetary is net spend, exact)."""

    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    code: str
    score: int
    segment: str


class LazyRecords(Sequence):
    """A read-only sequence of records held as column arrays, each record built only when read.

    ``len``, indexing, slicing (a list), iteration and ``==`` with a list behave as on a list of
    records; ``order`` gives the row positions in sequence order (a ``range`` when the rows are
    already in order). Subclasses say how to build records of some row positions (``_build``).
    """

    _CHUNK = 10_000  # rows converted to Python values at a time while iterating

    def __init__(self, order: Any) -> None:
        self._order = order

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self._build(self._order[index]))
        return next(self._build([self._order[index]]))  # IndexError and negative indexes as on a list

    def __iter__(self):
        for start in range(0, len(self), self._CHUNK):
            yield from self._build(self._order[start:start + self._CHUNK])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyRecords, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)} customers>"

    def _build(self, rows):
        raise NotImplementedError


class RfmScores(LazyRecords):
    """The scores of an RFM computation, by customer id.

    A read-only sequence: ``len``, indexing, slicing (a list), iteration and ``==`` with a list
    behave as on a list of :class:`RfmScore`. The figures are held as numpy arrays, one per
    column; an ``RfmScore`` is built only when an item is read, so scoring a million customers
    does not build a million records that nobody looks at. ``columns()`` gives the arrays.
    """

    _NAMES = ("customer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "code", "score", "segment")

    def __init__(self, columns: dict[str, Any], segment_names: list[str], exponent: int) -> None:
        super().__init__(range(len(columns["customer_id"])))
        self._columns = columns  # customer_id, recency_days, frequency, monetary, r, f, m, segment_index
        self._names = segment_names
        self._exponent = exponent

    def columns(self) -> dict[str, Any]:
        """The scores as numpy arrays by customer id: ``monetary`` in minor units, ``code`` the
        number r·100 + f·10 + m (its text is the ``code`` of an ``RfmScore``), ``segment`` an
        object array of segment names."""
        import numpy as np  # only where arrays are built: loading the plugin stays light

        c = self._columns
        r, f, m = c["r"], c["f"], c["m"]
        out = {name: c[name] for name in ("customer_id", "recency_days", "frequency", "monetary")}
        out.update(r=r, f=f, m=m, code=r * 100 + f * 10 + m, score=r + f + m,
                   segment=np.array(self._names, dtype=object)[c["segment_index"]])
        return out

    def column(self, name: str) -> Any:
        """One stored column as it is held (no copy): customer_id, recency_days, frequency,
        monetary (minor units), r, f, m or segment_index (positions in the segment names)."""
        return self._columns[name]

    def rows(self, chunk: int | None = None):
        """Plain tuples in ``RfmScore`` field order (monetary in minor units), converted chunk by chunk."""
        step = chunk or self._CHUNK
        for start in range(0, len(self), step):
            yield from self._tuples(slice(start, start + step))

    def _tuples(self, rows):
        if isinstance(rows, range):  # a run of rows is read as a view of the arrays, not a copy
            rows = slice(rows.start, rows.stop) if rows.step == 1 else list(rows)
        import numpy as np

        c = self._columns
        cid, rec, freq, mon = (c[name][rows].tolist() for name in ("customer_id", "recency_days", "frequency", "monetary"))
        r, f, m = (np.asarray(c[name][rows], dtype=np.int64) for name in ("r", "f", "m"))
        names = self._names
        segments = [names[i] for i in c["segment_index"][rows].tolist()]
        codes = (r * 100 + f * 10 + m).astype(str).tolist()
        return zip(cid, rec, freq, mon, r.tolist(), f.tolist(), m.tolist(), codes, (r + f + m).tolist(), segments)

    def _build(self, rows):
        e = self._exponent
        for cid, rec, freq, mon, r, f, m, code, score, segment in self._tuples(rows):
            yield RfmScore(cid, rec, freq, from_minor(mon, e), r, f, m, code, score, segment)


class RfmResult:
    """An RFM computation: the run, the count per named segment, and the scores.

    ``method`` is the scoring method; ``cuts`` the four cut points per dimension it used
    (``{"r": days, "f": purchases, "m": amounts as text}``; None for ``ntile``).

    ``scores`` (:class:`RfmScores`, a sequence of :class:`RfmScore` by customer id) builds a
    record only for the items read: a million records take seconds to make, and most callers
    only need the counts or the stored run.
    """

    def __init__(self, run: Run | None, as_of: datetime, window_days: int, method: str,
                 segments: dict[str, int], scores: RfmScores, cuts: dict | None = None):
        self.run = run
        self.cuts = cuts
        self.as_of = as_of
        self.window_days = window_days
        self.method = method
        self.segments = segments
        self.customers = len(scores)
        self.scores = scores

    def __repr__(self) -> str:
        return (
            f"RfmResult(as_of={self.as_of.isoformat()}, window_days={self.window_days}, method={self.method!r}, "
            f"customers={self.customers}, segments={self.segments})"
        )


@frozen
class Movement:
    """Customers moving between named RFM segments from one run to another."""

    before: Run
    after: Run
    counts: list[tuple[str, str, int]]
    movers: list[tuple[int, str | None, str | None]] = field(repr=False)


@frozen
class Pareto:
    """Revenue concentration: the top share's revenue share, the Lorenz curve and Gini."""

    as_of: datetime
    customers: int
    revenue: Decimal
    top_fraction: Decimal
    top_customers: int
    top_revenue: Decimal
    top_share: float
    gini: float
    lorenz: list[tuple[float, float]] = field(repr=False)


@frozen
class Tier:
    """A tier definition as stored: rank 1 is the lowest tier."""

    name: str
    rank: int
    rule: str
    benefits: str | None
    multiplier: Decimal


@frozen
class TierChange:
    """One entry of the tier history."""

    id: int
    customer_id: int
    as_of: datetime
    from_tier: str | None
    to_tier: str | None
    direction: str
    reason: str


@frozen
class TierEvaluation:
    """What a tier evaluation did."""

    as_of: datetime
    policy: str
    upgrades: int
    downgrades: int
    changes: list[TierChange] = field(repr=False)
    members: dict[str, int] = field(factory=dict)


@frozen
class PointsEntry:
    """One ledger row: a positive batch (earn, bonus, adjust) or a debit (redeem, expire, clawback)."""

    id: int
    customer_id: int
    kind: str
    points: int
    occurred_at: datetime
    available_at: datetime | None
    expires_at: datetime | None
    interaction_id: int | None
    batch_id: int | None
    key: str | None
    reason: str | None
    note: str | None


@frozen
class Liability:
    """Points customers hold as of a time: spendable, still locked, and how many customers."""

    as_of: datetime
    spendable: int
    locked: int
    customers: int


@frozen
class LoyaltyScore:
    """A customer's loyalty score (0-100) and each part (0-1, None when not applicable)."""

    customer_id: int
    score: float
    parts: dict[str, float | None]


@frozen
class ChurnWarning:
    """A customer with at least one churn signal: class, level, score and the evidence."""

    customer_id: int
    customer_class: str
    level: str
    score: int
    signals: tuple[str, ...]
    evidence: dict
    owner: str | None


@frozen
class AssociationRule:
    """Customers who bought ``antecedent`` also bought ``consequent``."""

    antecedent: str
    consequent: str
    customers_both: int
    customers_antecedent: int
    customers_consequent: int
    customers_total: int
    support: float
    confidence: float
    lift: float


@frozen
class Recommendation:
    """A category a customer has not bought yet, with the rule behind it."""

    customer_id: int
    category: str
    because: str
    confidence: float
    lift: float
    support: float
    owner: str | None


@frozen
class UpsellCandidate:
    """A customer close to the next tier, or spending like its typical member."""

    customer_id: int
    current_tier: str | None
    next_tier: str
    reason: str
    value: Decimal | int | None
    target: Decimal | int | None


@frozen
class ReferralValue:
    """A referrer's own net revenue and the net revenue of the customers they brought."""

    customer_id: int
    referred: tuple[int, ...]
    referred_revenue: Decimal
    own_revenue: Decimal


@frozen
class CustomerValue:
    """One customer's historical and predicted value in a CLV run (money exact to the cent)."""

    customer_id: int
    frequency: int
    recency: float
    age: float
    monetary: float
    historical: Decimal
    historical_margin: Decimal | None
    expected_purchases_90d: float
    p_alive: float
    expected_spend: Decimal
    clv: Decimal


class CustomerValues(LazyRecords):
    """The customer values of a CLV computation, highest CLV first (ties by customer id).

    A read-only sequence: ``len``, indexing, slicing (a list), iteration and ``==`` with a list
    behave as on a list of ``CustomerValue``. The figures are held as arrays, one per column;
    a ``CustomerValue`` is built only when an item is read, so valuing a million customers does
    not build a million records that nobody looks at. ``columns()`` gives the arrays themselves.
    """

    _NAMES = (
        "customer_id", "frequency", "recency", "age", "monetary", "historical", "historical_margin",
        "expected_purchases_90d", "p_alive", "expected_spend", "clv",
    )
    def __init__(self, columns: dict[str, Any], order: Any, exponent: int) -> None:
        super().__init__(order)
        self._columns = columns
        self._exponent = exponent

    def columns(self) -> dict[str, Any]:
        """The values as numpy arrays in the sequence's order: money in minor units (int64),
        ``historical_margin`` an object array of minor units or None."""
        return {name: self._columns[name][self._order] for name in self._NAMES}

    def _build(self, rows):
        """``CustomerValue`` records of the given row positions, columns converted in one go."""
        e = self._exponent
        lists = [self._columns[name][rows].tolist() for name in self._NAMES]
        for cid, freq, rec, age, mon, hist, margin, exp90, alive, spend, clv in zip(*lists):
            yield CustomerValue(
                cid, freq, rec, age, mon, from_minor(hist, e), from_minor(margin, e), exp90, alive,
                from_minor(spend, e), from_minor(clv, e),
            )


@frozen
class ClvResult:
    """A CLV run: fitted parameters, totals, and per-customer values (``values``: a sequence of
    ``CustomerValue``, highest CLV first, built item by item when read)."""

    run: Run | None
    as_of: datetime
    bgnbd: dict
    gamma_gamma: dict
    customers: int
    total_clv: Decimal
    total_historical: Decimal
    values: Sequence[CustomerValue] = field(repr=False)
    #: Repeat buyers with no positive spend on their repeat purchases: left out of the
    #: Gamma-Gamma fit and given the population's expected spend.
    spend_left_out: int = 0
