"""The PostgreSQL engine: one psycopg 3 connection per CRM, crmkit's statements translated."""

from __future__ import annotations

import functools
import re
import threading
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from ..errors import CrmError
from . import compat, identity, sql
from .base import Database, Features, check_parameters
from .target import Target
from .translate import to_postgres

# One writer at a time, as SQLite's BEGIN IMMEDIATE gives: every write transaction of a CRM takes
# this transaction-level advisory lock first, so the checks that must not race (claim limits,
# point balances, complaint steps, run_due) read what the previous writer committed. Readers are
# never blocked (MVCC).
WRITE_LOCK_KEY = 7_283_146_551
_TAKE_WRITE_LOCK = "SELECT pg_advisory_xact_lock(%s)"
CONNECT_TIMEOUT_SECONDS = 10


@functools.cache
def _pipeline_supported() -> bool:
    # libpq 14 or later; an older one sends the queued statements one by one.
    return _psycopg().Pipeline.is_supported()


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise CrmError(
            "PostgreSQL needs the psycopg package: pip install 'crmkit[postgres]'"
        ) from None
    return psycopg


_UNREAD = object()


class PostgresCursor:
    """What a statement returns: psycopg's cursor with the DB-API names crmkit reads.

    The cursor of a statement queued by :meth:`PostgresDatabase.pipelined` sends the queue the
    first time it is read, so reading a result is always correct, only sooner sent.
    """

    __slots__ = ("_sent", "_queued", "_columns")

    def __init__(self, cursor=None, queued: "_Queued | None" = None):
        self._sent = cursor
        self._queued = queued
        self._columns = _UNREAD

    @property
    def _cursor(self):
        if self._sent is None:
            self._sent = self._queued.answer()
        return self._sent

    def fetchone(self):
        """The next row, or None (also for a statement that returns no rows)."""
        return self._cursor.fetchone() if self.description is not None else None

    def fetchall(self):
        """The remaining rows (none for a statement that returns no rows)."""
        return self._cursor.fetchall() if self.description is not None else []

    def fetchmany(self, size: int = 1000):
        """Up to ``size`` of the remaining rows."""
        return self._cursor.fetchmany(size) if self.description is not None else []

    def __iter__(self):
        if self.description is None:
            return iter(())
        return iter(self._cursor)

    @property
    def description(self):
        # Read once: psycopg builds a new list of column objects on every access, which took a
        # fifth of a lead claim's time in Python.
        if self._columns is _UNREAD:
            self._columns = self._cursor.description
        return self._columns

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self):
        raise CrmError("lastrowid is not portable: write INSERT ... RETURNING id and read the row")


class _Queued:
    """A statement waiting to travel with the next one whose answer is needed (or the COMMIT)."""

    __slots__ = ("db", "text", "arguments", "cursor", "dropped")

    def __init__(self, db: "PostgresDatabase", text: str, arguments: Any):
        self.db, self.text, self.arguments = db, text, arguments
        self.cursor = None
        self.dropped = False

    def answer(self):
        if self.cursor is None and not self.dropped:
            with self.db._lock:
                self.db._send_queued()
        if self.cursor is None:
            raise CrmError("the statement was never run: its transaction was rolled back first")
        return self.cursor


