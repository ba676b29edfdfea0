"""Loyalty: RFM for every demo customer (crmkit) against the same aggregate in raw SQL and in pandas.

Copies the demo file into the scratch folder (the loyalty plugin adds its tables on open), then
times ``crm.loyalty.rfm(store=False, method="ntile")`` (one SQL aggregate plus numpy
quintiles; the ``ntile`` method, which SQL ``NTILE`` can check), the same call storing its run, the hand-written aggregate alone in raw sqlite3, the aggregate scored with SQL
``NTILE`` windows, and pandas (read the purchases and refunds, group by customer, ``rank`` +
``qcut``). Scores are compared: crmkit must equal the SQL ``NTILE`` scoring for every customer;
the share of customers pandas' ``qcut`` scores the same is reported (its bins differ from NTILE's
only where the count is not a multiple of five).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from ..measure import Context, measurement, ratio, timed, unavailable

AS_OF = "2025-06-30T12:00:00Z"
WINDOW_DAYS = 365

AGGREGATE = """
SELECT customer_id,
    CAST(julianday(:as_of) - julianday(MAX(CASE WHEN kind = 'purchase' THEN occurred_at END)) AS INTEGER) AS recency,
    SUM(CASE WHEN kind = 'purchase' AND occurred_at > :start THEN 1 ELSE 0 END) AS frequency,
    COALESCE(SUM(CASE WHEN occurred_at > :start THEN CASE kind WHEN 'purchase' THEN amount ELSE -amount END END), 0) AS monetary
FROM interactions
WHERE occurred_at <= :as_of AND kind IN ('purchase', 'refund')
GROUP BY customer_id
HAVING MAX(CASE WHEN kind = 'purchase' THEN 1 END) = 1
"""
# The same, written so that SQLite scans the covering (customer_id, occurred_at, kind, amount)
# index in customer order instead of the (kind, occurred_at) index plus a temporary B-tree.
AGGREGATE_COVERING = AGGREGATE.replace("AND kind IN", "AND +kind IN")
NTILE_SCORED = f"""
WITH a AS ({AGGREGATE_COVERING})
SELECT customer_id,
    NTILE(5) OVER (ORDER BY -recency, customer_id) * 100
    + NTILE(5) OVER (ORDER BY frequency, customer_id) * 10
    + NTILE(5) OVER (ORDER BY monetary, customer_id)
FROM a
"""


def _start() -> str:
    from crmkit.timeutil import to_datetime, to_iso

    return to_iso(to_datetime(AS_OF) - timedelta(days=WINDOW_DAYS))


def _pandas_scores(raw: sqlite3.Connection, params: dict):
    import pandas as pd

    log = pd.read_sql_query(
        "SELECT customer_id, kind, occurred_at, amount FROM interactions "
        "WHERE occurred_at <= :as_of AND kind IN ('purchase', 'refund')", raw, params=params,
    )
    as_of = pd.Timestamp(AS_OF)
    log["at"] = pd.to_datetime(log["occurred_at"], utc=True)
    purchase = log["kind"] == "purchase"
    inside = log["occurred_at"] > params["start"]
    log["signed"] = log["amount"].where(purchase, -log["amount"])
    per = pd.DataFrame({
        "last": log[purchase].groupby("customer_id")["at"].max(),
        "frequency": log[purchase & inside].groupby("customer_id").size(),
        "monetary": log[inside].groupby("customer_id")["signed"].sum(),
    })
    per = per[per["last"].notna()].fillna({"frequency": 0, "monetary": 0})
    per["recency"] = (as_of - per["last"]).dt.total_seconds() // 86400
    per = per.reset_index().sort_values("customer_id")

    def score(column, ascending):
        ranked = per.sort_values([column, "customer_id"], ascending=[ascending, True])["customer_id"]
        order = pd.Series(range(1, len(ranked) + 1), index=ranked.index)
        return pd.qcut(order, 5, labels=False) + 1

    codes = score("recency", False) * 100 + score("frequency", True) * 10 + score("monetary", True)
    return dict(zip(per["customer_id"], codes.loc[per.index]))


def run(ctx: Context) -> dict:
    import crmkit
    from crmkit.testing import FixedClock

    copy = ctx.work / "loyalty.db"
    source = sqlite3.connect(f"file:{ctx.data}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    crm = crmkit.open(copy, plugins=["loyalty"], clock=FixedClock(AS_OF))
    raw = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    params = {"as_of": AS_OF, "start": _start()}
    out = {"measurements": [], "ratios": [], "notes": []}
    try:
        repeat = ctx.repeat
        t_crm, result = timed(lambda: crm.loyalty.rfm(window_days=WINDOW_DAYS, store=False, method="ntile"), repeat)
        t_store, stored = timed(lambda: crm.loyalty.rfm(window_days=WINDOW_DAYS, method="ntile"), 1)
        t_naive, naive_rows = timed(lambda: raw.execute(AGGREGATE, params).fetchall(), repeat)
        t_sql, rows = timed(lambda: raw.execute(AGGREGATE_COVERING, params).fetchall(), repeat)
        t_ntile, ntile_rows = timed(lambda: raw.execute(NTILE_SCORED, params).fetchall(), 1)
        customers = len(result.scores)
        mine = {s.customer_id: int(s.code) for s in result.scores}
        if len(rows) != customers or sorted(naive_rows) != sorted(rows) or dict(ntile_rows) != mine:
            raise AssertionError("crmkit RFM and the hand-written SQL (aggregate / NTILE scores) disagree")
        out["measurements"] += [
            measurement("crmkit rfm(store=False): SQL aggregate + numpy quintiles + segments", t_crm, rows=customers, result=customers),
            measurement("crmkit rfm(): the same, storing the run (one row per customer)", t_store, rows=stored.run.customers),
            measurement("hand-written SQL aggregate only, planner's choice (kind index + temp B-tree)", t_naive, rows=len(naive_rows)),
            measurement("hand-written SQL aggregate only, covering-index scan (+kind)", t_sql, rows=len(rows)),
            measurement("hand-written SQL aggregate scored with three NTILE(5) windows", t_ntile, rows=len(ntile_rows)),
        ]
        out["ratios"] += [
            ratio("crmkit rfm (aggregate + scoring) ÷ best hand-written SQL aggregate", t_crm / min(t_sql, t_naive)),
            ratio("planner's-choice SQL aggregate ÷ covering-index SQL aggregate", t_naive / t_sql),
            ratio("SQL NTILE scoring ÷ crmkit rfm", t_ntile / t_crm),
            ratio("crmkit rfm storing the run ÷ without storing", t_store / t_crm),
        ]
        try:
            t_pandas, codes = timed(lambda: _pandas_scores(raw, params), max(1, repeat // 2))
        except ImportError as error:
            out["measurements"].append(unavailable("pandas read_sql + groupby + qcut", str(error)))
        else:
            same = sum(1 for cid, code in codes.items() if mine.get(int(cid)) == int(code))
            out["measurements"].append(measurement(
                "pandas: read_sql of purchases/refunds, groupby, rank + qcut", t_pandas, rows=len(codes),
                note=f"{same / max(len(codes), 1):.2%} of customers scored as crmkit does",
            ))
            out["ratios"].append(ratio("pandas ÷ crmkit rfm", t_pandas / t_crm))
        out["notes"].append(
            f"As of {AS_OF}, window {WINDOW_DAYS} days; median of {repeat} runs after a warm-up (storing, NTILE: one run)."
        )
    finally:
        raw.close()
        crm.close()
    return out
