"""What every route uses, the core's and the plugins': the acting user, permissions, row scope.

A route takes ``caller: Caller = Depends(caller)`` and works inside ``caller.session(permission)``:
the CRM object, with the request's user as the audit log's actor, after the permission check.

One CRM object serves the whole process. FastAPI runs sync routes in a thread pool, and a CRM's
connection is one per process (SQLite's allows any thread, but not two at once), so a session
holds the process's lock: requests in one process take turns, and processes (``--workers``)
queue on the engine's write lock like any two CLIs do.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Iterator

import attrs
from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crmkit.errors import ConflictError, NotFound, PermissionDenied
from crmkit.models import Customer
from crmkit.permissions import owners_in_scope, scope_rule
from crmkit.timeutil import to_iso

if TYPE_CHECKING:
    from crmkit.crm import CRM
    from crmkit.users import User

# Ids beyond what both engines' 64-bit integers hold are refused as bad requests, not looked up.
MAX_ID = 2**62
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID, description="A customer's id")]
Limit = Annotated[int, Query(ge=0, le=500, description="Rows to return at most")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip first")]


class Hub:
    """The process's CRM object and the lock that gives it to one request at a time."""

    def __init__(self, crm: "CRM"):
        self.crm = crm
        self.lock = threading.Lock()

    @contextmanager
    def using(self) -> Iterator["CRM"]:
        """The CRM, for this thread alone while the block runs."""
        with self.lock:
            yield self.crm


_bearer = HTTPBearer(auto_error=False, description="An API token from `crmkit users token`")


@attrs.frozen
class Caller:
    """The user a request acts for, with their permission checks and row scope."""

    user: "User"
    hub: Hub

    @contextmanager
    def session(self, permission: str) -> Iterator["CRM"]:
        """The CRM acting as this user, once they hold ``permission`` (403 otherwise)."""
        with self.hub.using() as crm, crm.acting_as(self.user.id):
            crm.permissions.require(self.user, permission)
            try:
                yield crm
            except ConflictError as error:
                raise self._as_seen(crm, error) from None

    def _as_seen(self, crm: "CRM", error: ConflictError) -> ConflictError:
        """The conflict as this user may read it: a value held by a customer outside their
        scope is said to be taken, without that customer's id."""
        if error.held_by is None:
            return error
        try:
            self.check_customer(crm, error.held_by)
        except (PermissionDenied, NotFound):
            return ConflictError(f"{error.field} {error.value!r} already belongs to a customer outside your scope")
        return error

    def allows(self, crm: "CRM", permission: str) -> bool:
        """Whether the user holds ``permission``."""
        return crm.permissions.allows(self.user, permission)

    def scope(self, crm: "CRM") -> str | None:
        """The segment rule of the customers the user may see and act on (None: all): the
        owners in scope and the pool, less the pool customers a holder field (a lead's rep)
        gives to someone else. Apply it with ``within=`` (``crm.segments.evaluate(rule, as_of,
        within=scope)``), which reads who holds a customer today whatever the list's date."""
        return scope_rule(self.user, self._team(crm), crm.fields.holders())

    def owners(self, crm: "CRM") -> frozenset[str] | None:
        """The users whose customers, leads and tickets this user sees besides the pool (None: all)."""
        return owners_in_scope(self.user, self._team(crm))

    def check_customer(self, crm: "CRM", customer_id: int) -> "Customer":
        """The customer, once found (404) and in the user's scope (403).

        An unowned customer needs the scope rule's answer (a holder field such as a lead's rep
        may give it to someone); an owned one is answered by its stored owner.
        """
        rows = list(crm.db.query("SELECT * FROM customers WHERE id = ?", [customer_id]))
        if not rows:
            raise NotFound(f"no customer with id {customer_id}")
        team = self._team(crm)  # one read of the team for both answers below
        owners = owners_in_scope(self.user, team)
        if owners is not None:
            owner = rows[0]["owner"]
            if owner is None:
                holders = crm.fields.holders()
                inside = not holders or customer_id in crm.segments.evaluate(scope_rule(self.user, team, holders))
            else:
                inside = owner in owners
            if not inside:
                raise PermissionDenied(f"customer {customer_id} is outside the scope of user {self.user.id!r}")
        return Customer.from_row(rows[0])

    def check_owner(self, crm: "CRM", owner: str | None) -> None:
        """403 unless the user may give a customer this owner (None: the pool)."""
        owners = owners_in_scope(self.user, self._team(crm))
        if owner is not None and owners is not None and owner not in owners:
            raise PermissionDenied(f"user {self.user.id!r} may not give customers to {owner!r}")

    def _team(self, crm: "CRM") -> list[str]:
        return crm.users.team_members(self.user.team) if self.user.role == "manager" else []


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
    """FastAPI dependency: the request's :class:`Caller`, the active user whose bearer token the
    request carries (401 otherwise).

    Read on every request, in one statement (token, user, role, team): nothing is cached, so a
    revoked or expired token, a deactivated user or a changed role counts from the next request.
    One dependency, not two: FastAPI runs each sync dependency on a worker thread of its own.
    """
    hub: Hub = request.app.state.hub
    with hub.using() as crm:
        user = crm.users.authenticate(credentials.credentials if credentials else None)
    return Caller(user, hub)


_PLAIN = frozenset({str, int, float, bool, type(None)})
_ATTRS_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _attrs_fields(kind: type) -> tuple[str, ...] | None:
    """The field names of an attrs class (None for any other type), looked up once per type."""
    try:
        return _ATTRS_FIELDS[kind]
    except KeyError:
        names = tuple(f.name for f in attrs.fields(kind)) if attrs.has(kind) else None
        _ATTRS_FIELDS[kind] = names
        return names


def _utc_text(moment: datetime) -> str:
    """:func:`crmkit.timeutil.to_iso` of a time, without its conversions for the stored form
    (UTC, whole seconds), which is what records read from the store hold."""
    if moment.tzinfo is UTC and not moment.microsecond:
        return (
            f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
        )
    return to_iso(moment)


def jsonable(value: Any) -> Any:
    """A record (attrs), or structure of them, as JSON-ready data: times ISO text, money text."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    plain = _PLAIN  # the common values, tested inline: a page of 50 customers holds about 1,000
    names = _attrs_fields(kind)
    if names is not None:
        return {name: v if type(v := getattr(value, name)) in plain else jsonable(v) for name in names}
    if isinstance(value, dict):
        return {str(k): v if type(v) in plain else jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v if type(v) in plain else jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def page(items: list, limit: int, offset: int, total: int | None = None) -> dict:
    """A page of items: ``{"items", "limit", "offset"}`` and ``total`` when known."""
    body = {"items": jsonable(items), "limit": limit, "offset": offset}
    if total is not None:
        body["total"] = total
    return body
