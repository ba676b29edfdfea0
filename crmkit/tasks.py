"""Tasks: follow-ups owed to customers, created by people and by plugins' rules."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

from .errors import ConflictError, NotFound, ValidationError
from .models import Task, check_storable_text, record_dict
from .timeutil import to_iso

if TYPE_CHECKING:
    from .crm import CRM

_COLUMNS = ("kind", "customer_id", "owner", "due_at", "reason", "source", "status", "key", "created_at", "data")


class Tasks:
    """Create, list, complete and cancel tasks."""

    def __init__(self, crm: "CRM"):
        self._crm = crm

    def create(self, kind: str, customer_id: int | None = None, **fields: Any) -> Task:
        """Create one task. With a ``key`` already held by an open task, return that task instead."""
        with self._crm.transaction():
            key = fields.get("key")
            if key:
                existing = self._crm.db.execute(
                    "SELECT id FROM tasks WHERE key = ? AND status = 'open'", [key]
                ).fetchone()
                if existing:
                    return self.get(existing[0])
            self.create_many([dict(fields, kind=kind, customer_id=customer_id)])
            task_id = self._crm.db.execute("SELECT max(id) FROM tasks").fetchone()[0]
            return self.get(task_id)

    def create_many(self, rows: Iterable[dict]) -> int:
        """Create tasks in one statement; rows whose ``key`` an open task holds are skipped.

        Returns how many were created. This is what plugins call from ``crmkit_due``, so that a
        second run for the same ``now`` creates nothing new.
        """
        now = self._crm.now()
        values = []
        for row in rows:
            task = Task(**{k: v for k, v in row.items() if k != "id"}, created_at=row.get("created_at") or now)
            if task.customer_id is not None and not isinstance(task.customer_id, int):
                raise ValidationError("customer_id", task.customer_id, "a customer id (integer)")
            values.append((
                task.kind, task.customer_id, task.owner, to_iso(task.due_at) if task.due_at else None,
                task.reason, task.source, "open", task.key, to_iso(task.created_at),
                json.dumps(task.data, sort_keys=True),
            ))
        if not values:
            return 0
        with self._crm.transaction():
            db = self._crm.db
            newest = self._newest_id()
            created = db.executemany(
                f"INSERT OR IGNORE INTO tasks({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )
            if created:
                self._audit_created(newest, values[0][5])
        return created

    def create_from_query(self, select_sql: str, params: dict | None = None, *, source: str) -> int:
        """Create tasks from the rows of a plugin's SELECT in one statement (set-based rules).

        ``select_sql`` returns the columns ``kind, customer_id, owner, due_at, reason, key``
        (times as storage text); its named ``params`` must not start with ``_``. Rows whose key
        an open task holds are skipped, as in :meth:`create_many`, so a rule run twice creates
        nothing new. The rows are not validated one by one: the query is the caller's contract.
        Returns how many were created.
        """
        with self._crm.transaction():
            db = self._crm.db
            newest = self._newest_id()
            created = db.execute(
                "INSERT OR IGNORE INTO tasks(kind, customer_id, owner, due_at, reason, source, status, key, created_at, data) "
                f"SELECT q.kind, q.customer_id, q.owner, q.due_at, q.reason, :_source, 'open', q.key, :_now, '{{}}' FROM ({select_sql}) AS q",
                dict(params or {}, _source=source, _now=to_iso(self._crm.now())),
            ).rowcount
            if created:
                self._audit_created(newest, source)
        return created

    def close_from_query(self, select_sql: str, params: dict | None = None, *, status: str = "cancelled",
                         note: str | None = None, source: str) -> int:
        """Close the open tasks whose ids a plugin's SELECT returns, in one transaction.

        For rules whose tasks stop being owed (a reminder about a lead that was converted):
        ``select_sql`` returns a column ``id``; its named ``params`` must not start with ``_``.
        ``status`` is ``"cancelled"`` or ``"done"``; ``note`` goes to each task's data as its
        closing note. Tasks already closed are left alone. One audit entry per task closed.
        Returns how many were closed.
        """
        if status not in ("cancelled", "done"):
            raise ValidationError("status", status, "cancelled or done")
        with self._crm.transaction():
            db = self._crm.db
            rows = db.execute(
                f"SELECT t.id, t.data FROM tasks t WHERE t.status = 'open' AND t.id IN (SELECT q.id FROM ({select_sql}) AS q) "
                "ORDER BY t.id",
                dict(params or {}),
            ).fetchall()
            if not rows:
                return 0
            ids = [task_id for task_id, _ in rows]
            stamp = to_iso(self._crm.now())
            db.executemany(
                "UPDATE tasks SET status = ?, closed_at = ?, data = ? WHERE id = ?",
                [(status, stamp, json.dumps(dict(json.loads(data or "{}"), **({"closing_note": note} if note else {})),
                                            sort_keys=True), task_id) for task_id, data in rows],
            )
            self._crm.audit.record_many(
                {"action": f"task.{status}", "entity": "task", "entity_id": task_id, "source": source,
                 "before": {"status": "open"}, "after": {"status": status, "note": note}}
                for task_id in ids
            )
        return len(ids)

    def _newest_id(self) -> int:
        return self._crm.db.execute("SELECT COALESCE(max(id), 0) FROM tasks").fetchone()[0]

    def _audit_created(self, newest: int, source: str) -> None:
        """One ``task.create`` entry per task created after id ``newest``, with its id, customer
        and kind (not its reason: text about a person stays in the task, which forget blanks)."""
        self._crm.audit.record_many(
            {"action": "task.create", "entity": "task", "entity_id": task_id, "source": source,
             "after": {"customer_id": customer_id, "kind": kind}}
            for task_id, customer_id, kind in self._crm.db.execute(
                "SELECT id, customer_id, kind FROM tasks WHERE id > ? ORDER BY id", [newest],
            ).fetchall()
        )

    def get(self, task_id: int) -> Task:
        """The task with this id."""
        rows = list(self._crm.db.query("SELECT * FROM tasks WHERE id = ?", [task_id]))
        if not rows:
            raise NotFound(f"no task with id {task_id}")
        return Task.from_row(rows[0])

    def open(
        self, *, owner: str | None = None, customer_id: int | None = None, kind: str | None = None,
        due_before: Any = None, limit: int = 100, offset: int = 0,
    ) -> list[Task]:
        """Open tasks, soonest due first, filtered by owner, customer, kind or due time."""
        where, params = ["status = 'open'"], []
        for column, value in (("owner", owner), ("customer_id", customer_id), ("kind", kind)):
            if isinstance(value, str):
                check_storable_text(value, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if due_before is not None:
            where.append("due_at <= ?")
            params.append(to_iso(due_before, "due_before"))
        sql = (
            f"SELECT * FROM tasks WHERE {' AND '.join(where)} "
            "ORDER BY due_at IS NULL, due_at, id LIMIT ? OFFSET ?"
        )
        return [Task.from_row(row) for row in self._crm.db.query(sql, params + [int(limit), int(offset)])]

    def complete(self, task_id: int, note: str | None = None) -> Task:
        """Mark an open task done."""
        return self._close(task_id, "done", note)

    def cancel(self, task_id: int, reason: str | None = None) -> Task:
        """Cancel an open task."""
        return self._close(task_id, "cancelled", reason)

    def _close(self, task_id: int, status: str, note: str | None) -> Task:
        with self._crm.transaction():
            task = self.get(task_id)
            if task.status != "open":
                raise ConflictError(f"task {task_id} is {task.status}, not open; only open tasks can be closed")
            data = dict(task.data)
            if note:
                data["closing_note"] = note
            self._crm.db.execute(
                "UPDATE tasks SET status = ?, closed_at = ?, data = ? WHERE id = ?",
                [status, to_iso(self._crm.now()), json.dumps(data, sort_keys=True), task_id],
            )
            after = self.get(task_id)
            self._crm.audit.record(f"task.{status}", "task", task_id, before=record_dict(task), after=record_dict(after))
            return after
