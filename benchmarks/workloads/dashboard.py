"""Dashboard: time to the Customers tab's first page and to a rule's live count, next to the bare SQL they run.

What an analyst waits for, measured through the widget toolkit without a browser (ipywidgets
builds its models in the kernel either way; only drawing them is left out):

- **Customers tab**: ``crmkit_jupyter.dashboard(crm)`` until the Customers panel shows its first
  page (the panel's widgets, the exact customer count and the first page of 20 rows), the panel
  alone, and a click on "next page" (one page query and the table's HTML, no count). Bare SQL:
  ``SELECT count(*) FROM customers`` and the same 20 rows by ``ORDER BY id LIMIT 20`` (or after
  the last id shown) on a raw read-only ``sqlite3`` connection; and a click on the Name header
  (the first page sorted by name) against ``ORDER BY name, id LIMIT 20``.
- **Segments tab**: a rule typed into the rule editor until its live count and its preview (10
  members) are shown; the editor is built once, and each timed run first clears the rule, so
  every run counts afresh. Bare SQL: the hand-written count and first 10 members of the same
  rule (``_rules``: rule A from the summary table, rule B with a correlated subquery, the faster
  hand-written form at 1m), and the editor's own compiled SQL on the raw connection.

Ratios: page times ÷ the bare queries behind them ("a small factor" is judged as ≤ 3), and the
same figures at this size ÷ at 10k, measured in this run on the cached 10k demo file when it is
in the data folder ("close to 1" is judged as ≤ 1.5). A live count reads every member, so its
time grows with the table by nature; what matters there is its ratio to the bare count.
Values shown by the widgets (counts, row ids) are checked equal to the bare SQL's first. The
Customers tab's figures take milliseconds at any size, so they are measured in five rounds that
alternate between this size's file and the 10k file (a slow spell of the machine then hits
both alike), and each figure is the median of its rounds.
"""

from __future__ import annotations

import gc
import sqlite3
import statistics
import time
from typing import Any, Callable

from .. import dataset
from ..measure import Context, measurement, ratio, timed, unavailable
from . import _rules

COLUMNS = "id, name, email, company, region, owner, stage"
BARE_COUNT = "SELECT count(*) FROM customers"
BARE_FIRST = f"SELECT {COLUMNS} FROM customers ORDER BY id LIMIT :limit"
BARE_AFTER = f"SELECT {COLUMNS} FROM customers WHERE id > :after ORDER BY id LIMIT :limit"
BARE_BY_NAME = f"SELECT {COLUMNS} FROM customers ORDER BY name, id LIMIT :limit"
RULES = {"A": (_rules.RULE_A, _rules.A_SUMMARY), "B": (_rules.RULE_B, _rules.B_CORRELATED)}
REFERENCE = "10k"
CLOSE_TO_ONE = 1.5
SMALL_FACTOR = 3.0
ROUNDS = 5


def _members_first(count_sql: str, limit: int) -> str:
    """The first ``limit`` members by id, with the preview's columns, from a ``SELECT count(*)`` query."""
    columns = ", ".join(f"c.{c}" for c in ("id", "name", "email", "region", "owner", "stage"))
    return count_sql.replace("SELECT count(*)", f"SELECT {columns}", 1) + f" ORDER BY c.id LIMIT {int(limit)}"


def _timed_steps(prepare: Callable[[], Any], step: Callable[[Any], Any], finish: Callable[[Any], Any], repeat: int) -> tuple[float, Any]:
    """Median time of ``step(prepare())`` (one warm-up first when repeating); ``prepare`` and
    ``finish`` (which reads the result and cleans up) are not timed. Returns the last ``finish``."""
    times, result = [], None
    for attempt in range(max(1, repeat) + (1 if repeat > 1 else 0)):
        state = prepare()
        gc.collect()  # the widgets closed by earlier runs are garbage in cycles: collect it outside the timing
        started = time.perf_counter()
        done = step(state)
        elapsed = time.perf_counter() - started
        result = finish(done)
        if repeat <= 1 or attempt > 0:
            times.append(elapsed)
    return statistics.median(times), result


