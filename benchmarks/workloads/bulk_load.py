"""Bulk load of interactions: record_many against raw sqlite3 executemany and sqlite-utils insert_all.

Every method loads the same rows (the demo file's interactions, streamed from it in id order)
into its own fresh copy of the CRM schema with the same customers and the same indexes, in one
transaction. ``record_many`` gets the rows in its API form (amounts as money text, data as dicts),
so its time includes turning stored rows into API rows; that conversion is also timed alone and
reported, to show what record_many itself costs. Two more raw runs show the index cliff: the rows
in time order (random customer order), and loading with the secondary indexes dropped and built
afterwards. Variants load all rows and a tenth of them: record_many's peak memory must be flat.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..measure import Context, measurement, ratio, timed

COLUMNS = ("id", "customer_id", "kind", "channel", "occurred_at", "amount", "product", "category", "rep", "notes", "data", "recorded_at")
INSERT = f"INSERT INTO interactions({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def variants(size: str) -> list[dict]:
    return [{"share": "1/10"}, {"share": "all"}]


def run(ctx: Context) -> dict:
    total = _count(ctx.data)
    rows = total if ctx.variant.get("share", "all") == "all" else total // 10
    source = _Source(ctx.data, rows)
    out = {"measurements": [], "ratios": [], "notes": []}
    if ctx.variant.get("share") == "1/10":
        # The memory variant: record_many alone, streaming; compare its peak RSS with the "all" run.
        seconds = _timed_fresh(ctx, "record_many", lambda path: _record_many(path, source.api_rows()))
        out["measurements"].append(measurement("crmkit record_many (streamed)", seconds, rows=rows))
        out["notes"].append("Peak RSS of this run against the 'all' run shows whether record_many streams (flat memory).")
        return out

    conversion, _ = timed(lambda: sum(1 for _ in source.api_rows()))
    t_raw = _timed_fresh(ctx, "raw", lambda path: _raw(path, source.stored_rows()))
    t_utils = _timed_fresh(ctx, "sqlite_utils", lambda path: _sqlite_utils(path, source.stored_rows()))
    t_crm = _timed_fresh(ctx, "record_many", lambda path: _record_many(path, source.api_rows()))
    t_raw_time_order = _timed_fresh(ctx, "raw_time_order", lambda path: _raw(path, source.stored_rows(order="occurred_at, id")))
    t_raw_late_index = _timed_fresh(ctx, "raw_late_index", lambda path: _raw(path, source.stored_rows(), late_index=True))
    out["measurements"] += [
        measurement("raw sqlite3 executemany, one transaction", t_raw, rows=rows),
        measurement("sqlite-utils insert_all, one transaction", t_utils, rows=rows),
        measurement("crmkit record_many (validated, summary kept, events fired)", t_crm, rows=rows),
        measurement("  of which: turning stored rows into API rows", conversion, rows=rows),
        measurement("raw executemany, rows in time order (index cliff)", t_raw_time_order, rows=rows),
        measurement("raw executemany, secondary indexes built after the load", t_raw_late_index, rows=rows),
    ]
    net = max(t_crm - conversion, 1e-9)
    out["ratios"] += [
        ratio("record_many rows/s ÷ raw executemany rows/s", t_raw / t_crm, "≥ 0.5", t_raw / t_crm >= 0.5),
        ratio("record_many rows/s ÷ sqlite-utils insert_all rows/s", t_utils / t_crm, "> 1", t_utils / t_crm > 1),
        ratio("record_many without input conversion ÷ raw executemany", t_raw / net),
        ratio("raw in time order ÷ raw in customer order (rows/s)", t_raw / t_raw_time_order),
        ratio("raw with late index build ÷ raw with indexes in place (rows/s)", t_raw / t_raw_late_index),
    ]
    out["notes"].append(f"{rows:,} rows into a CRM with {_customers(ctx.data):,} customers; every method starts from the same empty copy.")
    return out


class _Source:
    """The rows to load, streamed from the demo file (never all held in memory)."""

    def __init__(self, path: Path, limit: int):
        self.path, self.limit = path, limit

    def stored_rows(self, order: str = "id"):
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            yield from conn.execute(f"SELECT {', '.join(COLUMNS)} FROM interactions WHERE id <= ? ORDER BY {order}", [self.limit])
        finally:
            conn.close()

    def api_rows(self):
        for _, customer_id, kind, channel, occurred_at, amount, product, category, rep, notes, data, _ in self.stored_rows():
            row = {"customer_id": customer_id, "kind": kind, "occurred_at": occurred_at}
            if amount is not None:
                row["amount"] = f"{amount // 100}.{amount % 100:02d}"
            for name, value in (("channel", channel), ("product", product), ("category", category), ("rep", rep), ("notes", notes)):
                if value is not None:
                    row[name] = value
            if data is not None:
                row["data"] = json.loads(data)
            yield row


def _count(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT max(id) FROM interactions").fetchone()[0] or 0


def _customers(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


def _timed_fresh(ctx: Context, label: str, load) -> float:
    """Time ``load(path)`` on a fresh CRM file holding the demo's customers and no interactions."""
    path = ctx.work / f"{label}.db"
    _empty_copy(ctx.data, path)
    seconds, _ = timed(lambda: load(path))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return seconds


def _empty_copy(source: Path, path: Path) -> None:
    import crmkit

    crm = crmkit.open(path, plugins=[])
    try:
        conn = crm.db.conn
        conn.execute("ATTACH DATABASE ? AS src", [str(source)])
        conn.execute("BEGIN")
        conn.execute("INSERT INTO customers SELECT * FROM src.customers")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE src")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        crm.close()


def _connect(path: Path) -> sqlite3.Connection:
    """A plain connection with crmkit's settings (WAL, synchronous=NORMAL), for the baselines."""
    from crmkit.store import connect

    return connect(path).conn


def _raw(path: Path, rows, late_index: bool = False) -> None:
    conn = _connect(path)
    try:
        conn.execute("BEGIN")
        indexes = []
        if late_index:
            indexes = [sql for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'interactions' AND sql IS NOT NULL"
            )]
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'interactions' AND sql IS NOT NULL").fetchall():
                conn.execute(f'DROP INDEX "{name}"')
        conn.executemany(INSERT, rows)
        for sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _sqlite_utils(path: Path, rows) -> None:
    import sqlite_utils

    conn = _connect(path)
    try:
        db = sqlite_utils.Database(conn)
        with db.conn:  # one transaction
            db["interactions"].insert_all(
                (dict(zip(COLUMNS, row)) for row in rows), batch_size=999 // len(COLUMNS),
            )
    finally:
        conn.close()


def _record_many(path: Path, rows) -> None:
    import crmkit
    from crmkit.testing import FixedClock

    crm = crmkit.open(path, plugins=[], clock=FixedClock("2025-06-30T12:00:00Z"), actor="bench")
    try:
        crm.interactions.record_many(rows)
    finally:
        crm.close()
