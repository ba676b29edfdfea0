"""Customers: add, change, find, page through, de-duplicate and merge."""

from __future__ import annotations

import difflib
import json
import re
from typing import TYPE_CHECKING, Any, Iterable

import attrs
from attrs import frozen

from . import history
from .errors import ConflictError, NotFound, ValidationError
from .lazy import BuiltOnRead
from .models import Customer, CustomerChange, is_storable_text, normalise_email, normalise_phone, optional_text, record_dict
from .store import batched
from .timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from .crm import CRM

_ORDERABLE = ("id", "name", "created_at", "updated_at", "region", "company", "owner", "stage")
#: The stored columns of a new customer after its id, in the order of the tuples
#: :meth:`Customers.upsert_checked` takes.
STORED_COLUMNS = (
    "external_id", "name", "email", "email_norm", "phone", "phone_norm", "address", "region",
    "company", "industry", "size", "source", "owner", "stage", "tags", "attributes",
    "created_at", "updated_at",
)
_NAME = 1 + STORED_COLUMNS.index("name")  # in a row with its id first
# A name json.dumps writes as it is between its quotes (printable ASCII without " or \).
_PLAIN_TEXT = re.compile(r'[ !#-\[\]-~]*')


@frozen
class DuplicatePair:
    """Two customers that are probably the same, and why crmkit thinks so."""

    first: Customer
    second: Customer
    reason: str


_CUSTOMER_FIELDS = tuple(a.name for a in attrs.fields(Customer))


def _with_id(record: Customer, new_id: int) -> Customer:
    """``attrs.evolve(record, id=new_id)`` without validating the other fields again.

    The record was validated when it was made; only its id changes. Bulk inserts call this per row.
    """
    clone = object.__new__(Customer)
    for name in _CUSTOMER_FIELDS:
        object.__setattr__(clone, name, new_id if name == "id" else getattr(record, name))
    return clone


def _from_stored(rows: list[tuple], columns: tuple[str, ...]) -> list[Customer]:
    """The records of stored rows (the id, then ``columns``; the others as the table's defaults),
    as ``Customer.from_row`` reads them back. A bulk import makes one per row: no dict per row,
    each distinct time and tag list read once."""
    make = object.__new__
    at = {name: 1 + i for i, name in enumerate(columns)}
    at["id"] = 0
    given = [(at[name], setter) for name, setter in _TEXT_SETTERS if name in at]
    absent = [setter for name, setter in _TEXT_SETTERS if name not in at]
    stage, tags_at, attributes_at = at.get("stage"), at.get("tags"), at.get("attributes")
    created, updated = at["created_at"], at["updated_at"]
    times: dict = {}
    tags: dict = {}
    out = []
    for row in rows:
        record = make(Customer)
        for index, setter in given:
            setter(record, row[index])
        for setter in absent:
            setter(record, None)
        _SET_STAGE(record, "new" if stage is None else row[stage])
        text = "[]" if tags_at is None else row[tags_at]
        found = tags.get(text)
        if found is None:
            found = tags[text] = tuple(json.loads(text or "[]"))
        _SET_TAGS(record, found)
        text = "{}" if attributes_at is None else row[attributes_at]
        _SET_ATTRIBUTES(record, {} if text == "{}" else json.loads(text or "{}"))
        for index, setter in ((created, _SET_CREATED), (updated, _SET_UPDATED)):
            text = row[index]
            if text not in times:
                times[text] = from_iso(text)
            setter(record, times[text])
        out.append(record)
    return out


def _added(records: list, first_id: int, given: list[tuple], columns: tuple[str, ...]) -> BuiltOnRead:
    """The customers one insert added, for ``crmkit_customers_added``, in id order: the records
    given, and those of stored tuples (``given``: their rows with ids) built when read."""

    def one(position: int) -> Customer:
        record, customer_id = records[position], first_id + position
        if isinstance(record, Customer):
            return _with_id(record, customer_id)
        return _from_stored([(customer_id, *record)], columns)[0]

    def every() -> list[Customer]:  # each distinct time and tag list read once
        read = iter(_from_stored(given, columns) if given else ())
        return [_with_id(record, customer_id) if isinstance(record, Customer) else next(read)
                for customer_id, record in enumerate(records, first_id)]

    return BuiltOnRead(len(records), one, every)