class Opened:
    """A demo file opened twice: as a CRM (core only, clock at the demo's today) and read-only raw."""

    def __init__(self, path):
        import crmkit
        from crmkit.testing import FixedClock

        self.path = path
        self.crm = crmkit.open(path, plugins=[], clock=FixedClock(_rules.AS_OF))
        self.raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def close(self) -> None:
        self.raw.close()
        self.crm.close()


def _customers_shown(board) -> tuple:
    """What a built dashboard's Customers tab shows (its count and the first page's ids); closes it."""
    table = board.panel("customers").table
    shown = (table.total, [row["id"] for row in table.rows])
    board.close()
    return shown


def customers_tab(opened: Opened, repeat: int) -> dict:
    """The Customers tab's figures and their bare SQL; raises if what is shown differs from the SQL."""
    from crmkit_jupyter import dashboard
    from crmkit_jupyter.panels import CustomersPanel

    crm, raw = opened.crm, opened.raw
    figures: dict[str, Any] = {}

    figures["tab"], (total, ids) = _timed_steps(lambda: None, lambda _: dashboard(crm), _customers_shown, repeat)

    def panel_built(panel):
        shown = (panel.table.total, [row["id"] for row in panel.table.rows])
        panel.close()
        return shown

    figures["panel"], panel_shown = _timed_steps(lambda: None, lambda _: CustomersPanel(crm), panel_built, repeat)
    limit = len(ids)
    figures["bare_count"], bare_total = timed(lambda: raw.execute(BARE_COUNT).fetchone()[0], repeat)
    figures["bare_first"], bare_ids = timed(lambda: [r[0] for r in raw.execute(BARE_FIRST, {"limit": limit})], repeat)
    if not (total == bare_total and ids == bare_ids and panel_shown == (total, ids)):
        raise AssertionError(f"Customers tab shows {total} customers {ids[:3]}..., bare SQL {bare_total} {bare_ids[:3]}...")

    panel = CustomersPanel(crm)
    try:
        def at_first_page():
            panel.table.first_page()
            return panel.table

        def turned(table):
            table.next_page()
            return table

        figures["next"], next_ids = _timed_steps(at_first_page, turned, lambda table: [row["id"] for row in table.rows], repeat)

        def unsorted():
            panel.table.sort("id", descending=False)
            return panel.table

        def by_name(table):
            table.sort("name", descending=False)  # a click on the Name header: the first page sorted by name
            return table

        figures["sorted"], sorted_ids = _timed_steps(unsorted, by_name, lambda table: [row["id"] for row in table.rows], repeat)
    finally:
        panel.close()
    figures["bare_sorted"], bare_sorted_ids = timed(lambda: [r[0] for r in raw.execute(BARE_BY_NAME, {"limit": limit})], repeat)
    if sorted_ids != bare_sorted_ids:
        raise AssertionError(f"sorted by name the table shows {sorted_ids[:3]}..., bare SQL {bare_sorted_ids[:3]}...")
    after = ids[-1] if ids else 0
    figures["bare_next"], bare_next_ids = timed(
        lambda: [r[0] for r in raw.execute(BARE_AFTER, {"after": after, "limit": limit})], repeat,
    )
    if next_ids != bare_next_ids:
        raise AssertionError(f"next page shows {next_ids[:3]}..., bare SQL {bare_next_ids[:3]}...")
    figures["customers"], figures["page_rows"] = total, limit
    return figures


