"""Customer lifetime value from the interaction log: historical, and predictive (BG/NBD + Gamma-Gamma).

The summary is one SQL query. A purchase period is a calendar day of the home zone (several purchases on one day
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
from .config import exact_number
from .models import ClvResult, CustomerValue, CustomerValues, Run

WEEK = 7.0
MIN_CUSTOMERS = 10


class ClvError(CrmError):
    """The CLV models could not be fitted to this CRM's purchases."""


def summary(crm, as_of: Any = None) -> dict[str, np.ndarray]:
    """The per-customer summary the models need, plus net revenue and margin, as arrays.

    One entry per customer with a purchase up to ``as_of``, in customer id order:
    ``customer_id``, ``frequency``, ``recency`` and ``T`` (weeks), ``monetary`` (mean value of the
    repeat purchase days, in currency units), ``revenue`` (net of refunds, minor units) and
    ``margin`` (an object array: the customer's ``attributes.margin`` as Decimal, or None).
    Two set-based statements (purchases and refunds, margins); no Python loop over customers.
    """
    in_list, out_list, kinds = q.kind_params(crm)
    params = dict(kinds, as_of=to_iso(crm.as_of(as_of)))
    table = _fetch_array(crm.db.execute(q.clv_summary(in_list, out_list, crm.calendar), params), 6)
    ids = table[:, 0].astype(np.int64)
    if ids.size > 1 and np.any(ids[1:] <= ids[:-1]):  # a store whose GROUP BY does not keep the order
        order = np.argsort(ids, kind="stable")
        table, ids = table[order], ids[order]
    frequency = table[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, table[:, 4] / 10 ** crm.exponent / np.maximum(frequency, 1), 0.0)
    revenue = table[:, 5].astype(np.int64)
    margin = np.full(ids.size, None, dtype=object)
    for customer_id, raw in crm.db.execute(q.CLV_MARGINS):  # only the customers that carry a margin
        at = np.searchsorted(ids, customer_id)
        if at < ids.size and ids[at] == customer_id:
            margin[at] = _margin(raw)
    return {
        "customer_id": ids,
        "frequency": frequency,
        "recency": table[:, 2] / WEEK,
        "T": table[:, 3] / WEEK,
        "monetary": monetary,
        "revenue": revenue,
        "margin": margin,
    }


#: Rows converted to an array at a time: the Python tuples of a million customers would cost
#: some 300 MB at once, a chunk's a few MB.
FETCH_ROWS = 50_000


