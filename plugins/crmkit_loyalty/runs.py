"""Stored runs: one row in ``loyalty_runs`` per kind and ``as_of``, details in a per-kind table.

Re-running a computation for the same ``as_of`` replaces that run, so a run always reflects the
log and the settings of its latest computation. Fields read the newest run as of a rule's time.
"""

from __future__ import annotations

import json
from typing import Any

from crmkit.timeutil import from_iso, to_iso

from . import queries as q
from .models import Run


def start(crm, kind: str, as_of, params: dict) -> int:
    """Replace (or create) the run of ``kind`` at ``as_of``; returns its id. Call in a transaction."""
    db = crm.db
    stamp = to_iso(as_of)
    row = db.execute(q.RUN_FOR, [kind, stamp]).fetchone()
    if row is not None:
        db.execute(q.run_delete_rows(q.RUN_TABLES[kind]), [row[0]])
        db.execute("DELETE FROM loyalty_runs WHERE id = ?", [row[0]])
    cursor = db.execute(q.RUN_INSERT + " RETURNING id", [kind, stamp, to_iso(crm.now()), json.dumps(params, sort_keys=True, default=str)])
    return cursor.fetchone()[0]


def finish(crm, run_id: int, customers: int, kind: str, as_of) -> Run:
    """Set a run's customer count, write the ``loyalty.<kind>.run`` audit entry, and return the Run.

    Call in the same transaction as :func:`start`.
    """
    crm.db.execute(q.RUN_SET_COUNT, [customers, run_id])
    crm.audit.record(f"loyalty.{kind}.run", "loyalty_run", run_id, after={"as_of": to_iso(as_of), "customers": customers}, source="loyalty")
    return get(crm, run_id)


def _run(row: Any) -> Run:
    return Run(row[0], row[1], from_iso(row[2]), from_iso(row[3]), json.loads(row[4] or "{}"), row[5])


def get(crm, run_id: int) -> Run:
    """The stored run with this id; raises NotFound when there is none."""
    from crmkit import NotFound

    row = crm.db.execute(q.RUN_GET, [run_id]).fetchone()
    if row is None:
        raise NotFound(f"no loyalty run with id {run_id}")
    return _run(row)


def latest(crm, kind: str, as_of) -> Run | None:
    """The newest run of ``kind`` as of a time, or None."""
    row = crm.db.execute(q.RUN_LATEST, [kind, to_iso(as_of)]).fetchone()
    return None if row is None else _run(row)


def all_of(crm, kind: str) -> list[Run]:
    """Every stored run of ``kind`` (rfm, score, churn, clv), oldest ``as_of`` first."""
    return [_run(row) for row in crm.db.execute(q.RUN_LIST, [kind])]
