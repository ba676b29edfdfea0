"""PostgreSQL: the demo CRM on a server — load, RFM, segment counts and the whole report — against hand-written SQL and COPY on the same server.

The server is ``$CRMKIT_BENCH_POSTGRES_URL`` (a new database is made on it for the run) or, when
that is unset, a throw-away server started from the installed PostgreSQL binaries; without
either the workload reports itself unavailable. Steps, each crmkit figure beside its baseline in
the same run on the same server:

- load: ``crmkit copy`` of the whole core demo file onto the server (every table, checksummed),
  then ``record_many`` of every interaction again into an empty CRM that has the customers (no
  plugin), against plain ``COPY`` of the same rows into an unindexed table with the same columns
  and into the same ``interactions`` table (its indexes and foreign key), interleaved;
- RFM: ``crm.loyalty.rfm(store=False)`` against the hand-written PostgreSQL aggregate;
- segment counts: rules A and B of the SQLite workload against the same hand-written SQL, each
  run in turn with its baselines, medians compared;
- the whole report (every plugin's sections) on the server against the same on the SQLite file.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from contextlib import ExitStack
from datetime import timedelta

from ..measure import Context, measurement, ratio, timed, unavailable
from . import _rules

AS_OF = _rules.AS_OF
WINDOW_DAYS = 365
#: Runs of each segment count (milliseconds each; the median is compared).
COUNT_RUNS = 15
INTERACTION_COLUMNS = ("id", "customer_id", "kind", "channel", "occurred_at", "amount", "product",
                       "category", "rep", "notes", "data", "recorded_at")

RFM_AGGREGATE = """
SELECT customer_id,
    floor((extract(epoch FROM %(as_of_time)s::timestamptz)
           - extract(epoch FROM max(CASE WHEN kind = 'purchase' THEN occurred_at END)::timestamptz)) / 86400)::bigint,
    count(*) FILTER (WHERE kind = 'purchase' AND occurred_at > %(start)s),
    coalesce(sum(CASE WHEN occurred_at > %(start)s THEN CASE kind WHEN 'purchase' THEN amount ELSE -amount END END), 0)
FROM interactions
WHERE occurred_at <= %(as_of)s AND kind IN ('purchase', 'refund')
GROUP BY customer_id
HAVING bool_or(kind = 'purchase')
"""


def _interleaved(functions, runs: int) -> list[tuple[float, object]]:
    """(median seconds, last result) of each function, run ``runs`` times in turn after one warm-up."""
    times = [[] for _ in functions]
    results = [f() for f in functions]
    for _ in range(runs):
        for index, function in enumerate(functions):
            started = time.perf_counter()
            results[index] = function()
            times[index].append(time.perf_counter() - started)
    return [(statistics.median(t), result) for t, result in zip(times, results)]


def _pg(sql: str) -> str:
    """A hand-written SQLite-style ``:name`` statement as psycopg's ``%(name)s``."""
    return re.sub(r"(?<!:):([a-z_0-9]+)", r"%(\1)s", sql)


def _server(stack: ExitStack) -> str:
    from crmkit.testing import new_database, postgres_server

    given = os.environ.get("CRMKIT_BENCH_POSTGRES_URL")
    if given:
        return stack.enter_context(new_database(given, prefix="crmkit_bench"))
    return stack.enter_context(postgres_server(database="crmkit_bench"))


def run(ctx: Context) -> dict:
    out = {"measurements": [], "ratios": [], "notes": []}
    os.environ.pop("CRMKIT_TEST_SERVER", None)
    try:
        import psycopg
    except ImportError:
        out["measurements"].append(unavailable("PostgreSQL", "psycopg is not installed (pip install 'crmkit[postgres]')"))
        return out
    with ExitStack() as stack:
        try:
            url = _server(stack)
        except (RuntimeError, psycopg.Error) as error:
            out["measurements"].append(unavailable("PostgreSQL", f"no server: {error}"))
            return out
        _measure(ctx, url, out, stack)
    return out


