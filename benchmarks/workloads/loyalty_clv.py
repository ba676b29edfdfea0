"""Loyalty: predictive CLV, crmkit against the ``lifetimes`` package — summary step, fit step, end to end.

Copies the demo file into the scratch folder and measures three things side by side, as of one
date, with daily purchase periods and weeks as the time unit on both sides:

1. **Summary** (transactions to per-customer frequency, recency, T, monetary value): crmkit's
   ``crmkit_loyalty.value.summary`` (set-based SQL in SQLite) against pandas ``read_sql`` of the
   purchases plus ``lifetimes.utils.summary_data_from_transaction_data``. Both must give the same
   customers and figures. Peak memory of each is measured in a fresh child process that imports
   what it needs, then runs the step once: the figure is how far the step raises the process's
   peak RSS above its peak after the imports (the kernel's high-water mark ``VmHWM``, so SQLite's
   own memory counts as well as Python's).
2. **Fit** on the same arrays (crmkit's summary): ``fit_bgnbd`` + ``fit_gamma_gamma`` against
   ``BetaGeoFitter().fit`` + ``GammaGammaFitter().fit``, with the largest relative difference of
   the seven parameters.
3. **End to end**: ``crm.loyalty.clv(store=False)`` (summary, fits, P(alive), 90-day expectation,
   12-month CLV for every customer) against the same with ``lifetimes``.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

from ..measure import Context, measurement, ratio, timed, unavailable

AS_OF = "2025-06-30T12:00:00Z"
PURCHASES = "SELECT customer_id, occurred_at, amount FROM interactions WHERE kind = 'purchase' AND occurred_at <= ?"
#: crmkit's fits start from every parameter = 1; lifetimes gets the same start (log 0), see _bgf.
SAME_START = (0.0, 0.0, 0.0, 0.0)


def _lifetimes_summary(raw: sqlite3.Connection):
    """What a pandas user writes: read the purchases, then lifetimes' summary (days → weeks)."""
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    log = pd.read_sql_query(PURCHASES, raw, params=[AS_OF])
    log["day"] = pd.to_datetime(log["occurred_at"].str.slice(0, 10))
    log["amount"] = log["amount"] / 100
    summary = summary_data_from_transaction_data(
        log, "customer_id", "day", monetary_value_col="amount", observation_period_end=AS_OF[:10], freq="D",
    )
    summary["recency"] /= 7.0
    summary["T"] /= 7.0
    return summary


def _bgf(frequency, recency, T):
    """``BetaGeoFitter().fit`` from the same start as crmkit; lifetimes' own default start (log
    0.1) is tried when that one fails. Returns the fitter and which start converged."""
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import ConvergenceError

    with contextlib.redirect_stdout(io.StringIO()):  # lifetimes prints the optimiser's state on failure
        try:
            return BetaGeoFitter().fit(frequency, recency, T, initial_params=list(SAME_START)), "same start as crmkit"
        except ConvergenceError:
            return BetaGeoFitter().fit(frequency, recency, T), "lifetimes' default start"


def _lifetimes_fits(frequency, recency, T, monetary):
    from lifetimes import GammaGammaFitter

    bgf, start = _bgf(frequency, recency, T)
    repeat = frequency > 0
    ggf = GammaGammaFitter().fit(frequency[repeat], monetary[repeat])
    return bgf, ggf, start


def _lifetimes_end_to_end(raw: sqlite3.Connection):
    summary = _lifetimes_summary(raw)
    bgf, ggf, _ = _lifetimes_fits(summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"])
    bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    bgf.conditional_expected_number_of_purchases_up_to_time(90 / 7, summary["frequency"], summary["recency"], summary["T"])
    value = ggf.customer_lifetime_value(
        bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=12, freq="W", discount_rate=0.01,
    )
    return bgf.params_.to_dict(), ggf.params_.to_dict(), len(summary), float(value.sum())


def _alternating(first, second, rounds: int):
    """Median wall time of each of two functions timed in alternation, after one warm-up call of
    each: on a machine shared with other work, a change of load then hits both sides alike.
    Returns (seconds of first, seconds of second, last result of first, last result of second)."""
    import statistics
    import time

    results = [first(), second()]
    times: list[list[float]] = [[], []]
    for _ in range(max(1, rounds)):
        for k, func in enumerate((first, second)):
            started = time.perf_counter()
            results[k] = func()
            times[k].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1]), results[0], results[1]


def _worst_difference(mine: dict, theirs: dict) -> float:
    return max(abs(mine[k] - theirs[k]) / abs(theirs[k]) for k in theirs)


