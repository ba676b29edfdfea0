"""The customers a columnar import's references name: one query per chunk, or the table once.

A chunk of a large file names tens of thousands of customers. Asking the customers table's
index for each costs about 1.5 µs a reference (a chunk of 27,000 distinct external ids: 40-90 ms);
reading the whole table's keys costs about 0.7 µs a customer, once, and then a chunk resolves in
memory (pyarrow's hash lookups: 5 ms for that chunk against 100,000 customers). A pass over a
file therefore asks chunk by chunk until it has asked for as many references as half the table
holds, and from then on reads the table's keys once and resolves the rest of its chunks from
them, while a chunk still names a sizeable share of the table. A small file against a large CRM
never reads the table; a file with many rows per customer reads it after a chunk or two.

One :class:`CustomerKeys` serves the check pass, which resolves every reference; the write pass
stores the ids it found (:mod:`crmkit.columnar_chunks`).
"""

from __future__ import annotations

import json
from collections import defaultdict

from .columnar_arrays import int64s, strings
from .store import json_values

#: Rows fetched at a time when the table's keys are read (Python holds one slice of tuples).
FETCH_ROWS = 65_536
#: Once the table's keys are read, a chunk resolves from them when it names at least this share
#: of the table (1/64): below it, hashing the whole table again costs more than the queries.
TABLE_SHARE = 64

# The customers' column each reference field names.
_KEY_COLUMN = {"customer_id": "id", "customer_external_id": "external_id", "customer_email": "email_norm"}


def _keys_sql(field: str, named_only: bool) -> str:
    """(key, customer id, holders) of the customers: those whose key is in the JSON list bound
    to ``?`` when ``named_only``, else every one with a key. An email may have several holders
    (its lowest id is given); an id or external id has one."""
    column = _KEY_COLUMN[field]
    where = f"{column} IS NOT NULL"
    if named_only:
        where = f"{column} IN ({json_values('?', 'INTEGER' if field == 'customer_id' else 'TEXT')})"
    if field == "customer_email":
        return f"SELECT {column}, min(id), count(*) FROM customers WHERE {where} GROUP BY {column}"
    return f"SELECT {column}, id, 1 FROM customers WHERE {where}"


class CustomerKeys:
    """Resolve a pass's customer references (see the module's docstring)."""

    def __init__(self, db, pa, pc):
        self.db, self.pa, self.pc = db, pa, pc
        self._asked: dict[str, int] = defaultdict(int)  # references asked for by query, per field
        self._tables: dict[str, tuple] = {}  # field -> (keys, ids, holders) of the whole table
        self._size: int | None = None

    def find(self, field: str, wanted) -> tuple:
        """(keys, ids, holders) of the customers that the distinct references ``wanted`` name:
        the keys found (an int64 array of ids, or a string array of external ids or lower-cased
        emails), each one's customer id and how many customers hold it (more than one only for
        an email). References naming no customer are left out."""
        table = self._table(field, len(wanted))
        if table is None:
            self._asked[field] += len(wanted)
            return self._query(field, wanted)
        keys, ids, holders = table
        named = self.pc.is_in(keys, value_set=wanted)
        return keys.filter(named), ids.filter(named), holders.filter(named)

    def _table(self, field: str, wanted: int):
        """The whole table's keys for ``field`` when they are the cheaper way to resolve
        ``wanted`` references, read the first time they are."""
        if self._size is None:
            self._size = self.db.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()[0]
        size = self._size
        if field in self._tables:
            return self._tables[field] if wanted * TABLE_SHARE >= size else None
        if 2 * (self._asked[field] + wanted) < size:
            return None
        self._tables[field] = self._arrays(self.db.execute(_keys_sql(field, named_only=False)), field)
        return self._tables[field]

    def _query(self, field: str, wanted) -> tuple:
        """The references' customers, asked of the database in one query."""
        return self._arrays(self.db.execute(_keys_sql(field, named_only=True), [json.dumps(wanted.to_pylist())]), field)

    def _arrays(self, cursor, field: str) -> tuple:
        """A cursor's rows (key, id, holders) as three arrays, fetched a slice at a time."""
        pa = self.pa
        key_type = pa.int64() if field == "customer_id" else pa.string()
        keys, ids, holders = [], [], []
        while rows := cursor.fetchmany(FETCH_ROWS):
            columns = list(zip(*rows))
            keys.append(int64s(pa, columns[0]) if field == "customer_id" else strings(pa, columns[0]))
            ids.append(int64s(pa, columns[1]))
            holders.append(int64s(pa, columns[2]))
        if not keys:
            return pa.nulls(0, key_type), pa.nulls(0, pa.int64()), pa.nulls(0, pa.int64())
        return pa.concat_arrays(keys), pa.concat_arrays(ids), pa.concat_arrays(holders)