class PostgresDatabase(Database):
    """A CRM on a PostgreSQL server."""

    engine = "postgresql"
    features = Features(max_variables=32_767, supports_vacuum=False)

    def __init__(self, target: Target, conn):
        self.target = target
        self.conn = conn
        self._depth = 0
        self._lock = threading.RLock()
        # Statements not yet sent: the transaction's BEGIN and write lock, and what a pipelined
        # block wrote; they go in one round trip with the next statement or the COMMIT.
        self._queue: list[_Queued] = []
        self._begin_queued = False
        self._pipelined = 0

    # --- statements --------------------------------------------------------------------------

    def execute(self, sql: str, params: Any = None) -> PostgresCursor:
        check_parameters(params)
        text, names = to_postgres(sql)
        return self._statement(text, _arguments(params, names))

    def _statement(self, text: str, arguments: Any) -> PostgresCursor:
        with self._lock:
            queued = _Queued(self, text, arguments)
            self._queue.append(queued)
            if self._pipelined and self._depth:
                return PostgresCursor(queued=queued)
            self._send_queued()
            return PostgresCursor(queued.cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict]) -> int:
        text, names = to_postgres(sql)
        try:
            with self._lock:
                self._send_queued()
                with self.conn.cursor() as cursor:
                    cursor.executemany(text, (_arguments(row, names) for row in rows))
                    return max(cursor.rowcount, 0)
        except _psycopg().Error as error:
            raise _translate_error(error, self) from error

    def query(self, sql: str, params: Any = None) -> Iterator[dict]:
        cursor = self.execute(sql, params)
        if cursor.description is None:
            return
        keys = [column.name for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))

    @contextmanager
    def pipelined(self) -> Iterator["PostgresDatabase"]:
        """Inside a transaction, statements run in the block are sent with the next statement
        whose answer is needed, or with the COMMIT, in one round trip (psycopg's pipeline mode).
        Their errors are raised there and roll the whole transaction back; reading one's result
        sends it at once. Outside a transaction, statements run one by one as usual.
        """
        with self._lock:
            self._pipelined += 1
            try:
                yield self
            finally:
                self._pipelined -= 1

    def _send_queued(self) -> None:
        """Send every queued statement, in one round trip, and wait for their answers."""
        queue, self._queue = self._queue, []
        if not queue:
            return
        self._begin_queued = False
        psycopg = _psycopg()
        conn = self.conn
        try:
            if len(queue) == 1 or not _pipeline_supported():
                for queued in queue:
                    queued.cursor = conn.execute(queued.text, queued.arguments)
            else:
                with conn.pipeline():
                    for queued in queue:
                        queued.cursor = conn.execute(queued.text, queued.arguments)
        except psycopg.Error as error:
            for queued in queue:
                queued.dropped = True
            raise _translate_error(error, self) from error

    def _drop_queued(self) -> None:
        for queued in self._queue:
            queued.dropped = True
        self._queue = []
        self._begin_queued = False

    # --- transactions ------------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator["PostgresDatabase"]:
        with self._lock:
            if self._depth:
                with self._savepoint():
                    yield self
                return
            # BEGIN and the write lock wait for the transaction's first statement and travel
            # with it: the server takes the lock before it runs that statement, so the checks
            # that must not race still read what the previous writer committed.
            self._queue = [_Queued(self, "BEGIN", ()), _Queued(self, _TAKE_WRITE_LOCK, [WRITE_LOCK_KEY])]
            self._begin_queued = True
            self._depth = 1
            try:
                yield self
                if self._begin_queued and len(self._queue) == 2:
                    self._drop_queued()  # nothing ran: nothing to begin, lock or commit
                else:
                    self._queue.append(_Queued(self, "COMMIT", ()))
                    self._send_queued()
            except BaseException:
                self._drop_queued()
                self._roll_back()
                raise
            finally:
                self._depth = 0

    @contextmanager
    def _savepoint(self) -> Iterator["PostgresDatabase"]:
        self._send_queued()  # the savepoint starts after what was queued before it
        try:
            with self.conn.transaction():
                self._depth += 1
                try:
                    yield self
                    self._send_queued()  # inside the savepoint, so that an error rolls back to it
                except BaseException:
                    self._drop_queued()
                    raise
                finally:
                    self._depth -= 1
        except _psycopg().errors.OperationalError as error:
            raise _translate_error(error, self) from error

    def _roll_back(self) -> None:
        psycopg = _psycopg()
        conn = self.conn
        if conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return
        try:
            conn.execute("ROLLBACK")
        except psycopg.Error:
            pass  # the error that ended the block is the one to report; the server rolls back a lost session

    atomic = transaction

    # --- schema ------------------------------------------------------------------------------

    def table_names(self) -> list[str]:
        # The catalog, not information_schema: its views check privileges row by row and took
        # 37 ms a call, several times per report.
        return [row[0] for row in self.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        )]

    def columns_of(self, table: str) -> list[str]:
        return [row[0] for row in self.execute(
            "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = ? AND c.relkind IN ('r', 'p') "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [table],
        )]

    def index_definitions(self, tables: Sequence[str]) -> list[tuple[str, str, bool]]:
        rows = self.execute(
            "SELECT i.indexname, i.indexdef, ix.indisunique FROM pg_indexes i "
            "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index ix ON ix.indexrelid = c.oid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(?::text[]) AND NOT ix.indisprimary "
            "ORDER BY i.indexname",
            [list(tables)],
        )
        return [(name, definition, bool(unique)) for name, definition, unique in rows]

    def referenced_tables(self, table: str) -> list[str]:
        return [row[0] for row in self.execute(
            "SELECT DISTINCT ref.relname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "JOIN pg_class ref ON ref.oid = con.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE con.contype = 'f' AND c.relname = ? AND n.nspname = current_schema() ORDER BY 1",
            [table],
        )]

    def primary_key(self, table: str) -> list[str]:
        return [row[0] for row in self.execute(
            "SELECT a.attname FROM pg_index ix JOIN pg_class c ON c.oid = ix.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(ix.indkey) "
            "WHERE ix.indisprimary AND c.relname = ? AND n.nspname = current_schema() "
            "ORDER BY array_position(ix.indkey::int2[], a.attnum)",
            [table],
        )]

    def bulk_insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        names = ", ".join(_quote(column) for column in columns)
        count = 0
        try:
            with self._lock:
                self._send_queued()  # COPY cannot travel in a pipeline
                with self.conn.cursor() as cursor, cursor.copy(f"COPY {_quote(table)} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
        except _psycopg().Error as error:
            raise _translate_error(error, self) from error
        return count

    def reset_sequences(self, tables: Iterable[str]) -> None:
        """Move each identity column's sequence past the largest id (after rows came with ids)."""
        for table in tables:
            for (column,) in self.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? AND is_identity = 'YES'", [table],
            ):
                self.execute(
                    f"SELECT setval(pg_get_serial_sequence(?, ?), "
                    f"coalesce((SELECT max({_quote(column)}) FROM {_quote(table)}), 0) + 1, false)",
                    [table, column],
                )

    def refresh_statistics(self, tables: Sequence[str]) -> None:
        # A new table counts as empty to the planner until autovacuum analyses it, which may
        # be minutes after a load; plans made meanwhile (hash sizes, index choice) are poor.
        with self._lock:
            self._send_queued()
            for table in tables:
                self.conn.execute(f"ANALYZE {_quote(table)}")

    def vacuum(self) -> None:
        with self._lock:
            self._send_queued()
            self.conn.execute("VACUUM")

    def utc_offset(self, time_sql: str, zone: str) -> str:
        return sql.utc_offset_postgres(time_sql, zone)

    def local_time(self, time_sql: str, zone: str) -> str:
        return sql.local_time_postgres(time_sql, zone)

    def close(self) -> None:
        self.conn.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _arguments(params: Any, names: tuple[str, ...] | None):
    # Never None: psycopg sends a statement without arguments as it is, so the %% that the
    # translation wrote for each literal % (as in strftime('%Y-%m', t)) would reach the server.
    if params is None:
        return ()
    if isinstance(params, dict):
        if names is None:
            # No :name in the statement: the dict's values go unused, as on SQLite (a statement
            # with ? markers then fails for want of values).
            return ()
        missing = [name for name in names if name not in params]
        if missing:
            raise CrmError(f"no value for parameter :{missing[0]}")
        return params
    return list(params)


