"""Interactions: the append-only log of everything that happened with a customer.

Each batch is inserted, folded into the per-customer summary with one set-based statement and
announced to plugins with one ``crmkit_interactions_recorded`` call, all in the caller's
transaction.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime
from decimal import Decimal
from collections.abc import Sequence
from itertools import compress, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Iterable

import attrs
from attrs import frozen

from .engine.errors import IntegrityError
from .lazy import BuiltOnRead
from .errors import ConflictError, ValidationError
from .models import Interaction, check_json_value, check_storable_text, is_storable_text
from .money import AMOUNT_DIGITS, MAX_AMOUNT, MAX_MINOR, from_minor, to_amount
from .store import batched, json_values, restore_deferred_indexes
from .timeutil import UTC, to_iso

if TYPE_CHECKING:
    from .crm import CRM

_COLUMNS = (
    "id", "customer_id", "kind", "channel", "occurred_at", "amount", "product", "category",
    "rep", "notes", "data", "recorded_at", "external_key",
)
#: Keyed rows looked up at a time (three bound values each).
KEY_LOOKUP = 300
_FIELDS = set(_COLUMNS) - {"id", "recorded_at"}
#: The order of a row given to :meth:`Interactions.record_checked`.
CHECKED_COLUMNS = _COLUMNS[1:11]
# Storage text of a time, with ranges strict enough that the text round-trips unchanged.
_STORED_TIME = re.compile(r"[1-9]\d{3}-[01]\d-[0-3]\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ\Z")
# A column of them joined by newlines (ASCII digits only: anything else goes row by row).
_TIME = r"[1-9]\d{3}-[01]\d-[0-3]\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\dZ"
_STORED_TIMES = re.compile(rf"(?:{_TIME}\n)*{_TIME}", re.ASCII)
# The first and last storage times UTC holds.
_FIRST_STORED, _LAST_STORED = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
_new_record = object.__new__


def _slot_setter(name: str):
    """A fast setter of one attribute of the frozen Interaction record (its slot's descriptor)."""
    slot = Interaction.__dict__.get(name)
    if type(slot).__name__ == "member_descriptor":
        return slot.__set__
    return lambda record, value: object.__setattr__(record, name, value)


(
    _set_id, _set_customer_id, _set_kind, _set_occurred_at, _set_amount, _set_channel, _set_product,
    _set_category, _set_rep, _set_notes, _set_data, _set_external_key,
) = (
    _slot_setter(name) for name in (
        "id", "customer_id", "kind", "occurred_at", "amount", "channel", "product", "category", "rep", "notes", "data",
        "external_key",
    )
)


@frozen
class RecordResult:
    """What ``record_many`` wrote: how many rows and the range of their ids; ``skipped``: rows
    whose ``external_key`` was already recorded for their customer and kind (not written)."""

    count: int
    first_id: int | None
    last_id: int | None
    skipped: int = 0


class Interactions:
    """Record and read a CRM's interactions."""

    def __init__(self, crm: "CRM"):
        self._crm = crm
        kinds = crm.kinds
        self._kind_params = {
            "in": kinds.names(money="in"), "out": kinds.names(money="out"), "contact": kinds.names(contact=True),
        }
        #: What a running load that folds at its end has recorded and not folded yet.
        self._unfolded: _Unfolded | None = None

    def record(self, customer_id: int, kind: str, occurred_at: Any = None, **fields: Any) -> Interaction:
        """Record one interaction (``occurred_at`` defaults to the CRM's clock); returns it with its id."""
        row = dict(fields, customer_id=customer_id, kind=kind, occurred_at=occurred_at)
        try:
            result = self.record_many([row])
        except ValidationError as error:
            field = error.field.removeprefix("row 1: ")  # one interaction has no rows to tell apart
            if field == error.field:
                raise
            raise ValidationError(field, error.value, error.expected) from None
        return self.get(result.first_id)

    def record_many(self, rows: Iterable[Interaction | dict], batch_size: int = 5000) -> RecordResult:
        """Record many interactions in one transaction, streaming in batches.

        Every row is validated (kind known, amount exact, present for money kinds and at most
        :data:`~crmkit.money.MAX_AMOUNT` minor units, time with a date in the home zone, customer
        exists); a bad row raises ValidationError naming its position and nothing is written. A
        call that would take a customer's net spend past 64 bits raises ConflictError, also
        writing nothing.
        Plugins hear of each batch once, through ``crmkit_interactions_recorded``.

        A row with an ``external_key`` (e.g. an order number) that is already recorded for the
        same customer and kind, earlier or in this call, is skipped and counted in the result's
        ``skipped``; rows without a key are always recorded.
        """
        crm = self._crm
        skipped = 0
        kinds = {kind.name: kind for kind in crm.kinds}
        amount_text = _amount_pattern(crm.exponent)
        writer = None
        try:
            with crm.transaction():
                writer = _BatchWriter(self)
                position = 0
                for batch in batched(rows, batch_size):
                    records, values = self._prepare_batch(batch, writer.next_id, position, kinds, amount_text)
                    writer.checking = (values, position)
                    position += len(batch)
                    before = len(records)
                    records, values = self._drop_recorded_keys(records, values)
                    skipped += before - len(records)
                    writer.store(values, records)
                writer.finish()
        except IntegrityError:
            self._name_missing_customer(writer)
            raise
        return RecordResult(writer.count, writer.first_id, writer.last_id, skipped)

    def record_checked(
        self, batches: Iterable[list[tuple]], *, fold_at_end: bool = False, keyed: bool = False,
    ) -> RecordResult:
        """Record batches of rows already checked and converted to their stored form.

        For bulk loaders that validate whole columns themselves (the columnar import): a batch
        is a list of tuples in the order of :data:`CHECKED_COLUMNS` (customer ids existing, kinds known,
        amounts in minor units as the kind requires, times as storage text, texts within their
        limits, data JSON or None), each followed by its external key (trimmed text of at most
        200 characters, or None) when ``keyed``. Ids, the summary, the log horizon, the audit,
        the ``crmkit_interactions_recorded`` events and the rows skipped for a key already
        recorded (``skipped``) are handled as by :meth:`record_many`; plugins get each batch's
        records built when they first read them. A batch may instead be a list of dicts as
        :meth:`record_many` takes them (checked again), so rows of both kinds share one call:
        one audit entry per customer, one horizon.

        ``fold_at_end`` (a load as large as the table) folds the batches into the summary once,
        after the last, rather than after each: a hook reading the summary meanwhile calls
        :meth:`update_summary` first.
        """
        crm = self._crm
        exponent = crm.exponent
        kinds = {kind.name: kind for kind in crm.kinds}
        amount_text = _amount_pattern(exponent)
        writer = None
        skipped = 0
        try:
            with crm.transaction():
                writer = _BatchWriter(self, fold_at_end)
                position = 0
                for batch in batches:
                    if batch and type(batch[0]) is dict:
                        records, values = self._prepare_batch(batch, writer.next_id, position, kinds, amount_text)
                        writer.checking = (values, position)
                    else:
                        first, recorded_at = writer.next_id, to_iso(crm.now())
                        if keyed:
                            values = [(first + i,) + row[:-1] + (recorded_at, row[-1]) for i, row in enumerate(batch)]
                        else:
                            values = [(first + i,) + row + (recorded_at, None) for i, row in enumerate(batch)]
                        self._check_times(values, position)
                        writer.checking = (values, position)  # a customer may have gone since the check
                        records = _lazy_records(values, exponent)
                    position += len(batch)
                    if keyed:
                        before = len(values)
                        records, values = self._drop_recorded_keys(records, values)
                        skipped += before - len(values)
                    writer.store(values, records)
                writer.finish()
        except IntegrityError:
            self._name_missing_customer(writer)
            raise
        finally:
            if fold_at_end:
                self._unfolded = None  # folded, or rolled back with the rows
        return RecordResult(writer.count, writer.first_id, writer.last_id, skipped)

    def update_summary(self) -> None:
        """Fold into the per-customer summary the interactions a running load has recorded but
        not folded yet; nothing when none wait.

        A load as large as the table (a large ``crmkit import``) folds the summary once, at its
        end, not after each batch. A ``crmkit_interactions_recorded`` hook that reads
        ``customer_summary`` during such a load calls this first; segments call it themselves.
        """
        self._fold_waiting()

    def _fold_waiting(self, by_customer: bool = False) -> None:
        """Fold what waits (see :meth:`update_summary`); ``by_customer`` reads the rows through
        the customers' covering index when they are most of the table."""
        unfolded, self._unfolded = self._unfolded, None
        if unfolded is not None:
            by_customer = by_customer and _most_of_the_table(unfolded.rows, unfolded.ranges[-1][1])
            for first, last in unfolded.ranges:
                self._fold(first, last, unfolded.kinds, unfolded.exact, by_customer)

    def get(self, interaction_id: int) -> Interaction:
        """The interaction with this id."""
        from .errors import NotFound

        rows = list(self._crm.db.query("SELECT * FROM interactions WHERE id = ?", [interaction_id]))
        if not rows:
            raise NotFound(f"no interaction with id {interaction_id}")
        return Interaction.from_row(rows[0], self._crm.exponent)

    def history(
        self, customer_id: int, *, kinds: Iterable[str] | None = None, since: Any = None,
        until: Any = None, limit: int = 100, offset: int = 0,
    ) -> list[Interaction]:
        """A customer's interactions, newest first, optionally by kind and time range."""
        where, params = ["customer_id = ?"], [customer_id]
        if kinds:
            kinds = list(kinds)
            for kind in kinds:
                check_storable_text(str(kind), "kinds")
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += kinds
        if since is not None:
            where.append("occurred_at >= ?")
            params.append(to_iso(since, "since"))
        if until is not None:
            where.append("occurred_at <= ?")
            params.append(to_iso(until, "until"))
        sql = f"SELECT * FROM interactions WHERE {' AND '.join(where)} ORDER BY occurred_at DESC, id DESC LIMIT ? OFFSET ?"
        exponent = self._crm.exponent
        return [Interaction.from_row(row, exponent) for row in self._crm.db.query(sql, params + [int(limit), int(offset)])]

    def count(self, customer_id: int | None = None) -> int:
        """Number of interactions, of one customer or of all."""
        if customer_id is None:
            return self._crm.db.execute("SELECT count(*) FROM interactions").fetchone()[0]
        return self._crm.db.execute("SELECT count(*) FROM interactions WHERE customer_id = ?", [customer_id]).fetchone()[0]

    def rebuild_summary(self, customer_ids: Iterable[int] | None = None) -> None:
        """Recompute the per-customer summary from the log (all customers, or the given ones)."""
        db = self._crm.db
        with self._crm.transaction():
            if customer_ids is None:
                db.execute("DELETE FROM customer_summary")
                self._upsert_summary("1 = 1", {})
            else:
                ids = json.dumps([int(i) for i in customer_ids])
                db.execute(f"DELETE FROM customer_summary WHERE customer_id IN ({json_values('?', 'INTEGER')})", [ids])
                self._upsert_summary(f"customer_id IN ({json_values(':ids', 'INTEGER')})", {"ids": ids})

    # --- internals ------------------------------------------------------------------------

    def _prepare_batch(self, batch: list, first_id: int, position: int, kinds: dict, amount_text) -> tuple[Sequence, list]:
        """Records and stored values of one batch of API rows, ids from ``first_id``; raises
        ValidationError naming the row (counted from ``position`` + 1) of a bad one."""
        recorded_at = to_iso(self._crm.now())
        values = _plain_columns(batch, first_id, kinds, recorded_at, self._crm.exponent)
        if values is not None:
            records: Sequence[Interaction] = _lazy_records(values, self._crm.exponent)
        else:
            records, values = [], []
            next_id = first_id
            for index, row in enumerate(batch, start=position + 1):
                prepared = None
                if type(row) is dict:
                    prepared = self._prepare_plain(row, next_id, kinds, amount_text, recorded_at)
                if prepared is None:
                    prepared = self._prepare(row, index, next_id, recorded_at)
                records.append(prepared[0])
                values.append(prepared[1])
                next_id += 1
        self._check_times(values, position)
        return records, values

    def _check_times(self, values: list[tuple], position: int) -> None:
        """Refuse the first row (counted from ``position`` + 1) whose time has no date in the
        home zone (past 9999-12-31 there, or before year 1): it could be stored but never shown.
        Only the side of the range the zone narrows is looked at, a min() or max() of the batch."""
        if not values:
            return
        calendar = self._crm.calendar
        earliest, latest = calendar.stored_range
        time_of = itemgetter(4)
        too_early = earliest > _FIRST_STORED and min(map(time_of, values)) < earliest
        if too_early or (latest < _LAST_STORED and max(map(time_of, values)) > latest):
            for index, value in enumerate(values, start=position + 1):
                calendar.check_stored(value[4], f"row {index}: occurred_at")

    def _prepare_plain(self, row: dict, new_id: int, kinds: dict, amount_text, recorded_at: str) -> tuple[Interaction, tuple] | None:
        """The fast path of the common row: a dict of plain values already in canonical form.

        Builds the same record and stored values as :meth:`_prepare`, without running the
        record's converters again. Returns None for any row that needs converting or that might
        be invalid; :meth:`_prepare` then handles it, with its exact errors.
        """
        if not row.keys() <= _FIELDS:
            return None
        customer_id = row.get("customer_id")
        kind_name = row.get("kind")
        if type(customer_id) is not int or type(kind_name) is not str:
            return None
        kind = kinds.get(kind_name)
        if kind is None:
            return None
        when = row.get("occurred_at")
        if type(when) is str:
            if not _STORED_TIME.match(when):
                return None
            try:
                moment = datetime.fromisoformat(when)
            except ValueError:
                return None
            stored_time = when
        elif type(when) is datetime and when.tzinfo is UTC and not when.microsecond:
            moment, stored_time = when, to_iso(when)
        else:
            return None
        amount = row.get("amount")
        if amount is None:
            if kind.money:
                return None
            minor = None
        elif not kind.money:
            return None
        elif type(amount) is str and amount_text.match(amount):
            amount = Decimal(amount)
            minor = int(amount.scaleb(self._crm.exponent))
        elif type(amount) is int and 0 <= amount <= MAX_AMOUNT // 10 ** self._crm.exponent:
            minor = amount * 10 ** self._crm.exponent
            amount = Decimal(amount)
        elif type(amount) is Decimal and amount.is_finite() and amount >= 0:
            try:
                minor = to_amount(amount, self._crm.exponent)
            except ValidationError:
                return None
        else:
            return None
        get = row.get
        channel, product, category, rep, notes = get("channel"), get("product"), get("category"), get("rep"), get("notes")
        for text, limit in ((channel, 50), (product, 200), (category, 100), (rep, 100), (notes, 10_000)):
            if text is not None and (type(text) is not str or not text or len(text) > limit or text.strip() != text):
                return None
            if text is not None and not is_storable_text(text):
                return None  # refused by the record's validators, with their message
        external_key = get("external_key")
        if external_key is not None and (
            type(external_key) is not str or not external_key or len(external_key) > 200
            or external_key.strip() != external_key or not is_storable_text(external_key)
        ):
            return None
        data = get("data")
        if data is None or (type(data) is dict and not data):
            data, stored_data = {}, None
        elif type(data) is dict:
            try:
                stored_data = json.dumps(check_json_value(data, "data"), sort_keys=True, allow_nan=False)
            except (TypeError, ValueError, RecursionError):  # ValidationError is a ValueError
                return None
        else:
            return None
        if not kind_name or len(kind_name) > 50 or kind_name.strip() != kind_name:
            return None
        if kind.validate is not None:
            try:
                kind.validate(data)
            except ValidationError:
                return None
        record = _new_record(Interaction)
        _set_id(record, new_id)
        _set_customer_id(record, customer_id)
        _set_kind(record, kind_name)
        _set_occurred_at(record, moment)
        _set_amount(record, amount)
        _set_channel(record, channel)
        _set_product(record, product)
        _set_category(record, category)
        _set_rep(record, rep)
        _set_notes(record, notes)
        _set_data(record, data)
        _set_external_key(record, external_key)
        value = (
            new_id, customer_id, kind_name, channel, stored_time, minor, product, category, rep, notes,
            stored_data, recorded_at, external_key,
        )
        return record, value

    def _prepare(self, row: Interaction | dict, position: int, new_id: int, recorded_at: str) -> tuple[Interaction, tuple]:
        crm = self._crm
        try:
            if isinstance(row, Interaction):
                record = attrs.evolve(row, id=new_id)
            elif isinstance(row, dict):
                unknown = set(row) - _FIELDS
                if unknown:
                    name = sorted(unknown)[0]
                    raise ValidationError(name, row[name], "an interaction field: " + ", ".join(sorted(_FIELDS)))
                values = dict(row)
                if values.get("occurred_at") is None:
                    values["occurred_at"] = crm.now()
                record = Interaction(id=new_id, **values)
            else:
                raise ValidationError("row", row, "a dict of interaction fields or an Interaction")
            kind = crm.kinds[record.kind]
            if kind.money and record.amount is None:
                raise ValidationError("amount", None, f"an amount for a {record.kind}")
            if not kind.money and record.amount is not None:
                raise ValidationError("amount", record.amount, f"no amount: {record.kind} moves no money")
            minor = None if record.amount is None else to_amount(record.amount, crm.exponent)
            if kind.validate is not None:
                kind.validate(record.data)
        except ValidationError as error:
            raise ValidationError(f"row {position}: {error.field}", error.value, error.expected) from None
        except TypeError as error:
            raise ValidationError(f"row {position}", row, str(error)) from None
        value = (
            record.id, record.customer_id, record.kind, record.channel, to_iso(record.occurred_at),
            minor, record.product, record.category, record.rep, record.notes,
            json.dumps(record.data, sort_keys=True) if record.data else None, recorded_at, record.external_key,
        )
        return record, value

    def _drop_recorded_keys(self, records: Sequence[Interaction], values: list[tuple]) -> tuple[Sequence, list]:
        """The batch without the rows whose (customer, kind, external key) is already recorded
        or came earlier in the batch; the rows kept are numbered again from the batch's first id.
        The keys of earlier batches of the same call are found in the table, where they are
        written already (its unique index on the key stays up during a bulk load), so memory
        holds one batch's keys, however many rows the call records."""
        keyed = [(v[1], v[2], v[12]) for v in values if v[12] is not None]
        if not keyed:
            return records, values
        recorded: set[tuple] = set()
        wanted = sorted(set(keyed))
        for start in range(0, len(wanted), KEY_LOOKUP):
            part = wanted[start:start + KEY_LOOKUP]
            where = " OR ".join(["(customer_id = ? AND kind = ? AND external_key = ?)"] * len(part))
            params = [v for triple in part for v in triple]
            recorded.update(tuple(row) for row in self._crm.db.execute(
                f"SELECT customer_id, kind, external_key FROM interactions WHERE {where}", params,
            ))
        built = None if isinstance(records, BuiltOnRead) else records
        kept_records, kept_values = [], []
        first_id = values[0][0]
        for index, value in enumerate(values):
            if value[12] is not None:
                triple = (value[1], value[2], value[12])
                if triple in recorded:
                    continue
                recorded.add(triple)
            new_id = first_id + len(kept_values)
            if value[0] != new_id:
                value = (new_id,) + value[1:]
            kept_values.append(value)
            if built is not None:
                record = built[index]
                if record.id != new_id:
                    _set_id(record, new_id)
                kept_records.append(record)
        if built is None:
            return _lazy_records(kept_values, self._crm.exponent), kept_values
        return kept_records, kept_values

    def _name_missing_customer(self, writer: "_BatchWriter | None") -> None:
        """After a write refused by the foreign key to ``customers`` (the transaction rolled
        back): the ValidationError naming the first row of the batch being written whose
        customer does not exist; nothing when every customer exists (another constraint)."""
        if writer is not None and writer.checking is not None:
            self._check_customers(*writer.checking)

    def _check_customers(self, values: list[tuple], offset: int) -> None:
        wanted = sorted({v[1] for v in values})
        found = {
            row[0] for row in self._crm.db.execute(
                f"SELECT id FROM customers WHERE id IN ({json_values('?', 'INTEGER')})", [json.dumps(wanted)]
            )
        }
        if len(found) == len(wanted):
            return
        for index, value in enumerate(values, start=offset + 1):
            if value[1] not in found:
                raise ValidationError(f"row {index}: customer_id", value[1], "the id of an existing customer")

    def _fold(self, first: int, last: int, kinds: set[str], exact: bool, by_customer: bool = False) -> None:
        """Fold interactions ``first``..``last`` into the summary; ``exact`` when no net spend
        can pass 64 bits meanwhile, else a slice of ids at a time, so that no slice's sum of
        amounts can pass them, each checked. ``by_customer``: see :meth:`_fold_into_summary`."""
        if exact:
            self._fold_into_summary(first, last, checked=False, kinds=kinds, by_customer=by_customer)
            return
        for start in range(first, last + 1, _FOLD_ROWS):
            self._fold_into_summary(start, min(start + _FOLD_ROWS - 1, last), kinds=kinds, by_customer=by_customer)

    def _fold_into_summary(
        self, first_id: int, last_id: int, checked: bool = True, kinds: set[str] | None = None, by_customer: bool = False,
    ) -> None:
        """Fold interactions ``first_id``..``last_id`` into the summary; ``checked=False`` when
        the caller knows no net spend can pass 64 bits (see ``_BatchWriter._spend_stays_exact``);
        ``kinds``, when the caller knows them, the kinds those interactions have.
        ``by_customer`` (rows that are most of the table) reads them in customer order through
        the covering index rather than by their id range, sorted: the sort is spared."""
        in_range = f"{_BY_CUSTOMER if by_customer else 'id'} BETWEEN :first AND :last"
        self._upsert_summary(in_range, {"first": first_id, "last": last_id}, kinds)
        if not checked:
            return
        # The upsert leaves a net spend that would pass 64 bits NULL (the index finds it at once):
        # refused here alike on every engine, where one would store a float and another fail.
        past = self._crm.db.execute("SELECT customer_id FROM customer_summary WHERE net_spend IS NULL LIMIT 1").fetchone()
        if past is not None:
            raise ConflictError(
                f"customer {past[0]}: the net spend would pass {from_minor(MAX_MINOR, self._crm.exponent)}, "
                "the largest total a customer can hold; nothing was recorded"
            )

    def _upsert_summary(self, where: str, params: dict, present: set[str] | None = None) -> None:
        """Add the interactions ``where`` selects to their customers' summary rows (one statement).

        ``present``, the kinds among those interactions when known, lets a group every one of
        them is in (a file of purchases) be summed without a test per row, and a group none is
        in be left out: folding 1M purchases took 2.5 s instead of 3.3 s."""
        bound = dict(params)
        tests: dict[str, str | bool] = {}  # per group: True (every row is in it), False (none), or SQL
        for group, names in self._kind_params.items():
            if present is not None and present <= set(names):
                tests[group] = True
            elif present is not None and not present & set(names):
                tests[group] = False
            else:
                keys = [f"{group}{i}" for i in range(len(names))]
                bound.update(zip(keys, names))
                tests[group] = f"kind IN ({', '.join(':' + k for k in keys) or 'NULL'})"
        is_in, is_out, is_contact = (tests[g] for g in ("in", "out", "contact"))

        def of(group: str | bool, function: str, value: str, none: str = "NULL") -> str:
            """``function`` over ``value`` for the rows in a group; ``none`` when no row can be."""
            if group is False:
                return none
            return f"{function}({value if group is True else f'CASE WHEN {group} THEN {value} END'})"

        signs = [(value, test) for value, test in (("amount", is_in), ("-amount", is_out)) if test is not False]
        if not signs:
            net_spend = "0"
        elif len(signs) == 1 and signs[0][1] is True:
            net_spend = f"COALESCE(SUM({signs[0][0]}), 0)"
        else:
            cases = " ".join(f"WHEN {'1 = 1' if test is True else test} THEN {value}" for value, test in signs)
            net_spend = f"COALESCE(SUM(CASE {cases} END), 0)"

        def earliest(column: str) -> str:
            current = f"customer_summary.{column}"
            return f"{column} = CASE WHEN excluded.{column} IS NULL THEN {current} WHEN {current} IS NULL THEN excluded.{column} ELSE min({current}, excluded.{column}) END"

        def latest(column: str) -> str:
            current = f"customer_summary.{column}"
            return f"{column} = CASE WHEN excluded.{column} IS NULL THEN {current} WHEN {current} IS NULL THEN excluded.{column} ELSE max({current}, excluded.{column}) END"

        self._crm.db.execute(
            f"""
            INSERT INTO customer_summary (
                customer_id, first_purchase_at, last_purchase_at, purchases, refunds, net_spend,
                last_contact_at, first_interaction_at, last_interaction_at, interactions)
            SELECT customer_id,
                {of(is_in, 'MIN', 'occurred_at')}, {of(is_in, 'MAX', 'occurred_at')},
                {of(is_in, 'COUNT', '1', '0')}, {of(is_out, 'COUNT', '1', '0')}, {net_spend},
                {of(is_contact, 'MAX', 'occurred_at')}, MIN(occurred_at), MAX(occurred_at), COUNT(*)
            FROM interactions WHERE {where} GROUP BY customer_id
            ON CONFLICT(customer_id) DO UPDATE SET
                {earliest('first_purchase_at')}, {latest('last_purchase_at')},
                purchases = customer_summary.purchases + excluded.purchases,
                refunds = customer_summary.refunds + excluded.refunds,
                net_spend = {_checked_sum('customer_summary.net_spend', 'excluded.net_spend')}, {latest('last_contact_at')},
                {earliest('first_interaction_at')}, {latest('last_interaction_at')},
                interactions = customer_summary.interactions + excluded.interactions
            """,
            bound,
        )


#: Rows folded into the summary at a time: their amounts add up to less than 64 bits hold.
_FOLD_ROWS = MAX_MINOR // MAX_AMOUNT
#: The id of an interaction, spelled so that no plan reads a range of ids by it: a condition on
#: most of the table then reads the customers' covering index, in customer order, not the ids'
#: range with a sort by customer (folding 1M purchases: 0.4 s instead of 1.4 s).
_BY_CUSTOMER = "+id"


def _most_of_the_table(rows: int, last_id: int) -> bool:
    """Whether ``rows`` interactions, the last of them ``last_id``, are at least half the table."""
    return 2 * rows >= last_id


_AMOUNT = itemgetter(5)  # a stored row's amount in minor units (never negative), or None
_KIND = itemgetter(2)


def _checked_sum(total: str, addend: str) -> str:
    """SQL for ``total + addend``, or NULL where the sum would pass 64 bits: written so that no
    step overflows (SQLite would turn it into a float, PostgreSQL refuse the statement)."""
    most = MAX_MINOR
    return (
        f"CASE WHEN {addend} >= 0 THEN CASE WHEN {total} <= {most} - {addend} THEN {total} + {addend} END "
        f"ELSE CASE WHEN {total} >= -{most} - {addend} THEN {total} + {addend} END END"
    )


class _BatchWriter:
    """Stores batches of prepared rows for one call: ids, summary, events, horizon and audit."""

    def __init__(self, interactions: Interactions, fold_at_end: bool = False):
        self._interactions = interactions
        self._fold_at_end = fold_at_end
        self._crm = crm = interactions._crm
        self.next_id = (crm.db.execute("SELECT max(id) FROM interactions").fetchone()[0] or 0) + 1
        self._horizon = crm.settings.get("core.log_horizon")
        self.count, self.first_id, self.last_id = 0, None, None
        #: The batch being written, as prepared, and the rows before it: the customers'
        #: foreign key checks them as they are written; a refusal is then reported by row.
        self.checking: tuple[list[tuple], int] | None = None
        #: How far any customer's net spend may be from zero after the batches stored so far.
        self._spend_bound: int | None = None

    def store(self, values: list[tuple], records: Sequence[Interaction]) -> None:
        """Insert one batch (ids numbered from ``next_id``), fold it in and announce it."""
        if not values:
            return
        crm = self._crm
        crm.db.bulk_insert("interactions", _COLUMNS, values)
        first, last = values[0][0], values[-1][0]
        kinds = set(map(_KIND, values))
        exact = self._spend_stays_exact(sum(filter(None, map(_AMOUNT, values))))
        if self._fold_at_end:
            # Folding a load as large as the table once, at its end, took 0.4 s for 1M purchases
            # of 100k customers, against 2.6 s batch by batch (each batch updates most of them).
            interactions = self._interactions
            interactions._unfolded = interactions._unfolded or _Unfolded()
            interactions._unfolded.add(first, last, kinds, exact)
        else:
            self._interactions._fold(first, last, kinds, exact)
        newest = max(v[4] for v in values)
        if self._horizon is None or newest > self._horizon:
            self._horizon = newest
        crm.plugins.call("crmkit_interactions_recorded", crm=crm, interactions=records)
        self.count += len(values)
        self.first_id = first if self.first_id is None else self.first_id
        self.last_id = last
        self.next_id = last + 1

    def _spend_stays_exact(self, moved: int) -> bool:
        """Whether every customer's net spend stays within 64 bits after a batch whose amounts
        add up to ``moved``: no total can move further than that. The largest total on file
        is read once per call (an index lookup, or one pass while a large load defers it), so
        only a call that could come near the limit pays for the checked fold."""
        if self._spend_bound is None:
            # Two subqueries, each one end of the net spend index (one SELECT asking both scans it).
            most, least = self._crm.db.execute(
                "SELECT (SELECT max(net_spend) FROM customer_summary), (SELECT min(net_spend) FROM customer_summary)"
            ).fetchone()
            self._spend_bound = max(abs(most or 0), abs(least or 0))
        self._spend_bound += moved
        return self._spend_bound <= MAX_MINOR

    def finish(self) -> None:
        """Keep the log horizon and write one audit entry per customer of the call."""
        crm = self._crm
        # Most of the table's rows, just loaded: the summary and the audit read them by customer,
        # through the covering index, so a load that deferred it builds it now.
        by_customer = self._fold_at_end and _most_of_the_table(self.count, self.last_id or 0)
        if by_customer:
            restore_deferred_indexes(crm.db, "interactions")
        self._interactions._fold_waiting(by_customer)
        if not self.count:
            return
        crm.db.execute(
            "INSERT INTO settings(key, value) VALUES ('core.log_horizon', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [json.dumps(self._horizon)],
        )
        # One entry per customer of the call, not per row: who recorded which of their
        # interactions (count and id range), and when; "who touched customer 42" finds it.
        # The entries are made in the database, one statement, their JSON spelled as
        # json.dumps(..., sort_keys=True) spells it.
        crm.audit.record_from_query(
            "SELECT 'interaction.record' AS action, 'customer' AS entity, customer_id AS entity_id, "
            "NULL AS before, '{\"count\": ' || count(*) || ', \"first_id\": ' || min(id) "
            "|| ', \"last_id\": ' || max(id) || '}' AS after "
            f"FROM interactions WHERE {_BY_CUSTOMER if by_customer else 'id'} BETWEEN :first AND :last "
            "GROUP BY customer_id ORDER BY customer_id",
            {"first": self.first_id, "last": self.last_id}, source="core",
        )


class _Unfolded:
    """The id ranges (in order), kinds and exactness of what a load has not folded yet."""

    def __init__(self):
        self.ranges: list[list[int]] = []
        self.rows = 0
        self.kinds: set[str] = set()
        self.exact = True  # no net spend can pass 64 bits (see _BatchWriter._spend_stays_exact)

    def add(self, first: int, last: int, kinds: set[str], exact: bool) -> None:
        if self.ranges and self.ranges[-1][1] + 1 == first:
            self.ranges[-1][1] = last
        else:
            self.ranges.append([first, last])
        self.rows += last - first + 1
        self.kinds |= kinds
        self.exact = self.exact and exact


def _lazy_records(values: list[tuple], exponent: int) -> BuiltOnRead:
    """The records of a batch of stored rows, each built when first read."""
    return BuiltOnRead(len(values), lambda index: _from_stored(values[index], exponent))


def _from_stored(value: tuple, exponent: int) -> Interaction:
    """The record of one stored row (as :meth:`Interactions.record_checked` writes it)."""
    new_id, customer_id, kind, channel, when, minor, product, category, rep, notes, data, _, external_key = value
    record = _new_record(Interaction)
    _set_id(record, new_id)
    _set_customer_id(record, customer_id)
    _set_kind(record, kind)
    _set_occurred_at(record, datetime.fromisoformat(when))
    _set_amount(record, None if minor is None else Decimal(minor).scaleb(-exponent))
    _set_channel(record, channel)
    _set_product(record, product)
    _set_category(record, category)
    _set_rep(record, rep)
    _set_notes(record, notes)
    _set_data(record, json.loads(data) if data else {})
    _set_external_key(record, external_key)
    return record


#: The optional texts of a row and their limits, in stored order (external_key last).
_TEXTS = (("channel", 50), ("product", 200), ("category", 100), ("rep", 100), ("notes", 10_000), ("external_key", 200))


def _plain_columns(batch: list, first_id: int, kinds: dict, recorded_at: str, exponent: int) -> list[tuple] | None:
    """The stored values of a batch of plain rows, checked a column at a time.

    Accepts only rows :meth:`Interactions._prepare_plain` accepts (dicts of known fields; an int
    customer id; a known kind; the time as storage text; money text or a whole number for
    money kinds only; texts stripped, within their limits, valid Unicode without NUL; data a
    JSON-able dict) and gives the same values, for a batch whose rows all have the same keys.
    A column is checked with one pattern over its joined text, and texts, kinds and dates
    repeat, so each distinct one is checked once. Returns None when any row needs more
    (conversion, or an error to report): the batch then goes row by row, with the exact messages.
    """
    first = batch[0]
    if type(first) is not dict:
        return None
    keys = tuple(first)
    if len(keys) < 3 or not _FIELDS.issuperset(keys) or set(map(type, batch)) != {dict} or set(map(len, batch)) != {len(keys)}:
        return None
    if not all(map(set(keys).issuperset, batch)):  # every row has the first row's keys
        return None
    columns = dict(zip(keys, zip(*map(itemgetter(*keys), batch))))
    customers, names, times = columns.get("customer_id"), columns.get("kind"), columns.get("occurred_at")
    if customers is None or names is None or times is None:
        return None
    if set(map(type, customers)) != {int} or set(map(type, names)) != {str} or set(map(type, times)) != {str}:
        return None
    distinct_names = set(names)
    for name in distinct_names:
        if name not in kinds or not name or len(name) > 50 or name.strip() != name:
            return None
    if not _STORED_TIMES.fullmatch("\n".join(times)):
        return None
    try:
        for day in {when[:10] for when in times}:
            date.fromisoformat(day)
    except ValueError:
        return None
    money = {name for name in distinct_names if kinds[name].money}
    amounts = columns.get("amount")
    if amounts is None:
        if money:
            return None
        minors: Iterable = repeat(None)
    else:
        minors = _minor_column(names, amounts, money, exponent)
        if minors is None:
            return None
    texts = []
    for field, limit in _TEXTS:
        column = columns.get(field)
        if column is None:
            texts.append(repeat(None))
            continue
        try:
            distinct = set(column)
        except TypeError:  # unhashable: no text
            return None
        distinct.discard(None)
        for text in distinct:
            if (
                type(text) is not str or not text or len(text) > limit or text.strip() != text
                or not is_storable_text(text)
            ):
                return None
        texts.append(column)
    data = columns.get("data")
    stored_data: Iterable = repeat(None)
    if data is not None and set(map(type, data)) != {type(None)}:
        stored_data = [None] * len(batch)
        for index, item in enumerate(data):
            if item is None:
                continue
            if type(item) is not dict:
                return None
            if item:
                try:
                    stored_data[index] = json.dumps(check_json_value(item, "data"), sort_keys=True, allow_nan=False)
                except (TypeError, ValueError, RecursionError):  # ValidationError is a ValueError
                    return None
    validated = {name: kinds[name].validate for name in distinct_names if kinds[name].validate is not None}
    if validated:
        checked = compress(zip(names, data or repeat(None)), map(validated.__contains__, names))
        try:
            for name, item in checked:
                validated[name](item or {})
        except ValidationError:
            return None
    channel, product, category, rep, notes, external_keys = texts
    return list(zip(
        range(first_id, first_id + len(batch)), customers, names, channel, times, minors, product, category, rep,
        notes, stored_data, repeat(recorded_at), external_keys,
    ))


def _minor_column(names: list[str], amounts: list, money: set[str], exponent: int) -> list | None:
    """Amounts in minor units (None for kinds that move no money), or None when a row's amount
    is missing, not allowed, or not exact money text or a whole number of at least zero."""
    present = [amount is not None for amount in amounts]
    if present != list(map(money.__contains__, names)):
        return None
    paid = [amount for amount in amounts if amount is not None]
    if not paid:
        return amounts
    scale = 10 ** exponent
    patterns = _money_patterns(exponent)
    converted = None
    if set(map(type, paid)) == {str}:
        joined = "\n".join(paid)
        if patterns[0].fullmatch(joined):  # every amount with all its decimals: drop the point
            converted = list(map(int, joined.replace(".", "").split("\n")))
        elif not patterns[1].fullmatch(joined):
            return None
    if converted is None:
        converted = []
        append = converted.append
        single = patterns[2].fullmatch
        for amount in paid:
            if type(amount) is str and single(amount):
                whole, _, part = amount.partition(".")
                append(int(whole) * scale + int(part.ljust(exponent, "0")) if part else int(whole) * scale)
            elif type(amount) is int and 0 <= amount <= MAX_AMOUNT // scale:
                append(amount * scale)
            else:
                return None
    if len(paid) == len(amounts):
        return converted
    found = iter(converted)
    return [next(found) if has else None for has in present]


@functools.cache
def _money_patterns(exponent: int) -> tuple:
    """Patterns of exact money text (ASCII digits, at most ``exponent`` decimals): a column of
    amounts with exactly ``exponent`` decimals joined by newlines, any such column, one amount."""
    whole = rf"\d{{1,{AMOUNT_DIGITS - exponent}}}"
    exact = rf"{whole}\.\d{{{exponent}}}" if exponent else whole
    some = rf"{whole}(?:\.\d{{1,{exponent}}})?" if exponent else whole
    return (
        re.compile(rf"(?:{exact}\n)*{exact}", re.ASCII),
        re.compile(rf"(?:{some}\n)*{some}", re.ASCII),
        re.compile(some, re.ASCII),
    )


def _amount_pattern(exponent: int):
    """Money text that converts exactly to at most :data:`MAX_AMOUNT`: digits, and at most
    ``exponent`` decimals."""
    decimals = rf"(?:\.\d{{1,{exponent}}})?" if exponent else ""
    return re.compile(rf"\d{{1,{AMOUNT_DIGITS - exponent}}}{decimals}\Z")
