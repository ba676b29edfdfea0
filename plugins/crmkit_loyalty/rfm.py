"""RFM scores, named RFM segments, movement between runs, and revenue concentration (Pareto).

The aggregate is one SQL statement (one row per customer), fetched in chunks straight into int64
arrays; scoring and the segment mapping are vectorised numpy on those arrays, and the result
builds an ``RfmScore`` only for the items read.

Three scoring methods (see :data:`~crmkit_loyalty.config.RFM_METHODS`):

* ``quantiles`` (the default): cut points from each value's distribution. A value's score is
  1 + the number of the four cut points it is strictly better than, the k-th cut point being the
  value of the customer at position ⌈k·n/5⌉ from the worst. Equivalently, score = 1 + ⌊5 · (the
  share of customers with a strictly worse value)⌋. Equal values get equal scores, a better
  value never gets a lower score, and neither ids nor insertion order play a part. A value shared
  by more than a fifth of the customers takes the score of the worst position it covers and the
  scores above it inside its span stay unused (if 70% bought once, once-buyers score 1 and the
  next value up scores 4).
* ``ntile``: SQL ``NTILE(5) OVER (ORDER BY value, customer_id)``: customers in order from worst to
  best, ties broken by ascending customer id, cut into five groups whose sizes differ by at most
  one, the larger groups first. Equal values may get different scores.
* ``thresholds``: fixed business cut points (:class:`~crmkit_loyalty.config.RfmThresholds`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from itertools import chain
from typing import Any

import numpy as np

from crmkit import NotFound, ValidationError
from crmkit.money import from_minor, to_minor
from crmkit.timeutil import to_iso

from . import queries as q
from . import runs
from .config import (
    DEFAULT_RFM_METHOD, DEFAULT_RFM_SEGMENTS, UNCLASSIFIED, RfmSegmentRule, RfmThresholds, check_rfm_method, exact_number,
)
from .models import Movement, Pareto, RfmResult, RfmScore, RfmScores, Run

BEGINNING = "0001-01-01T00:00:00Z"


def ntile(worst_to_best: np.ndarray, ids: np.ndarray, groups: int = 5) -> np.ndarray:
    """Scores 1..groups like ``NTILE(groups) OVER (ORDER BY value, id)`` on ``worst_to_best``."""
    count = len(ids)
    scores = np.empty(count, dtype=np.int64)
    if count == 0:
        return scores
    values = np.asarray(worst_to_best)
    if count == 1 or np.all(ids[1:] > ids[:-1]):
        # ids ascending: a stable sort breaks ties by id. Values spanning fewer than 2**16 (days,
        # purchase counts) are sorted as uint16 offsets, which numpy's stable sort does by radix.
        low, high = int(values.min()), int(values.max())
        key = (values - low).astype(np.uint16) if high - low < 2 ** 16 else values
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((ids, values))
    size, extra = divmod(count, groups)
    sizes = [size + 1] * extra + [size] * (groups - extra)  # the larger groups first
    scores[order] = np.repeat(np.arange(1, groups + 1), sizes)
    return scores


def quantile_scores(worst_to_best: np.ndarray, groups: int = 5) -> np.ndarray:
    """Scores 1..groups from cut points of the distribution: 1 + ⌊groups · (customers with a
    strictly worse value) / n⌋. Equal values get equal scores; the order of the input is irrelevant."""
    values = np.asarray(worst_to_best)
    if values.size == 0:
        return np.empty(0, dtype=np.int64)
    worse = np.searchsorted(np.sort(values), values, side="left")
    return 1 + (groups * worse.astype(np.int64)) // values.size


def quantile_cuts(worst_to_best: np.ndarray, groups: int = 5) -> list[int]:
    """The cut points of :func:`quantile_scores`: the value at position ⌈k·n/groups⌉ (1-based,
    worst first) for k = 1..groups-1; a value strictly better than k of them scores k + 1."""
    values = np.sort(np.asarray(worst_to_best))
    n = values.size
    if n == 0:
        return []
    return [int(values[-(-k * n // groups) - 1]) for k in range(1, groups)]


#: Rows converted to an array at a time: the Python tuples of a million customers would stay
#: alive together (and be walked by the garbage collector) if fetched at once; a chunk's are not.
FETCH_ROWS = 50_000


def fetch_int64(cursor, width: int) -> np.ndarray:
    """All rows of a query of ``width`` integer columns as one int64 array (rows × width),
    fetched and converted chunk by chunk."""
    parts = [np.empty((0, width), dtype=np.int64)]
    while chunk := cursor.fetchmany(FETCH_ROWS):
        flat = np.fromiter(chain.from_iterable(chunk), dtype=np.int64, count=len(chunk) * width)
        parts.append(flat.reshape(-1, width))
    return np.concatenate(parts)


def threshold_scores(recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray, cuts: RfmThresholds, exponent: int):
    """Scores from fixed cut points (see :class:`RfmThresholds`)."""
    r = 5 - sum((recency > cut).astype(np.int64) for cut in cuts.r)
    f = 1 + sum((frequency >= cut).astype(np.int64) for cut in cuts.f)
    m = 1 + sum((monetary >= to_minor(cut, exponent)).astype(np.int64) for cut in cuts.m)
    return r, f, m


def segment_table(rules: list[RfmSegmentRule]) -> tuple[list[str], np.ndarray]:
    """A 6×6×6 lookup (index 1..5) of segment numbers, first matching rule wins."""
    names = [rule.segment for rule in rules] + [UNCLASSIFIED]
    table = np.full((6, 6, 6), len(rules), dtype=np.int64)
    for index in range(len(rules) - 1, -1, -1):
        rule = rules[index]
        table[rule.r[0]:rule.r[1] + 1, rule.f[0]:rule.f[1] + 1, rule.m[0]:rule.m[1] + 1] = index
    return names, table


def segment_rules(crm) -> list[RfmSegmentRule]:
    """The RFM named-segment rules in match order: the stored ``loyalty.rfm_segments``, else the defaults."""
    return [RfmSegmentRule(**rule) for rule in crm.settings.get("loyalty.rfm_segments", list(DEFAULT_RFM_SEGMENTS))]


def method_of(crm, method: str | None = None) -> str:
    """The scoring method: ``method`` if given, else the stored ``loyalty.rfm_method``, else
    ``thresholds`` when cut points are stored (files from before the setting existed), else
    ``quantiles``."""
    if method is None:
        method = crm.settings.get("loyalty.rfm_method") or (
            "thresholds" if crm.settings.get("loyalty.rfm_thresholds") else DEFAULT_RFM_METHOD
        )
    return check_rfm_method(method)


def thresholds_of(crm, thresholds: RfmThresholds | dict | None = None) -> RfmThresholds:
    """The fixed cut points: ``thresholds`` if given, else the stored ``loyalty.rfm_thresholds``."""
    if thresholds is None:
        thresholds = crm.settings.get("loyalty.rfm_thresholds")
    if not thresholds:
        raise ValidationError(
            "thresholds", None, "cut points for method 'thresholds' (set_rfm_thresholds, or thresholds=)",
        )
    return thresholds if isinstance(thresholds, RfmThresholds) else RfmThresholds(**thresholds)


def score(recency, frequency, monetary, ids, method: str, thresholds: RfmThresholds | None, exponent: int):
    """R, F and M scores by ``method``, and the cut points used (None for ``ntile``): recency in
    days (R: a recency below a cut point scores higher), frequency a count, monetary minor units
    (cut points given in currency units as exact text)."""
    if method == "thresholds":
        r, f, m = threshold_scores(recency, frequency, monetary, thresholds, exponent)
        return r, f, m, thresholds.to_json()
    if method == "ntile":
        return ntile(-recency, ids), ntile(frequency, ids), ntile(monetary, ids), None
    cuts = {
        "r": [-v for v in quantile_cuts(-recency)], "f": quantile_cuts(frequency),
        "m": [str(from_minor(v, exponent)) for v in quantile_cuts(monetary)],
    }
    return quantile_scores(-recency), quantile_scores(frequency), quantile_scores(monetary), cuts


def compute(crm, as_of: Any = None, window_days: int = 365, store: bool = True, method: str | None = None,
            thresholds: RfmThresholds | dict | None = None) -> RfmResult:
    """RFM as of a time over a window; stored as a run unless ``store`` is False.

    ``method`` (``quantiles``, ``ntile`` or ``thresholds``) defaults to the stored setting;
    ``thresholds`` (for method ``thresholds``) to the stored cut points.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or not 1 <= window_days <= 36500:
        raise ValidationError("window_days", window_days, "a whole number of days from 1 to 36500")
    method = method_of(crm, method)
    cut_points = thresholds_of(crm, thresholds) if method == "thresholds" else None
    moment = crm.as_of(as_of)
    in_list, out_list, params = q.kind_params(crm)
    start = to_iso(crm.calendar.add_days(moment, -window_days))
    cursor = crm.db.execute(q.rfm_aggregate(in_list, out_list, crm.calendar), dict(params, as_of=to_iso(moment), start=start))
    data = fetch_int64(cursor, 4)
    if len(data) > 1 and np.any(data[1:, 0] <= data[:-1, 0]):  # a store whose GROUP BY does not keep the order
        data = data[np.argsort(data[:, 0], kind="stable")]
    ids, recency, frequency, monetary = (np.ascontiguousarray(data[:, k]) for k in range(4))
    r, f, m, cuts = score(recency, frequency, monetary, ids, method, cut_points, crm.exponent)
    names, table = segment_table(segment_rules(crm))
    segment_index = table[r, f, m] if len(ids) else np.empty(0, dtype=np.int64)
    per_segment = np.bincount(segment_index, minlength=len(names))
    counts = {name: int(n) for name, n in zip(names, per_segment) if n or name != UNCLASSIFIED}
    scored = RfmScores(
        {"customer_id": ids, "recency_days": recency, "frequency": frequency, "monetary": monetary,
         "r": r, "f": f, "m": m, "segment_index": segment_index},
        names, crm.exponent,
    )
    run = None
    if store:
        with crm.transaction():
            run_id = runs.start(crm, "rfm", moment, {"window_days": window_days, "method": method, "cuts": cuts})
            crm.db.executemany(q.RFM_INSERT, ((run_id, *rec) for rec in scored.rows()))
            run = runs.finish(crm, run_id, len(scored), "rfm", moment)
    return RfmResult(run, moment, window_days, method, counts, scored, cuts)


