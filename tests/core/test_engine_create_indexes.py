"""``Database.create_indexes``, how a bulk load builds the indexes it deferred: every index
built and used, a failed build raising with nothing kept, and (SQLite) the connection's page
cache as it was, whatever the build did with it."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.engine.errors import IntegrityError

ROWS = 3000


@pytest.fixture
def crm(crm_path):
    with crmkit.open(crm_path, plugins=[]) as crm:
        with crm.transaction():
            crm.db.execute("CREATE TABLE load_under_test (id INTEGER PRIMARY KEY, shop TEXT NOT NULL, at TEXT NOT NULL, n INTEGER)")
            # Shops and times out of order, so that each index must sort what it holds.
            rows = [(i, f"shop {(i * 7919) % 50:02d}", f"2026-{1 + i % 12:02d}-{1 + (i * 31) % 28:02d}", i % 10) for i in range(ROWS)]
            crm.db.bulk_insert("load_under_test", ("id", "shop", "at", "n"), rows)
        yield crm


def _index_names(crm) -> set[str]:
    return {name for name, _, _ in crm.db.index_definitions(["load_under_test"])}


def test_builds_every_index_over_the_rows_already_there(crm):
    with crm.transaction():
        crm.db.create_indexes([
            "CREATE INDEX ix_load_shop_at ON load_under_test(shop, at)",
            "CREATE INDEX ix_load_n ON load_under_test(n)",
        ])
    assert _index_names(crm) == {"ix_load_shop_at", "ix_load_n"}
    expected = sorted((i, f"2026-{1 + i % 12:02d}-{1 + (i * 31) % 28:02d}") for i in range(ROWS) if (i * 7919) % 50 == 7)
    found = crm.db.execute("SELECT id, at FROM load_under_test WHERE shop = ? ORDER BY id", ["shop 07"]).fetchall()
    assert [tuple(row) for row in found] == expected
    assert crm.db.execute("SELECT count(*) FROM load_under_test WHERE n = 3").fetchone()[0] == ROWS // 10


def test_a_build_the_rows_refuse_raises_and_the_transaction_keeps_no_index(crm):
    with pytest.raises(IntegrityError):
        with crm.transaction():
            crm.db.create_indexes([
                "CREATE INDEX ix_load_n ON load_under_test(n)",
                "CREATE UNIQUE INDEX ix_load_shop ON load_under_test(shop)",  # 50 shops, 3000 rows
            ])
    assert _index_names(crm) == set()
    assert crm.db.execute("SELECT count(*) FROM load_under_test").fetchone()[0] == ROWS


@pytest.mark.sqlite_only
@pytest.mark.parametrize("fails", [False, True])
def test_the_page_cache_is_the_loads_again_after_the_build(crm, fails):
    """SQLite sizes an index build's sort runs by the page cache; the build sorts in small runs
    (see ``SORT_RUN_KIB``) and leaves the cache of the load that called it as it found it."""
    from crmkit.engine import sqlite as engine

    statements = ["CREATE INDEX ix_load_n ON load_under_test(n)"]
    if fails:
        statements.append("CREATE UNIQUE INDEX ix_load_shop ON load_under_test(shop)")
    with crm.db.loading():
        try:
            with crm.transaction():
                crm.db.create_indexes(statements)
        except IntegrityError:
            assert fails
        assert crm.db.execute("PRAGMA cache_size").fetchone()[0] == -engine.LOAD_CACHE_KIB
    assert crm.db.execute("PRAGMA cache_size").fetchone()[0] == -engine.PAGE_CACHE_KIB
    assert _index_names(crm) == (set() if fails else {"ix_load_n"})
