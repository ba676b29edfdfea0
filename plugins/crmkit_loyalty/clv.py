"""Customer lifetime value models as plain functions on arrays: BG/NBD and Gamma-Gamma.

Nothing here knows about a CRM. Each customer is summarised by

* ``frequency`` x: the number of repeat purchases (purchase periods after the first),
* ``recency`` t_x: the age of the customer at the last purchase (0 when x = 0),
* ``T``: the age of the customer at the end of the observation period,
* ``monetary_value``: the mean value of the repeat purchases (Gamma-Gamma only),

all in one time unit of the caller's choice (weeks in the published examples). The formulas are
those of Fader, Hardie & Lee (2005), "Counting your customers the easy way" (BG/NBD) and
Fader & Hardie (2013), "The Gamma-Gamma model of monetary value". Parameters are fitted by
maximum likelihood with scipy, on the logarithm of each parameter so that they stay positive.

>>> from crmkit_loyalty.clv import fit_bgnbd, p_alive
>>> fit = fit_bgnbd([2, 1, 0, 0, 3, 0, 5, 1], [30.4, 1.7, 0, 0, 20.1, 0, 35.0, 12.0], [38.9] * 8)
>>> 0 < float(p_alive(fit, 2, 30.4, 38.9)) <= 1
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from attrs import frozen
from scipy import optimize, special

__all__ = [
    "BgNbdFit", "GammaGammaFit", "bgnbd_log_likelihood", "conditional_expected_purchases",
    "customer_lifetime_value", "expected_purchases", "expected_spend", "fit_bgnbd",
    "fit_gamma_gamma", "gamma_gamma_log_likelihood", "p_alive",
]


class ModelError(ValueError):
    """The data cannot be fitted (too few customers, bad values) or the fit did not converge."""


@frozen
class BgNbdFit:
    """Fitted BG/NBD parameters and the total log-likelihood of the data they were fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, float]:
        """The parameters r, alpha, a, b and the log-likelihood as a JSON-ready dict (stored in a CLV run's params)."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "log_likelihood": self.log_likelihood}


@frozen
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters (p, q, v; v is the paper's gamma) and log-likelihood."""

    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, float]:
        """The parameters p, q, v and the log-likelihood as a JSON-ready dict (stored in a CLV run's params)."""
        return {"p": self.p, "q": self.q, "v": self.v, "log_likelihood": self.log_likelihood}


def _arrays(*values: Any) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=float) for v in values]
    shapes = {a.shape for a in out}
    if len(shapes) != 1:
        raise ModelError(f"the arrays differ in length: {sorted(a.size for a in out)}")
    return out


def _check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if x.size == 0:
        raise ModelError("no customers to fit")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(T))):
        raise ModelError("frequency, recency and T must be finite numbers")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ModelError("frequency must be whole numbers >= 0")
    if np.any(t_x < 0) or np.any(t_x > T + 1e-9):
        raise ModelError("recency must be between 0 and T")
    if np.any((x == 0) & (t_x != 0)):
        raise ModelError("recency must be 0 for customers with frequency 0")


# --- BG/NBD ---------------------------------------------------------------------------------

def bgnbd_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD parameters ``(r, alpha, a, b)``.

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + [x > 0] · B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
    """
    r, alpha, a, b = (float(p) for p in params)
    x, t_x, T = _arrays(frequency, recency, T)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    first = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    second = np.full_like(x, -np.inf)
    xr = x[repeat]
    second[repeat] = (
        special.betaln(a + 1, b + xr - 1) - special.betaln(a, b) - (r + xr) * np.log(alpha + t_x[repeat])
    )
    return common + np.logaddexp(first, second)


def fit_bgnbd(frequency, recency, T, *, initial=(1.0, 1.0, 1.0, 1.0)) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood; returns ``r, alpha, a, b`` and the log-likelihood.

    The log-likelihood is the plain sum over customers (the published CDNOW figure is
    -9582.4), not a rescaled mean. Customers with the same (x, t_x, T) are evaluated once,
    weighted by their number.
    """
    x, t_x, big_t = _arrays(frequency, recency, T)
    _check_summary(x, t_x, big_t)
    keys, weights = np.unique(np.column_stack([x, t_x, big_t]), axis=0, return_counts=True)
    ux, ut_x, ut = keys[:, 0], keys[:, 1], keys[:, 2]

    def negative(log_params: np.ndarray) -> float:
        value = -np.sum(weights * bgnbd_log_likelihood(np.exp(log_params), ux, ut_x, ut))
        return value if np.isfinite(value) else 1e300

    result = _minimise(negative, np.log(np.asarray(initial, dtype=float)))
    r, alpha, a, b = np.exp(result.x)
    return BgNbdFit(float(r), float(alpha), float(a), float(b), float(-result.fun), int(x.size))


#: Parameters are searched between these values (on a log scale). A parameter ending on a bound
#: means the data do not pin it down (e.g. no sign of customers dropping out: a, b grow large).
PARAMETER_BOUNDS = (1e-4, 1e4)


def _minimise(negative, start: np.ndarray):
    """L-BFGS-B with tight tolerances; when it reports failure, Nelder-Mead from where it stopped."""
    bounds = [tuple(np.log(PARAMETER_BOUNDS))] * len(start)
    best = optimize.minimize(
        negative, start, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-14, "gtol": 1e-9, "maxls": 50},
    )
    if not best.success:
        polished = optimize.minimize(
            negative, best.x, method="Nelder-Mead", bounds=bounds,
            options={"xatol": 1e-7, "fatol": 1e-9, "maxfev": 2000},
        )
        best = polished if polished.fun <= best.fun else best
    if not np.isfinite(best.fun) or best.fun >= 1e299:
        raise ModelError("the likelihood could not be maximised for this data")
    return best