def _same_summary(data: dict, reference) -> None:
    """Raise unless crmkit's summary and lifetimes' hold the same customers and figures."""
    import numpy as np

    ids = reference.index.to_numpy(dtype=np.int64)
    if not np.array_equal(data["customer_id"], ids):
        raise AssertionError(f"summary customers differ: crmkit {data['customer_id'].size}, lifetimes {ids.size}")
    for mine, theirs in (("frequency", "frequency"), ("recency", "recency"), ("T", "T"), ("monetary", "monetary_value")):
        expected = reference[theirs].to_numpy(dtype=float)
        if not np.allclose(data[mine], expected, rtol=1e-9, atol=1e-9):
            worst = int(np.argmax(np.abs(data[mine] - expected)))
            raise AssertionError(
                f"summary {mine} differs for customer {ids[worst]}: crmkit {data[mine][worst]}, lifetimes {expected[worst]}"
            )


def _peak_of_step(side: str, path: Path) -> dict:
    """Run one summary step in a fresh process; its peak RSS after the imports and after the step."""
    out = subprocess.run(
        [sys.executable, "-m", __name__, side, str(path)], capture_output=True, text=True,
        cwd=Path(__file__).resolve().parents[2], check=False,
    )
    if out.returncode:
        raise RuntimeError(f"memory run of the {side} summary failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_rss_mb() -> float:
    """This process's peak RSS in MB: ``VmHWM`` of /proc/self/status where there is one.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is no good here: Linux carries the parent's peak over
    ``fork`` + ``exec``, so a child of a big process starts at its parent's figure.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_main(side: str, path: str) -> None:
    """Child process of ``_peak_of_step``: import, note the peak, run the step once, note it again."""
    peak_mb = _peak_rss_mb

    if side == "crmkit":
        import crmkit
        from crmkit.testing import FixedClock
        from crmkit_loyalty import value

        crm = crmkit.open(path, plugins=["loyalty"], clock=FixedClock(AS_OF))
        before = peak_mb()
        rows = len(value.summary(crm, AS_OF)["customer_id"])
    else:
        import pandas  # noqa: F401 - imported before the first figure, like crmkit's modules
        import lifetimes.utils  # noqa: F401

        raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        before = peak_mb()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = len(_lifetimes_summary(raw))
    print(json.dumps({"before_mb": round(before, 1), "peak_mb": round(peak_mb(), 1), "rows": rows}))


def run(ctx: Context) -> dict:
    import numpy as np

    import crmkit
    from crmkit.testing import FixedClock
    from crmkit_loyalty import clv, value

    copy = ctx.work / "loyalty.db"
    source = sqlite3.connect(f"file:{ctx.data}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    crm = crmkit.open(copy, plugins=["loyalty"], clock=FixedClock(AS_OF))
    raw = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    out = {"measurements": [], "ratios": [], "notes": []}
    steps = ctx.repeat  # the summary and fit steps are short: more rounds, a steadier median
    repeat = max(1, ctx.repeat // 2)
    try:
        import lifetimes  # noqa: F401
    except ImportError as error:
        out["measurements"].append(unavailable("lifetimes", str(error)))
        lifetimes_missing = True
    else:
        lifetimes_missing = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # 1. summary
            if lifetimes_missing:
                t_sum, data = timed(lambda: value.summary(crm, AS_OF), steps)
            else:
                t_sum, t_sum_ref, data, reference = _alternating(
                    lambda: value.summary(crm, AS_OF), lambda: _lifetimes_summary(raw), steps,
                )
            customers = int(data["customer_id"].size)
            out["measurements"].append(measurement(
                "summary: crmkit value.summary (SQL)", t_sum, rows=customers,
                result=f"{int(np.sum(data['frequency'] > 0)):,} repeat customers",
            ))
            if not lifetimes_missing:
                _same_summary(data, reference)
                out["measurements"].append(measurement(
                    "summary: pandas read_sql + lifetimes summary_data_from_transaction_data", t_sum_ref, rows=len(reference),
                    note="same customers and figures as crmkit (checked)",
                ))
                mine, theirs = _peak_of_step("crmkit", copy), _peak_of_step("lifetimes", copy)
                grown = {side: max(m["peak_mb"] - m["before_mb"], 0.1) for side, m in (("crmkit", mine), ("lifetimes", theirs))}
                for side, m in (("crmkit", mine), ("lifetimes", theirs)):
                    out["notes"].append(
                        f"Summary step alone in a fresh process, {side}: peak RSS {m['peak_mb']:.0f} MB, of which the step "
                        f"added {grown[side]:.0f} MB above the {m['before_mb']:.0f} MB after imports."
                    )
                speed = t_sum_ref / t_sum
                out["ratios"].append(ratio("summary: lifetimes time ÷ crmkit time", speed, "≥ 3", speed >= 3))
                share = grown["crmkit"] / grown["lifetimes"]
                out["ratios"].append(ratio(
                    "summary: crmkit memory ÷ lifetimes memory (peak RSS added by the step)", share, "< 1 (a fraction)", share < 1,
                ))
            # 2. fits on the same arrays
            x, t_x, big_t, m = data["frequency"], data["recency"], data["T"], data["monetary"]
            def crmkit_fits():
                return clv.fit_bgnbd(x, t_x, big_t), clv.fit_gamma_gamma(x, m)

            if lifetimes_missing:
                t_fit, (bg, gg) = timed(crmkit_fits, steps)
            else:
                t_fit, t_fit_ref, (bg, gg), (bgf, ggf, start) = _alternating(
                    crmkit_fits, lambda: _lifetimes_fits(x, t_x, big_t, m), steps,
                )
            out["measurements"].append(measurement(
                "fit: crmkit fit_bgnbd + fit_gamma_gamma", t_fit, rows=customers,
                result=f"r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f} p={gg.p:.4f} q={gg.q:.4f} v={gg.v:.2f}",
            ))
            if not lifetimes_missing:
                ref_bg, ref_gg = bgf.params_.to_dict(), ggf.params_.to_dict()
                worst = max(_worst_difference(bg.as_dict(), ref_bg), _worst_difference(gg.as_dict(), ref_gg))
                out["measurements"].append(measurement(
                    "fit: lifetimes BetaGeoFitter().fit + GammaGammaFitter().fit", t_fit_ref, rows=customers,
                    result=" ".join(f"{k}={v:.4f}" for k, v in {**ref_bg, **ref_gg}.items()),
                    note=f"BG/NBD from {start}",
                ))
                out["ratios"].append(ratio(
                    "fit: largest relative parameter difference", worst, "≤ 0.001", worst <= 1e-3, note=f"{worst:.1e}",
                ))
                fit_speed = t_fit_ref / t_fit
                out["ratios"].append(ratio("fit: lifetimes time ÷ crmkit time", fit_speed, "≥ 1 (not slower)", fit_speed >= 1))
            # 3. end to end
            if lifetimes_missing:
                t_crm, result = timed(lambda: crm.loyalty.clv(store=False), repeat)
            else:
                t_crm, t_ref, result, (e_bg, e_gg, e_customers, _) = _alternating(
                    lambda: crm.loyalty.clv(store=False), lambda: _lifetimes_end_to_end(raw), repeat,
                )
            out["measurements"].append(measurement(
                "end to end: crmkit clv(store=False): summary, fits, predictions", t_crm, rows=result.customers,
                result=f"r={result.bgnbd['r']:.4f} a={result.bgnbd['a']:.4f} p={result.gamma_gamma['p']:.4f}",
            ))
            if not lifetimes_missing:
                if e_customers != result.customers:
                    raise AssertionError(f"customers differ: crmkit {result.customers}, lifetimes {e_customers}")
                e_worst = max(_worst_difference(result.bgnbd, e_bg), _worst_difference(result.gamma_gamma, e_gg))
                if e_worst > 1e-3:
                    raise AssertionError(f"end to end: parameters differ by {e_worst:.1e} (relative)")
                out["measurements"].append(measurement(
                    "end to end: lifetimes: read_sql, summary, fits, predictions", t_ref, rows=e_customers,
                    note=f"largest relative parameter difference {e_worst:.1e}",
                ))
                out["ratios"].append(ratio("end to end: lifetimes time ÷ crmkit time", t_ref / t_crm))
        out["notes"].append(
            f"As of {AS_OF}; daily purchase periods, weeks as the time unit. Each pair (crmkit, lifetimes) is timed "
            f"in alternation after one warm-up call of each: median of {steps} rounds for the summary and fit steps, "
            f"{repeat} for end to end. lifetimes' BetaGeoFitter starts from the same parameters as crmkit (all 1): from its own "
            "default start it stops with a ConvergenceError (precision loss) on the 100k demo."
        )
    finally:
        raw.close()
        crm.close()
    return out


if __name__ == "__main__":
    _memory_main(sys.argv[1], sys.argv[2])