def scores(crm, run: Run, customer_id: int | None = None, limit: int = 1000, offset: int = 0) -> list[RfmScore]:
    """Stored RFM scores of a run, by customer id (one customer if ``customer_id``); a page of
    ``limit`` (default 1000) from ``offset``. ``monetary`` is net spend as an exact Decimal.
    """
    rows = crm.db.execute(q.RFM_ROWS, {"run": run.id, "customer": customer_id, "limit": limit, "offset": offset})
    return [RfmScore(r[0], r[1], r[2], from_minor(r[3], crm.exponent), *r[4:]) for r in rows]


def distribution(crm, run: Run) -> list[dict]:
    """Customers, net spend and average recency/frequency per named segment of a run."""
    return [
        {"segment": seg, "customers": n, "monetary": from_minor(money, crm.exponent),
         "avg_recency_days": round(rec, 1), "avg_frequency": round(freq, 2)}
        for seg, n, money, rec, freq in crm.db.execute(q.RFM_DISTRIBUTION, [run.id])
    ]


def movement(crm, before: Run, after: Run, from_segment: str | None = None, to_segment: str | None = None) -> Movement:
    """How customers moved between named segments from run ``before`` to run ``after``.

    Counts per (from, to) pair, 'not scored' for customers absent from a run; movers optionally
    filtered by ``from_segment`` and/or ``to_segment``.
    """
    params = {"a": before.id, "b": after.id, "from_segment": from_segment, "to_segment": to_segment}
    counts = [tuple(row) for row in crm.db.execute(q.RFM_MOVEMENT, params)]
    movers = [tuple(row) for row in crm.db.execute(q.RFM_MOVERS, params)]
    return Movement(before, after, counts, movers)


