"""Interactions: the append-only log of everything that happened with a customer.

Each batch is inserted, folded into the per-customer summary with one set-based statement and
announced to plugins with one ``crmkit_interactions_recorded`` call, all in the caller's
transaction.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

import attrs
from attrs import frozen

from .errors import ValidationError
from .models import Interaction
from .money import to_minor
from .store import batched
from .timeutil import to_iso

if TYPE_CHECKING:
    from .crm import CRM

_COLUMNS = (
    "id", "customer_id", "kind", "channel", "occurred_at", "amount", "product", "category",
    "rep", "notes", "data", "recorded_at",
)
_FIELDS = set(_COLUMNS) - {"id", "recorded_at"}


@frozen
class RecordResult:
    """What ``record_many`` wrote: how many rows and the range of their ids."""

    count: int
    first_id: int | None
    last_id: int | None


class Interactions:
    """Record and read a CRM's interactions."""

    def __init__(self, crm: "CRM"):
        self._crm = crm
        kinds = crm.kinds
        self._kind_params = {
            "in": kinds.names(money="in"), "out": kinds.names(money="out"), "contact": kinds.names(contact=True),
        }

    def record(self, customer_id: int, kind: str, occurred_at: Any = None, **fields: Any) -> Interaction:
        """Record one interaction (``occurred_at`` defaults to the CRM's clock); returns it with its id."""
        row = dict(fields, customer_id=customer_id, kind=kind, occurred_at=occurred_at)
        result = self.record_many([row])
        return self.get(result.first_id)

    def record_many(self, rows: Iterable[Interaction | dict], batch_size: int = 5000) -> RecordResult:
        """Record many interactions in one transaction, streaming in batches.

        Every row is validated (kind known, amount exact and present for money kinds, customer
        exists); a bad row raises ValidationError naming its position and nothing is written.
        Plugins hear of each batch once, through ``crmkit_interactions_recorded``.
        """
        crm = self._crm
        count, first_id, last_id = 0, None, None
        with crm.transaction():
            position = 0
            next_id = (crm.db.execute("SELECT max(id) FROM interactions").fetchone()[0] or 0) + 1
            horizon = crm.settings.get("core.log_horizon")
            for batch in batched(rows, batch_size):
                records, values = [], []
                for row in batch:
                    position += 1
                    record, value = self._prepare(row, position, next_id)
                    records.append(record)
                    values.append(value)
                    next_id += 1
                self._check_customers(records, position - len(records))
                crm.db.conn.executemany(
                    f"INSERT INTO interactions({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    values,
                )
                self._fold_into_summary(records[0].id, records[-1].id)
                newest = max(v[4] for v in values)
                if horizon is None or newest > horizon:
                    horizon = newest
                crm.plugins.call("crmkit_interactions_recorded", crm=crm, interactions=records)
                count += len(records)
                first_id = records[0].id if first_id is None else first_id
                last_id = records[-1].id
            if count:
                crm.db.execute(
                    "INSERT INTO settings(key, value) VALUES ('core.log_horizon', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [json.dumps(horizon)],
                )
        return RecordResult(count, first_id, last_id)

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
                self._upsert_summary("1", {})
            else:
                ids = json.dumps([int(i) for i in customer_ids])
                db.execute("DELETE FROM customer_summary WHERE customer_id IN (SELECT value FROM json_each(?))", [ids])
                self._upsert_summary("customer_id IN (SELECT value FROM json_each(:ids))", {"ids": ids})

    # --- internals ------------------------------------------------------------------------

    def _prepare(self, row: Interaction | dict, position: int, new_id: int) -> tuple[Interaction, tuple]:
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
            minor = None if record.amount is None else to_minor(record.amount, crm.exponent)
            if kind.validate is not None:
                kind.validate(record.data)
        except ValidationError as error:
            raise ValidationError(f"row {position}: {error.field}", error.value, error.expected) from None
        except TypeError as error:
            raise ValidationError(f"row {position}", row, str(error)) from None
        value = (
            record.id, record.customer_id, record.kind, record.channel, to_iso(record.occurred_at),
            minor, record.product, record.category, record.rep, record.notes,
            json.dumps(record.data, sort_keys=True) if record.data else None, to_iso(crm.now()),
        )
        return record, value

    def _check_customers(self, records: list[Interaction], offset: int) -> None:
        wanted = sorted({r.customer_id for r in records})
        found = {
            row[0] for row in self._crm.db.execute(
                "SELECT id FROM customers WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(wanted)]
            )
        }
        for index, record in enumerate(records, start=offset + 1):
            if record.customer_id not in found:
                raise ValidationError(f"row {index}: customer_id", record.customer_id, "the id of an existing customer")

    def _fold_into_summary(self, first_id: int, last_id: int) -> None:
        self._upsert_summary("id BETWEEN :first AND :last", {"first": first_id, "last": last_id})

    def _upsert_summary(self, where: str, params: dict) -> None:
        kinds = self._kind_params
        bound = dict(params)
        lists = {}
        for group, names in kinds.items():
            keys = [f"{group}{i}" for i in range(len(names))]
            bound.update(zip(keys, names))
            lists[group] = ", ".join(":" + k for k in keys) or "NULL"
        is_in, is_out, is_contact = (f"kind IN ({lists[g]})" for g in ("in", "out", "contact"))

        def earliest(column: str) -> str:
            return f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} WHEN {column} IS NULL THEN excluded.{column} ELSE min({column}, excluded.{column}) END"

        def latest(column: str) -> str:
            return f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} WHEN {column} IS NULL THEN excluded.{column} ELSE max({column}, excluded.{column}) END"

        self._crm.db.execute(
            f"""
            INSERT INTO customer_summary (
                customer_id, first_purchase_at, last_purchase_at, purchases, refunds, net_spend,
                last_contact_at, first_interaction_at, last_interaction_at, interactions)
            SELECT customer_id,
                MIN(CASE WHEN {is_in} THEN occurred_at END),
                MAX(CASE WHEN {is_in} THEN occurred_at END),
                SUM(CASE WHEN {is_in} THEN 1 ELSE 0 END),
                SUM(CASE WHEN {is_out} THEN 1 ELSE 0 END),
                COALESCE(SUM(CASE WHEN {is_in} THEN amount WHEN {is_out} THEN -amount END), 0),
                MAX(CASE WHEN {is_contact} THEN occurred_at END),
                MIN(occurred_at), MAX(occurred_at), COUNT(*)
            FROM interactions WHERE {where} GROUP BY customer_id
            ON CONFLICT(customer_id) DO UPDATE SET
                {earliest('first_purchase_at')}, {latest('last_purchase_at')},
                purchases = purchases + excluded.purchases, refunds = refunds + excluded.refunds,
                net_spend = net_spend + excluded.net_spend, {latest('last_contact_at')},
                {earliest('first_interaction_at')}, {latest('last_interaction_at')},
                interactions = interactions + excluded.interactions
            """,
            bound,
        )