def _measure(ctx: Context, url: str, out: dict, stack: ExitStack) -> None:
    import sqlite3

    import psycopg

    import crmkit
    from crmkit.copying import copy_crm
    from crmkit.plugins import installed_entry_points
    from crmkit.testing import FixedClock
    from crmkit.timeutil import to_datetime, to_iso

    clock = FixedClock(AS_OF)
    repeat = max(1, ctx.repeat // 2)
    raw = psycopg.connect(url, autocommit=True)
    source = sqlite3.connect(f"file:{ctx.data}?mode=ro", uri=True)
    rows = source.execute(f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM interactions ORDER BY id").fetchall()
    customers = source.execute("SELECT count(*) FROM customers").fetchone()[0]

    t_copy, figures = timed(lambda: copy_crm(ctx.data, url), 1)
    copied = sum(f.source_rows for f in figures)

    # record_many into a second database holding the same customers (the core alone: no plugin
    # hears of the batches), against two plain COPYs of the same rows: into an unindexed table
    # with the same columns, and into the same interactions table (its indexes and its foreign
    # key to customers), emptied first.
    from crmkit.testing import new_database

    empty = stack.enter_context(new_database(url, prefix="crmkit_load"))
    load = psycopg.connect(empty, autocommit=True)
    stack.callback(load.close)
    with crmkit.open(empty, plugins=[], clock=clock) as target:
        target.db.bulk_insert("customers", source_columns := [
            c for c in target.db.columns_of("customers")
        ], source.execute(f"SELECT {', '.join(source_columns)} FROM customers").fetchall())
    plain = [dict(zip(INTERACTION_COLUMNS[1:9], row[1:9])) for row in rows]
    for item in plain:
        item["amount"] = None if item["amount"] is None else f"{item['amount'] / 100:.2f}"
    raw.execute("CREATE TABLE plain_copy (LIKE interactions INCLUDING DEFAULTS)")

    def record_many():
        load.execute("TRUNCATE interactions, customer_summary, audit_log")
        load.execute("DELETE FROM settings WHERE key = 'core.log_horizon'")
        with crmkit.open(empty, plugins=[], clock=clock) as target:
            started = time.perf_counter()
            result = target.interactions.record_many(plain)
            return time.perf_counter() - started, result

    def copy_into(conn, table):
        def run():
            with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(INTERACTION_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return run

    # Interleaved, so that the machine's other work weighs on each alike; the median of each.
    t_records, t_plains, t_sames, result = [], [], [], None
    for _ in range(repeat):
        raw.execute("TRUNCATE plain_copy")
        t_plains.append(timed(copy_into(raw, "plain_copy"), 1)[0])
        seconds, result = record_many()
        t_records.append(seconds)
        load.execute("TRUNCATE interactions, customer_summary, audit_log")
        t_sames.append(timed(copy_into(load, "interactions"), 1)[0])
    t_record, t_plain, t_same = (statistics.median(t) for t in (t_records, t_plains, t_sames))
    raw.execute("DROP TABLE plain_copy")
    if result.count != len(rows):
        raise AssertionError(f"record_many recorded {result.count} of {len(rows)} rows")
    out["measurements"] += [
        measurement("crmkit copy of the whole demo file onto the server (checksummed)", t_copy, rows=copied),
        measurement("crmkit record_many of every interaction (validated, summary, audit, one transaction)", t_record, rows=len(rows)),
        measurement("plain COPY of the same interaction rows into an unindexed table", t_plain, rows=len(rows)),
        measurement("plain COPY of the same rows into the same interactions table (indexes, foreign key)", t_same, rows=len(rows)),
    ]
    out["ratios"] += [
        ratio("PostgreSQL load: record_many ÷ plain COPY", t_record / t_plain, "<= 3", t_record / t_plain <= 3),
        ratio("PostgreSQL load: record_many ÷ plain COPY into the same table", t_record / t_same, "<= 3", t_record / t_same <= 3),
    ]

    with crmkit.open(url, plugins=["loyalty"], clock=clock) as crm:
        start = to_iso(to_datetime(AS_OF) - timedelta(days=WINDOW_DAYS))
        t_rfm, scored = timed(lambda: crm.loyalty.rfm(window_days=WINDOW_DAYS, store=False), repeat)
        t_hand, hand = timed(lambda: raw.execute(RFM_AGGREGATE, {"as_of": AS_OF, "as_of_time": AS_OF, "start": start}).fetchall(), repeat)
        if len(scored.scores) != len(hand):
            raise AssertionError(f"crmkit RFM scored {len(scored.scores)} customers, the hand-written SQL {len(hand)}")
        params = _rules.params()
        # A count takes milliseconds: each is run COUNT_RUNS times, crmkit's and the hand-written
        # SQL's in turn, and the medians compared.
        (t_a, a_n), (t_a_sql, a_sql), (t_b, b_n), (t_b1, b1), (t_b2, b2) = _interleaved([
            lambda: crm.segments.evaluate(_rules.RULE_A).count(),
            lambda: raw.execute(_pg(_rules.A_SUMMARY), params).fetchone()[0],
            lambda: crm.segments.evaluate(_rules.RULE_B).count(),
            lambda: raw.execute(_pg(_rules.B_GROUPED), params).fetchone()[0],
            lambda: raw.execute(_pg(_rules.B_CORRELATED), params).fetchone()[0],
        ], COUNT_RUNS)
        if not (a_n == a_sql and b_n == b1 == b2):
            raise AssertionError(f"segment counts disagree: A {a_n}/{a_sql}, B {b_n}/{b1}/{b2}")
    out["measurements"] += [
        measurement("crmkit rfm(store=False) on the server", t_rfm, rows=len(hand)),
        measurement("hand-written PostgreSQL RFM aggregate", t_hand, rows=len(hand)),
        measurement("crmkit segment count, rule A", t_a, result=a_n),
        measurement("hand-written SQL, rule A", t_a_sql, result=a_sql),
        measurement("crmkit segment count, rule B", t_b, result=b_n),
        measurement("best hand-written SQL, rule B", min(t_b1, t_b2), result=b1),
    ]
    rfm_ratio = t_rfm / t_hand
    seg_ratio = max(t_a / t_a_sql, t_b / min(t_b1, t_b2))
    out["ratios"] += [
        ratio("PostgreSQL RFM: crmkit ÷ hand-written aggregate", rfm_ratio, "<= 1.3", rfm_ratio <= 1.3),
        ratio("PostgreSQL segment count: crmkit ÷ hand-written SQL (worse of rules A and B)", seg_ratio, "<= 1.2", seg_ratio <= 1.2),
        ratio("PostgreSQL segment count, rule A: crmkit ÷ hand-written SQL", t_a / t_a_sql, "<= 1.2", t_a / t_a_sql <= 1.2),
        ratio("PostgreSQL segment count, rule B: crmkit ÷ best hand-written SQL", t_b / min(t_b1, t_b2), "<= 1.2", t_b / min(t_b1, t_b2) <= 1.2),
    ]

    def report(target):
        with crmkit.open(target, plugins=sorted(installed_entry_points()), clock=clock) as crm:
            return crm.reports.build(as_of=AS_OF)

    sqlite_copy = ctx.work / "report.db"
    copy_crm(url, sqlite_copy)
    t_report_pg, _ = timed(lambda: report(url), 1)
    t_report_file, _ = timed(lambda: report(sqlite_copy), 1)
    out["measurements"] += [
        measurement("the whole report, every plugin, on the server", t_report_pg, rows=customers),
        measurement("the same report on the SQLite file", t_report_file, rows=customers),
    ]
    out["ratios"].append(ratio("whole report: PostgreSQL ÷ SQLite file", t_report_pg / t_report_file))
    raw.close()
    source.close()
