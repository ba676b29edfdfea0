"""Every SQL statement of the reports plugin: set-based aggregates over the interaction log.

Each function takes the database, the period bounds as storage text (``start`` inclusive, ``end``
exclusive) and a :class:`Filter` (which kinds move money, and the optional segment). Time bounds
that need arithmetic (the start of a churn window) are computed in Python and bound as
parameters, so the SQL stays free of dialect-specific date functions. Month buckets use
``substr`` on the fixed-width wall-clock text of the home zone (``YYYY-MM-DDTHH:MM:SS``), which
the core's calendar (``HomeCalendar.local_sql``) writes for the engine; in a UTC CRM that is the
storage text itself.

Reading as little as possible: a period's slice through the (kind, occurred_at) index; what needs
a customer's history, from the earliest churn window on, through the covering (customer_id,
occurred_at, kind, amount) index in customer order (no table rows); first purchases from the
core's ``customer_summary``. tests/plugins/reports/test_reports_setbased.py checks every such
query against the definitions computed from the raw log.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import field, frozen

from crmkit.store import json_get, json_get_param, json_records, json_values

def by_customer(column_sql: str) -> str:
    """``column_sql`` hidden from the index chooser (SQLite's unary ``+``; another dialect: the column).

    Per-customer aggregates over the whole history run 3-5 times faster scanning the covering
    (customer_id, occurred_at, kind, amount) index in customer order than looking rows up through
    the (kind, occurred_at) index and sorting them for GROUP BY; a period's slice is the opposite.
    """
    return f"+{column_sql}"


IN_KINDS = f"i.kind IN ({json_values(':r_in')})"
IN_KINDS_BY_CUSTOMER = f"{by_customer('i.kind')} IN ({json_values(':r_in')})"
OUT_KINDS = f"i.kind IN ({json_values(':r_out')})"
SIGNED_AMOUNT = f"CASE WHEN {IN_KINDS} THEN i.amount WHEN {OUT_KINDS} THEN -i.amount ELSE 0 END"


# A customer's first purchase, from the core's per-customer summary (alias ``s``) that the core
# updates in the transaction recording the interactions. The log is append-only, so the first
# purchase ever is also the first purchase up to any later moment: "first purchase before t" is
# ``first_purchase_at < t``, with no pass over the customer's history.
FIRST_PURCHASE = "s.first_purchase_at"


def month_index(time_sql: str) -> str:
    """SQL for year * 12 + month of an ISO time expression (to count months between two times)."""
    return f"(CAST(substr({time_sql}, 1, 4) AS INTEGER) * 12 + CAST(substr({time_sql}, 6, 2) AS INTEGER))"


@frozen
class Filter:
    """What every query needs besides the period: money kinds and the segment's id query."""

    in_kinds: tuple[str, ...] = field(converter=tuple)
    out_kinds: tuple[str, ...] = field(converter=tuple)
    segment_sql: str | None = None
    segment_params: dict = field(factory=dict)

    def params(self, **extra: Any) -> dict:
        """Bound parameters: the kind lists, the segment's and the query's own."""
        bound = dict(self.segment_params)
        bound.update(r_in=json.dumps(list(self.in_kinds)), r_out=json.dumps(list(self.out_kinds)))
        bound.update(extra)
        return bound

    def where(self, alias: str = "i") -> str:
        """``AND <alias>.customer_id IN (members)`` when a segment is set, else nothing."""
        return f" AND {alias}.customer_id IN ({self.segment_sql})" if self.segment_sql else ""


def _one(db, sql: str, params: dict) -> dict:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return dict(zip(names, row)) if row else {n: None for n in names}


def _all(db, sql: str, params: dict) -> list[dict]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def customer_counts(db, flt: Filter, start: str, end: str, start_window: str, end_window: str) -> dict:
    """Counts of buying customers around one period; see :func:`customer_counts_many`."""
    bounds = {"start": start, "end": end, "start_window": start_window, "end_window": end_window}
    return customer_counts_many(db, flt, [bounds])[0]


def customer_counts_many(db, flt: Filter, periods: list[dict]) -> list[dict]:
    """Counts of buying customers around several periods, from one pass over the purchases.

    ``periods`` holds dicts of ``start``, ``end``, ``start_window`` and ``end_window`` (storage
    text): a customer is *active* at time t with a purchase in ``[t - churn window, t)``, and the
    two windows are those starting before the period's start and end. Returns one dict per period.

    Only purchases from the earliest window start on are read (the covering customer/time index in
    customer order, no table rows); what needs the whole history comes from the core's summary:
    a customer's first purchase up to ``end`` is ``customer_summary.first_purchase_at`` when that
    is before ``end`` (the log is append-only, so the earliest purchase ever is the earliest
    before any later moment). Two or more purchases up to ``end`` then means two in
    ``[start_window, end)``, or one there and a first purchase before ``start_window``. The
    cross-sell count needs categories and comes from :func:`cross_buyers`.
    """
    params = flt.params(
        r_low=min(p["start_window"] for p in periods), r_high=max(p["end"] for p in periods),
    )

    def within(low: str, high: str) -> str:
        return f"CASE WHEN i.occurred_at >= :{low} AND i.occurred_at < :{high} THEN 1 ELSE 0 END"

    flags, sums = [], []
    for k, p in enumerate(periods):
        params.update({f"r_s{k}": p["start"], f"r_e{k}": p["end"], f"r_sw{k}": p["start_window"], f"r_ew{k}": p["end_window"]})
        flags += [
            f"MAX({within(f'r_sw{k}', f'r_s{k}')}) AS at_start{k}",
            f"MAX({within(f'r_ew{k}', f'r_e{k}')}) AS at_end{k}",
            f"MAX({within(f'r_s{k}', f'r_e{k}')}) AS bought{k}",
            f"SUM({within(f'r_sw{k}', f'r_e{k}')}) AS recent{k}",
        ]
        first = FIRST_PURCHASE
        measures = {
            "new_customers": f"bought{k} * CASE WHEN {first} >= :r_s{k} THEN 1 ELSE 0 END",
            "active_start": f"at_start{k}",
            "active_end": f"at_end{k}",
            "retained": f"at_start{k} * at_end{k}",
            "churned": f"at_start{k} * (1 - at_end{k})",
            "reactivated": f"bought{k} * (1 - at_start{k}) * CASE WHEN {first} < :r_s{k} THEN 1 ELSE 0 END",
            "buyers": f"bought{k}",
            "repeat_buyers": f"bought{k} * CASE WHEN recent{k} >= 2 OR {first} < :r_sw{k} THEN 1 ELSE 0 END",
        }
        sums += [f"COALESCE(SUM({expr}), 0) AS p{k}_{name}" for name, expr in measures.items()]
    newline = ",\n                "
    sql = f"""
        WITH w AS (
            SELECT i.customer_id,
                {newline.join(flags)}
            FROM interactions i
            WHERE {IN_KINDS_BY_CUSTOMER} AND i.occurred_at >= :r_low AND i.occurred_at < :r_high{flt.where()}
            GROUP BY i.customer_id
        )
        SELECT
            {newline.join(sums)}
        FROM w LEFT JOIN customer_summary s ON s.customer_id = w.customer_id
    """
    row = _one(db, sql, params)
    out = []
    for k, p in enumerate(periods):
        prefix = f"p{k}_"
        counts = {name[len(prefix):]: value for name, value in row.items() if name.startswith(prefix)}
        counts["cross_buyers"] = cross_buyers(db, flt, p["start"], p["end"])
        out.append(counts)
    return out


def cross_buyers(db, flt: Filter, start: str, end: str) -> int:
    """Buying customers of the period whose purchases up to ``end`` span two or more categories.

    The period's purchases (the kind/time index) decide most buyers: two categories there, or
    one category ``c`` and an earlier purchase of another (an ``EXISTS`` probe of the buyer's
    history through the customer/time index that stops at the first hit). Buyers whose period
    purchases have no category are counted over their whole history up to ``end``.
    """
    sql = f"""
        WITH p AS (
            SELECT i.customer_id, MIN(i.category) AS low, MAX(i.category) AS high
            FROM interactions i
            WHERE {IN_KINDS} AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
            GROUP BY i.customer_id
        )
        SELECT COUNT(*) FROM p
        WHERE p.low < p.high
           OR (p.low IS NOT NULL AND EXISTS (
                SELECT 1 FROM interactions j
                WHERE j.customer_id = p.customer_id AND j.occurred_at < :r_end
                  AND j.kind IN ({json_values(':r_in')}) AND j.category <> p.low))
           OR (p.low IS NULL AND (
                SELECT COUNT(DISTINCT j.category) FROM interactions j
                WHERE j.customer_id = p.customer_id AND j.occurred_at < :r_end
                  AND j.kind IN ({json_values(':r_in')})) >= 2)
    """
    return db.execute(sql, flt.params(r_start=start, r_end=end)).fetchone()[0]


# A cost is a JSON number, or a text of digits with at most one point that starts with a digit.
# json_type is read once: most purchases have no cost, and numbers need no text checks.
_COST_VALUE = json_get_param("i.data", ":r_cost_path")
_COST_MINOR = f"CAST(ROUND(CAST({_COST_VALUE} AS REAL) * :r_scale) AS INTEGER)"
_COST = f"""CASE json_type(i.data, :r_cost_path)
    WHEN 'integer' THEN {_COST_MINOR}
    WHEN 'real' THEN {_COST_MINOR}
    WHEN 'text' THEN (CASE WHEN substr({_COST_VALUE}, 1, 1) BETWEEN '0' AND '9'
            AND ltrim({_COST_VALUE}, '0123456789.') = ''
            AND length({_COST_VALUE}) - length(replace({_COST_VALUE}, '.', '')) <= 1
        THEN {_COST_MINOR} END) END"""


def revenue(db, flt: Filter, start: str, end: str, cost_path: str, scale: int) -> dict:
    """Gross purchases, refunds (minor units), purchase count, and cost of purchases with one."""
    sql = f"""
        SELECT
            COALESCE(SUM(CASE WHEN is_in THEN amount END), 0) AS gross,
            COALESCE(SUM(CASE WHEN NOT is_in THEN amount END), 0) AS refunds,
            COALESCE(SUM(is_in), 0) AS purchases,
            COALESCE(SUM(CASE WHEN is_in AND cost IS NOT NULL THEN 1 ELSE 0 END), 0) AS costed_purchases,
            COALESCE(SUM(CASE WHEN is_in AND cost IS NOT NULL THEN amount END), 0) AS costed_revenue,
            COALESCE(SUM(CASE WHEN is_in THEN cost END), 0) AS cost
        FROM (
            SELECT {IN_KINDS} AS is_in, i.amount AS amount, {_COST} AS cost
            FROM interactions i
            WHERE ({IN_KINDS} OR {OUT_KINDS}) AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
        ) AS moves
    """
    return _one(db, sql, flt.params(r_start=start, r_end=end, r_cost_path=cost_path, r_scale=scale))


def revenue_by_category(db, flt: Filter, start: str, end: str) -> list[dict]:
    """Per purchase category: buying customers, purchases and their amount (minor units)."""
    sql = f"""
        SELECT COALESCE(i.category, '(none)') AS category, COUNT(DISTINCT i.customer_id) AS buyers,
               COUNT(*) AS purchases, SUM(i.amount) AS revenue
        FROM interactions i
        WHERE {IN_KINDS} AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
        GROUP BY 1 ORDER BY revenue DESC, category
    """
    return _all(db, sql, flt.params(r_start=start, r_end=end))


def new_by_source(db, flt: Filter, start: str, end: str) -> list[dict]:
    """Customers whose first purchase falls in the period, by the customer's source channel
    (None for customers without one, listed after the sources with as many).

    The first purchase is the core summary's ``first_purchase_at`` (see :func:`customer_counts_many`).
    """
    sql = f"""
        SELECT c.source AS source, COUNT(*) AS new_customers
        FROM customer_summary s JOIN customers c ON c.id = s.customer_id
        WHERE {FIRST_PURCHASE} >= :r_start AND {FIRST_PURCHASE} < :r_end{flt.where("s")}
        GROUP BY c.source ORDER BY new_customers DESC, c.source IS NULL, c.source
    """
    return _all(db, sql, flt.params(r_start=start, r_end=end))


def pareto(db, flt: Filter, start: str, end: str, steps: int = 20) -> list[dict]:
    """The Pareto curve of net revenue in the period over customers with a positive net.

    Customers are ranked by net revenue (ties by id); for k = 1..steps the row for the top
    ceil(k/steps) of customers holds its rank, the number of customers and the cumulative and
    total net revenue (minor units).
    """
    sql = f"""
        WITH RECURSIVE steps(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM steps WHERE k < :r_steps),
        net AS (
            SELECT i.customer_id, SUM({SIGNED_AMOUNT}) AS value
            FROM interactions i
            WHERE ({IN_KINDS} OR {OUT_KINDS}) AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
            GROUP BY i.customer_id HAVING SUM({SIGNED_AMOUNT}) > 0
        ),
        ranked AS (
            SELECT ROW_NUMBER() OVER w AS rank, COUNT(*) OVER () AS customers,
                   SUM(value) OVER () AS total, SUM(value) OVER (w ROWS UNBOUNDED PRECEDING) AS cumulative
            FROM net WINDOW w AS (ORDER BY value DESC, customer_id)
        )
        SELECT DISTINCT r.rank, r.customers, r.cumulative, r.total
        FROM steps JOIN ranked r ON r.rank = (steps.k * r.customers + :r_steps - 1) / :r_steps
        ORDER BY r.rank
    """
    return _all(db, sql, flt.params(r_start=start, r_end=end, r_steps=steps))


def tier_changes(db, flt: Filter, start: str, end: str, kinds: list[str]) -> list[dict]:
    """Tier change interactions in the period by kind, from and to tier, with distinct customers."""
    sql = f"""
        SELECT i.kind AS kind, {json_get('i.data', '$.from')} AS from_tier, {json_get('i.data', '$.to')} AS to_tier,
               COUNT(*) AS changes, COUNT(DISTINCT i.customer_id) AS customers
        FROM interactions i
        WHERE i.kind IN ({json_values(':r_kinds')})
          AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
        GROUP BY 1, 2, 3 ORDER BY 1, changes DESC, 2 NULLS FIRST, 3 NULLS FIRST
    """
    return _all(db, sql, flt.params(r_start=start, r_end=end, r_kinds=json.dumps(kinds)))


def distinct_customers_with_kind(db, flt: Filter, start: str, end: str, kind: str) -> int:
    """Number of customers with at least one interaction of ``kind`` in the period."""
    sql = f"""
        SELECT COUNT(DISTINCT i.customer_id) FROM interactions i
        WHERE i.kind = :r_kind AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
    """
    return db.execute(sql, flt.params(r_start=start, r_end=end, r_kind=kind)).fetchone()[0]


def satisfaction(db, flt: Filter, start: str, end: str) -> list[dict]:
    """Scored answers (``data.score`` 1..5) of survey and feedback interactions, by topic."""
    sql = f"""
        SELECT topic, COUNT(*) AS responses, SUM(score) AS score_sum,
               SUM(score >= 4) AS satisfied, SUM(score <= 2) AS dissatisfied
        FROM (
            SELECT COALESCE({json_get('i.data', '$.topic')}, 'general') AS topic,
                   CAST({json_get('i.data', '$.score')} AS REAL) AS score
            FROM interactions i
            WHERE i.kind IN ('survey', 'feedback') AND i.occurred_at >= :r_start AND i.occurred_at < :r_end
              AND json_type(i.data, '$.score') IN ('integer', 'real'){flt.where()}
        ) AS scored
        WHERE score BETWEEN 1 AND 5
        GROUP BY topic ORDER BY responses DESC, topic
    """
    return _all(db, sql, flt.params(r_start=start, r_end=end))


def cohorts(db, flt: Filter, first: str, end: str, local=None) -> list[dict]:
    """Buying customers per (month of first purchase, months since it), first purchases from ``first``.

    The cohort members come from the core summary's first purchase; their purchases up to ``end``
    from the covering customer/time index (no table rows). ``local`` (the home calendar's
    ``local_sql``) turns storage times into local wall-clock text, so months are the home zone's;
    without it they are UTC months.
    """
    local = local or (lambda time_sql: time_sql)
    sql = f"""
        WITH f AS MATERIALIZED (
            SELECT s.customer_id, {FIRST_PURCHASE} AS first_at FROM customer_summary s
            WHERE {FIRST_PURCHASE} >= :r_first AND {FIRST_PURCHASE} < :r_end{flt.where("s")}
        ),
        a AS (
            SELECT DISTINCT i.customer_id, substr({local('f.first_at')}, 1, 7) AS cohort,
                   {month_index(local('i.occurred_at'))} - {month_index(local('f.first_at'))} AS month
            FROM f JOIN interactions i ON i.customer_id = f.customer_id
            WHERE {IN_KINDS} AND i.occurred_at >= :r_first AND i.occurred_at < :r_end
        )
        SELECT cohort, month, COUNT(*) AS customers FROM a GROUP BY cohort, month ORDER BY cohort, month
    """
    return _all(db, sql, flt.params(r_first=first, r_end=end))


def monthly_trend(db, flt: Filter, months: list[dict], end: str, local=None) -> list[dict]:
    """Per month (``label``, ``start``, ``end``, ``window``, ``window_label``): new customers, net revenue, buyers, active at month end.

    Months are calendar months (the last may be cut at ``end``); ``window`` is the month end
    minus the churn window and ``window_label`` the month it falls in. ``local`` (the home
    calendar's ``local_sql``) turns storage times into local wall-clock text, so every purchase,
    refund and first purchase is counted in its month of the home zone, the months ``label``
    names; without it months are UTC months. One pass reads the purchases from the earliest window on in customer
    and time order (the covering customer/time index, no sort) with each one's next purchase;
    the purchases followed by none in the same month are the *runs*: one per customer and month
    with a purchase, holding the month's last purchase and the next month with one.

    A customer is active at a month end when their last purchase before it is in its window.
    That purchase is the last of the run whose month is at or before the month and whose next
    month is after it, so every (customer, month end) is decided by one run: always active when
    the window starts in an earlier month than the run's, by the time when it starts in the
    run's month, never otherwise. The first case is counted from runs grouped by (month, next
    month), a few hundred groups; the second from the runs of one month per month end. New
    customers come from the core summary's first purchase, refunds from the kind/time index.
    """
    local = local or (lambda time_sql: time_sql)
    sql = f"""
        WITH m AS MATERIALIZED (
            SELECT j.label, j.start, j.end, j.window, j.window_label
            FROM ({json_records(':r_months', {'label': 'TEXT', 'start': 'TEXT', 'end': 'TEXT', 'window': 'TEXT', 'window_label': 'TEXT'})}) AS j
        ),
        firsts AS (
            SELECT substr({local(FIRST_PURCHASE)}, 1, 7) AS label, COUNT(*) AS customers FROM customer_summary s
            WHERE {FIRST_PURCHASE} >= :r_first AND {FIRST_PURCHASE} < :r_end{flt.where("s")}
            GROUP BY 1
        ),
        runs AS (
            SELECT label, next_label, spent,
                   (SELECT MAX(w.label) FROM m w WHERE w.window_label = moves.label AND w.window <= at) AS last_window
            FROM (
                SELECT i.occurred_at AS at, substr({local('i.occurred_at')}, 1, 7) AS label,
                       LEAD(substr({local('i.occurred_at')}, 1, 7)) OVER w AS next_label,
                       SUM(COALESCE(i.amount, 0)) OVER (w ROWS UNBOUNDED PRECEDING) AS spent
                FROM interactions i
                WHERE {IN_KINDS_BY_CUSTOMER} AND i.occurred_at >= :r_low AND i.occurred_at < :r_end{flt.where()}
                WINDOW w AS (PARTITION BY i.customer_id ORDER BY i.occurred_at)
            ) AS moves WHERE next_label IS NULL OR next_label > label
        ),
        spans AS MATERIALIZED (
            SELECT label, next_label, last_window, COUNT(*) AS customers, SUM(spent) AS spent
            FROM runs GROUP BY label, next_label, last_window
        ),
        active AS (
            SELECT m.label, SUM(s.customers) AS active FROM m JOIN spans s
                ON s.label <= m.label AND (s.next_label IS NULL OR m.label < s.next_label)
               AND (m.window_label < s.label OR (m.window_label = s.label AND m.label <= s.last_window))
            GROUP BY m.label
        ),
        bought AS (
            SELECT label, SUM(customers) AS buyers, SUM(spent) AS spent FROM spans GROUP BY label
        ),
        carried AS (
            SELECT next_label AS label, SUM(spent) AS spent FROM spans WHERE next_label IS NOT NULL GROUP BY next_label
        ),
        refunds AS (
            SELECT substr({local('i.occurred_at')}, 1, 7) AS label, SUM(i.amount) AS amount FROM interactions i
            WHERE {OUT_KINDS} AND i.occurred_at >= :r_first AND i.occurred_at < :r_end{flt.where()}
            GROUP BY 1
        )
        SELECT m.label AS month, m.start, m.end,
               COALESCE(firsts.customers, 0) AS new_customers,
               COALESCE(active.active, 0) AS active_customers,
               COALESCE(bought.buyers, 0) AS buyers,
               COALESCE(bought.spent, 0) - COALESCE(carried.spent, 0) - COALESCE(refunds.amount, 0) AS net_revenue
        FROM m LEFT JOIN firsts ON firsts.label = m.label LEFT JOIN active ON active.label = m.label
            LEFT JOIN bought ON bought.label = m.label LEFT JOIN carried ON carried.label = m.label
            LEFT JOIN refunds ON refunds.label = m.label
        ORDER BY m.start
    """
    params = flt.params(
        r_months=json.dumps(months), r_end=end, r_first=min(m["start"] for m in months),
        r_low=min(min(m["window"], m["start"]) for m in months),
    )
    return _all(db, sql, params)