def resolve_run(crm, value: Any, kind: str = "rfm") -> Run:
    """A run from a Run, an id, or a time (the newest run as of it)."""
    if isinstance(value, Run):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return runs.get(crm, value)
    found = runs.latest(crm, kind, crm.as_of(value))
    if found is None:
        raise NotFound(f"no stored {kind} run as of {to_iso(crm.as_of(value))}; compute one first")
    return found


# --- Pareto -------------------------------------------------------------------------------------

def pareto(crm, as_of: Any = None, window_days: int | None = None, top: Any = "0.2") -> Pareto:
    """Revenue share of the top ``top`` fraction of customers, the Lorenz curve and Gini.

    Customers counted: those with a purchase in the window (default: all history up to as_of).
    A customer whose refunds exceed their purchases counts as 0 revenue.
    """
    moment = crm.as_of(as_of)
    fraction = _fraction(top)
    start = BEGINNING
    if window_days is not None:
        if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
            raise ValidationError("window_days", window_days, "a whole number of days >= 1")
        start = to_iso(crm.calendar.add_days(moment, -window_days))
    in_list, out_list, params = q.kind_params(crm)
    cursor = crm.db.execute(q.net_spend_per_customer(in_list, out_list), dict(params, as_of=to_iso(moment), start=start))
    return _concentration(moment, fetch_int64(cursor, 2)[:, 1], fraction, crm.exponent)