def _translate_error(error, db: PostgresDatabase) -> Exception:
    """psycopg's error as the engine-neutral class crmkit code catches."""
    from . import errors

    psycopg = _psycopg()
    message = _first_line(str(error))
    if isinstance(error, psycopg.IntegrityError):
        return errors.IntegrityError(message)
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)) and db.conn.closed:
        return errors.ConnectionLost(f"lost the connection to {db.target.describe()}: {message}")
    if isinstance(error, psycopg.errors.SerializationFailure):
        return errors.ConcurrencyError(message)
    if isinstance(error, (psycopg.ProgrammingError, psycopg.DataError)):
        return errors.StatementError(message)
    return errors.EngineError(message)


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text


def connect(target: Target, *, create_schema: bool = False, shown_as: Target | None = None) -> PostgresDatabase:
    """Connect to the server and database ``target`` names; define the compat functions once.

    ``create_schema`` creates the schema the URL's ``search_path`` option names (used when a
    test run redirects files to a server); ``shown_as`` is the target messages name.
    """
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(target.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        raise CrmError(f"cannot open {target.describe()}: {_connection_cause(error, target)}") from None
    if create_schema:
        from .redirect import schema_of

        schema = schema_of(target)
        if schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    _configure_types(conn)
    # JIT compilation pays off for queries running minutes; crmkit's run milliseconds to seconds,
    # and compiling a report statement with LLVM took 6.5 of its 7.3 seconds.
    conn.execute("SET jit = off")
    db = PostgresDatabase(shown_as or target, conn)
    try:
        # Another application's schema is opened for inspection only, unchanged: crm.open
        # refuses it (identity.recognise) before migrations, and no compat function goes in.
        if identity.is_crmkit(0, db.table_names()):
            _install_compat(db)
    except Exception:
        conn.close()
        raise
    return db


def _connection_cause(error, target: Target) -> str:
    text = _first_line(str(error))
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r'^connection to server at "[^"]*" \([^)]*\), port \d+ failed: ', "", text)
    text = re.sub(r'^connection to server at "[^"]*", port \d+ failed: ', "", text)
    if target.password:
        text = text.replace(target.password, "***")
    return text.replace("FATAL:  ", "").strip()


