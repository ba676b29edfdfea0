"""The core's routes: customers, interactions, segments, tasks and the audit log.

Thin on purpose: each route checks a permission and the row scope, then calls the service the
CLI calls. Lists of customers are the segment language's lists, limited to the caller's scope.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from enum import Enum
from os import path as os_path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from crmkit.errors import CrmError, PermissionDenied, ValidationError
from crmkit.importing import import_file, parse_defaults, parse_mapping
from crmkit.models import SIZES, STAGES
from .toolkit import MAX_ID, Caller, CustomerId, Limit, Offset, caller, jsonable, page

router = APIRouter()

OrderBy = Enum("OrderBy", {name: name for name in ("id", "name", "created_at", "region", "company", "owner")}, type=str)
OrderBy.__doc__ = "Columns the customer list sorts by."
Stage = Enum("Stage", {name: name for name in STAGES}, type=str)
Stage.__doc__ = "Customer lifecycle stages."
Size = Enum("Size", {name: name for name in SIZES}, type=str)
Size.__doc__ = "Company sizes."
Text = Annotated[str, Field(max_length=500)]


class CustomerFields(BaseModel):
    """A customer's editable fields; leave out what you do not set or change."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(max_length=200)] | None = None
    external_id: Annotated[str, Field(max_length=100)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    address: Text | None = None
    region: Annotated[str, Field(max_length=100)] | None = None
    company: Annotated[str, Field(max_length=200)] | None = None
    industry: Annotated[str, Field(max_length=100)] | None = None
    size: Size | None = None
    source: Annotated[str, Field(max_length=100)] | None = None
    owner: Annotated[str, Field(max_length=100)] | None = None
    stage: Stage | None = None
    tags: list[Annotated[str, Field(max_length=100)]] | None = None
    attributes: dict[str, Any] | None = None

    def given(self) -> dict:
        """The fields the request gave, without the ones it left out."""
        return {k: (v.value if isinstance(v, Enum) else v) for k, v in self.model_dump(exclude_unset=True).items()}


class NewCustomer(CustomerFields):
    """A new customer's fields: a name, and any others to set."""

    name: Annotated[str, Field(min_length=1, max_length=200)]


class Merge(BaseModel):
    """The body of a merge: the customer merged into the one in the path."""
    model_config = ConfigDict(extra="forbid")
    duplicate_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class InteractionIn(BaseModel):
    """One interaction to record; ``amount`` is a decimal text for money kinds."""

    model_config = ConfigDict(extra="forbid")
    kind: Annotated[str, Field(min_length=1, max_length=100)]
    occurred_at: datetime | None = None
    channel: Annotated[str, Field(max_length=100)] | None = None
    amount: Annotated[str, Field(max_length=40)] | None = None
    product: Annotated[str, Field(max_length=200)] | None = None
    category: Annotated[str, Field(max_length=200)] | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None
    data: dict[str, Any] | None = None


class SegmentIn(BaseModel):
    """The body of a segment definition: its rule and an optional description."""
    model_config = ConfigDict(extra="forbid")
    rule: Annotated[str, Field(min_length=1, max_length=5000)]
    description: Annotated[str, Field(max_length=1000)] | None = None


class TaskIn(BaseModel):
    """The body of a new task: customer, kind, title and when it falls due."""
    model_config = ConfigDict(extra="forbid")
    kind: Annotated[str, Field(min_length=1, max_length=100)]
    customer_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    owner: Annotated[str, Field(max_length=100)] | None = None
    due_at: datetime | None = None
    reason: Annotated[str, Field(max_length=2000)] | None = None


class Note(BaseModel):
    """An optional note closing a task."""
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Field(max_length=2000)] | None = None


Rule = Annotated[str | None, Query(max_length=5000, description="A segment rule, e.g. region = 'EU'")]
SegmentName = Annotated[str | None, Query(max_length=200, description="A saved segment's name")]
AsOf = Annotated[datetime | None, Query(description="Evaluate as of this time (default: now)")]


# --- customers ----------------------------------------------------------------------------------

