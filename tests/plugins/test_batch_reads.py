"""Recording one interaction reads that batch of the log, not every earlier row of its kind.

Every plugin's ``crmkit_interactions_recorded`` work is set-based over the batch's id range. A
condition on ``kind`` spelled plainly let SQLite (which plans without statistics) read the batch
through the index on kind instead: each new purchase then read every purchase ever recorded (80 ms
a purchase at a million). The work of one ``record`` is compared in a CRM with a few earlier
interactions and in one with many.
"""

from __future__ import annotations

import pytest

import crmkit

SMALL, LARGE = 100, 20_000
PLUGINS = ["loyalty", "leads", "complaints", "reports"]


def history(customers: list[int], count: int) -> list[dict]:
    """Purchases, calls and a few complaints spread over the customers and over two years."""
    kinds = ["purchase"] * 7 + ["call"] * 2 + ["complaint"]
    return [
        {"customer_id": customers[n % len(customers)], "kind": kinds[n % len(kinds)],
         "occurred_at": f"{2023 + n % 2}-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z",
         "amount": f"{5 + n % 90}.50" if kinds[n % len(kinds)] == "purchase" else None}
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def crms(tmp_path_factory):
    opened = {}
    for size in (SMALL, LARGE):
        crm = crmkit.open(tmp_path_factory.mktemp(f"crm{size}") / "crm.db", plugins=PLUGINS)
        # Two interactions a customer at both sizes: the work that grows with one customer's own
        # history (a refund's clawback reads that customer's points) stays the same.
        ids = list(crm.customers.add_many([{"name": f"P{i}"} for i in range(size // 2)]))
        crm.interactions.record_many(history(ids, size))
        opened[size] = crm
    yield opened
    for crm in opened.values():
        crm.close()


def record_each_kind(crm) -> None:
    for kind, amount in (("purchase", "12.50"), ("call", None), ("complaint", None), ("refund", "2.00")):
        crm.interactions.record(1, kind, "2025-01-02T09:00:00Z", amount=amount)


@pytest.mark.sqlite_only  # reads SQLite's virtual machine counter; PostgreSQL has its own test below
def test_recording_one_interaction_does_the_same_work_whatever_the_log_holds(crms):
    def instructions(crm) -> int:
        counter = [0]

        def tick():
            counter[0] += 1
            return 0

        crm.db.conn.set_progress_handler(tick, 100)
        try:
            record_each_kind(crm)
        finally:
            crm.db.conn.set_progress_handler(None, 100)
        return counter[0]

    small, large = instructions(crms[SMALL]), instructions(crms[LARGE])
    # 200 times the log: the same work give or take the deeper B-trees, not 200 times as much.
    assert large < 1.5 * small, (small, large)


@pytest.mark.postgresql_only  # reads PostgreSQL's table statistics
def test_recording_one_interaction_reads_a_handful_of_rows_on_postgresql(crms):
    def rows_read(crm) -> int:
        db = crm.db
        db.execute("SELECT pg_stat_clear_snapshot()")
        before = db.execute(
            "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname = 'interactions'"
        ).fetchone()[0]
        record_each_kind(crm)
        db.execute("SELECT pg_stat_force_next_flush()")
        db.execute("SELECT 1")  # the flush happens at the end of a transaction
        db.execute("SELECT pg_stat_clear_snapshot()")
        after = db.execute(
            "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname = 'interactions'"
        ).fetchone()[0]
        return after - before

    read = rows_read(crms[LARGE])
    # Four records, each read back by a few statements: tens of rows, not the 14,000 purchases.
    assert read < 500, read