def live_counts(opened: Opened, repeat: int) -> dict:
    """Each rule typed into the rule editor until its count and preview show, and its bare SQL."""
    from crmkit_jupyter import queries
    from crmkit_jupyter.toolkit import RuleEditor

    crm, raw = opened.crm, opened.raw
    figures: dict[str, Any] = {}
    editor = RuleEditor(crm)
    try:
        preview = editor.preview.page_size
        for name, (rule, hand_sql) in RULES.items():
            def clear():
                editor.set_rule("")

            def typed(_):
                editor.set_rule(rule)

            def shown(_):
                if editor.message:
                    raise AssertionError(f"the editor refused rule {name}: {editor.message}")
                return editor.count, [row["id"] for row in editor.preview.rows]

            figures[f"live_{name}"], (count, members) = _timed_steps(clear, typed, shown, repeat)
            params = _rules.params()
            figures[f"bare_count_{name}"], bare_n = timed(lambda: raw.execute(hand_sql, params).fetchone()[0], repeat)
            first = _members_first(hand_sql, preview)
            figures[f"bare_preview_{name}"], bare_members = timed(lambda: [r[0] for r in raw.execute(first, params)], repeat)
            compiled = crm.segments.compile(rule, _rules.AS_OF)
            members_sql, members_params = queries.rule_members(compiled)
            own_sql, cap_params = queries.count_query(members_sql, None)
            own_params = dict(members_params, **cap_params)
            figures[f"own_count_{name}"], own_n = timed(lambda: raw.execute(own_sql, own_params).fetchone()[0], repeat)
            if not (count == bare_n == own_n and members == bare_members):
                raise AssertionError(
                    f"rule {name}: the editor shows {count} {members[:3]}..., hand-written SQL {bare_n} {bare_members[:3]}..., "
                    f"the editor's SQL {own_n}"
                )
            figures[f"members_{name}"] = count
        figures["preview_rows"] = preview
    finally:
        editor.close()
    return figures


