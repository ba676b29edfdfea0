"""The points ledger: append-only, never negative, idempotent.

Positive rows are batches (``earn`` on purchases, ``bonus`` by rule, ``adjust`` by hand); each
has an ``available_at`` (after the lock period) and an ``expires_at``. Negative rows are debits
(``redeem``, ``expire``, ``clawback``), each tied to the batches it consumed through
``loyalty_point_allocations``, so a batch's remaining points are its points minus its
allocations and can never drop below zero. Every operation carries a unique ``key``: repeating
an operation with a key already in the ledger changes nothing and returns the first entry.
One row is ever changed after it is written: an ``expire`` row, which is derived (what a batch
had left at its expiry), shrinks when a debit dated before the expiry is recorded after it was
posted, with an audit entry (``loyalty.points.expire.corrected``).

An ``earn`` row is one per purchase and the bulk of the ledger, so it stores only what the
purchase does not say: its key ``earn:<purchase id>`` is read back from the purchase's id (a
unique index on it keeps a purchase from earning twice), its reason likewise unless a tier
multiplied the points, and any row spendable at the moment it occurred stores no ``available_at``
(see ``queries.LEDGER_COLUMNS``).
"""

from __future__ import annotations

from typing import Any

from crmkit import ConflictError, NotFound, ValidationError
from crmkit.store import restore_deferred_indexes
from crmkit.timeutil import from_iso, to_iso

from . import localdays
from . import queries as q
from .config import PointsPolicy
from .models import Liability, PointsEntry


def _entry(row: dict) -> PointsEntry:
    return PointsEntry(
        row["id"], row["customer_id"], row["kind"], row["points"], from_iso(row["occurred_at"]),
        from_iso(row["available_at"]), from_iso(row["expires_at"]), row["interaction_id"],
        row["batch_id"], row["key"], row["reason"], row["note"],
    )


def _whole_points(value: Any, name: str = "points") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(name, value, "a whole number of points > 0")
    return value


