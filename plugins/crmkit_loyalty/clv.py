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
    "fit_gamma_gamma", "gamma_gamma_log_likelihood", "p_alive", "predict",
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
    weighted by their number; terms that depend on x, t_x or T alone are computed once per
    distinct value. The optimiser (L-BFGS-B on the log of each parameter) gets the analytic
    gradient of the log-likelihood, so each step costs one evaluation instead of five.
    """
    x, t_x, big_t = _arrays(frequency, recency, T)
    _check_summary(x, t_x, big_t)
    negative, total = _bgnbd_objective(x, t_x, big_t)
    result = _minimise(negative, np.log(np.asarray(initial, dtype=float)))
    r, alpha, a, b = np.exp(result.x)
    return BgNbdFit(float(r), float(alpha), float(a), float(b), float(-result.fun * total), int(x.size))


def _bgnbd_objective(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray):
    """The function L-BFGS-B minimises for BG/NBD, and the number of customers.

    It takes the logs of ``(r, alpha, a, b)`` and returns minus the mean log-likelihood per
    customer and its gradient. With w = the share of the second term of L (the customer dropped
    out after the last purchase) in each customer's likelihood, ψ the digamma function:

    * ∂/∂r = ψ(r+x) - ψ(r) + ln α - (1-w) ln(α+T) - w ln(α+t_x)
    * ∂/∂α = r/α - (r+x) ((1-w)/(α+T) + w/(α+t_x))
    * ∂/∂a = ψ(a+b) - ψ(a) + (1-w) (ψ(a) - ψ(a+b+x)) + w (ψ(a+1) - ψ(a+b+x))
    * ∂/∂b = ψ(a+b) - ψ(b) + (1-w) (ψ(b+x) - ψ(a+b+x)) + w (ψ(b+x-1) - ψ(a+b+x))

    times each parameter for the log scale.
    """
    (ux, ut_x, ut), (ix, it_x, it), weights = _group(x, t_x, big_t)
    total = float(weights.sum())
    # per key: x, and the per-value tables it indexes
    kx = ux[ix]
    repeat_x = ux > 0
    w_of_x = np.bincount(ix, weights=weights, minlength=ux.size)

    def negative(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(log_params)
        beta_ab = special.betaln(a, b)
        # terms of each distinct x
        first_x = special.betaln(a, b + ux) - beta_ab
        with np.errstate(invalid="ignore", divide="ignore"):
            second_x = np.where(repeat_x, special.betaln(a + 1, b + ux - 1) - beta_ab, -np.inf)
        log_alpha_t = np.log(alpha + ut)
        log_alpha_tx = np.log(alpha + ut_x)
        rx = r + kx
        first = first_x[ix] - rx * log_alpha_t[it]
        second = second_x[ix] - rx * log_alpha_tx[it_x]
        mix = np.logaddexp(first, second)
        common_x = special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha)
        value = float(_dot(w_of_x, common_x) + _dot(weights, mix))
        if not np.isfinite(value):
            return 1e300, np.zeros(4)
        share = np.exp(second - mix) * weights  # weight of the "dropped out after x" term, times the count
        rest = weights - share
        share_x = np.bincount(ix, weights=share, minlength=ux.size)
        rest_x = w_of_x - share_x
        psi_abx = special.digamma(a + b + ux)
        d_r = (
            _dot(w_of_x, special.digamma(r + ux) - special.digamma(r) + np.log(alpha))
            - _dot(rest, log_alpha_t[it]) - _dot(share, log_alpha_tx[it_x])
        )
        d_alpha = total * r / alpha - _dot(rx, rest / (alpha + ut)[it] + share / (alpha + ut_x)[it_x])
        psi_a, psi_b, psi_ab = special.digamma(a), special.digamma(b), special.digamma(a + b)
        with np.errstate(invalid="ignore"):
            psi_b_x1 = np.where(repeat_x, special.digamma(b + ux - 1), 0.0)
        d_a = total * (psi_ab - psi_a) + _dot(rest_x, psi_a - psi_abx) + _dot(share_x, special.digamma(a + 1) - psi_abx)
        d_b = total * (psi_ab - psi_b) + _dot(rest_x, special.digamma(b + ux) - psi_abx) + _dot(share_x, psi_b_x1 - psi_abx)
        gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        if not np.all(np.isfinite(gradient)):
            return 1e300, np.zeros(4)
        return -value / total, -gradient / total

    return negative, total


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of the products of two vectors, without BLAS: for vectors of this size a BLAS call
    can cost a hundred times more when its threads compete for busy cores."""
    return float(np.multiply(a, b).sum())


