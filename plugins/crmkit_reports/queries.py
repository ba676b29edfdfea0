"""Every SQL statement of the reports plugin: set-based aggregates over the interaction log.

Each function takes the database, the period bounds as storage text (``start`` inclusive, ``end``
exclusive) and a :class:`Filter` (which kinds move money, and the optional segment). Time bounds
that need arithmetic (the start of a churn window) are computed in Python and bound as
parameters, so the SQL stays free of dialect-specific date functions. Month buckets use
``substr`` on the fixed-width storage text (``YYYY-MM-DDTHH:MM:SSZ``).
"""

from __future__ import annotations

import json
from typing import Any

from attrs import field, frozen

def by_customer(column_sql: str) -> str:
    """``column_sql`` hidden from the index chooser (SQLite's unary ``+``; another dialect: the column).

    Per-customer aggregates over the whole history run 3-5 times faster scanning the covering
    (customer_id, occurred_at, kind, amount) index in customer order than looking rows up through
    the (kind, occurred_at) index and sorting them for GROUP BY; a period's slice is the opposite.
    """
    return f"+{column_sql}"


IN_KINDS = "i.kind IN (SELECT value FROM json_each(:r_in))"
IN_KINDS_BY_CUSTOMER = f"{by_customer('i.kind')} IN (SELECT value FROM json_each(:r_in))"
OUT_KINDS = "i.kind IN (SELECT value FROM json_each(:r_out))"
SIGNED_AMOUNT = f"CASE WHEN {IN_KINDS} THEN i.amount WHEN {OUT_KINDS} THEN -i.amount ELSE 0 END"


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
    """Counts of buying customers around a period, from one pass over purchases before ``end``.

    A customer is *active* at time t with a purchase in ``[t - churn window, t)``;
    ``start_window``/``end_window`` are those window starts for the period's start and end.
    """
    sql = f"""
        WITH b AS (
            SELECT i.customer_id,
                MIN(i.occurred_at) AS first_at,
                MAX(CASE WHEN i.occurred_at < :r_start THEN i.occurred_at END) AS last_before_start,
                MAX(i.occurred_at) AS last_at,
                SUM(CASE WHEN i.occurred_at >= :r_start THEN 1 ELSE 0 END) AS in_period,
                COUNT(*) AS purchases,
                COUNT(DISTINCT i.category) AS categories
            FROM interactions i
            WHERE {IN_KINDS_BY_CUSTOMER} AND i.occurred_at < :r_end{flt.where()}
            GROUP BY i.customer_id
        )
        SELECT
            COUNT(*) AS customers_to_end,
            COALESCE(SUM(first_at >= :r_start), 0) AS new_customers,
            COALESCE(SUM(last_before_start >= :r_start_window), 0) AS active_start,
            COALESCE(SUM(last_at >= :r_end_window), 0) AS active_end,
            COALESCE(SUM(last_before_start >= :r_start_window AND last_at >= :r_end_window), 0) AS retained,
            COALESCE(SUM(last_before_start >= :r_start_window AND last_at < :r_end_window), 0) AS churned,
            COALESCE(SUM(first_at < :r_start AND in_period > 0
                AND (last_before_start IS NULL OR last_before_start < :r_start_window)), 0) AS reactivated,
            COALESCE(SUM(in_period > 0), 0) AS buyers,
            COALESCE(SUM(in_period > 0 AND purchases >= 2), 0) AS repeat_buyers,
            COALESCE(SUM(in_period > 0 AND categories >= 2), 0) AS cross_buyers
        FROM b
    """
    return _one(db, sql, flt.params(r_start=start, r_end=end, r_start_window=start_window, r_end_window=end_window))