def _fetch_array(cursor, width: int) -> np.ndarray:
    """All rows of a numeric query as one float64 array, fetched and converted chunk by chunk."""
    parts = [np.empty((0, width))]
    while chunk := cursor.fetchmany(FETCH_ROWS):
        parts.append(np.array(chunk, dtype=np.float64))
    return np.concatenate(parts)


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
    With ``store`` the values are written as a run (fields ``clv``, ``p_alive``,
    ``expected_purchases_90d`` read it). Everything is computed on arrays; the result's
    ``values`` builds a ``CustomerValue`` only for the items read.
    """
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 600:
        raise ValidationError("months", months, "a whole number of months from 1 to 600")
    expected = "a monthly rate from 0 to below 1, as text or Decimal"
    rate = exact_number("discount_rate", discount_rate, expected)
    if not Decimal(0) <= rate < Decimal(1):
        raise ValidationError("discount_rate", discount_rate, expected)
    moment = crm.as_of(as_of)
    data = summary(crm, moment)
    x, t_x, big_t, m = data["frequency"], data["recency"], data["T"], data["monetary"]
    # Repeat buyers whose repeat purchases are worth nothing (all 0, or not a number) cannot be
    # fitted by Gamma-Gamma: they are left out of that fit and given the population's mean spend.
    left_out = (x > 0) & ~(np.isfinite(m) & (m > 0))
    try:
        bgnbd, gamma_gamma = _fit(moment, x, t_x, big_t, m, left_out)
    except ClvError as error:
        if store:
            record_failure(crm, moment, str(error))
        raise
    spend = None
    if left_out.any():
        spend = models.expected_spend(gamma_gamma, np.where(left_out, 0.0, x), np.where(left_out, 0.0, m))
    predicted = models.predict(
        bgnbd, gamma_gamma, x, t_x, big_t, m, horizon=90 / WEEK, periods=months, period_length=30 / WEEK,
        discount_rate=float(rate), spend=spend,
    )
    customers = len(data["customer_id"])
    alive, expected_90 = predicted["p_alive"], predicted["expected_purchases"]
    spend, value = predicted["expected_spend"], predicted["clv"]
    scale = 10 ** crm.exponent
    historical = data["revenue"]
    columns = {
        "customer_id": data["customer_id"], "frequency": x.astype(np.int64), "recency": np.round(t_x, 4),
        "age": np.round(big_t, 4), "monetary": np.round(m, 4), "historical": historical,
        "historical_margin": _margins(historical, data["margin"]),
        "expected_purchases_90d": np.round(expected_90, 6), "p_alive": np.round(alive, 6),
        "expected_spend": np.rint(spend * scale).astype(np.int64), "clv": np.rint(value * scale).astype(np.int64),
    }
    params = {
        "bgnbd": bgnbd.as_dict(), "gamma_gamma": gamma_gamma.as_dict(), "months": months,
        "discount_rate": str(rate), "time_unit": "week", "spend_left_out": int(left_out.sum()),
    }
    run = None
    if store:
        with crm.transaction():
            run_id = runs.start(crm, "clv", moment, params)
            crm.db.executemany(q.CLV_INSERT, zip(
                [run_id] * customers, *(columns[name].tolist() for name in CustomerValues._NAMES),
            ))
            run = runs.finish(crm, run_id, customers, "clv", moment)
            if crm.settings.get(FAILURE_SETTING) is not None:
                crm.settings.set(FAILURE_SETTING, None)
    order = np.lexsort((columns["customer_id"], -columns["clv"]))
    return ClvResult(
        run, moment, params["bgnbd"], params["gamma_gamma"], customers,
        from_minor(int(columns["clv"].sum()), crm.exponent), from_minor(int(historical.sum()), crm.exponent),
        CustomerValues(columns, order, crm.exponent), params["spend_left_out"],
    )


def left_out_text(count: int) -> str:
    """The line that says how many repeat buyers the spend model left out (CLI, report, panel)."""
    buyers = "repeat buyer" if count == 1 else "repeat buyers"
    return f"{count:,} {buyers} with no positive spend left out of the spend model (valued at the population's expected spend)"


def _fit(moment, x, t_x, big_t, m, left_out):
    """Both fits, or a ClvError saying why the models cannot be fitted to this data."""
    customers = x.size
    repeaters = int(np.sum(x > 0))
    spenders = repeaters - int(left_out.sum())
    if customers < MIN_CUSTOMERS or repeaters < 2:
        raise ClvError(
            f"CLV needs at least {MIN_CUSTOMERS} customers with purchases and 2 with repeat purchases as of "
            f"{to_iso(moment)}; found {customers} and {repeaters}"
        )
    if spenders < 2:
        raise ClvError(
            f"CLV needs at least 2 repeat buyers with a positive spend as of {to_iso(moment)}; found {spenders} "
            f"({repeaters - spenders} of {repeaters} repeat buyers spent nothing on their repeat purchases)"
        )
    try:
        bgnbd = models.fit_bgnbd(x, t_x, big_t)
        gamma_gamma = models.fit_gamma_gamma(x[~left_out], m[~left_out])
    except models.ModelError as error:
        raise ClvError(f"CLV models could not be fitted as of {to_iso(moment)}: {error}") from None
    if gamma_gamma.q <= 1:
        raise ClvError(
            f"CLV models could not be fitted as of {to_iso(moment)}: Gamma-Gamma fitted q = {gamma_gamma.q:.3f} <= 1, "
            "so the expected spend is undefined for this data"
        )
    return bgnbd, gamma_gamma


#: Setting holding why the latest CLV computation that should have been stored failed (as_of,
#: reason), for the report section and the dashboard; cleared by the next stored run.
FAILURE_SETTING = "loyalty.clv_failure"


def record_failure(crm, moment, reason: str) -> None:
    """Remember that CLV could not be computed as of ``moment`` and why (see :func:`failure`)."""
    crm.settings.set(FAILURE_SETTING, {"as_of": to_iso(moment), "reason": reason})


def failure(crm, as_of: Any = None, run: Run | None = None) -> dict | None:
    """The recorded CLV failure (``{"as_of", "reason"}``) if it is as of ``as_of`` or earlier and
    newer than ``run`` (the newest stored run as of then), else None."""
    note = crm.settings.get(FAILURE_SETTING)
    if not note:
        return None
    moment = crm.as_of(note["as_of"])
    if moment > crm.as_of(as_of) or (run is not None and run.as_of > moment):
        return None
    return note


def _margins(historical: np.ndarray, margins: np.ndarray) -> np.ndarray:
    """Historical margin in minor units (revenue × margin, rounded half to even) or None, per
    customer; the loop runs over the customers that carry a margin only."""
    out = np.full(historical.size, None, dtype=object)
    for i in np.flatnonzero(margins != None):  # noqa: E711 - elementwise test of an object array
        out[i] = int((Decimal(int(historical[i])) * margins[i]).to_integral_value())
    return out


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
    values = np.array(crm.db.execute(q.CLV_VALUES, [run.id]).fetchall(), dtype=np.int64).reshape(-1)
    out = []
    for index, part in enumerate(np.array_split(values, buckets), start=1):
        if len(part):
            out.append({
                "quintile": index, "customers": int(len(part)), "total": from_minor(int(part.sum()), crm.exponent),
                "min": from_minor(int(part.min()), crm.exponent), "max": from_minor(int(part.max()), crm.exponent),
            })
    return out