def run(ctx: Context) -> dict:
    repeat = max(1, ctx.repeat)
    reference_path = dataset.path_for(ctx.data.parent, REFERENCE)
    files = [Opened(ctx.data)]
    if ctx.size != REFERENCE and reference_path.exists():
        files.append(Opened(reference_path))
    try:
        # The Customers tab's figures take milliseconds: measured in rounds that alternate between
        # this size and the reference, so a slow spell of the machine hits both alike.
        rounds = [[customers_tab(opened, repeat) for opened in files] for _ in range(ROUNDS)]
        tabs = [
            {key: statistics.median(r[index][key] for r in rounds) for key in rounds[0][index]}
            for index in range(len(files))
        ]
        here = dict(tabs[0], **live_counts(files[0], repeat))
        reference = dict(tabs[1], **live_counts(files[1], repeat)) if len(files) > 1 else None
    finally:
        for opened in files:
            opened.close()

    n, rows, preview = here["customers"], here["page_rows"], here["preview_rows"]
    bare_tab = here["bare_count"] + here["bare_first"]
    out: dict = {"measurements": [], "ratios": [], "notes": []}
    out["measurements"] += [
        measurement(f"Customers tab: dashboard(crm) to its first page ({rows} rows, exact count)", here["tab"], result=n),
        measurement("Customers panel alone: widgets, exact count, first page", here["panel"], result=n),
        measurement("Customers panel: next page (one page query, table redrawn)", here["next"]),
        measurement("Customers panel: first page sorted by name (a header click: one page query, table redrawn)", here["sorted"]),
        measurement(f"bare SQL: first {rows} customers, ORDER BY name, id LIMIT {rows}", here["bare_sorted"]),
        measurement("bare SQL: SELECT count(*) FROM customers", here["bare_count"], result=n),
        measurement(f"bare SQL: first {rows} customers, ORDER BY id LIMIT {rows}", here["bare_first"]),
        measurement(f"bare SQL: next {rows} customers, WHERE id > last shown", here["bare_next"]),
    ]
    for name, (rule, _) in RULES.items():
        members = here[f"members_{name}"]
        out["measurements"] += [
            measurement(f"rule editor: live count and preview ({preview} rows), rule {name}: {rule}", here[f"live_{name}"], result=members),
            measurement(f"hand-written SQL count, rule {name}", here[f"bare_count_{name}"], result=members),
            measurement(f"hand-written SQL first {preview} members, rule {name}", here[f"bare_preview_{name}"]),
            measurement(f"the editor's compiled count SQL on a raw connection, rule {name}", here[f"own_count_{name}"], result=members),
        ]

    def small(name, value):
        return ratio(name, value, f"≤ {SMALL_FACTOR:g}", value <= SMALL_FACTOR)

    out["ratios"] += [
        small("Customers tab first page ÷ bare SQL (count + first page)", here["tab"] / bare_tab),
        small("next page ÷ bare SQL (next page)", here["next"] / here["bare_next"]),
        small("first page sorted by name ÷ bare SQL (same page)", here["sorted"] / here["bare_sorted"]),
        ratio("first page sorted by name ÷ next page unsorted (both one page query)", here["sorted"] / here["next"],
              f"≤ {CLOSE_TO_ONE:g}", here["sorted"] / here["next"] <= CLOSE_TO_ONE),
    ]
    for name in RULES:
        bare = here[f"bare_count_{name}"] + here[f"bare_preview_{name}"]
        out["ratios"].append(small(f"rule editor live count ÷ hand-written SQL (count + preview), rule {name}", here[f"live_{name}"] / bare))
    if reference is not None:
        def grows(label, key, target=True):
            value = here[key] / reference[key]
            if target:
                return ratio(f"{label}, {ctx.size} ÷ {REFERENCE}", value, f"≤ {CLOSE_TO_ONE:g}", value <= CLOSE_TO_ONE)
            return ratio(f"{label}, {ctx.size} ÷ {REFERENCE}", value, note="counts every matching row: grows with the table")

        out["ratios"] += [
            grows("Customers tab first page", "tab"),
            grows("Customers panel alone", "panel"),
            grows("next page", "next"),
            grows("first page sorted by name", "sorted"),
            grows("bare SQL first page", "bare_first"),
            grows("bare SQL count(*)", "bare_count", target=False),
            grows("rule editor live count, rule A", "live_A", target=False),
        ]
        out["notes"].append(
            f"The {REFERENCE} figures were measured in this same run on {reference_path.name} "
            f"(Customers tab {reference['tab'] * 1000:.1f} ms, next page {reference['next'] * 1000:.2f} ms, "
            f"count(*) {reference['bare_count'] * 1000:.2f} ms, rule A live count {reference['live_A'] * 1000:.1f} ms)."
        )
    elif ctx.size != REFERENCE:
        out["measurements"].append(unavailable(
            f"the same figures at {REFERENCE}", f"no cached {REFERENCE} demo file in the data folder ({reference_path.name}); run --size {REFERENCE} first",
        ))
    out["notes"].append(
        f"Fixed cost of the widgets over their SQL: {(here['tab'] - bare_tab) * 1000:.1f} ms for the Customers tab "
        f"(about 70 ipywidgets models and the page's HTML), {(here['next'] - here['bare_next']) * 1000:.2f} ms for a page turn "
        "(the page's HTML table and the row chooser)."
    )
    out["notes"].append("Counts and row ids shown by the widgets were checked equal to the bare SQL's before timing was reported.")
    out["notes"].append(
        f"Median of {repeat} runs{' after a warm-up' if repeat > 1 else ''}; the Customers tab's figures: median of "
        f"{ROUNDS} such medians, in rounds alternating with the {REFERENCE} file when it is measured. Widget times "
        "include building the ipywidgets models in the kernel; the browser's drawing is not part of them."
    )
    return out


# --- the Customers list's first page on a generated customers-only file ------------------------
#
# The full 1m demo (10M interactions) takes long to build. The Customers list reads only the
# customers table, each customer's summary row (lifetime value, last purchase) and, with the
# loyalty plugin, the tier history; a file holding just those, filled by set-based statements,
# is enough to measure its first page at a million customers.

