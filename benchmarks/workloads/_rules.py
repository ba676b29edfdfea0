"""The two segment rules the count workloads measure, and their hand-written SQL equivalents.

Rule A reads only lifetime fields (answered from the per-customer summary the core keeps);
rule B has a windowed aggregate (net spend over 365 days) that must read the interaction log.
``last_purchase_days <= 90`` means fewer than 91 whole days, i.e. a last purchase after
``as_of - 91 days``; money is in cents.
"""

from __future__ import annotations

from datetime import timedelta

from crmkit.timeutil import to_datetime, to_iso

AS_OF = "2025-06-30T12:00:00Z"
RULE_A = "ltv >= 1000 and last_purchase_days <= 90 and size in ('large', 'enterprise')"
RULE_B = "spend_365d >= 5000 and last_purchase_days <= 90 and region = 'Western Europe'"


# A year before AS_OF: customers added since then are no members, and rules read the customer
# fields of the version valid then (customer_history) and the interaction log up to then.
PAST = "2024-06-30T12:00:00Z"
# Rule C reads customer fields only: as of now from the customer row, as of PAST from its history.
RULE_C = "region = 'Western Europe' and size in ('large', 'enterprise')"


def params(as_of: str = AS_OF) -> dict:
    now = to_datetime(as_of)
    return {"as_of": as_of, "since90": to_iso(now - timedelta(days=91)), "since365": to_iso(now - timedelta(days=365))}


# Rule A from the summary table: what a developer who keeps such a table would write.
A_SUMMARY = """
SELECT count(*) FROM customers c JOIN customer_summary s ON s.customer_id = c.id
WHERE s.net_spend >= 100000 AND s.last_purchase_at > :since90 AND c.size IN ('large', 'enterprise')
"""
# Rule A re-aggregating the log: what one writes without a summary table.
A_REAGGREGATE = """
SELECT count(*) FROM customers c JOIN (
    SELECT customer_id,
           SUM(CASE WHEN kind = 'purchase' THEN amount WHEN kind = 'refund' THEN -amount ELSE 0 END) AS ltv,
           MAX(CASE WHEN kind = 'purchase' THEN occurred_at END) AS last_purchase
    FROM interactions WHERE occurred_at <= :as_of GROUP BY customer_id
) a ON a.customer_id = c.id
WHERE a.ltv >= 100000 AND a.last_purchase > :since90 AND c.size IN ('large', 'enterprise')
"""
# Rule B, two ways a careful developer would write it; the faster one is "best".
B_GROUPED = """
SELECT count(*) FROM customers c JOIN customer_summary s ON s.customer_id = c.id JOIN (
    SELECT customer_id, SUM(CASE WHEN kind = 'purchase' THEN amount ELSE -amount END) AS spend
    FROM interactions WHERE kind IN ('purchase', 'refund') AND occurred_at > :since365 AND occurred_at <= :as_of
    GROUP BY customer_id
) w ON w.customer_id = c.id
WHERE w.spend >= 500000 AND s.last_purchase_at > :since90 AND c.region = 'Western Europe'
"""
B_CORRELATED = """
SELECT count(*) FROM customers c JOIN customer_summary s ON s.customer_id = c.id
WHERE c.region = 'Western Europe' AND s.last_purchase_at > :since90 AND (
    SELECT SUM(CASE WHEN i.kind = 'purchase' THEN i.amount WHEN i.kind = 'refund' THEN -i.amount ELSE 0 END)
    FROM interactions i WHERE i.customer_id = c.id AND i.occurred_at > :since365 AND i.occurred_at <= :as_of
) >= 500000
"""


def first_page(count_sql: str) -> str:
    """The first 50 members, ordered by id, from a ``SELECT count(*) ...`` query."""
    return count_sql.replace("SELECT count(*)", "SELECT c.*", 1) + " ORDER BY c.id LIMIT 50"


# Rule C, now: the customer row.
C_NOW = """
SELECT count(*) FROM customers c WHERE c.region = 'Western Europe' AND c.size IN ('large', 'enterprise')
"""
# Rule C as of a past date: the version of each customer valid then.
C_PAST = """
SELECT count(*) FROM customers c JOIN customer_history h ON h.customer_id = c.id
    AND h.valid_from <= :as_of AND (h.valid_to IS NULL OR h.valid_to > :as_of)
WHERE h.region = 'Western Europe' AND h.size IN ('large', 'enterprise')
"""
# Rule A as of a past date: the log re-aggregated up to then, and the customer's version then.
A_PAST = """
SELECT count(*) FROM customers c JOIN customer_history h ON h.customer_id = c.id
    AND h.valid_from <= :as_of AND (h.valid_to IS NULL OR h.valid_to > :as_of)
JOIN (
    SELECT customer_id,
           SUM(CASE WHEN kind = 'purchase' THEN amount WHEN kind = 'refund' THEN -amount ELSE 0 END) AS ltv,
           MAX(CASE WHEN kind = 'purchase' THEN occurred_at END) AS last_purchase
    FROM interactions WHERE occurred_at <= :as_of GROUP BY customer_id
) a ON a.customer_id = c.id
WHERE a.ltv >= 100000 AND a.last_purchase > :since90 AND h.size IN ('large', 'enterprise')
"""