_COST = """CASE
    WHEN json_type(i.data, :r_cost_path) IN ('integer', 'real')
        OR (json_type(i.data, :r_cost_path) = 'text'
            AND json_extract(i.data, :r_cost_path) GLOB '[0-9]*'
            AND NOT json_extract(i.data, :r_cost_path) GLOB '*[^0-9.]*')
    THEN CAST(ROUND(json_extract(i.data, :r_cost_path) * :r_scale) AS INTEGER) END"""


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
        )
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
    """Customers whose first purchase falls in the period, by the customer's source channel."""
    sql = f"""
        SELECT COALESCE(c.source, '(unknown)') AS source, COUNT(*) AS new_customers
        FROM (
            SELECT i.customer_id, MIN(i.occurred_at) AS first_at
            FROM interactions i
            WHERE {IN_KINDS_BY_CUSTOMER} AND i.occurred_at < :r_end{flt.where()}
            GROUP BY i.customer_id
        ) n JOIN customers c ON c.id = n.customer_id
        WHERE n.first_at >= :r_start
        GROUP BY 1 ORDER BY new_customers DESC, source
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
            GROUP BY i.customer_id HAVING value > 0
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
        SELECT i.kind AS kind, json_extract(i.data, '$.from') AS from_tier, json_extract(i.data, '$.to') AS to_tier,
               COUNT(*) AS changes, COUNT(DISTINCT i.customer_id) AS customers
        FROM interactions i
        WHERE i.kind IN (SELECT value FROM json_each(:r_kinds))
          AND i.occurred_at >= :r_start AND i.occurred_at < :r_end{flt.where()}
        GROUP BY 1, 2, 3 ORDER BY 1, changes DESC, 2, 3
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
            SELECT COALESCE(json_extract(i.data, '$.topic'), 'general') AS topic,
                   json_extract(i.data, '$.score') AS score
            FROM interactions i
            WHERE i.kind IN ('survey', 'feedback') AND i.occurred_at >= :r_start AND i.occurred_at < :r_end
              AND json_type(i.data, '$.score') IN ('integer', 'real'){flt.where()}
        )
        WHERE score BETWEEN 1 AND 5
        GROUP BY topic ORDER BY responses DESC, topic
    """
    return _all(db, sql, flt.params(r_start=start, r_end=end))


def cohorts(db, flt: Filter, first: str, end: str) -> list[dict]:
    """Buying customers per (month of first purchase, months since it), first purchases from ``first``."""
    sql = f"""
        WITH f AS (
            SELECT i.customer_id, MIN(i.occurred_at) AS first_at FROM interactions i
            WHERE {IN_KINDS_BY_CUSTOMER} AND i.occurred_at < :r_end{flt.where()}
            GROUP BY i.customer_id HAVING first_at >= :r_first
        ),
        a AS (
            SELECT DISTINCT i.customer_id, substr(f.first_at, 1, 7) AS cohort,
                   {month_index('i.occurred_at')} - {month_index('f.first_at')} AS month
            FROM f JOIN interactions i ON i.customer_id = f.customer_id
            WHERE {IN_KINDS} AND i.occurred_at >= :r_first AND i.occurred_at < :r_end
        )
        SELECT cohort, month, COUNT(*) AS customers FROM a GROUP BY cohort, month ORDER BY cohort, month
    """
    return _all(db, sql, flt.params(r_first=first, r_end=end))


def monthly_trend(db, flt: Filter, months: list[dict], end: str) -> list[dict]:
    """Per month (``label``, ``start``, ``end``, ``window``): new customers, net revenue, buyers, active at month end."""
    sql = f"""
        WITH m AS MATERIALIZED (
            SELECT json_extract(value, '$.label') AS label, json_extract(value, '$.start') AS start,
                   json_extract(value, '$.end') AS end, json_extract(value, '$.window') AS window
            FROM json_each(:r_months)
        ),
        firsts AS (
            SELECT label, COUNT(*) AS customers FROM (
                SELECT substr(MIN(i.occurred_at), 1, 7) AS label FROM interactions i
                WHERE {IN_KINDS_BY_CUSTOMER} AND i.occurred_at < :r_end{flt.where()} GROUP BY i.customer_id
            ) GROUP BY label
        ),
        bought AS MATERIALIZED (
            SELECT i.customer_id, i.occurred_at FROM interactions i
            WHERE {IN_KINDS} AND i.occurred_at >= (SELECT MIN(window) FROM m) AND i.occurred_at < :r_end{flt.where()}
        ),
        money AS (
            SELECT substr(i.occurred_at, 1, 7) AS label, SUM({SIGNED_AMOUNT}) AS net,
                   COUNT(DISTINCT CASE WHEN {IN_KINDS} THEN i.customer_id END) AS buyers
            FROM interactions i
            WHERE ({IN_KINDS} OR {OUT_KINDS}) AND i.occurred_at >= (SELECT MIN(start) FROM m)
              AND i.occurred_at < :r_end{flt.where()}
            GROUP BY 1
        ),
        active AS (
            SELECT m.label, COUNT(DISTINCT b.customer_id) AS active
            FROM m JOIN bought b ON b.occurred_at >= m.window AND b.occurred_at < m.end
            GROUP BY m.label
        )
        SELECT m.label AS month, m.start, m.end,
               COALESCE(firsts.customers, 0) AS new_customers,
               COALESCE(active.active, 0) AS active_customers,
               COALESCE(money.buyers, 0) AS buyers, COALESCE(money.net, 0) AS net_revenue
        FROM m LEFT JOIN firsts ON firsts.label = m.label LEFT JOIN money ON money.label = m.label
            LEFT JOIN active ON active.label = m.label
        ORDER BY m.start
    """
    return _all(db, sql, flt.params(r_months=json.dumps(months), r_end=end))
