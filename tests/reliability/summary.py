"""Recompute the per-customer summary from the interaction log, independently of crmkit."""

from __future__ import annotations

from crmkit.engine import Database

# The core's kinds (no plugins in these tests): what moves money in, out, and what is a contact.
RECOMPUTE = """
SELECT customer_id,
    MIN(CASE WHEN kind = 'purchase' THEN occurred_at END),
    MAX(CASE WHEN kind = 'purchase' THEN occurred_at END),
    SUM(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END), SUM(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END),
    SUM(CASE kind WHEN 'purchase' THEN amount WHEN 'refund' THEN -amount ELSE 0 END),
    MAX(CASE WHEN kind IN ('call', 'email', 'visit', 'meeting') THEN occurred_at END),
    MIN(occurred_at), MAX(occurred_at), COUNT(*)
FROM interactions GROUP BY customer_id ORDER BY customer_id
"""
STORED = """
SELECT customer_id, first_purchase_at, last_purchase_at, purchases, refunds, net_spend, last_contact_at,
    first_interaction_at, last_interaction_at, interactions
FROM customer_summary WHERE interactions > 0 ORDER BY customer_id
"""


def summary_mismatches(conn: Database) -> list[tuple]:
    """Rows where the stored summary differs from the log (empty list: consistent)."""
    recomputed = [tuple(row) for row in conn.execute(RECOMPUTE)]
    stored = [tuple(row) for row in conn.execute(STORED)]
    return sorted(set(recomputed) ^ set(stored))
