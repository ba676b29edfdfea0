"""Scrubbing a forgotten customer's identifying values out of free text.

``crm.forget`` collects what identified the person before it blanks their row — name, email,
phone, company, address, external id and text attributes, as they are now and as the audit log
says they were (their own entries and those of duplicates merged into them) — and hands an
:class:`Erasure` to every plugin's ``crmkit_customer_forgotten``. Each plugin scrubs the text its
own rows hold about the customer with :meth:`Erasure.scrub_rows` and :meth:`Erasure.scrub_audit`;
the words around the values stay, so a reason still reads as a reason.

The SQL here is plain (``?`` placeholders, no engine functions): the scrubbing itself is done in
Python over the person's rows, which also copes with JSON's ``\\u`` escapes.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence

MASK = "[erased]"
# Customer fields whose values identify a person (also the keys looked for in audit entries).
IDENTIFYING_FIELDS = ("name", "email", "email_norm", "phone", "phone_norm", "company", "address", "external_id")
_SHORTEST_WORD = 3      # name words of fewer letters ("Li" aside) match too much of other words
_PHONE_DIGITS = 9       # the trailing digits that identify a number whatever its prefix
_SEPARATORS = r"[\s().\-/]*"
_FORGOTTEN_NAME = re.compile(r"forgotten customer \d+")
_CHUNK = 500


class Erasure:
    """The identifying values of one forgotten customer and the means to scrub them from text.

    ``customer_id`` is the person; ``people`` holds their id and the ids of duplicates merged
    into them (rows and audit entries may carry either); ``values`` the literal values found.
    """

    def __init__(self, db: Any, customer_id: int, people: Sequence[int], values: Iterable[str], phones: Iterable[str] = ()):
        self.db = db
        self.customer_id = customer_id
        self.people = tuple(people)
        self.values = tuple(sorted(set(values), key=lambda v: (-len(v), v)))
        self._phones = tuple(sorted(set(phones)))
        parts = [_literal(value) for value in self.values] + [_phone_pattern(digits) for digits in self._phones]
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    @classmethod
    def from_values(cls, db: Any, customer_id: int, records: Iterable[dict], people: Sequence[int] = ()) -> "Erasure":
        """An erasure of the values in ``records`` (dicts of customer fields, e.g. rows or audit
        before/after values); a record of an already forgotten customer contributes nothing."""
        values: set[str] = set()
        phones: set[str] = set()
        for record in records:
            if record.get("forgotten_at"):
                continue
            _collect(record, values, phones)
        return cls(db, customer_id, people or (customer_id,), values, phones)

    @classmethod
    def collect(cls, db: Any, customer_id: int, people: Sequence[int]) -> "Erasure":
        """Read the person's values from their row and from the ``customer.*`` audit entries of
        every id in ``people``. Call it before the row is blanked."""
        columns = IDENTIFYING_FIELDS + ("attributes", "forgotten_at")
        row = db.execute(f"SELECT {', '.join(columns)} FROM customers WHERE id = ?", [customer_id]).fetchone()
        records = [dict(zip(columns, row))] if row else []
        if records and isinstance(records[0]["attributes"], str):
            records[0]["attributes"] = _loads(records[0]["attributes"])
        for chunk in _chunks([str(p) for p in people]):
            marks = ", ".join("?" * len(chunk))
            for before, after in db.execute(
                f"SELECT before, after FROM audit_log WHERE entity = 'customer' AND action LIKE 'customer.%' "
                f"AND entity_id IN ({marks})", chunk,
            ):
                for text in (before, after):
                    records.extend(_dicts(_loads(text)))
        return cls.from_values(db, customer_id, records, people)

    # --- text ---------------------------------------------------------------------------------

    def scrub(self, text: str | None) -> str | None:
        """``text`` with every identifying value replaced by ``[erased]`` (any letter case)."""
        if not text or self._pattern is None or not isinstance(text, str):
            return text
        return self._pattern.sub(MASK, text)

    def scrub_json(self, text: str | None) -> str | None:
        """Scrub the strings (values and keys) inside a JSON document; unchanged text is returned
        as it was, text that is not JSON is scrubbed as text."""
        if not text or self._pattern is None:
            return text
        try:
            document = json.loads(text)
        except (TypeError, ValueError):
            return self.scrub(text)
        scrubbed = self._walk(document)
        return text if scrubbed == document else json.dumps(scrubbed, sort_keys=True, default=str)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub(key): self._walk(item) for key, item in value.items()}
        return value

    # --- rows ---------------------------------------------------------------------------------

    def scrub_rows(
        self, table: str, columns: Sequence[str], where: str, params: Any = None, *, key: str = "id",
        json_columns: Sequence[str] = (),
    ) -> int:
        """Scrub ``columns`` (text) and ``json_columns`` (JSON text) of the rows of ``table`` that
        ``where`` selects (SQL over the table, with ``params``); ``key`` identifies a row.
        Returns how many rows changed."""
        if self._pattern is None:
            return 0
        names = list(columns) + list(json_columns)
        rows = self.db.execute(f"SELECT {key}, {', '.join(names)} FROM {table} WHERE {where}", params or []).fetchall()
        changed = 0
        setter = ", ".join(f"{name} = ?" for name in names)
        for row in rows:
            old = list(row[1:])
            new = [self.scrub(v) for v in old[:len(columns)]] + [self.scrub_json(v) for v in old[len(columns):]]
            if new != old:
                self.db.execute(f"UPDATE {table} SET {setter} WHERE {key} = ?", new + [row[0]])
                changed += 1
        return changed

    def scrub_audit(self, entity: str, entity_ids: Iterable[Any]) -> int:
        """Scrub the before/after values of the audit entries about ``entity`` ``entity_ids``
        (e.g. a plugin's ``lead`` or ``complaint`` entries). Returns how many entries changed."""
        changed = 0
        for chunk in _chunks([str(i) for i in entity_ids]):
            marks = ", ".join("?" * len(chunk))
            changed += self.scrub_rows(
                "audit_log", (), f"entity = ? AND entity_id IN ({marks})", [entity, *chunk],
                json_columns=("before", "after"),
            )
        return changed


def _collect(record: dict, values: set[str], phones: set[str]) -> None:
    """Add the identifying values of one record of customer fields."""
    for field in IDENTIFYING_FIELDS:
        value = record.get(field)
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        if field == "name":
            if _FORGOTTEN_NAME.fullmatch(value):
                continue
            values.update(word for word in re.findall(r"[^\W\d_][\w'’-]*", value) if len(word) >= _SHORTEST_WORD)
        elif field in ("email", "email_norm"):
            local = value.split("@", 1)[0]
            if len(local) >= _SHORTEST_WORD:
                values.add(local)
        elif field == "address":
            values.update(part.strip() for part in re.split(r"[,;\n]", value) if len(part.strip()) > _SHORTEST_WORD)
        if field in ("phone", "phone_norm"):
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 7:
                phones.add(digits[-_PHONE_DIGITS:])
        values.add(value)
    attributes = record.get("attributes")
    if isinstance(attributes, dict):
        values.update(v.strip() for v in attributes.values() if isinstance(v, str) and len(v.strip()) >= _SHORTEST_WORD)


def _literal(value: str) -> str:
    """A value as a regex that does not match inside a longer word (``Lee`` is not in ``Leeds``)."""
    left = r"(?<!\w)" if value[0].isalnum() else ""
    right = r"(?!\w)" if value[-1].isalnum() else ""
    return left + re.escape(value) + right


def _phone_pattern(digits: str) -> str:
    """The number's trailing digits with any separators between them, after any prefix."""
    return r"(?<![\d+])\+?(?:\d" + _SEPARATORS + r")*?" + _SEPARATORS.join(digits) + r"(?!\d)"


def _dicts(value: Any) -> list[dict]:
    """Every dict inside a JSON value (a merge entry nests the duplicate's fields)."""
    if isinstance(value, dict):
        return [value] + [d for item in value.values() for d in _dicts(item)]
    if isinstance(value, list):
        return [d for item in value for d in _dicts(item)]
    return []


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
