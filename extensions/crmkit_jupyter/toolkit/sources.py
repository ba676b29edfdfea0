"""Where a paged table gets its rows: an SQL query paged by the database, or a short list.

A source answers two questions: how many rows there are (:meth:`PageSource.count`) and which rows
come before or after a given row in its order (:meth:`PageSource.page`). The table never asks
for more than one page, so a source over a million customers costs what one page costs.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import queries


class PageSource:
    """The interface :class:`~crmkit_jupyter.toolkit.PagedTable` pages through."""

    columns: tuple[str, ...] = ()
    key: str = "id"

    def count(self) -> tuple[int, bool]:
        """``(n, exact)``: the number of rows, or a lower bound when ``exact`` is False."""
        raise NotImplementedError

    def page(self, limit: int, *, after: dict | None = None, before: dict | None = None, last: bool = False) -> list[dict]:
        """Up to ``limit`` rows in order: the first ones, the ones right ``after`` or ``before`` a
        row of a previous page, or the ``last`` ones."""
        raise NotImplementedError


class SqlSource(PageSource):
    """The rows of one SELECT statement, paged by SQLite with keyset paging.

    ``sql`` is a plain SELECT (no ORDER BY, no LIMIT) with named parameters in ``params``; its
    result must have a unique, non-null ``key`` column. ``order`` is the column pages are sorted
    by (default: the key); it must be non-null, and for speed an index should cover it.
    ``count_cap`` stops counting after that many rows (useful for text searches over millions
    of rows, whose exact count would read every row).
    """

    def __init__(
        self, db, sql: str, params: dict | None = None, *, key: str = "id", order: str | None = None,
        descending: bool = False, columns: Sequence[str] | None = None, count_cap: int | None = None,
    ):
        self.db = db
        self.sql = sql
        self.params = dict(params or {})
        self.key = queries.identifier(key)
        self.order = queries.identifier(order or key)
        self.descending = descending
        self.count_cap = count_cap
        self.columns = tuple(columns) if columns else self._result_columns()

    def _result_columns(self) -> tuple[str, ...]:
        sql, params = queries.page_query(self.sql, key=self.key, order=self.order, descending=False, direction="first", limit=0)
        cursor = self.db.execute(sql, dict(self.params, **params))
        return tuple(d[0] for d in cursor.description)

    def count(self) -> tuple[int, bool]:
        sql, params = queries.count_query(self.sql, self.count_cap)
        n = self.db.execute(sql, dict(self.params, **params)).fetchone()[0]
        if self.count_cap is not None and n > self.count_cap:
            return self.count_cap, False
        return n, True

    def page(self, limit: int, *, after: dict | None = None, before: dict | None = None, last: bool = False) -> list[dict]:
        bound = after if after is not None else before
        direction = "after" if after is not None else "before" if before is not None else "last" if last else "first"
        sql, params = queries.page_query(
            self.sql, key=self.key, order=self.order, descending=self.descending, direction=direction, limit=limit,
        )
        params = dict(self.params, **params)
        if bound is not None:
            params.update(_pg_key=bound[self.key], _pg_order=bound[self.order])
        rows = queries.run(self.db, sql, params)
        return rows[::-1] if direction in ("before", "last") else rows

    def with_order(self, order: str, descending: bool = False) -> "SqlSource":
        """The same rows sorted by another column."""
        return SqlSource(
            self.db, self.sql, self.params, key=self.key, order=order, descending=descending,
            columns=self.columns, count_cap=self.count_cap,
        )


class ListSource(PageSource):
    """A short list of rows already in memory (a rep list, a KPI breakdown), paged in Python.

    For anything that grows with the number of customers use :class:`SqlSource`.
    """

    def __init__(self, rows: Sequence[dict], *, key: str | None = None, columns: Sequence[str] | None = None):
        self.rows = [dict(r) for r in rows]
        self.columns = tuple(columns) if columns else (tuple(self.rows[0]) if self.rows else ())
        self.key = key or "_position"
        if key is None:
            for position, row in enumerate(self.rows):
                row["_position"] = position

    def _index(self, row: dict) -> int:
        for position, candidate in enumerate(self.rows):
            if candidate[self.key] == row[self.key]:
                return position
        raise LookupError(f"row with {self.key} = {row[self.key]!r} is no longer in the list")

    def count(self) -> tuple[int, bool]:
        return len(self.rows), True

    def page(self, limit: int, *, after: dict | None = None, before: dict | None = None, last: bool = False) -> list[dict]:
        if after is not None:
            start = self._index(after) + 1
            return self.rows[start:start + limit]
        if before is not None:
            end = self._index(before)
            return self.rows[max(0, end - limit):end]
        if last:
            return self.rows[-limit:] if limit else []
        return self.rows[:limit]