def _distinct(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of a column and, per row, the index of its value among them
    (a sort and a binary search: cheaper than ``np.unique(return_inverse=True)``'s argsort)."""
    values = np.unique(column)
    return values, np.searchsorted(values, column).reshape(-1)


def _group(*columns: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The distinct rows of equal-length columns, without sorting the rows as tuples.

    Returns the distinct values of each column, for each distinct row the index of its value
    in each column's distinct values, and how many rows it stands for. Each column is reduced
    to the index of its value, the indexes are combined into one integer key per row and the
    keys are counted: several times faster than ``np.unique(axis=0)``.
    """
    uniques, indexes = zip(*(_distinct(column) for column in columns))
    sizes = [u.size for u in uniques]
    if float(np.prod([float(n) for n in sizes])) >= 2.0 ** 62:
        keys, counts = np.unique(np.column_stack(indexes), axis=0, return_counts=True)
        return list(uniques), [keys[:, k] for k in range(len(columns))], counts
    key = indexes[0].astype(np.int64)
    for size, index in zip(sizes[1:], indexes[1:]):
        key = key * size + index
    keys, counts = np.unique(key, return_counts=True)
    parts = []
    for size in reversed(sizes[1:]):
        keys, part = np.divmod(keys, size)
        parts.append(part)
    parts.append(keys)
    return list(uniques), parts[::-1], counts


#: Parameters are searched between these values (on a log scale). A parameter ending on a bound
#: means the data do not pin it down (e.g. no sign of customers dropping out: a, b grow large).
PARAMETER_BOUNDS = (1e-4, 1e4)


def _minimise(negative, start: np.ndarray):
    """L-BFGS-B with tight tolerances on ``negative`` (value and gradient, per customer); when it
    reports failure, Nelder-Mead from where it stopped, on the value alone."""
    bounds = [tuple(np.log(PARAMETER_BOUNDS))] * len(start)
    best = optimize.minimize(
        negative, start, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-10, "maxls": 50, "maxiter": 1000},
    )
    if not best.success:
        polished = optimize.minimize(
            lambda p: negative(p)[0], best.x, method="Nelder-Mead", bounds=bounds,
            options={"xatol": 1e-7, "fatol": 1e-12, "maxfev": 2000},
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
    x, t_x, T = _arrays(frequency, recency, T)
    pairs = _Pairs(x, T)
    return pairs.spread(_purchases_if_alive(_params(fit), float(t), pairs.x, pairs.T)) * p_alive(fit, x, t_x, T)


def _purchases_if_alive(params, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """The factor of E[Y(t) | x, t_x, T] before P(alive); it depends on x and T only."""
    r, alpha, a, b = params
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    return first * (1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp)


class _Pairs:
    """The distinct (x, T) pairs of the customers: the hypergeometric function, the costly part
    of every prediction, is evaluated once per pair and spread back to the customers."""

    def __init__(self, x: np.ndarray, T: np.ndarray) -> None:
        self.x, self.T, self._inverse = x, T, None
        if x.ndim == 1 and x.size > 1:
            (ux, ut), (ix, it) = zip(_distinct(x), _distinct(T))
            key = ix.astype(np.int64) * ut.size + it
            keys = np.unique(key)
            self._inverse = np.searchsorted(keys, key)
            self.x, self.T = ux[keys // ut.size], ut[keys % ut.size]

    def spread(self, values: np.ndarray) -> np.ndarray:
        """Values computed per distinct pair, one per customer again."""
        return values if self._inverse is None else values[self._inverse]


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
    The optimiser gets the analytic gradient of the log-likelihood (see ``fit_bgnbd``).
    """
    x, m = _arrays(frequency, monetary_value)
    keep = x > 0
    x, m = x[keep], m[keep]
    if x.size == 0:
        raise ModelError("Gamma-Gamma needs customers with at least one repeat purchase")
    if np.any(m <= 0) or not np.all(np.isfinite(m)):
        raise ModelError("monetary values of repeat customers must be positive numbers")
    negative, total = _gamma_gamma_objective(x, m)
    result = _minimise(negative, np.log(np.asarray(initial, dtype=float)))
    p, q, v = np.exp(result.x)
    return GammaGammaFit(float(p), float(q), float(v), float(-result.fun * total), int(x.size))


def _gamma_gamma_objective(x: np.ndarray, m: np.ndarray):
    """The function L-BFGS-B minimises for Gamma-Gamma (repeat customers only), and their number.

    It takes the logs of ``(p, q, v)`` and returns minus the mean log-likelihood and its gradient:

    * ∂/∂p = x (ψ(px+q) - ψ(px) + ln m + ln x - ln(v+mx))
    * ∂/∂q = ψ(px+q) - ψ(q) + ln v - ln(v+mx)
    * ∂/∂v = q/v - (px+q)/(v+mx)

    times each parameter for the log scale. gammaln and digamma run once per distinct x; the
    terms of the data alone are summed once.
    """
    ux, ix = _distinct(x)
    w_of_x = np.bincount(ix, minlength=ux.size).astype(float)
    total = float(x.size)
    log_m = np.log(m)
    sum_log_m = float(log_m.sum())
    sum_x_log_xm = float(_dot(x, log_m + np.log(x)))
    mx = m * x

    def negative(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(log_params)
        px = p * ux
        log_v_mx = np.log(v + mx)
        px_q = p * x + q
        value = (
            _dot(w_of_x, special.gammaln(px + q) - special.gammaln(px)) - total * special.gammaln(q)
            + total * q * np.log(v) + p * sum_x_log_xm - sum_log_m - _dot(px_q, log_v_mx)
        )
        if not np.isfinite(value):
            return 1e300, np.zeros(3)
        psi_pxq = special.digamma(px + q)
        d_p = _dot(w_of_x, ux * (psi_pxq - special.digamma(px))) + sum_x_log_xm - _dot(x, log_v_mx)
        d_q = _dot(w_of_x, psi_pxq) - total * special.digamma(q) + total * np.log(v) - log_v_mx.sum()
        d_v = total * q / v - np.sum(px_q / (v + mx))
        gradient = np.array([d_p * p, d_q * q, d_v * v])
        if not np.all(np.isfinite(gradient)):
            return 1e300, np.zeros(3)
        return -float(value) / total, -gradient / total

    return negative, total


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
    return predict(bgnbd, gamma_gamma, x, t_x, big_t, m, periods=periods, period_length=period_length,
                   discount_rate=discount_rate)["clv"]


def predict(
    bgnbd, gamma_gamma, frequency, recency, T, monetary_value, *, horizon: float | None = None,
    periods: int = 12, period_length: float = 30.0, discount_rate: float = 0.01, spend=None,
) -> dict[str, np.ndarray]:
    """Every prediction per customer at once: ``p_alive``, ``expected_spend``, ``clv`` (as
    ``customer_lifetime_value``) and, when ``horizon`` is given, ``expected_purchases`` in the
    next ``horizon`` time units (as ``conditional_expected_purchases``).

    ``spend``: the expected spend per customer to use instead of the Gamma-Gamma expectation
    (e.g. the population mean for customers left out of the spend fit).

    The same figures as the separate functions, for less work: P(alive) and the distinct (x, T)
    pairs the hypergeometric function runs on are computed once for all of them.
    """
    if periods < 1 or period_length <= 0 or discount_rate <= -1:
        raise ModelError("periods must be >= 1, period_length > 0 and discount_rate > -1")
    x, t_x, big_t, m = _arrays(frequency, recency, T, monetary_value)
    params = _params(bgnbd)
    spend = expected_spend(gamma_gamma, x, m) if spend is None else _arrays(spend, x)[0]
    alive = p_alive(params, x, t_x, big_t)
    pairs = _Pairs(x, big_t)
    total = np.zeros(pairs.x.shape)
    previous = np.zeros(pairs.x.shape)
    for i in range(1, periods + 1):
        current = _purchases_if_alive(params, i * period_length, pairs.x, pairs.T)
        total += (current - previous) / (1 + discount_rate) ** i
        previous = current
    out = {"p_alive": alive, "expected_spend": spend, "clv": pairs.spread(total) * alive * spend}
    if horizon is not None:
        out["expected_purchases"] = pairs.spread(_purchases_if_alive(params, float(horizon), pairs.x, pairs.T)) * alive
    return out