@router.get("/customers", tags=["customers"], summary="List customers in scope, by a rule or segment")
def list_customers(
    c: Caller = Depends(caller), rule: Rule = None, segment: SegmentName = None, as_of: AsOf = None,
    order_by: OrderBy = OrderBy.id, descending: bool = False, limit: Limit = 50, offset: Offset = 0,
    total: Annotated[bool | None, Query(description=(
        "Count every match into `total`: true always, false never; left out, on the first page only"
    ))] = None,
) -> dict:
    """One page of customers in the caller's scope, filtered by a rule or a saved segment, sorted.

    ``total`` (how many customers match in all) costs a count of every match, so by default only
    the first page (``offset=0``) carries it; a client paging on keeps the first page's figure,
    or asks with ``total=true``.
    """
    with c.session("customers.read") as crm:
        if rule is not None and segment is not None:
            raise CrmError("give a rule or a segment, not both")
        if rule is not None:
            crm.segments.check(rule)  # errors point into the caller's rule, not the scoped one
        base = crm.segments.get(segment).rule if segment is not None else rule
        view = crm.segments.evaluate(base or "id > 0", as_of, within=c.scope(crm))
        items = view.customers(limit=limit, offset=offset, order_by=order_by.value, descending=descending)
        counted = offset == 0 if total is None else total
        found = view.count() if counted else None
    return page(items, limit, offset, found)  # records to JSON after the CRM is free for the next request


@router.get("/customers/{customer_id}", tags=["customers"], summary="One customer, with the plugins' facts")
def get_customer(customer_id: CustomerId, c: Caller = Depends(caller)) -> dict:
    """One customer in the caller's scope, with ``facts``: what each plugin knows of them (tier,
    points, lead status, open complaints, ...) as ``{plugin, name, label, value}``."""
    with c.session("customers.read") as crm:
        customer = c.check_customer(crm, customer_id)
        facts = crm.customers.facts([customer_id]).get(customer_id, [])
    return {**jsonable(customer), "facts": jsonable(facts)}


@router.post("/customers", status_code=201, tags=["customers"], summary="Add a customer")
def add_customer(fields: NewCustomer, c: Caller = Depends(caller)) -> dict:
    """Add a customer; a rep may only own it themselves."""
    with c.session("customers.write") as crm:
        given = fields.given()
        c.check_owner(crm, given.get("owner"))
        return jsonable(crm.customers.add(**given))


@router.patch("/customers/{customer_id}", tags=["customers"], summary="Change a customer")
def update_customer(customer_id: CustomerId, fields: CustomerFields, c: Caller = Depends(caller)) -> dict:
    """Change a customer's fields; a rep may not hand it to someone else."""
    with c.session("customers.write") as crm:
        c.check_customer(crm, customer_id)
        given = fields.given()
        if "owner" in given:
            c.check_owner(crm, given["owner"])
        return jsonable(crm.customers.update(customer_id, **given))


@router.post("/customers/{customer_id}/merge", tags=["customers"], summary="Merge a duplicate into this customer")
def merge_customers(customer_id: CustomerId, body: Merge, c: Caller = Depends(caller)) -> dict:
    """Merge another customer into this one; both must be in the caller's scope."""
    with c.session("customers.merge") as crm:
        if body.duplicate_id == customer_id:
            raise ValidationError("duplicate_id", customer_id, "another customer than the one in the path")
        c.check_customer(crm, customer_id)
        c.check_customer(crm, body.duplicate_id)
        return jsonable(crm.customers.merge(customer_id, body.duplicate_id))


@router.post("/customers/{customer_id}/forget", tags=["customers"], summary="Erase a customer's personal data")
def forget_customer(customer_id: CustomerId, c: Caller = Depends(caller)) -> dict:
    """Erase a customer's personal data."""
    with c.session("customers.forget") as crm:
        c.check_customer(crm, customer_id)
        crm.forget(customer_id)
        return {"forgotten": customer_id}


# --- interactions -------------------------------------------------------------------------------