def _dicts(rows: Iterable) -> Iterable[dict]:
    """``rows``, refusing any that is not a dict (a tuple would be taken as checked values)."""
    for position, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValidationError(f"row {position}", row, "a dict of customer fields")
        yield row


def _setter(name: str):
    """A function setting field ``name`` of a (frozen) Customer being made."""
    slot = Customer.__dict__.get(name)
    if slot is not None and hasattr(slot, "__set__"):
        return slot.__set__
    return lambda record, value: object.__setattr__(record, name, value)


_TEXT_SETTERS = [(name, _setter(name)) for name in ("id", "name", "external_id", "email", "phone", "address",
                                                      "region", "company", "industry", "size", "source", "owner")]
_SET_STAGE, _SET_TAGS, _SET_ATTRIBUTES = _setter("stage"), _setter("tags"), _setter("attributes")
_SET_CREATED, _SET_UPDATED = _setter("created_at"), _setter("updated_at")


def _searchable(text: str, field: str = "search") -> str:
    """Refuse what SQLite cannot search faithfully: NUL ends LIKE patterns early ('ab\\x00' would
    match every name containing 'ab') and lone surrogates cannot be encoded as UTF-8."""
    if isinstance(text, str) and not is_storable_text(text):
        raise ValidationError(field, text, "text without NUL characters or lone surrogates")
    return text


def _like_escape(text: str) -> str:
    _searchable(text)
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_key(name: str) -> str:
    cleaned = re.sub(r"[^\w\s]", " ", name.lower())
    return " ".join(cleaned.split())