def pareto_of(crm, result: RfmResult, top: Any = "0.2") -> Pareto:
    """The Pareto figures of ``pareto(as_of=result.as_of, window_days=result.window_days)`` from
    an RFM result, without a second pass over the log: the customers with a purchase in the
    window are those with frequency > 0, and their net spend in the window is the monetary value.
    """
    fraction = _fraction(top)
    scores = result.scores
    values = scores.column("monetary")[scores.column("frequency") > 0]
    return _concentration(result.as_of, values, fraction, crm.exponent)


def _fraction(top: Any) -> Decimal:
    expected = "a fraction above 0 and at most 1, as text or Decimal (e.g. '0.2')"
    fraction = exact_number("top", top, expected)
    if not Decimal(0) < fraction <= Decimal(1):
        raise ValidationError("top", top, expected)
    return fraction


def _concentration(moment, net: np.ndarray, fraction: Decimal, exponent: int) -> Pareto:
    """Pareto figures of per-customer net spend (minor units; below 0 counts as 0)."""
    values = np.clip(net, 0, None)
    n = len(values)
    total = int(values.sum())
    top_n = max(1, math.ceil(n * fraction)) if n else 0
    ascending = np.sort(values)
    top_revenue = int(ascending[n - top_n:].sum()) if n else 0  # the top_n largest values, whoever holds them
    if n and total > 0:
        cumulative = np.concatenate([[0], np.cumsum(ascending)]) / total
        ranks = np.arange(1, n + 1, dtype=float)
        gini = float(2 * np.sum(ranks * ascending) / (n * total) - (n + 1) / n)
        steps = np.linspace(0, 1, 101)
        lorenz = [(round(float(p), 2), round(float(cumulative[int(round(p * n))]), 6)) for p in steps]
        share = top_revenue / total
    else:
        gini, lorenz, share = 0.0, [(0.0, 0.0), (1.0, 1.0)], 0.0
    return Pareto(
        moment, n, from_minor(total, exponent), fraction, top_n, from_minor(top_revenue, exponent),
        round(share, 6), round(gini, 6), lorenz,
    )