@router.get("/customers/{customer_id}/interactions", tags=["interactions"], summary="A customer's interactions, newest first")
def list_interactions(customer_id: CustomerId, c: Caller = Depends(caller), limit: Limit = 50, offset: Offset = 0) -> dict:
    """One page of a customer's interactions, newest first."""
    with c.session("interactions.read") as crm:
        c.check_customer(crm, customer_id)
        return page(crm.interactions.history(customer_id, limit=limit, offset=offset), limit, offset)


@router.post("/customers/{customer_id}/interactions", status_code=201, tags=["interactions"], summary="Record an interaction")
def record_interaction(customer_id: CustomerId, body: InteractionIn, c: Caller = Depends(caller)) -> dict:
    """Record one interaction (call, visit, purchase, ...) of a customer."""
    with c.session("interactions.write") as crm:
        c.check_customer(crm, customer_id)
        fields = body.model_dump(exclude_unset=True)
        kind, occurred_at = fields.pop("kind"), fields.pop("occurred_at", None)
        return jsonable(crm.interactions.record(customer_id, kind, occurred_at, rep=c.user.id, **fields))


ImportFormat = Enum("ImportFormat", {name: name for name in ("csv", "jsonl", "xlsx")}, type=str)
ImportFormat.__doc__ = "File formats an import reads."


@router.post("/interactions/import", tags=["interactions"], summary="Import interactions from a file (all or nothing)")
def import_interactions(
    content: Annotated[bytes, Body(media_type="application/octet-stream", description="The file's bytes")],
    c: Caller = Depends(caller),
    format: Annotated[ImportFormat, Query(description="The file's format")] = ImportFormat.csv,  # noqa: A002
    skip_invalid: Annotated[bool, Query(description="Import the good rows, report the bad ones")] = False,
    create_customers: Annotated[bool, Query(description="Add customers for references none has")] = False,
    mappings: Annotated[list[str], Query(
        alias="map", max_length=500, description="COLUMN=FIELD: read COLUMN as FIELD (repeatable); FIELD '-' ignores the column",
    )] = [],  # noqa: B006 - FastAPI copies a default; a list is how it declares a repeatable parameter
    defaults: Annotated[list[str], Query(
        alias="set", max_length=500, description="FIELD=VALUE: give FIELD this value on every row that leaves it empty (repeatable)",
    )] = [],  # noqa: B006
    encoding: Annotated[str | None, Query(max_length=100, description="Text encoding of a CSV or JSON lines file (default UTF-8)")] = None,
    date_format: Annotated[str | None, Query(max_length=200, description="A strptime format for times not written in ISO-8601")] = None,
    timezone: Annotated[str | None, Query(max_length=100, description="IANA zone of times written without an offset (default UTC)")] = None,
    key: Annotated[str | None, Query(max_length=500, description="The column (or data.FIELD) holding each row's key in the source system")] = None,
    max_future: Annotated[int | None, Query(ge=0, le=1_000_000, description="Refuse rows dated more than this many days ahead")] = None,
) -> dict:
    """Import a file of interactions, as ``crmkit import DB FILE --kind interactions`` does, with
    its options under the same names: any bad row refuses the whole file (422, every bad row
    listed) unless ``skip_invalid``. Rows name their customer by id, external id or email, so
    only a user whose scope is every customer may import."""
    mapping, fixed = parse_mapping(mappings, "map"), parse_defaults(defaults, "set")
    with c.session("interactions.write") as crm:
        if c.scope(crm) is not None:
            raise PermissionDenied(f"user {c.user.id!r} may import only with every customer in scope (an admin, or a manager without a team)")
        with tempfile.TemporaryDirectory() as folder:
            upload = os_path.join(folder, f"upload.{format.value}")
            with open(upload, "wb") as file:
                file.write(content)
            result = import_file(
                crm, upload, kind="interactions", format=format.value, skip_invalid=skip_invalid,
                create_customers=create_customers, mapping=mapping, defaults=fixed, encoding=encoding,
                date_format=date_format, timezone=timezone, key=key, max_future=max_future,
            )
        return {**jsonable(result), "path": None}


# --- segments -----------------------------------------------------------------------------------

@router.get("/segments", tags=["segments"], summary="Saved segments")
def list_segments(c: Caller = Depends(caller)) -> list:
    """The saved segments."""
    with c.session("segments.read") as crm:
        return jsonable(crm.segments.list())


