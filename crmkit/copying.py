"""Moving a whole CRM between engines: a file to a server and back (``crmkit copy SRC DST``).

The target gets the same schema through the same migrations (so its tables are made the way
that engine makes them), then every table's rows are streamed across in primary-key order with
the engine's bulk load (COPY on PostgreSQL). Afterwards both sides are read again and compared
per table: the row count and a content checksum computed the same way from each side's rows.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterable

from attrs import frozen

from .errors import CrmError

CHUNK_ROWS = 10_000
# Kept by each engine itself: the migration records are written by opening the target.
_ENGINE_TABLES = ("_sqlite_migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4")


@frozen
class TableCopy:
    """One table's figures on both sides after a copy."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def copy_crm(
    source: Any, target: Any, *, replace: bool = False, progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy the CRM ``source`` names to ``target`` (paths or ``postgresql://`` URLs); return figures.

    The target opens with the source's plugins, so it gets every plugin's tables. A target that
    holds any customer, interaction or plugin row is refused unless ``replace`` is true, in which
    case its rows are deleted first, those of plugins the source lacks included. The copy is one transaction on the target: a failure leaves
    it as it was. Raises :class:`CrmError` when a table's count or checksum differs afterwards.
    """
    import crmkit

    from . import variant
    from .engine import describe, exists

    if not exists(source):
        # Opening it would make it a new, empty CRM: the source is never written to.
        raise CrmError(f"{describe(source)} holds no CRM (an empty file or database): nothing to copy")
    # A CRM already at the target takes the source's settings, its currency included, with the
    # rows; only a new one is made in the source's currency.
    new_target = not exists(target)
    with crmkit.open(source) as src:
        plugin_names = sorted(set(src.plugins.names()) | set(variant.with_tables(src.db)))
        tables = _tables_in_load_order(src.db)
        with crmkit.open(target, plugins=plugin_names, currency=src.currency if new_target else None) as dst:
            present = set(dst.db.table_names())
            missing = [t for t in tables if t not in present]
            if missing:
                raise CrmError(f"the target has no table {missing[0]}; is a plugin missing there?")
            target_tables = _tables_in_load_order(dst.db)
            occupied = [t for t in target_tables if t != "settings" and _count(dst.db, t)]
            if occupied and not replace:
                raise CrmError(
                    f"{dst.db.target.describe()} is not empty (table {occupied[0]} has rows); "
                    "copy into an empty CRM, or pass --replace to overwrite it"
                )
            with dst.db.transaction():
                # Every table of the target, children first: a plugin the source lacks may hold
                # rows that point at the customers being replaced.
                for table in reversed(target_tables):
                    dst.db.execute(f'DELETE FROM "{table}"')
                for table in tables:
                    target_columns = set(dst.db.columns_of(table))
                    columns = [c for c in src.db.columns_of(table) if c in target_columns]
                    written = dst.db.bulk_insert(table, columns, _rows(src.db, table, columns))
                    if progress is not None:
                        progress(table, written)
                dst.db.reset_sequences(tables)
            dst.db.refresh_statistics(tables)
            figures = [_compare(src.db, dst.db, table) for table in tables]
    bad = [f for f in figures if not f.matches]
    if bad:
        first = bad[0]
        raise CrmError(
            f"copy check failed for table {first.table}: {first.source_rows} rows ({first.source_checksum[:12]}) "
            f"in the source, {first.target_rows} ({first.target_checksum[:12]}) in the target"
        )
    return figures


def table_checksum(db, table: str) -> tuple[int, str]:
    """``(rows, checksum)`` of a table's content, the same for equal content on either engine.

    The checksum is the sum (mod 2**256) of each row's SHA-256, so it does not depend on the
    order rows come in (the engines order NULLs differently).
    """
    columns = sorted(db.columns_of(table))
    total = 0
    count = 0
    for row in _rows(db, table, columns, ordered=False):
        total = (total + int.from_bytes(hashlib.sha256(_canonical(row)).digest(), "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"


def _compare(src, dst, table: str) -> TableCopy:
    source_rows, source_sum = table_checksum(src, table)
    target_rows, target_sum = table_checksum(dst, table)
    return TableCopy(table, source_rows, target_rows, source_sum, target_sum)


def _rows(db, table: str, columns: list[str], *, ordered: bool = True) -> Iterable[tuple]:
    names = ", ".join(f'"{c}"' for c in columns)
    key = db.primary_key(table) if ordered else []
    order = f" ORDER BY {', '.join(chr(34) + c + chr(34) for c in key)}" if key else ""
    cursor = db.execute(f'SELECT {names} FROM "{table}"{order}')
    while True:
        chunk = cursor.fetchmany(CHUNK_ROWS)
        if not chunk:
            return
        yield from (tuple(row) for row in chunk)


def _canonical(row: tuple) -> bytes:
    parts = []
    for value in row:
        if value is None:
            parts.append("\x00")
        elif isinstance(value, float):
            parts.append(repr(int(value)) if value.is_integer() else repr(value))
        elif isinstance(value, (bytes, memoryview)):
            parts.append(bytes(value).hex())
        else:
            parts.append(str(value))
    return ("\x1f".join(parts) + "\x1e").encode("utf-8", "surrogatepass")


def _count(db, table: str) -> int:
    return db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _tables_in_load_order(db) -> list[str]:
    """The CRM's tables, each after the tables its foreign keys point to."""
    names = [t for t in db.table_names() if t not in _ENGINE_TABLES and not t.startswith("sqlite_")]
    parents = {t: [p for p in db.referenced_tables(t) if p != t and p in names] for t in names}
    ordered: list[str] = []
    placed: set[str] = set()

    def place(table: str, path: tuple[str, ...] = ()) -> None:
        if table in placed or table in path:
            return
        for parent in parents[table]:
            place(parent, path + (table,))
        placed.add(table)
        ordered.append(table)

    for table in sorted(names):
        place(table)
    return ordered