class Points:
    """``crm.loyalty.points``: balances, awards, redemptions, expiry and the liability."""

    def __init__(self, crm):
        self._crm = crm

    # --- policy ---------------------------------------------------------------------------------

    def policy(self) -> PointsPolicy:
        """The earning policy (rate, lock period, expiry, bonus rules)."""
        stored = self._crm.settings.get("loyalty.points")
        return PointsPolicy(**stored) if stored else PointsPolicy()

    def set_policy(self, **options: Any) -> PointsPolicy:
        """Change the policy: ``rate``, ``lock_days``, ``expiry_days``, ``expiry_end``, ``bonuses``. Applies to
        purchases recorded from now on; batches already earned keep their dates."""
        merged = dict(self.policy().to_json(), **options)
        policy = PointsPolicy(**merged)
        for bonus in policy.bonuses:
            if bonus.kind not in self._crm.kinds:
                raise ValidationError("bonus.kind", bonus.kind, "a known interaction kind")
            if bonus.segment is not None:
                self._crm.segments.check(self._crm.segments.resolve(bonus.segment))
        self._crm.settings.set("loyalty.points", policy.to_json())
        return policy

    # --- reading --------------------------------------------------------------------------------

    def balance(self, customer_id: int, as_of: Any = None) -> int:
        """Spendable points as of a time (unlocked, unexpired, minus what was spent)."""
        self._crm.customers.get(customer_id)
        sql = "SELECT " + q.balance_sql(":cid")
        return self._crm.db.execute(sql, {"cid": customer_id, "as_of": to_iso(self._crm.as_of(as_of))}).fetchone()[0]

    def locked(self, customer_id: int, as_of: Any = None) -> int:
        """Points earned but still in their lock period."""
        self._crm.customers.get(customer_id)
        sql = "SELECT " + q.locked_sql(":cid")
        return self._crm.db.execute(sql, {"cid": customer_id, "as_of": to_iso(self._crm.as_of(as_of))}).fetchone()[0]

    def entries(self, customer_id: int, limit: int = 100, offset: int = 0) -> list[PointsEntry]:
        """A customer's ledger rows, oldest first."""
        self._crm.customers.get(customer_id)
        return [_entry(row) for row in self._crm.db.query(q.POINTS_ENTRIES, [customer_id, int(limit), int(offset)])]

    def batches(self, customer_id: int) -> list[dict]:
        """A customer's batches with what remains of each, nearest expiry first."""
        self._crm.customers.get(customer_id)
        return [
            {"id": r[0], "kind": r[1], "points": r[2], "occurred_at": from_iso(r[3]),
             "available_at": from_iso(r[4]), "expires_at": from_iso(r[5]), "remaining": r[6]}
            for r in self._crm.db.execute(q.POINTS_BATCHES, [customer_id])
        ]

    def entry(self, key: str) -> PointsEntry:
        """The ledger row carrying an idempotency key."""
        rows = list(self._crm.db.query(q.POINTS_BY_KEY, [key]))
        earned = key.removeprefix("earn:") if isinstance(key, str) else ""
        if not rows and earned != key and earned.isascii() and earned.isdigit():
            rows = list(self._crm.db.query(q.POINTS_BY_EARNING, [int(earned)]))
        if not rows:
            raise NotFound(f"no points entry with key {key!r}")
        return _entry(rows[0])

    def liability(self, as_of: Any = None) -> Liability:
        """Points all customers hold as of a time: spendable and locked."""
        moment = self._crm.as_of(as_of)
        spendable, locked, customers = self._crm.db.execute(q.POINTS_LIABILITY, {"as_of": to_iso(moment)}).fetchone()
        return Liability(moment, spendable, locked, customers)

    def flows(self, since: Any = None, as_of: Any = None) -> dict[str, dict]:
        """Points by entry kind between two times (default: the 365 days up to as_of)."""
        end = self._crm.as_of(as_of)
        start = self._crm.as_of(since) if since is not None else self._crm.calendar.add_days(end, -365)
        rows = self._crm.db.execute(q.POINTS_FLOWS, {"since": to_iso(start), "as_of": to_iso(end)})
        return {kind: {"points": total, "entries": count} for kind, total, count in rows}

    # --- writing --------------------------------------------------------------------------------

    def award(self, customer_id: int, points: int, *, key: str, reason: str, note: str | None = None, at: Any = None) -> PointsEntry:
        """Add a manual batch (kind ``adjust``) under the current lock and expiry policy."""
        points = _whole_points(points)
        self._check_key(key)
        if not reason or not str(reason).strip():
            raise ValidationError("reason", reason, "a reason for the award")
        crm = self._crm
        with crm.transaction():
            existing = self._existing(key, customer_id, "adjust", points)
            if existing:
                return existing
            crm.customers.get(customer_id)
            moment = crm.as_of(at)
            policy = self.policy()
            calendar = crm.calendar
            expires = None if policy.expiry_days is None else to_iso(
                localdays.expiry(calendar, moment, policy.expiry_days, policy.expiry_end))
            entry_id = self._insert(
                customer_id=customer_id, kind="adjust", points=points, occurred_at=to_iso(moment),
                available_at=to_iso(localdays.days_later(calendar, moment, policy.lock_days)), expires_at=expires,
                key=key, reason=str(reason).strip(), note=note,
            )
            crm.audit.record("loyalty.points.award", "customer", customer_id, after={"points": points, "key": key, "entry": entry_id}, source="loyalty")
        return self._get(entry_id)

    def redeem(self, customer_id: int, points: int, *, key: str, reason: str = "redemption", note: str | None = None, at: Any = None) -> PointsEntry:
        """Spend points, taking them from the batches nearest expiry first.

        Redeeming more than the spendable balance raises ConflictError and writes nothing. A key
        already used returns the earlier entry unchanged (a different customer or amount under
        the same key is a ConflictError).
        """
        points = _whole_points(points)
        self._check_key(key)
        crm = self._crm
        with crm.transaction():
            existing = self._existing(key, customer_id, "redeem", -points)
            if existing:
                return existing
            crm.customers.get(customer_id)
            moment = crm.as_of(at)
            batches = crm.db.execute(q.SPENDABLE_BATCHES, {"customer": customer_id, "at": to_iso(moment)}).fetchall()
            available = sum(remaining for _, remaining in batches)
            if points > available:
                raise ConflictError(f"customer {customer_id} has {available} spendable points; cannot redeem {points}")
            entry_id = self._insert(
                customer_id=customer_id, kind="redeem", points=-points, occurred_at=to_iso(moment),
                available_at=to_iso(moment), key=key, reason=reason, note=note,
            )
            self._allocate(entry_id, batches, points)
            crm.audit.record("loyalty.points.redeem", "customer", customer_id, after={"points": points, "key": key, "entry": entry_id}, source="loyalty")
        return self._get(entry_id)

    def expire(self, now: Any = None) -> int:
        """Post ``expire`` entries for what remains of batches expired by ``now``; idempotent."""
        crm = self._crm
        moment = crm.as_of(now)
        with crm.transaction():
            expired = crm.db.execute(q.POINTS_EXPIRE, {"now": to_iso(moment)}).rowcount
            if expired:
                crm.db.execute(q.POINTS_EXPIRE_ALLOCATE)
                crm.audit.record("loyalty.points.expire", "loyalty_points", None, after={"batches": expired, "now": to_iso(moment)}, source="loyalty")
        return expired

    # --- hooks ----------------------------------------------------------------------------------

    def earn_for_batch(self, first_id: int, last_id: int) -> None:
        """Earn points for the purchases (and bonus kinds) of one recorded batch: set-based."""
        crm = self._crm
        policy = self.policy()
        in_list, out_list, kinds = q.kind_params(crm)
        now = to_iso(crm.now())
        base = {"first": first_id, "last": last_id, "now": now}
        divisor = 10 ** crm.exponent * 1000 * 1000
        dates = localdays.BatchDates(crm, policy.lock_days, policy.expiry_days, policy.expiry_end)
        written = crm.db.execute(
            q.points_earn(in_list, dates),
            dict(base, **kinds, rate_milli=policy.rate_milli, divisor=divisor),
        ).rowcount
        if any(bonus.segment is not None for bonus in policy.bonuses):
            restore_deferred_indexes(crm.db, "loyalty_points")  # a rule may read balances by customer
        for bonus in policy.bonuses:
            params = dict(base, _lb_points=bonus.points, _lb_name=bonus.name, _lb_kind=bonus.kind)
            ids = None
            if bonus.segment is not None:
                compiled = crm.segments.compile(crm.segments.resolve(bonus.segment), crm.now())
                ids = compiled.id_query()
                params.update(compiled.params)
            written += crm.db.execute(q.points_bonus(dates, ids), params).rowcount
        refunds = crm.db.execute(q.refunds_in_range(out_list), dict(base, **kinds)).fetchall()
        if refunds:
            restore_deferred_indexes(crm.db, "loyalty_points")  # a clawback reads the customer's batches
        for refund in refunds:
            self._claw_back(*refund, policy=policy)
            written += 1
        if written:
            crm.audit.record(
                "loyalty.points.earn", "interactions", None,
                after={"first_id": first_id, "last_id": last_id, "rows": written}, source="loyalty",
            )

    def _claw_back(self, refund_id: int, customer_id: int, amount: int, occurred_at: str, purchase_id: int | None, policy: PointsPolicy) -> None:
        """Take back the points a refunded purchase earned (in proportion to the amount refunded),
        from that purchase's batches first, then nearest expiry; never below zero."""
        crm = self._crm
        owed = None
        if purchase_id is not None:
            row = crm.db.execute(q.PURCHASE_FOR_REFUND, [purchase_id, customer_id]).fetchone()
            if row is not None and row[0]:
                paid, earned, clawed = row
                owed = min(earned * min(amount, paid) // paid, max(earned - clawed, 0))
        if owed is None:
            purchase_id = None
            owed = amount * policy.rate_milli // (10 ** crm.exponent * 1000)
        if owed <= 0:
            return
        batches = crm.db.execute(
            q.CLAWBACK_BATCHES, {"customer": customer_id, "at": occurred_at, "purchase": purchase_id}
        ).fetchall()
        taken = min(owed, sum(remaining for _, remaining in batches))
        short = owed - taken
        reason = f"refund {refund_id}" + (f" of purchase {purchase_id}" if purchase_id else "") + f": {owed} points owed"
        if short:
            reason += f", {short} not recoverable"
        entry_id = self._insert(
            customer_id=customer_id, kind="clawback", points=-taken, occurred_at=occurred_at,
            available_at=occurred_at, interaction_id=purchase_id, key=f"clawback:{refund_id}", reason=reason,
        )
        self._allocate(entry_id, batches, taken)

    # --- internals ------------------------------------------------------------------------------

    @staticmethod
    def _check_key(key: Any) -> None:
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise ValidationError("key", key, "an idempotency key: non-empty text of at most 200 characters")
        if key.split(":", 1)[0] in ("earn", "bonus", "clawback", "expire"):
            raise ValidationError("key", key, "a key not starting with earn:, bonus:, clawback: or expire: (used by the plugin)")

    def _existing(self, key: str, customer_id: int, kind: str, points: int) -> PointsEntry | None:
        rows = list(self._crm.db.query(q.POINTS_BY_KEY, [key]))
        if not rows:
            return None
        entry = _entry(rows[0])
        if entry.customer_id != customer_id:
            # Say no more: the caller may not see that customer, nor their points.
            raise ConflictError(f"key {key!r} was already used for another customer; give each request a key of its own")
        if (entry.kind, entry.points) != (kind, points):
            raise ConflictError(
                f"key {key!r} was already used for {entry.kind} of {abs(entry.points)} points by customer {entry.customer_id}"
            )
        return entry

    def _insert(self, **values: Any) -> int:
        row = {
            "customer_id": None, "kind": None, "points": None, "occurred_at": None, "available_at": None,
            "expires_at": None, "interaction_id": None, "batch_id": None, "key": None, "reason": None,
            "note": None, "created_at": to_iso(self._crm.now()),
        }
        row.update(values)
        if row["available_at"] == row["occurred_at"]:
            row["available_at"] = None  # spendable when it occurred: read back as occurred_at
        return self._crm.db.execute(q.POINTS_ENTRY_INSERT + " RETURNING id", row).fetchone()[0]

    def _allocate(self, entry_id: int, batches: list, points: int) -> None:
        allocations, left = [], points
        for batch_id, remaining in batches:
            if left <= 0:
                break
            take = min(remaining, left)
            allocations.append((entry_id, batch_id, take))
            left -= take
        self._crm.db.executemany(q.ALLOCATION_INSERT, allocations)
        self._shrink_expiries([batch_id for _, batch_id, _ in allocations])

    def _shrink_expiries(self, batch_ids: list[int]) -> None:
        """Make each batch's posted expiry take only what the batch still had when it expired.

        A debit dated before a batch's expiry may be recorded after the expiry run (a redemption
        from an offline till, a refund imported late). The expiry entry is derived, "what was
        left at the expiry time", so it gives back what the late debit took (and goes when
        nothing was left): the ledger ends as if the debit had come first, and the batch's
        debits never add up to more than its points.
        """
        crm = self._crm
        for batch_id in batch_ids:
            row = crm.db.execute(q.BATCH_EXPIRY, {"batch": batch_id}).fetchone()
            if row is None or row[1] == row[2]:
                continue
            entry_id, posted, left = row
            if left > 0:
                crm.db.execute(q.EXPIRY_SET, {"points": -left, "entry": entry_id})
                crm.db.execute(q.EXPIRY_ALLOCATION_SET, {"points": left, "entry": entry_id})
            else:
                crm.db.execute(q.EXPIRY_ALLOCATION_DELETE, {"entry": entry_id})
                crm.db.execute(q.EXPIRY_DELETE, {"entry": entry_id})
            crm.audit.record(
                "loyalty.points.expire.corrected", "loyalty_points", entry_id,
                before={"points": -posted}, after={"points": -left if left > 0 else None, "batch": batch_id},
                source="loyalty",
            )

    def _get(self, entry_id: int) -> PointsEntry:
        return _entry(next(iter(self._crm.db.query(q.POINTS_BY_ID, [entry_id]))))