SYNTHETIC_AS_OF = "2025-06-30T12:00:00Z"
TIERS = ("bronze", "silver", "gold")
# Searches typed into the Customers list: one that most rows match, one that a few match.
SEARCHES = {"common": "example.com", "rare": "Customer 0123"}


def synthetic(path, n: int) -> dict:
    """A CRM file with ``n`` customers (ids 1..n, names in id order), a summary row for each and a
    tier (loyalty plugin) for every third customer, filled by set-based SQL. Returns timings."""
    import crmkit
    from crmkit import store

    started = time.perf_counter()
    crm = crmkit.open(path, plugins=["loyalty"])
    padded = "substr(CAST(10000000 + i AS TEXT), 2)"
    seq = "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n) "
    with store.indexes_deferred(crm.db, ("customers", "customer_summary", "loyalty_tier_history")), crm.transaction():
        crm.db.execute(
            seq + f"""INSERT INTO customers(id, name, email, email_norm, company, region, owner, stage, tags, attributes,
                                            created_at, updated_at)
            SELECT i, 'Customer ' || {padded}, 'c' || {padded} || '@example.com', 'c' || {padded} || '@example.com',
                   CASE WHEN i % 5 = 0 THEN 'Acme' END,
                   CASE i % 4 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' WHEN 2 THEN 'UK' ELSE 'APAC' END,
                   CASE i % 3 WHEN 0 THEN 'rep1' WHEN 1 THEN 'rep2' ELSE 'rep3' END, 'customer', '[]', '{{}}',
                   '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z' FROM seq""",
            {"n": n},
        )
        # Spend in cents scattered over 0..9,999.99 (not in id order), last purchase within two years.
        crm.db.execute(
            seq + """INSERT INTO customer_summary(customer_id, first_purchase_at, last_purchase_at, purchases, refunds,
                                                  net_spend, first_interaction_at, last_interaction_at, interactions)
            SELECT i, '2023-07-01T00:00:00Z',
                   '2024-' || substr(CAST(101 + i % 12 AS TEXT), 2) || '-' || substr(CAST(101 + i % 28 AS TEXT), 2)
                   || 'T10:00:00Z', 1 + i % 7, 0,
                   (i * 7919) % 1000000, '2023-07-01T00:00:00Z', '2023-07-01T00:00:00Z', 1 + i % 7 FROM seq""",
            {"n": n},
        )
        crm.db.execute(
            seq + """INSERT INTO loyalty_tier_history(customer_id, as_of, from_tier, to_tier, direction, reason)
            SELECT i, '2025-01-01T00:00:00Z', NULL,
                   CASE i % 9 WHEN 0 THEN 'gold' WHEN 3 THEN 'silver' ELSE 'bronze' END, 'up', 'generated'
            FROM seq WHERE i % 3 = 0""",
            {"n": n},
        )
    crm.db.reset_sequences(["customers", "loyalty_tier_history"])
    crm.close()
    return {"seconds": time.perf_counter() - started, "customers": n}


