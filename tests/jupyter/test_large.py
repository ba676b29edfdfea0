"""Paging stays as cheap with 1,000,000 customers as with 10,000 (generated tables, real files).

Time is not asserted (it varies between machines); the work the engine does is. On SQLite the
number of virtual-machine instructions a page query runs, counted with a progress handler, must
not grow with the table, and every page query must search an index rather than scan the table;
on PostgreSQL the plan of every page query must read an index in order instead of sorting the table.
"""

from __future__ import annotations

import time

import pytest

import crmkit
from crmkit import store
from crmkit_jupyter import dashboard, queries
from crmkit_jupyter.panels import CustomersPanel
from crmkit_jupyter.toolkit import PagedTable, SqlSource

pytestmark = pytest.mark.slow

SMALL, LARGE = 10_000, 1_000_000


def generate(path, n: int) -> None:
    """``n`` customers inserted by one set-based statement (ids 1..n, names in id order), and a
    summary row for nine in ten of them (the tenths have no purchase): spend scattered over
    0..9,999.83, last purchases at times spread over 336 days. (A page next to a run of equal
    values reads the run: its work grows with the run, not with the table; the panel's test
    in test_dashboard.py holds ties to their order.)"""
    crm = crmkit.open(path, plugins=[])
    # Zero-padded numbers without printf: 10000000 + i is 1 followed by i in seven digits.
    padded = "substr(CAST(10000000 + i AS TEXT), 2)"
    seq = "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n) "
    with store.indexes_deferred(crm.db, ("customers", "customer_summary")), crm.transaction():
        crm.db.execute(
            f"""WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n)
            INSERT INTO customers(id, name, email, email_norm, region, owner, stage, tags, attributes, created_at, updated_at)
            SELECT i, 'Customer ' || {padded}, 'c' || {padded} || '@example.com',
                   'c' || {padded} || '@example.com',
                   CASE i % 4 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' WHEN 2 THEN 'UK' ELSE 'APAC' END,
                   'rep1', 'new', '[]', '{{}}', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z' FROM seq""",
            {"n": n},
        )
        crm.db.execute(
            seq + """INSERT INTO customer_summary(customer_id, first_purchase_at, last_purchase_at, purchases, refunds,
                                                  net_spend, interactions)
            SELECT i, '2023-07-01T00:00:00Z',
                   '2024-' || substr(CAST(101 + i % 12 AS TEXT), 2) || '-' || substr(CAST(101 + i % 28 AS TEXT), 2)
                   || 'T' || substr(CAST(100 + i % 24 AS TEXT), 2) || ':' || substr(CAST(100 + (i / 24) % 60 AS TEXT), 2)
                   || ':' || substr(CAST(100 + (i / 1440) % 60 AS TEXT), 2) || 'Z',
                   1, 0, (i * 613) % 999983, 1 FROM seq WHERE i % 10 <> 0""",
            {"n": n},
        )
    crm.db.reset_sequences(["customers"])
    crm.close()


@pytest.fixture(scope="module")
def crms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    opened = {}
    for n in (SMALL, LARGE):
        started = time.perf_counter()
        generate(folder / f"c{n}.db", n)
        print(f"generated {n:,} customers in {time.perf_counter() - started:.1f} s")
        opened[n] = crmkit.open(folder / f"c{n}.db", plugins=[])
    yield opened
    for crm in opened.values():
        crm.close()


def instructions(db, action) -> int:
    """SQLite VM instructions (in tens) that ``action`` makes the connection run."""
    counter = [0]

    def tick():
        counter[0] += 1
        return 0

    db.conn.set_progress_handler(tick, 10)
    try:
        action()
    finally:
        db.conn.set_progress_handler(None, 10)
    return counter[0]


def customers(crm, order="id", descending=False):
    sql, params = queries.customer_list()
    return SqlSource(crm.db, sql, params, order=order, descending=descending, columns=queries.CUSTOMER_COLUMNS)


def summary_sorted(crm, order, descending=False):
    """The list as the Customers panel reads it, sorted by a summary column (missing values last)."""
    return CustomersPanel(crm).table.source.with_order(order, descending)


