"""Loyalty: predictive CLV for every demo customer, crmkit against the ``lifetimes`` package.

Copies the demo file into the scratch folder, then times ``crm.loyalty.clv(store=False)`` (the
summary in one SQL query, BG/NBD and Gamma-Gamma fits, P(alive), 90-day expectation, 12-month
CLV) and the same with ``lifetimes``: pandas reads the purchases, ``summary_data_from_transaction_data``
(daily periods, converted to weeks), ``BetaGeoFitter``, ``GammaGammaFitter`` and
``customer_lifetime_value``. The fitted parameters of both are compared.
"""

from __future__ import annotations

import sqlite3
import warnings

from ..measure import Context, measurement, ratio, timed, unavailable

AS_OF = "2025-06-30T12:00:00Z"


def _lifetimes(raw: sqlite3.Connection):
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    log = pd.read_sql_query(
        "SELECT customer_id, occurred_at, amount FROM interactions WHERE kind = 'purchase' AND occurred_at <= ?",
        raw, params=[AS_OF],
    )
    log["day"] = pd.to_datetime(log["occurred_at"].str.slice(0, 10))
    log["amount"] = log["amount"] / 100
    summary = summary_data_from_transaction_data(
        log, "customer_id", "day", monetary_value_col="amount", observation_period_end=AS_OF[:10], freq="D",
    )
    summary["recency"] /= 7.0
    summary["T"] /= 7.0
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[summary["frequency"] > 0]
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    bgf.conditional_expected_number_of_purchases_up_to_time(90 / 7, summary["frequency"], summary["recency"], summary["T"])
    value = ggf.customer_lifetime_value(
        bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=12, freq="W", discount_rate=0.01,
    )
    return bgf.params_.to_dict(), ggf.params_.to_dict(), len(summary), float(value.sum())


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
    out = {"measurements": [], "ratios": [], "notes": []}
    repeat = max(1, ctx.repeat // 2)
    try:
        t_crm, result = timed(lambda: crm.loyalty.clv(store=False), repeat)
        out["measurements"].append(measurement(
            "crmkit clv(store=False): SQL summary, BG/NBD + Gamma-Gamma fits, predictions", t_crm,
            rows=result.customers, result=f"r={result.bgnbd['r']:.4f} a={result.bgnbd['a']:.4f} p={result.gamma_gamma['p']:.4f}",
        ))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_ref, (bg, gg, customers, _) = timed(lambda: _lifetimes(raw), repeat)
        except ImportError as error:
            out["measurements"].append(unavailable("lifetimes", str(error)))
        else:
            if customers != result.customers:
                raise AssertionError(f"customers differ: crmkit {result.customers}, lifetimes {customers}")
            worst = max(
                [abs(result.bgnbd[k] - bg[k]) / abs(bg[k]) for k in ("r", "alpha", "a", "b")]
                + [abs(result.gamma_gamma[k] - gg[k]) / abs(gg[k]) for k in ("p", "q", "v")]
            )
            out["measurements"].append(measurement(
                "lifetimes: read_sql, summary_data_from_transaction_data, fits, predictions", t_ref, rows=customers,
                note=f"largest relative parameter difference {worst:.1e}",
            ))
            out["ratios"].append(ratio("lifetimes ÷ crmkit clv", t_ref / t_crm))
        out["notes"].append(f"As of {AS_OF}; daily purchase periods, weeks as the time unit; median of {repeat} run(s).")
    finally:
        raw.close()
        crm.close()
    return out