def first_pages(path, repeat: int = 5, plugins: tuple[str, ...] = ("loyalty",)) -> dict:
    """The Customers list's first page on a :func:`synthetic` file: the dashboard to its first
    page, the first page after a click on each sortable header (each way), the unsorted first
    page again, and a typed search (one most rows match, one few match). Median seconds each;
    raises if a sorted page is out of order or a searched row does not match. ``plugins=()``
    opens the file core-only: no tier column, and no plugin tabs to collect."""
    import crmkit
    from crmkit.testing import FixedClock
    from crmkit_jupyter import dashboard
    from crmkit_jupyter.panels import CustomersPanel

    crm = crmkit.open(path, plugins=list(plugins), clock=FixedClock(SYNTHETIC_AS_OF))
    figures: dict[str, Any] = {}
    try:
        figures["tab"], (total, ids) = _timed_steps(lambda: None, lambda _: dashboard(crm), _customers_shown, repeat)
        figures["customers"] = total
        panel = CustomersPanel(crm)
        try:
            sortable = tuple(panel.table.source.sortable)
            figures["sortable"] = sortable

            def reset():
                panel.search.value = ""
                panel.table.sort("id", descending=False)
                return panel.table

            def rows_of(table):
                return [dict(row) for row in table.rows]

            for column in sortable:
                for descending in (False, True):
                    def click(table, column=column, descending=descending):
                        table.sort(column, descending=descending)
                        return table

                    name = f"sorted {column} {'desc' if descending else 'asc'}"
                    figures[name], rows = _timed_steps(reset, click, rows_of, repeat)
                    # Rows without a value (no purchase yet) come last in both directions.
                    present = [(row[column], row["id"]) for row in rows if row[column] is not None]
                    missing = [row["id"] for row in rows if row[column] is None]
                    keys = present + missing
                    in_order = (present == sorted(present, reverse=descending)
                                and missing == sorted(missing, reverse=descending)
                                and all(row[column] is None for row in rows[len(present):]))
                    if not in_order or len(rows) != panel.table.page_size:
                        raise AssertionError(f"{name}: the page is not in order: {keys[:3]}...")

            def sorted_by_name():
                panel.search.value = ""
                panel.table.sort("name", descending=True)
                return panel.table

            def unsort(table):
                table.sort("id", descending=False)
                return table

            figures["unsorted"], rows = _timed_steps(sorted_by_name, unsort, rows_of, repeat)
            if [row["id"] for row in rows] != ids:
                raise AssertionError("the unsorted first page differs from the dashboard's")
            for label, text in SEARCHES.items():
                def clear():
                    panel.search.value = ""
                    return panel

                def typed(shown, text=text):
                    shown.search.value = text
                    return shown

                figures[f"search {label}"], rows = _timed_steps(clear, typed, lambda shown: rows_of(shown.table), repeat)
                if not all(text.lower() in f"{row['name']} {row['email']} {row['company']}".lower() for row in rows):
                    raise AssertionError(f"search {text!r} shows a row that does not match")
                figures[f"search {label} rows"] = (panel.table.total, panel.table.exact)
        finally:
            panel.close()
    finally:
        crm.close()
    return figures


def _main(argv=None) -> None:
    """``python -m benchmarks.workloads.dashboard --customers 1000000 --data DIR [--core-only]``: build (or
    reuse) the synthetic files of that size and of 10k, and print the Customers list's first
    page figures for both, with the load average before and after."""
    import argparse
    import os
    from pathlib import Path

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reference", type=int, default=10_000)
    parser.add_argument("--data", type=Path, required=True, help="folder for the generated files")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--core-only", action="store_true", help="open the files without the loyalty plugin (no tier column)")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}")
    results = {}
    for n in (args.reference, args.customers):
        path = args.data / f"customers-{n}.db"
        if not path.exists():
            made = synthetic(path, n)
            print(f"generated {n:,} customers (summary rows, tiers) in {made['seconds']:.1f} s")
        results[n] = path
    # Sizes alternate round by round, so a slow spell of the machine hits both alike; each
    # figure is the median of its rounds.
    rounds = {n: [] for n in results}
    for _ in range(3):
        for n, path in results.items():
            rounds[n].append(first_pages(path, args.repeat, () if args.core_only else ("loyalty",)))
    print(f"load average after: {os.getloadavg()}")
    for n, runs in rounds.items():
        print(f"--- {n:,} customers")
        for key, value in runs[0].items():
            if isinstance(value, float):
                print(f"  {key}: {statistics.median(r[key] for r in runs) * 1000:.1f} ms")
            else:
                print(f"  {key}: {value}")


if __name__ == "__main__":
    _main()