def middle_row(crm, n):
    """The listed row of customer n // 2 + 1 (which has a summary row), as a page bound."""
    sql, params = queries.customer_list(extra=PANEL_EXTRA)
    return queries.run(crm.db, f"SELECT * FROM ({sql}) AS q WHERE q.id = :id", dict(params, id=n // 2 + 1))[0]


SUMMARY_PAGES = {
    "first": lambda source, n, crm: source.page(20),
    "after the middle": lambda source, n, crm: source.page(20, after=middle_row(crm, n)),
    "before the middle": lambda source, n, crm: source.page(20, before=middle_row(crm, n)),
}


# The table alone, and as the Customers panel reads it (joined with each customer's summary).
PANEL_EXTRA = {"lifetime_value": "s.net_spend", "last_purchase": "s.last_purchase_at"}
LISTS = {
    "customers": queries.customer_list()[0],
    "with summary": queries.customer_list(extra=PANEL_EXTRA)[0],
}

PAGES = {
    "first": lambda source, n: source.page(20),
    "after the middle": lambda source, n: source.page(20, after={"id": n // 2, "name": f"Customer {n // 2:07d}"}),
    "before the middle": lambda source, n: source.page(20, before={"id": n // 2, "name": f"Customer {n // 2:07d}"}),
    "last": lambda source, n: source.page(20, last=True),
}


def page_work(crms, make_source, fetch, check=lambda rows: None) -> dict:
    """The instructions one page takes at each size: ``fetch(source, n, crm)`` reads a page of
    ``make_source(crm)``; each page has 20 rows and passes ``check``."""
    work = {}
    for n, crm in crms.items():
        source = make_source(crm)
        rows = []
        work[n] = instructions(crm.db, lambda: rows.extend(fetch(source, n, crm)))
        assert len(rows) == 20
        check(rows)
    return work


@pytest.mark.sqlite_only  # counts the SQLite virtual machine's instructions
@pytest.mark.parametrize("order, descending", [("id", False), ("name", True)])
@pytest.mark.parametrize("page", list(PAGES))
def test_page_work_does_not_grow_with_the_table(crms, page, order, descending):
    work = page_work(crms, lambda crm: customers(crm, order, descending), lambda source, n, crm: PAGES[page](source, n))
    print(f"{page} by {order}: {work}")
    assert work[LARGE] <= work[SMALL] * 1.5 + 5  # same work, give or take the deeper b-tree


@pytest.mark.sqlite_only  # counts the SQLite virtual machine's instructions
@pytest.mark.parametrize("order, descending", [("lifetime_value", True), ("last_purchase", False)])
@pytest.mark.parametrize("page", list(SUMMARY_PAGES))
def test_summary_sorted_page_work_does_not_grow_with_the_table(crms, page, order, descending):
    def in_order(rows):
        assert all(row[order] is not None for row in rows)
        keys = [(row[order], row["id"]) for row in rows]
        assert keys == sorted(keys, reverse=descending)

    work = page_work(crms, lambda crm: summary_sorted(crm, order, descending), SUMMARY_PAGES[page], in_order)
    print(f"{page} by {order}: {work}")
    assert work[LARGE] <= work[SMALL] * 1.5 + 5


def summary_page_sql(crm, order, direction):
    """The page query the Customers panel runs for its customers with a value in ``order``, and
    its parameters with a bound row."""
    source = summary_sorted(crm, order)
    nullable = source.nulls_last[order]
    sql, params = queries.page_query(source.sql, key=nullable.key, order=order, descending=False, direction=direction,
                                     limit=20, part="present")
    return sql, dict(source.params, **params, _pg_key=1, _pg_order=nullable.floor, _pg_floor=nullable.floor)


@pytest.mark.sqlite_only  # reads SQLite's query plan
@pytest.mark.parametrize("direction", ["first", "after", "before", "last"])
@pytest.mark.parametrize("order", list(PANEL_EXTRA))
def test_summary_sorted_pages_search_an_index(crms, direction, order):
    sql, params = summary_page_sql(crms[LARGE], order, direction)
    plan = " | ".join(row[3] for row in crms[LARGE].db.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "TEMP B-TREE" not in plan, plan  # the (column, customer) index read in order, stopping after the page
    assert plan.startswith("SEARCH s USING"), plan  # a range of the summary's index, not a scan of the customers


@pytest.mark.postgresql_only  # reads PostgreSQL's query plan
@pytest.mark.parametrize("direction", ["first", "after", "before", "last"])
@pytest.mark.parametrize("order", list(PANEL_EXTRA))
def test_summary_sorted_pages_read_an_index_in_order_on_postgresql(crms, direction, order):
    sql, params = summary_page_sql(crms[LARGE], order, direction)
    lines = [row[0] for row in crms[LARGE].db.execute("EXPLAIN " + sql, params)]
    nodes = [line.strip().removeprefix("->").strip() for line in lines]
    plan = " | ".join(lines)
    assert not any(node.startswith(("Sort", "Seq Scan", "Incremental Sort")) for node in nodes), plan
    assert any(node.startswith("Index") and "customer_summary" in node for node in nodes), plan


@pytest.mark.sqlite_only  # reads SQLite's query plan
@pytest.mark.parametrize("direction", ["first", "after", "before", "last"])
@pytest.mark.parametrize("order", ["id", "name"])
@pytest.mark.parametrize("listing", list(LISTS))
def test_page_queries_search_an_index(crms, direction, order, listing):
    """First and last pages walk an index from one end (SCAN with LIMIT); the others seek."""
    sql, params = queries.page_query(LISTS[listing], key="id", order=order, descending=False, direction=direction, limit=20)
    plan = " | ".join(row[3] for row in crms[LARGE].db.execute("EXPLAIN QUERY PLAN " + sql, dict(params, _pg_key=1, _pg_order="x")))
    assert "TEMP B-TREE" not in plan  # read in index order and stop after the page: no sort of the table
    if direction in ("after", "before"):
        assert plan.startswith("SEARCH")  # jumps into the index at the bound row


@pytest.mark.postgresql_only  # reads PostgreSQL's query plan
@pytest.mark.parametrize("direction", ["first", "after", "before", "last"])
@pytest.mark.parametrize("order", ["id", "name"])
@pytest.mark.parametrize("listing", list(LISTS))
def test_page_queries_read_an_index_in_order_on_postgresql(crms, direction, order, listing):
    """No page query sorts or scans the whole table: each reads an index in the page's order.

    Ordering by name, the index gives the names in order and only rows of equal name are sorted
    by id (an Incremental Sort that stops with the page), never the table.
    """
    sql, params = queries.page_query(LISTS[listing], key="id", order=order, descending=False, direction=direction, limit=20)
    lines = [row[0] for row in crms[LARGE].db.execute("EXPLAIN " + sql, dict(params, _pg_key=1, _pg_order="x"))]
    nodes = [line.strip().removeprefix("->").strip() for line in lines]
    plan = " | ".join(lines)
    assert not any(node.split("  (")[0] in ("Sort", "Seq Scan") or node.startswith("Seq Scan") for node in nodes), plan
    assert any(node.startswith("Index") for node in nodes), plan
    if order == "name":
        assert all("Presorted Key: c.name" in plan for node in nodes if node.startswith("Incremental Sort")), plan


def test_a_million_rows_in_the_table_widget(crms):
    crm = crms[LARGE]
    table = PagedTable(customers(crm), page_size=20)
    assert "rows 1–20 of 1,000,000" in table.status.value
    table.last_button.click()
    assert [r["id"] for r in table.rows] == list(range(999_981, 1_000_001))  # 1,000,000 - 20 + 1
    assert "rows 999,981–1,000,000 of 1,000,000" in table.status.value
    table.prev_button.click()
    assert table.rows[0]["id"] == 999_961 and "rows 999,961–999,980" in table.status.value
    assert len(table.body.rows) == 20  # one page, never more


def test_customers_tab_first_page_timing(crms):
    """Prints the figures for the report; asserts only what was shown."""
    figures = {}
    for n, crm in crms.items():
        started = time.perf_counter()
        board = dashboard(crm)
        figures[n] = time.perf_counter() - started
        panel = board.panel("customers")
        assert [r["id"] for r in panel.table.rows] == list(range(1, 21))
        board.close()
    print("dashboard with customers tab: " + ", ".join(f"{n:,}: {t * 1000:.0f} ms" for n, t in figures.items()))