class Customers:
    """The customers of one CRM."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    # --- writing --------------------------------------------------------------------------

    def add(self, customer: Customer | None = None, **fields: Any) -> Customer:
        """Add one customer from a :class:`Customer` or keyword fields; returns it with its id."""
        record = customer if customer is not None else self._build(fields, 1)
        ids = self._insert([record])
        return self.get(ids[0])

    def add_many(self, rows: Iterable[Customer | dict], batch_size: int = 1000) -> list[int]:
        """Add many customers in one transaction, firing ``crmkit_customers_added`` per batch.

        Rows are validated batch by batch; a bad row raises ValidationError naming its position
        and nothing is written. Returns the new ids in order.
        """
        ids: list[int] = []
        with self._crm.transaction():
            position = 0
            for batch in batched(rows, batch_size):
                records = []
                for row in batch:
                    position += 1
                    records.append(row if isinstance(row, Customer) else self._build(row, position))
                ids.extend(self._insert(records))
        return ids

    def update(self, customer_id: int, **changes: Any) -> Customer:
        """Change fields of one customer; the before/after goes to the audit log and the hook."""
        unknown = set(changes) - set(Customer.EDITABLE)
        if unknown:
            raise ValidationError(sorted(unknown)[0], changes[sorted(unknown)[0]], "a customer field: " + ", ".join(Customer.EDITABLE))
        with self._crm.transaction():
            change = self._write_change(customer_id, changes)
            if not change.changed:
                return change.before
            self._crm.plugins.call("crmkit_customers_updated", crm=self._crm, changes=[change])
            return change.after

    def _write_change(self, customer_id: int, changes: dict) -> CustomerChange:
        """Write one customer's changes with their version and audit entry, inside the caller's
        transaction (nothing when no value changes); the change, for the caller to announce."""
        before = self.get(customer_id)
        try:
            after = attrs.evolve(before, **changes, updated_at=self._crm.now())
        except TypeError as error:
            raise ValidationError("update", changes, str(error)) from None
        change = CustomerChange(before=before, after=after)
        if not change.changed:
            return change
        row = after.to_row()
        self._check_unique([after], exclude=customer_id)
        assignments = ", ".join(f"{column} = :{column}" for column in row if column not in ("id", "created_at"))
        self._crm.db.execute(f"UPDATE customers SET {assignments} WHERE id = :id", row)
        history.changed(self._crm.db, customer_id, row["updated_at"], row)
        self._crm.audit.record(
            "customer.update", "customer", customer_id,
            before={k: _jsonable(v[0]) for k, v in change.changed.items()},
            after={k: _jsonable(v[1]) for k, v in change.changed.items()},
        )
        return change

    def upsert_many(self, rows: Iterable[dict], batch_size: int = 500) -> dict[str, int]:
        """Add or update customers matched on ``external_id``, else on normalised email.

        A row with an external id that no customer has matches by email only a customer without
        an external id (and gives it this one): a different external id is a different customer.
        Rows apply in order, so a row matching a customer added earlier in the same call updates
        it. Only the fields present in a row are changed on an existing customer. An email that
        several customers have (among those the row may match) names none of them: a
        :class:`~crmkit.ValidationError`, and nothing of the call is written. Returns counts of
        ``added`` and ``updated``. One transaction.
        """
        return self.upsert_checked(_dicts(rows), batch_size)

    def upsert_checked(
        self, rows: Iterable["dict | tuple"], batch_size: int = 500, columns: tuple[str, ...] = STORED_COLUMNS,
    ) -> dict[str, int]:
        """:meth:`upsert_many` for an import whose rows were checked already.

        A row is a dict of fields (matched and validated as :meth:`upsert_many` does) or a tuple
        of a new customer's values of the stored ``columns`` (some of :data:`STORED_COLUMNS`,
        with name, created_at and updated_at; checked and converted as the columnar import
        does), inserted as it is; the other columns take the table's defaults. Batches, ids,
        audit entries and ``crmkit_customers_added`` events are those :meth:`upsert_many`
        makes of the same rows.
        """
        counts = {"added": 0, "updated": 0}
        keys_of = _new_customer_keys(columns)
        with self._crm.transaction():
            position = 0
            for batch in batched(rows, batch_size):
                new_records: list = []
                updated: list[CustomerChange] = []  # announced once per batch, as additions are
                pending: set[tuple[str, str]] = set()  # the keys of new_records[:keyed]
                keyed = 0
                for row in batch:
                    position += 1
                    if isinstance(row, tuple):
                        new_records.append(row)  # its keys are taken when a dict row needs them
                        continue
                    for record in new_records[keyed:]:
                        pending |= keys_of(record)
                    keys = _match_keys(row)
                    if keys & pending:
                        # It matches a customer added earlier in this batch: add those first, so
                        # that it updates that customer, as it would a batch later (rows apply in order).
                        self._insert(new_records, columns)
                        counts["added"] += len(new_records)
                        new_records, pending = [], set()
                    keyed = len(new_records)
                    existing = self._match(row)
                    if existing is None:
                        new_records.append(self._build(row, position))
                    else:
                        changes = {k: v for k, v in row.items() if k in Customer.EDITABLE and (k != "external_id" or v)}
                        try:
                            change = self._write_change(existing, changes)
                        except ValidationError as error:
                            raise ValidationError(f"row {position}: {error.field}", error.value, error.expected) from None
                        if change.changed:
                            updated.append(change)
                        counts["updated"] += 1
                if new_records:
                    self._insert(new_records, columns)
                    counts["added"] += len(new_records)
                if updated:
                    self._crm.plugins.call("crmkit_customers_updated", crm=self._crm, changes=updated)
        return counts

    def merge(self, keep_id: int, other_id: int) -> Customer:
        """Merge the duplicate ``other_id`` into ``keep_id`` in one transaction.

        Interactions, tasks and snapshot memberships move to the kept customer, plugins move
        theirs through ``crmkit_customers_merged``; the kept record gains the duplicate's tags
        and any contact fields it lacked; the duplicate is deleted. Both records go to the audit
        log.
        """
        if keep_id == other_id:
            raise ValidationError("other_id", other_id, "a different customer than keep_id")
        db = self._crm.db
        with self._crm.transaction():
            keep, other = self.get(keep_id), self.get(other_id)
            db.execute("UPDATE interactions SET customer_id = ? WHERE customer_id = ?", [keep_id, other_id])
            db.execute("UPDATE tasks SET customer_id = ? WHERE customer_id = ?", [keep_id, other_id])
            db.execute(
                "UPDATE segment_snapshot_members SET customer_id = ? WHERE customer_id = ? AND NOT EXISTS ("
                "SELECT 1 FROM segment_snapshot_members kept WHERE kept.snapshot_id = segment_snapshot_members.snapshot_id "
                "AND kept.customer_id = ?)",
                [keep_id, other_id, keep_id],
            )
            db.execute("DELETE FROM segment_snapshot_members WHERE customer_id = ?", [other_id])
            self._crm.plugins.call("crmkit_customers_merged", crm=self._crm, kept_id=keep_id, merged_id=other_id)
            db.execute("DELETE FROM customer_summary WHERE customer_id IN (?, ?)", [keep_id, other_id])
            history.merged(db, keep_id, other_id)
            self._crm.interactions.rebuild_summary([keep_id])
            filled = {
                name: getattr(other, name)
                for name in ("email", "phone", "address", "region", "company", "industry", "size", "source", "owner", "external_id")
                if getattr(keep, name) is None and getattr(other, name) is not None
            }
            filled["tags"] = tuple(dict.fromkeys(keep.tags + other.tags))
            filled["attributes"] = {**other.attributes, **keep.attributes}
            filled["created_at"] = min(keep.created_at, other.created_at)
            db.execute("DELETE FROM customers WHERE id = ?", [other_id])
            db.execute(
                "INSERT INTO settings(key, value) VALUES ('core.customer_id_high', :id) "
                "ON CONFLICT(key) DO UPDATE SET value = max(CAST(settings.value AS INTEGER), :id)",
                {"id": other_id},
            )
            merged = attrs.evolve(keep, **filled, updated_at=self._crm.now())
            row = merged.to_row()
            assignments = ", ".join(f"{column} = :{column}" for column in row if column != "id")
            db.execute(f"UPDATE customers SET {assignments} WHERE id = :id", row)
            history.changed(db, keep_id, row["updated_at"], row)
            self._crm.audit.record(
                "customer.merge", "customer", keep_id,
                before={"kept": record_dict(keep), "merged": record_dict(other)},
                after=record_dict(merged),
            )
            return merged

    def scrub_history(self, customer_id: int) -> None:
        """Part of :meth:`CRM.forget`, called after the customer row is erased: scrub the
        personal columns from every version in ``customer_history`` and keep the erased row as
        the version from now on."""
        history.forgotten(self._crm.db, customer_id, to_iso(self._crm.now()))

    # --- reading --------------------------------------------------------------------------

    def get(self, customer_id: int) -> Customer:
        """The customer with this id (NotFound if there is none)."""
        rows = list(self._crm.db.query("SELECT * FROM customers WHERE id = ?", [customer_id]))
        if not rows:
            raise NotFound(f"no customer with id {customer_id}")
        return Customer.from_row(rows[0])

    def facts(self, customer_ids: Iterable[int], as_of: Any = None) -> dict[int, list]:
        """Every plugin's facts (tier, lead status, open complaints, ...) for a batch of customers.

        Returns ``{customer_id: [Fact, ...]}`` for the existing customers among ``customer_ids``
        (see :func:`crmkit.facts.collect`); values as of ``as_of`` (default: the CRM's clock).
        """
        from .facts import collect

        return collect(self._crm, customer_ids, as_of)

    def find(
        self, *, name: str | None = None, email: str | None = None, phone: str | None = None,
        external_id: str | None = None, limit: int = 50,
    ) -> list[Customer]:
        """Customers matching every given criterion: ``name`` is a case-insensitive part of the
        name; email and phone match in normalised form; ``external_id`` exactly."""
        where, params = [], []
        for field, value in (("name", name), ("email", email), ("phone", phone), ("external_id", external_id)):
            _searchable(value, field)
        if name:
            where.append("name LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escape(name.strip())}%")
        if email:
            where.append("email_norm = ?")
            params.append(normalise_email(email))
        if phone:
            where.append("phone_norm = ?")
            params.append(normalise_phone(phone))
        if external_id:
            where.append("external_id = ?")
            params.append(external_id)
        if not where:
            raise ValidationError("find", None, "at least one of name, email, phone, external_id")
        sql = f"SELECT * FROM customers WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        return [Customer.from_row(row) for row in self._crm.db.query(sql, params + [int(limit)])]

    def list(
        self, limit: int = 50, offset: int = 0, order_by: str = "id", descending: bool = False,
        search: str | None = None,
    ) -> list[Customer]:
        """One page of customers, ordered by a column; ``search`` filters on name, email or company."""
        if order_by not in _ORDERABLE:
            raise ValidationError("order_by", order_by, "one of " + ", ".join(_ORDERABLE))
        where, params = self._search(search)
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT * FROM customers {where} ORDER BY {order_by} {direction}, id {direction} LIMIT ? OFFSET ?"
        return [Customer.from_row(row) for row in self._crm.db.query(sql, params + [int(limit), int(offset)])]

    def count(self, search: str | None = None) -> int:
        """Number of customers, optionally only those ``search`` matches."""
        where, params = self._search(search)
        return self._crm.db.execute(f"SELECT count(*) FROM customers {where}", params).fetchone()[0]

    def duplicates(self, limit: int = 1000) -> list[DuplicatePair]:
        """Likely duplicates: the same normalised email or phone, or near-identical names within
        the same company. Each pair comes with its reason; the lower id is first."""
        db = self._crm.db
        pairs: dict[tuple[int, int], str] = {}
        for column, label in (("email_norm", "same email"), ("phone_norm", "same phone")):
            for a, b, value in db.execute(
                f"SELECT a.id, b.id, a.{column} FROM customers a JOIN customers b "
                f"ON a.{column} = b.{column} AND a.id < b.id WHERE a.{column} IS NOT NULL "
                "ORDER BY a.id, b.id LIMIT ?",
                [limit],
            ):
                pairs.setdefault((a, b), f"{label} ({value})")
        by_company: dict[str, list[tuple[int, str]]] = {}
        for customer_id, company, name in db.execute(
            "SELECT id, lower(trim(company)), name FROM customers WHERE lower(trim(company)) IN "
            "(SELECT lower(trim(company)) FROM customers WHERE company IS NOT NULL "
            "GROUP BY lower(trim(company)) HAVING count(*) > 1) "
            "ORDER BY id"
        ):
            by_company.setdefault(company, []).append((customer_id, _name_key(name)))
        for company, members in by_company.items():
            for i, (a, name_a) in enumerate(members):
                for b, name_b in members[i + 1:]:
                    matcher = difflib.SequenceMatcher(None, name_a, name_b)
                    if name_a == name_b or (matcher.quick_ratio() >= 0.9 and matcher.ratio() >= 0.9):
                        pairs.setdefault((a, b), f"near-identical name within company {company!r}")
        ordered = sorted(pairs.items())[:limit]
        cache = {cid: self.get(cid) for pair, _ in ordered for cid in pair}
        return [DuplicatePair(cache[a], cache[b], reason) for (a, b), reason in ordered]

    # --- internals ------------------------------------------------------------------------

    def _build(self, fields: dict, position: int) -> Customer:
        if not isinstance(fields, dict):
            raise ValidationError(f"row {position}", fields, "a dict of customer fields")
        unknown = set(fields) - set(Customer.EDITABLE) - {"created_at"}
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(name, fields[name], "a customer field: " + ", ".join(Customer.EDITABLE))
        now = self._crm.now()
        values = dict(fields, updated_at=now)
        values["created_at"] = values.get("created_at") or now
        try:
            customer = Customer(**values)
        except TypeError as error:
            raise ValidationError(f"row {position}", fields, str(error)) from None
        if fields.get("created_at"):
            # A time with no date in the home zone would store, then fail wherever it is shown.
            self._crm.calendar.check_stored(to_iso(customer.created_at), "created_at")
        return customer

    def _insert(self, records: "list[Customer | tuple]", columns: tuple[str, ...] = ()) -> list[int]:
        """Insert new customers with the next ids: records, or tuples of checked values of the
        stored ``columns`` (the others take the table's defaults)."""
        db = self._crm.db
        with self._crm.transaction():
            self._check_unique([r for r in records if isinstance(r, Customer)])
            # Never reuse the id of a customer deleted by a merge: the audit log and other
            # systems still know that id as the merged duplicate.
            next_id = db.execute(
                "SELECT max(coalesce((SELECT max(id) FROM customers), 0), coalesce((SELECT CAST(value AS INTEGER) "
                "FROM settings WHERE key = 'core.customer_id_high'), 0)) + 1"
            ).fetchone()[0]
            whole, given = [], []
            for customer_id, record in enumerate(records, next_id):
                if isinstance(record, Customer):
                    row = record.to_row()
                    whole.append((customer_id, *[row[c] for c in STORED_COLUMNS]))
                else:
                    given.append((customer_id, *record))
            if whole:
                db.bulk_insert("customers", ("id", *STORED_COLUMNS), whole)
            if given:
                db.bulk_insert("customers", ("id", *columns), given)
            first, last = next_id, next_id + len(records) - 1
            if records:
                history.added(db, first, last)
            at = 1 + columns.index("name") if given else 0
            names = sorted([(row[0], row[_NAME]) for row in whole] + [(row[0], row[at]) for row in given])
            if all(_PLAIN_TEXT.fullmatch(name) for _, name in names):
                # Written by the database as json.dumps writes it: one statement, not a row each.
                self._crm.audit.record_from_query(
                    "SELECT 'customer.add' AS action, 'customer' AS entity, id AS entity_id, NULL AS before, "
                    "'{\"name\": \"' || name || '\"}' AS after FROM customers WHERE id BETWEEN :first AND :last ORDER BY id",
                    {"first": first, "last": last}, source="core",
                )
            else:
                self._crm.audit.record_many(
                    {"action": "customer.add", "entity": "customer", "entity_id": customer_id, "after": {"name": name}}
                    for customer_id, name in names
                )
            if self._crm.plugins.hook.crmkit_customers_added.get_hookimpls():
                saved = _added(records, next_id, given, columns)
                self._crm.plugins.call("crmkit_customers_added", crm=self._crm, customers=saved)
        return list(range(next_id, next_id + len(records)))

    def _check_unique(self, records: list[Customer], exclude: int | None = None) -> None:
        external = [r.external_id for r in records if r.external_id]
        if len(external) != len(set(external)):
            dup = next(x for x in external if external.count(x) > 1)
            raise ConflictError(f"external_id {dup!r} appears twice in the batch")
        if external:
            placeholders = ", ".join("?" * len(external))
            row = self._crm.db.execute(
                f"SELECT external_id, id FROM customers WHERE external_id IN ({placeholders}) AND id IS NOT ?",
                external + [exclude],
            ).fetchone()
            if row:
                raise ConflictError(
                    f"external_id {row[0]!r} already belongs to customer {row[1]}",
                    field="external_id", value=row[0], held_by=row[1],
                )

    def _match(self, row: dict) -> int | None:
        db = self._crm.db
        if row.get("external_id"):
            found = db.execute("SELECT id FROM customers WHERE external_id = ?", [str(row["external_id"]).strip()]).fetchone()
            if found:
                return found[0]
        if row.get("email"):
            # Another external id is another customer: a row with one matches by email only a
            # customer who has none (whom it then gives its external id).
            unkeyed = " AND external_id IS NULL" if optional_text(row.get("external_id")) else ""
            found = db.execute(
                f"SELECT id FROM customers WHERE email_norm = ?{unkeyed} ORDER BY id LIMIT 2", [normalise_email(str(row["email"]))]
            ).fetchall()
            if len(found) > 1:
                raise ValidationError("email", row["email"], "an email one customer has: 2 customers or more have it; "
                                      "give the row the external_id of the one it updates")
            if found:
                return found[0][0]
        return None

    def _search(self, search: str | None) -> tuple[str, list]:
        if not search:
            return "", []
        pattern = f"%{_like_escape(search.strip())}%"
        return "WHERE name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' OR company LIKE ? ESCAPE '\\'", [pattern] * 3


def _match_keys(row: dict) -> set[tuple[str, str]]:
    """The keys :meth:`Customers._match` looks a row up by, as :func:`_record_keys` spells them."""
    keys = set()
    external, email = optional_text(row.get("external_id")), optional_text(row.get("email"))
    if external:
        keys.add(("external_id", external))
    if email:
        keys.add(("email of a customer without external_id" if external else "email", normalise_email(email)))
    return keys


def _record_keys(external: str | None, email_norm: str | None) -> set[tuple[str, str]]:
    """The keys a new customer can be matched by (see :meth:`Customers._match`)."""
    keys = set()
    if external:
        keys.add(("external_id", external))
    if email_norm:
        keys.add(("email", email_norm))
        if not external:
            keys.add(("email of a customer without external_id", email_norm))
    return keys


def _new_customer_keys(columns: tuple[str, ...]):
    """The match keys of a new customer as :meth:`Customers.upsert_checked` holds it: a record, or
    a stored tuple of ``columns``."""
    external = columns.index("external_id") if "external_id" in columns else None
    email = columns.index("email_norm") if "email_norm" in columns else None

    def keys_of(record) -> set[tuple[str, str]]:
        if isinstance(record, Customer):
            return _record_keys(record.external_id, normalise_email(record.email))
        return _record_keys(record[external] if external is not None else None, record[email] if email is not None else None)

    return keys_of


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "isoformat"):
        return to_iso(value)
    return value
