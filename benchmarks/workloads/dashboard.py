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


def customers_tab(opened: Opened, repeat: int) -> dict:
    """The Customers tab's figures and their bare SQL; raises if what is shown differs from the SQL."""
    from crmkit_jupyter import dashboard
    from crmkit_jupyter.panels import CustomersPanel

    crm, raw = opened.crm, opened.raw
    figures: dict[str, Any] = {}

    def tab_built(board):
        table = board.panel("customers").table
        shown = (table.total, [row["id"] for row in table.rows])
        board.close()
        return shown

    figures["tab"], (total, ids) = _timed_steps(lambda: None, lambda _: dashboard(crm), tab_built, repeat)

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
