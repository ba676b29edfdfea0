"""Where a paged table gets its rows: an SQL query paged by the database, or a short list.

A source answers two questions: how many rows there are (:meth:`PageSource.count`) and which rows
come before or after a given row in its order (:meth:`PageSource.page`). The table never asks
for more than one page, so a source over a million customers costs what one page costs. A source
also knows which columns it can sort by (:attr:`PageSource.sortable`) and makes sorted
(:meth:`PageSource.with_order`) and filtered (:meth:`PageSource.filtered`) copies of itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from .. import queries

FILTER_COUNT_CAP = 10_000


class PageSource:
    """The interface :class:`~crmkit_jupyter.toolkit.PagedTable` pages through."""

    columns: tuple[str, ...] = ()
    key: str = "id"
    order: str = "id"
    descending: bool = False
    sortable: tuple[str, ...] = ()
    filterable: bool = False

    def count(self) -> tuple[int, bool]:
        """``(n, exact)``: the number of rows, or a lower bound when ``exact`` is False."""
        raise NotImplementedError

    def page(self, limit: int, *, after: dict | None = None, before: dict | None = None, last: bool = False) -> list[dict]:
        """Up to ``limit`` rows in order: the first ones, the ones right ``after`` or ``before`` a
        row of a previous page, or the ``last`` ones."""
        raise NotImplementedError

    def with_order(self, order: str, descending: bool = False) -> "PageSource":
        """The same rows sorted by ``order`` (one of :attr:`sortable`)."""
        raise NotImplementedError

    def filtered(self, text: str, shown: Callable[[dict, str], str] | None = None) -> "PageSource":
        """The rows containing ``text`` in one of their searched columns (only if :attr:`filterable`);
        ``shown(row, column)`` is the cell's text in the table, for sources that can match it."""
        raise NotImplementedError

    def matching(self, column: str, value: Any) -> "PageSource":
        """The rows whose ``column`` equals ``value`` (a chart's drill-down)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Nullable:
    """How :class:`SqlSource` sorts a column that may be null, from an index.

    ``floor`` is the lowest value of the column's type (``-2**63`` for an integer column, ``""``
    for a text one): "has a value" becomes a range the database reads from the column's index,
    where ``IS NOT NULL`` over a left join makes SQLite read every row. ``key`` names a result
    column equal to the source's key wherever this column has a value, from the column's own
    table (e.g. the summary's customer id beside the customers' id): ordering ties by it lets
    SQLite read the index ``(column, key)`` in order instead of sorting each run of equal values.
    """

    floor: Any
    key: str | None = None


class SqlSource(PageSource):
    """The rows of one SELECT statement, paged by the database with keyset paging.

    ``sql`` is a plain SELECT (no ORDER BY, no LIMIT) with named parameters in ``params``; its
    result must have a unique, non-null ``key`` column. ``order`` is the column pages are sorted
    by (default: the key); it must be non-null, and for speed an index should cover it.
    ``sortable`` lists the columns a table may sort by (default: the key and ``order``): name
    only non-null columns an index covers, so every sorted page stays one index seek.
    ``search`` lists the columns :meth:`filtered` matches text in (no filter without it).
    ``count_cap`` stops counting after that many rows (useful for text searches over millions
    of rows, whose exact count would read every row).

    ``nulls_last`` makes columns that may be null sortable: each maps to a :class:`Nullable`.
    Sorted by such a column the rows with a value come first, in order, then the rows without
    one, by key, whichever the direction (as :class:`ListSource` sorts). The rows with a value
    are read from an index on the column and the key, so a sorted page stays one index seek; the
    rows without one are read by key once those with a value run out.
    """

    def __init__(
        self, db, sql: str, params: dict | None = None, *, key: str = "id", order: str | None = None,
        descending: bool = False, columns: Sequence[str] | None = None, count_cap: int | None = None,
        sortable: Sequence[str] | None = None, search: Sequence[str] = (), nulls_last: Mapping[str, Nullable] | None = None,
    ):
        self.db = db
        self.sql = sql
        self.params = dict(params or {})
        self.key = queries.identifier(key)
        self.order = queries.identifier(order or key)
        self.descending = descending
        self.count_cap = count_cap
        self.nulls_last = {queries.identifier(c): nullable for c, nullable in (nulls_last or {}).items()}
        self.sortable = tuple(queries.identifier(c) for c in (sortable or dict.fromkeys((self.key, self.order))))
        self.sortable += tuple(c for c in self.nulls_last if c not in self.sortable)
        self.search = tuple(queries.identifier(c) for c in search)
        self.filterable = bool(self.search)
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
        if self.order in self.nulls_last:
            return self._page_nulls_last(limit, after=after, before=before, last=last)
        bound = after if after is not None else before
        direction = "after" if after is not None else "before" if before is not None else "last" if last else "first"
        return self._fetch(direction, limit, bound)

    def _fetch(self, direction: str, limit: int, bound: dict | None = None, part: str = "all") -> list[dict]:
        """Up to ``limit`` rows of ``part`` in display order (see :func:`queries.page_query`)."""
        if limit <= 0:
            return []
        key = self.key
        if part == "present":
            key = self.nulls_last[self.order].key or key
        sql, params = queries.page_query(
            self.sql, key=key, order=self.order, descending=self.descending, direction=direction, limit=limit,
            part=part,
        )
        params = dict(self.params, **params)
        if part == "present" and bound is None:
            params["_pg_floor"] = self.nulls_last[self.order].floor
        if bound is not None:
            params["_pg_key"] = bound[self.key]
            if part != "missing":
                params["_pg_order"] = bound[self.order]
        rows = queries.run(self.db, sql, params)
        return rows[::-1] if direction in ("before", "last") else rows

    def _page_nulls_last(self, limit: int, *, after: dict | None, before: dict | None, last: bool) -> list[dict]:
        # The order is: rows with a value (sorted), then rows without (by key). A page may
        # straddle the two parts; each part is read with its own keyset query.
        if after is not None:
            if after[self.order] is None:
                return self._fetch("after", limit, after, "missing")
            rows = self._fetch("after", limit, after, "present")
            return rows + self._fetch("first", limit - len(rows), part="missing")
        if before is not None:
            if before[self.order] is not None:
                return self._fetch("before", limit, before, "present")
            rows = self._fetch("before", limit, before, "missing")
            return self._fetch("last", limit - len(rows), part="present") + rows
        if last:
            rows = self._fetch("last", limit, part="missing")
            return self._fetch("last", limit - len(rows), part="present") + rows
        rows = self._fetch("first", limit, part="present")
        return rows + self._fetch("first", limit - len(rows), part="missing")

    def _copy(self, sql: str, params: dict, order: str, descending: bool, count_cap: int | None) -> "SqlSource":
        return SqlSource(
            self.db, sql, params, key=self.key, order=order, descending=descending, columns=self.columns,
            count_cap=count_cap, sortable=self.sortable, search=self.search, nulls_last=self.nulls_last,
        )

    def with_order(self, order: str, descending: bool = False) -> "SqlSource":
        """The same rows sorted by another column (one of :attr:`sortable`)."""
        if order not in self.sortable:
            raise ValueError(f"cannot sort by {order!r}; sortable: {', '.join(self.sortable)}")
        return self._copy(self.sql, self.params, order, descending, self.count_cap)

    def filtered(self, text: str, shown: Callable[[dict, str], str] | None = None) -> "SqlSource":
        """The rows with ``text`` anywhere in one of the :attr:`search` columns (case-insensitive
        for ASCII); the count stops at :data:`FILTER_COUNT_CAP`. Empty text: the same rows.
        The database matches stored values, so ``shown`` is not used: give ``search`` columns
        whose stored text is what the table shows (names, e-mails)."""
        if not self.search:
            raise ValueError("this table has no searchable columns")
        if not text.strip():
            return self
        sql, params = queries.filter_query(self.sql, self.search, text)
        cap = min(self.count_cap or FILTER_COUNT_CAP, FILTER_COUNT_CAP)
        return self._copy(sql, dict(self.params, **params), self.order, self.descending, cap)

    def matching(self, column: str, value: Any) -> "SqlSource":
        """The rows whose ``column`` equals ``value`` (as text, as a chart's category reads)."""
        sql = f"SELECT * FROM ({self.sql}) AS d WHERE CAST(d.{queries.identifier(column)} AS TEXT) = :_drill"
        return self._copy(sql, dict(self.params, _drill=str(value)), self.order, self.descending, self.count_cap)


class ListSource(PageSource):
    """A short list of rows already in memory (a rep list, a KPI breakdown), paged in Python.

    Every column is sortable (missing values last) and every column is searched by
    :meth:`filtered`. A column whose shown text is not its order (time left in words, a
    severity) sorts by ``sort_keys[column](row)`` instead of its value: e.g.
    ``{"left": lambda row: row["left_s"]}``. For anything that grows with the number of
    customers use :class:`SqlSource`.
    """

    filterable = True

    def __init__(self, rows: Sequence[dict], *, key: str | None = None, columns: Sequence[str] | None = None,
                 sort_keys: Mapping[str, Callable[[dict], Any]] | None = None):
        self.rows = [dict(r) for r in rows]
        self.columns = tuple(columns) if columns else (tuple(self.rows[0]) if self.rows else ())
        self.key = key or "_position"
        self.order = self.key
        self.sortable = self.columns
        self.sort_keys = dict(sort_keys or {})
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

    def _copy(self, rows: list[dict], order: str, descending: bool) -> "ListSource":
        copy = ListSource([], key=self.key, columns=self.columns, sort_keys=self.sort_keys)
        copy.rows, copy.order, copy.descending = rows, order, descending
        return copy

    def with_order(self, order: str, descending: bool = False) -> "ListSource":
        """The same rows sorted by ``order``; missing values last whichever the direction."""
        if order not in self.columns:
            raise ValueError(f"cannot sort by {order!r}; columns: {', '.join(self.columns)}")
        value = self.sort_keys.get(order) or (lambda row: row.get(order))
        present = [r for r in self.rows if value(r) is not None]
        missing = [r for r in self.rows if value(r) is None]
        present.sort(key=lambda r: _sort_key(value(r)), reverse=descending)
        return self._copy(present + missing, order, descending)

    def filtered(self, text: str, shown: Callable[[dict, str], str] | None = None) -> "ListSource":
        """The rows with ``text`` (case-insensitive) in any column: in its stored value, or in
        ``shown(row, column)``, the text a table shows for the cell (``Jun 28``, ``at risk``)."""
        needle = text.strip().casefold()
        if not needle:
            return self

        def found(row: dict, column: str) -> bool:
            if row.get(column) is None:
                return False
            return needle in str(row[column]).casefold() or (shown is not None and needle in shown(row, column).casefold())

        rows = [r for r in self.rows if any(found(r, c) for c in self.columns)]
        return self._copy(rows, self.order, self.descending)

    def matching(self, column: str, value: Any) -> "ListSource":
        """The rows whose ``column`` equals ``value`` (compared as text, as a chart's category reads)."""
        return self._copy([r for r in self.rows if str(r.get(column)) == str(value)], self.order, self.descending)


def _sort_key(value: Any) -> tuple:
    # Numbers before text, so a column mixing both sorts without a TypeError.
    if isinstance(value, (int, float)) or hasattr(value, "as_tuple"):
        return (0, value, "")
    return (1, 0, str(value))
