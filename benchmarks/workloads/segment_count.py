"""Segment count and first page of members: crmkit rules against hand-written SQL on the same file.

Rule A uses lifetime fields only, so crmkit answers it from its per-customer summary; it is
also compared with SQL that re-aggregates the interaction log (what one writes without such a
table). Rule B has a 365-day spend window, answered from the covering index of the log; its
hand-written SQL is written two ways and the faster counts as "best".

As of a past date (a year earlier) rules read the customer fields valid then from the history
table and the interaction log up to then: rule C (customer fields only) and rule A are timed as of
now and as of that date, each against hand-written SQL that joins the same history table.
"""

from __future__ import annotations

import sqlite3

from ..measure import Context, measurement, ratio, timed
from . import _rules


def run(ctx: Context) -> dict:
    import crmkit
    from crmkit.testing import FixedClock

    crm = crmkit.open(ctx.data, plugins=[], clock=FixedClock(_rules.AS_OF))
    raw = sqlite3.connect(f"file:{ctx.data}?mode=ro", uri=True)
    params = _rules.params()
    out = {"measurements": [], "ratios": [], "notes": []}
    try:
        def sql_count(sql):
            return lambda: raw.execute(sql, params).fetchone()[0]

        def sql_page(sql):
            return lambda: [r[0] for r in raw.execute(_rules.first_page(sql), params).fetchall()]

        repeat = ctx.repeat
        a_crm, a_n = timed(lambda: crm.segments.evaluate(_rules.RULE_A).count(), repeat)
        a_sql, a_sql_n = timed(sql_count(_rules.A_SUMMARY), repeat)
        a_re, a_re_n = timed(sql_count(_rules.A_REAGGREGATE), max(1, repeat // 2))
        b_crm, b_n = timed(lambda: crm.segments.evaluate(_rules.RULE_B).count(), repeat)
        b_grp, b_grp_n = timed(sql_count(_rules.B_GROUPED), repeat)
        b_cor, b_cor_n = timed(sql_count(_rules.B_CORRELATED), repeat)
        pa_crm, pa_ids = timed(lambda: [c.id for c in crm.segments.evaluate(_rules.RULE_A).customers(limit=50)], repeat)
        pa_sql, pa_sql_ids = timed(sql_page(_rules.A_SUMMARY), repeat)
        pb_crm, pb_ids = timed(lambda: [c.id for c in crm.segments.evaluate(_rules.RULE_B).customers(limit=50)], repeat)
        pb_sql, pb_sql_ids = timed(sql_page(_rules.B_CORRELATED), repeat)
        past = _rules.params(_rules.PAST)
        c_crm, c_n = timed(lambda: crm.segments.evaluate(_rules.RULE_C).count(), repeat)
        c_sql, c_sql_n = timed(sql_count(_rules.C_NOW), repeat)
        cp_crm, cp_n = timed(lambda: crm.segments.evaluate(_rules.RULE_C, as_of=_rules.PAST).count(), repeat)
        cp_sql, cp_sql_n = timed(lambda: raw.execute(_rules.C_PAST, past).fetchone()[0], repeat)
        ap_crm, ap_n = timed(lambda: crm.segments.evaluate(_rules.RULE_A, as_of=_rules.PAST).count(), max(1, repeat // 2))
        ap_sql, ap_sql_n = timed(lambda: raw.execute(_rules.A_PAST, past).fetchone()[0], max(1, repeat // 2))
        agree = a_n == a_sql_n == a_re_n and b_n == b_grp_n == b_cor_n and pa_ids == pa_sql_ids and pb_ids == pb_sql_ids
        agree = agree and c_n == c_sql_n and cp_n == cp_sql_n and ap_n == ap_sql_n
        if not agree:
            raise AssertionError(
                f"crmkit and the hand-written SQL disagree: A {a_n}/{a_sql_n}/{a_re_n}, B {b_n}/{b_grp_n}/{b_cor_n}, "
                f"C {c_n}/{c_sql_n}, C past {cp_n}/{cp_sql_n}, A past {ap_n}/{ap_sql_n}"
            )
        b_best = min(b_grp, b_cor)
        out["measurements"] += [
            measurement(f"crmkit count, rule A: {_rules.RULE_A}", a_crm, result=a_n),
            measurement("hand-written SQL on the summary table, rule A", a_sql, result=a_sql_n),
            measurement("hand-written SQL re-aggregating the log, rule A", a_re, result=a_re_n),
            measurement(f"crmkit count, rule B: {_rules.RULE_B}", b_crm, result=b_n),
            measurement("hand-written SQL, rule B, GROUP BY over the window", b_grp, result=b_grp_n),
            measurement("hand-written SQL, rule B, correlated subquery", b_cor, result=b_cor_n),
            measurement("crmkit first page (50 Customer records), rule A", pa_crm),
            measurement("hand-written SQL first page (50 rows), rule A", pa_sql),
            measurement("crmkit first page (50 Customer records), rule B", pb_crm),
            measurement("hand-written SQL first page (50 rows), rule B", pb_sql),
            measurement(f"crmkit count, rule C: {_rules.RULE_C}", c_crm, result=c_n),
            measurement("hand-written SQL on the customer row, rule C", c_sql, result=c_sql_n),
            measurement(f"crmkit count as of {_rules.PAST[:10]}, rule C", cp_crm, result=cp_n),
            measurement("hand-written SQL joining customer_history, rule C as of the past date", cp_sql, result=cp_sql_n),
            measurement(f"crmkit count as of {_rules.PAST[:10]}, rule A", ap_crm, result=ap_n),
            measurement("hand-written SQL re-aggregating the log and joining customer_history, rule A as of the past date", ap_sql, result=ap_sql_n),
        ]
        out["ratios"] += [
            ratio("crmkit count ÷ best hand-written SQL, rule A", a_crm / a_sql, "≤ 1.2", a_crm / a_sql <= 1.2),
            ratio("re-aggregating SQL ÷ crmkit count (summary speed-up), rule A", a_re / a_crm, "≥ 20", a_re / a_crm >= 20),
            ratio("crmkit count ÷ best hand-written SQL, rule B", b_crm / b_best, "≤ 1.2", b_crm / b_best <= 1.2),
            ratio("crmkit first page ÷ hand-written SQL, rule A", pa_crm / pa_sql),
            ratio("crmkit first page ÷ hand-written SQL, rule B", pb_crm / pb_sql),
            ratio("crmkit count ÷ hand-written SQL on the customer row alone, rule C (as of now)", c_crm / c_sql),
            ratio("crmkit count as of the past date ÷ hand-written SQL, rule C", cp_crm / cp_sql),
            ratio("crmkit count as of the past date ÷ as of now, rule C (the history's cost)", cp_crm / c_crm),
            ratio("crmkit count as of the past date ÷ hand-written SQL, rule A", ap_crm / ap_sql),
        ]
        out["notes"].append("Counts and first-page ids of crmkit and of every SQL variant were checked equal.")
        out["notes"].append(
            "Rule C's hand-written SQL reads the customer row alone; crmkit's condition runs over customers "
            "joined to their summary, as every rule does."
        )
        out["notes"].append(f"Median of {repeat} runs after a warm-up (re-aggregation: {max(1, repeat // 2)}); crmkit times include parsing and compiling the rule.")
    finally:
        raw.close()
        crm.close()
    return out
