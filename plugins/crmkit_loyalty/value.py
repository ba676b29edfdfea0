"""Customer lifetime value from the interaction log: historical, and predictive (BG/NBD + Gamma-Gamma).

The summary is one SQL query. A purchase period is a calendar day (several purchases on one day
are one purchase of their total), time is in weeks, as in the published CDNOW analysis:
``frequency`` = purchase days after the first, ``recency`` = weeks from the first to the last
purchase day, ``T`` = weeks from the first purchase day to the as_of day, ``monetary`` = mean
value of the repeat purchase days. Predictions are floats from the models; money results are
rounded to the currency's minor unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from crmkit import CrmError, ValidationError
from crmkit.money import from_minor
from crmkit.timeutil import to_iso

from . import clv as models
from . import queries as q
from . import runs
from .models import ClvResult, CustomerValue, Run

WEEK = 7.0
MIN_CUSTOMERS = 10


class ClvError(CrmError):
    """The CLV models could not be fitted to this CRM's purchases."""


def summary(crm, as_of: Any = None) -> dict[str, np.ndarray]:
    """The per-customer summary the models need, plus net revenue and margin, as arrays."""
    in_list, out_list, kinds = q.kind_params(crm)
    rows = crm.db.execute(q.clv_summary(in_list, out_list), dict(kinds, as_of=to_iso(crm.as_of(as_of)))).fetchall()
    cols = list(zip(*rows)) if rows else [()] * 7
    frequency = np.array(cols[1], dtype=float)
    repeat_total = np.array(cols[4], dtype=float) / 10 ** crm.exponent
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / np.maximum(frequency, 1), 0.0)
    return {
        "customer_id": np.array(cols[0], dtype=np.int64),
        "frequency": frequency,
        "recency": np.array(cols[2], dtype=float) / WEEK,
        "T": np.array(cols[3], dtype=float) / WEEK,
        "monetary": monetary,
        "revenue": np.array(cols[5], dtype=np.int64),
        "margin": [_margin(v) for v in cols[6]],
    }


def _margin(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        margin = Decimal(str(value))
    except Exception:  # noqa: BLE001 - a malformed margin counts as not given
        return None
    return margin if margin.is_finite() and 0 <= margin <= 1 else None


def compute(
    crm, as_of: Any = None, *, months: int = 12, discount_rate: Any = "0.01", store: bool = True,
) -> ClvResult:
    """Fit both models on the CRM's purchases as of a time and value every purchasing customer.

    ``months`` is the horizon in 30-day months, ``discount_rate`` the monthly discount rate.
    """
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 600:
        raise ValidationError("months", months, "a whole number of months from 1 to 600")
    rate = Decimal(str(discount_rate))
    if isinstance(discount_rate, float) or not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
        raise ValidationError("discount_rate", discount_rate, "a monthly rate from 0 to below 1, as text or Decimal")
    moment = crm.as_of(as_of)
    data = summary(crm, moment)
    customers = len(data["customer_id"])
    repeaters = int(np.sum(data["frequency"] > 0))
    if customers < MIN_CUSTOMERS or repeaters < 2:
        raise ClvError(
            f"CLV needs at least {MIN_CUSTOMERS} customers with purchases and 2 with repeat purchases as of "
            f"{to_iso(moment)}; found {customers} and {repeaters}"
        )
    x, t_x, big_t, m = data["frequency"], data["recency"], data["T"], data["monetary"]
    try:
        bgnbd = models.fit_bgnbd(x, t_x, big_t)
        gamma_gamma = models.fit_gamma_gamma(x, m)
    except models.ModelError as error:
        raise ClvError(f"CLV models could not be fitted: {error}") from None
    if gamma_gamma.q <= 1:
        raise ClvError(f"Gamma-Gamma fitted q = {gamma_gamma.q:.3f} <= 1: expected spend is undefined for this data")
    alive = models.p_alive(bgnbd, x, t_x, big_t)
    expected_90 = models.conditional_expected_purchases(bgnbd, 90 / WEEK, x, t_x, big_t)
    spend = models.expected_spend(gamma_gamma, x, m)
    value = models.customer_lifetime_value(
        bgnbd, gamma_gamma, x, t_x, big_t, m, periods=months, period_length=30 / WEEK, discount_rate=float(rate),
    )
    scale = 10 ** crm.exponent
    records = []
    for i in range(customers):
        margin = data["margin"][i]
        historical = int(data["revenue"][i])
        records.append((
            int(data["customer_id"][i]), int(x[i]), round(float(t_x[i]), 4), round(float(big_t[i]), 4),
            round(float(m[i]), 4), historical,
            None if margin is None else int((Decimal(historical) * margin).to_integral_value()),
            round(float(expected_90[i]), 6), round(float(alive[i]), 6),
            int(round(float(spend[i]) * scale)), int(round(float(value[i]) * scale)),
        ))
    params = {
        "bgnbd": bgnbd.as_dict(), "gamma_gamma": gamma_gamma.as_dict(), "months": months,
        "discount_rate": str(rate), "time_unit": "week",
    }
    run = None
    if store:
        with crm.transaction():
            run_id = runs.start(crm, "clv", moment, params)
            crm.db.conn.executemany(q.CLV_INSERT, [(run_id, *rec) for rec in records])
            run = runs.finish(crm, run_id, len(records), "clv", moment)
    values = [_value(crm, rec) for rec in sorted(records, key=lambda r: (-r[10], r[0]))]
    return ClvResult(
        run, moment, params["bgnbd"], params["gamma_gamma"], customers,
        from_minor(sum(r[10] for r in records), crm.exponent), from_minor(sum(r[5] for r in records), crm.exponent), values,
    )


def _value(crm, rec) -> CustomerValue:
    e = crm.exponent
    return CustomerValue(
        rec[0], rec[1], rec[2], rec[3], rec[4], from_minor(rec[5], e), from_minor(rec[6], e), rec[7], rec[8],
        from_minor(rec[9], e), from_minor(rec[10], e),
    )


def stored(crm, run: Run, customer_id: int | None = None, limit: int = 100, offset: int = 0) -> list[CustomerValue]:
    """Stored customer values of a CLV run, highest CLV first (one customer if ``customer_id``); a
    page of ``limit`` (default 100) from ``offset``. Money is exact Decimal in the CRM's currency.
    """
    rows = crm.db.execute(q.CLV_ROWS, {"run": run.id, "customer": customer_id, "limit": limit, "offset": offset})
    return [_value(crm, tuple(row)) for row in rows]


def distribution(crm, run: Run, buckets: int = 5) -> list[dict]:
    """CLV quintiles of a run: customers, total and range per fifth (lowest first)."""
    values = np.array([r[0] for r in crm.db.execute(q.CLV_VALUES, [run.id])], dtype=np.int64)
    out = []
    for index, part in enumerate(np.array_split(values, buckets), start=1):
        if len(part):
            out.append({
                "quintile": index, "customers": int(len(part)), "total": from_minor(int(part.sum()), crm.exponent),
                "min": from_minor(int(part.min()), crm.exponent), "max": from_minor(int(part.max()), crm.exponent),
            })
    return out
