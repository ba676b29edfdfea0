"""The audit log: every state change made through the API, in one append-only table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

from .errors import ValidationError
from .models import AuditEntry
from .timeutil import to_iso

if TYPE_CHECKING:
    from .crm import CRM


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


class Audit:
    """Write and query the audit log. Plugins record their own changes here too."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    def record(
        self, action: str, entity: str, entity_id: Any = None, *, before: Any = None,
        after: Any = None, source: str = "core", actor: str | None = None,
    ) -> None:
        """Append one entry: ``action`` (e.g. ``customer.update``) on ``entity`` ``entity_id``."""
        self.record_many([
            {"action": action, "entity": entity, "entity_id": entity_id, "before": before,
             "after": after, "source": source, "actor": actor}
        ])

    def record_many(self, entries: Iterable[dict]) -> int:
        """Append many entries in one statement; each dict has the keys of :meth:`record`."""
        at = to_iso(self._crm.now())
        rows = [
            (
                at, e.get("actor") or self._crm.actor, e["action"], e["entity"],
                None if e.get("entity_id") is None else str(e["entity_id"]),
                _json(e.get("before")), _json(e.get("after")), e.get("source") or "core",
            )
            for e in entries
        ]
        if len(rows) == 1:
            # One entry, as most writes make: a plain INSERT, which PostgreSQL can be sent with the
            # statements around it in one round trip (db.pipelined); COPY waits for the server twice.
            self._crm.db.execute(
                "INSERT INTO audit_log(at, actor, action, entity, entity_id, before, after, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[0],
            )
            return 1
        return self._crm.db.bulk_insert(
            "audit_log", ("at", "actor", "action", "entity", "entity_id", "before", "after", "source"), rows
        )

    def record_from_query(self, select_sql: str, params: dict | None = None, *, source: str) -> int:
        """Append one entry per row of a plugin's SELECT, in one statement (set-based writes).

        ``select_sql`` returns the columns ``action, entity, entity_id, before, after``, with
        ``before``/``after`` as JSON text (e.g. from ``json_object``) or NULL; its named
        ``params`` must not start with ``_``. Time and actor are the CRM's, as in :meth:`record`.
        Returns how many entries were written.
        """
        cursor = self._crm.db.execute(
            "INSERT INTO audit_log(at, actor, action, entity, entity_id, before, after, source) "
            "SELECT :_at, :_actor, q.action, q.entity, CAST(q.entity_id AS TEXT), q.before, q.after, :_source "
            f"FROM ({select_sql}) AS q",
            dict(params or {}, _at=to_iso(self._crm.now()), _actor=self._crm.actor, _source=source),
        )
        return cursor.rowcount

    def query(
        self, *, entity: str | None = None, entity_id: Any = None, action: str | None = None,
        actor: str | None = None, source: str | None = None, since: Any = None,
        until: Any = None, limit: int = 100, offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first. ``action`` may end in ``*``."""
        for name, value in (("entity", entity), ("entity_id", entity_id), ("action", action), ("actor", actor), ("source", source)):
            if isinstance(value, str) and "\x00" in value:
                # No stored text holds one (PostgreSQL cannot): refused alike on both engines.
                raise ValidationError(name, value, "a text without NUL characters")
        where, params = [], []
        for column, value in (("entity", entity), ("actor", actor), ("source", source)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if entity_id is not None:
            where.append("entity_id = ?")
            params.append(str(entity_id))
        if action is not None:
            if action.endswith("*"):
                where.append("action LIKE ? ESCAPE '\\'")
                params.append(action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            else:
                where.append("action = ?")
                params.append(action)
        if since is not None:
            where.append("at >= ?")
            params.append(to_iso(since, "since"))
        if until is not None:
            where.append("at <= ?")
            params.append(to_iso(until, "until"))
        sql = "SELECT * FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        return [AuditEntry.from_row(row) for row in self._crm.db.query(sql, params + [int(limit), int(offset)])]