def _params(fit: BgNbdFit | tuple | dict) -> tuple[float, float, float, float]:
    if isinstance(fit, BgNbdFit):
        return fit.r, fit.alpha, fit.a, fit.b
    if isinstance(fit, dict):
        return fit["r"], fit["alpha"], fit["a"], fit["b"]
    r, alpha, a, b = fit
    return r, alpha, a, b


def p_alive(fit, frequency, recency, T) -> np.ndarray:
    """Probability that each customer is still active at T (1 for customers with x = 0).

    P(alive) = 1 / (1 + [x > 0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))
    """
    r, alpha, a, b = _params(fit)
    x, t_x, T = _arrays(frequency, recency, T)
    ratio = np.zeros_like(x)
    repeat = x > 0
    xr = x[repeat]
    ratio[repeat] = np.exp(
        np.log(a) - np.log(b + xr - 1) + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return 1.0 / (1.0 + ratio)


def expected_purchases(fit, t) -> np.ndarray:
    """E[X(t)]: expected purchases in a period of length t by a new customer (unconditional)."""
    r, alpha, a, b = _params(fit)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - ((alpha / (alpha + t)) ** r) * special.hyp2f1(r, b, a + b - 1, z))


def conditional_expected_purchases(fit, t, frequency, recency, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units, per customer.

    (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
    divided by 1 + [x > 0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x).
    """
    r, alpha, a, b = _params(fit)
    x, t_x, T = _arrays(frequency, recency, T)
    t = float(t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    return first * second * p_alive(fit, x, t_x, T)


# --- Gamma-Gamma ------------------------------------------------------------------------------

def gamma_gamma_log_likelihood(params, frequency, monetary_value) -> np.ndarray:
    """Log-likelihood of each repeat customer's mean spend under ``(p, q, v)``.

    f(m | p, q, v, x) = Γ(px+q) / (Γ(px) Γ(q)) · v^q · m^(px-1) · x^(px) / (v + m x)^(px+q)
    """
    p, q, v = (float(value) for value in params)
    x, m = _arrays(frequency, monetary_value)
    px = p * x
    return (
        special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + m * x)
    )


def fit_gamma_gamma(frequency, monetary_value, *, initial=(1.0, 1.0, 1.0)) -> GammaGammaFit:
    """Fit Gamma-Gamma on repeat customers (frequency > 0, monetary value > 0); returns p, q, v.

    Customers with frequency 0 are left out, as the model requires; pass all customers freely.
    """
    x, m = _arrays(frequency, monetary_value)
    keep = x > 0
    x, m = x[keep], m[keep]
    if x.size == 0:
        raise ModelError("Gamma-Gamma needs customers with at least one repeat purchase")
    if np.any(m <= 0) or not np.all(np.isfinite(m)):
        raise ModelError("monetary values of repeat customers must be positive numbers")

    keys, weights = np.unique(np.column_stack([x, m]), axis=0, return_counts=True)

    def negative(log_params: np.ndarray) -> float:
        value = -np.sum(weights * gamma_gamma_log_likelihood(np.exp(log_params), keys[:, 0], keys[:, 1]))
        return value if np.isfinite(value) else 1e300

    result = _minimise(negative, np.log(np.asarray(initial, dtype=float)))
    p, q, v = np.exp(result.x)
    return GammaGammaFit(float(p), float(q), float(v), float(-result.fun), int(x.size))


def _gg_params(fit) -> tuple[float, float, float]:
    if isinstance(fit, GammaGammaFit):
        return fit.p, fit.q, fit.v
    if isinstance(fit, dict):
        return fit["p"], fit["q"], fit["v"]
    p, q, v = fit
    return p, q, v


def expected_spend(fit, frequency, monetary_value) -> np.ndarray:
    """E[M | p, q, v, x, m]: expected value of a customer's future purchase.

    (p (v + x m)) / (p x + q - 1); for x = 0 this is the population mean p v / (q - 1).
    """
    p, q, v = _gg_params(fit)
    x, m = _arrays(frequency, monetary_value)
    return p * (v + x * m) / (p * x + q - 1)


def customer_lifetime_value(
    bgnbd, gamma_gamma, frequency, recency, T, monetary_value, *, periods: int = 12,
    period_length: float = 30.0, discount_rate: float = 0.01,
) -> np.ndarray:
    """Discounted expected value over ``periods`` periods of ``period_length`` time units.

    CLV = Σ_{i=1..periods} (E[Y(i·L)] - E[Y((i-1)·L)]) · E[M] / (1 + d)^i, with E[Y] the
    conditional expected purchases and E[M] the Gamma-Gamma expected spend (the method of
    the ``lifetimes`` package, whose results it reproduces).
    """
    if periods < 1 or period_length <= 0 or discount_rate <= -1:
        raise ModelError("periods must be >= 1, period_length > 0 and discount_rate > -1")
    x, t_x, big_t, m = _arrays(frequency, recency, T, monetary_value)
    spend = expected_spend(gamma_gamma, x, m)
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for i in range(1, periods + 1):
        current = conditional_expected_purchases(bgnbd, i * period_length, x, t_x, big_t)
        total += (current - previous) * spend / (1 + discount_rate) ** i
        previous = current
    return total