@router.put("/segments/{name}", tags=["segments"], summary="Define or change a saved segment")
def define_segment(name: Annotated[str, Path(max_length=200)], body: SegmentIn, c: Caller = Depends(caller)) -> dict:
    """Save a named segment with its rule."""
    with c.session("segments.write") as crm:
        if name in crm.segments:
            crm.segments.update(name, body.rule, body.description)
        else:
            crm.segments.define(name, body.rule, body.description)
        return jsonable(crm.segments.get(name))


@router.get("/segments/{name}/count", tags=["segments"], summary="How many customers in scope a segment holds")
def count_segment(name: str, c: Caller = Depends(caller), as_of: AsOf = None) -> dict:
    """How many customers in the caller's scope a saved segment holds, as of a date."""
    with c.session("segments.read") as crm:
        view = crm.segments.evaluate(crm.segments.get(name).rule, as_of, within=c.scope(crm))
        return {"segment": name, "count": view.count()}


@router.get("/segments/{name}/members", tags=["segments"], summary="A page of a segment's members in scope")
def segment_members(
    name: str, c: Caller = Depends(caller), as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0,
) -> dict:
    """One page of a saved segment's members in the caller's scope, as of a date."""
    with c.session("segments.read") as crm:
        view = crm.segments.evaluate(crm.segments.get(name).rule, as_of, within=c.scope(crm))
        return page(view.customers(limit=limit, offset=offset), limit, offset)


# --- tasks --------------------------------------------------------------------------------------

@router.get("/tasks/mine", tags=["tasks"], summary="My open tasks, soonest due first")
def my_tasks(c: Caller = Depends(caller), limit: Limit = 50, offset: Offset = 0) -> dict:
    """The caller's open tasks, soonest due first."""
    with c.session("tasks.read") as crm:
        return page(crm.tasks.open(owner=c.user.id, limit=limit, offset=offset), limit, offset)


@router.post("/tasks", status_code=201, tags=["tasks"], summary="Create a task")
def create_task(body: TaskIn, c: Caller = Depends(caller)) -> dict:
    """Create a task on a customer in the caller's scope."""
    with c.session("tasks.write") as crm:
        if body.customer_id is not None:
            c.check_customer(crm, body.customer_id)
        owner = body.owner or c.user.id
        c.check_owner(crm, owner)
        return jsonable(crm.tasks.create(
            body.kind, body.customer_id, owner=owner, due_at=body.due_at, reason=body.reason,
        ))


@router.post("/tasks/{task_id}/done", tags=["tasks"], summary="Mark an open task done")
def task_done(task_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: Note | None = None, c: Caller = Depends(caller)) -> dict:
    """Close a task, with an optional note."""
    with c.session("tasks.write") as crm:
        task = crm.tasks.get(task_id)
        c.check_owner(crm, task.owner)
        if task.customer_id is not None:
            c.check_customer(crm, task.customer_id)
        return jsonable(crm.tasks.complete(task_id, body.note if body else None))


# --- audit --------------------------------------------------------------------------------------

@router.get("/audit", tags=["audit"], summary="The audit log, newest first")
def audit_log(
    c: Caller = Depends(caller), entity: Annotated[str | None, Query(max_length=100)] = None,
    entity_id: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None, limit: Limit = 50, offset: Offset = 0,
) -> dict:
    """Entries of the audit log, newest first, filtered. A user whose row scope is not every
    customer (a manager with a team) reads the entries of one customer (or lead) in scope at a
    time: the log also holds the values of customers outside it."""
    with c.session("audit.read") as crm:
        if c.scope(crm) is not None:
            if entity not in ("customer", "lead") or not re.fullmatch(r"[0-9]{1,18}", entity_id or ""):
                raise PermissionDenied(
                    f"user {c.user.id!r} reads the audit log one customer in scope at a time: "
                    "give entity=customer (or lead) and that customer's entity_id"
                )
            c.check_customer(crm, int(entity_id))
        return page(crm.audit.query(entity=entity, entity_id=entity_id, actor=actor, limit=limit, offset=offset), limit, offset)