def _configure_types(conn) -> None:
    """Rows read as SQLite gives them: numeric sums as int (or float), booleans as 0/1."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.types.numeric import Int8Dumper

    class NumericLoader(Loader):
        def load(self, data):
            text = bytes(data).decode()
            if "." in text or "e" in text or "E" in text or text in ("NaN", "Infinity", "-Infinity"):
                return float(text)
            return int(text)

    class BoolLoader(Loader):
        def load(self, data):
            return 1 if bytes(data) == b"t" else 0

    class BoolAsIntDumper(Dumper):
        oid = conn.adapters.types["int8"].oid

        def dump(self, obj):
            return b"1" if obj else b"0"

    conn.adapters.register_loader("numeric", NumericLoader)
    conn.adapters.register_loader("bool", BoolLoader)
    conn.adapters.register_dumper(int, Int8Dumper)
    conn.adapters.register_dumper(bool, BoolAsIntDumper)


def _install_compat(db: PostgresDatabase) -> None:
    row = db.conn.execute(
        "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = 'crmkit_compat_version' AND n.nspname = current_schema()"
    ).fetchone()
    if row is not None and row[0] == str(compat.VERSION):
        return
    with db.conn.transaction():
        # Two CRMs opening a new database at once must not define the functions twice.
        db.conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK_KEY + 1])
        for statement in compat.DEFINITIONS:
            db.conn.execute(statement)
        db.conn.execute(
            "CREATE OR REPLACE FUNCTION crmkit_compat_version() RETURNS integer LANGUAGE sql IMMUTABLE AS "
            f"$$ SELECT {int(compat.VERSION)} $$"
        )
        db.conn.execute(f"COMMENT ON FUNCTION crmkit_compat_version() IS '{int(compat.VERSION)}'")
