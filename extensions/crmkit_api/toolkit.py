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
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Iterator

import attrs
from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crmkit.errors import PermissionDenied
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


def current_user(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> "User":
    """The active user whose bearer token the request carries (401 otherwise)."""
    hub: Hub = request.app.state.hub
    with hub.using() as crm:
        return crm.users.authenticate(credentials.credentials if credentials else None)


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
            yield crm

    def allows(self, crm: "CRM", permission: str) -> bool:
        """Whether the user holds ``permission``."""
        return crm.permissions.allows(self.user, permission)

    def scope(self, crm: "CRM") -> str | None:
        """The segment rule of the customers the user may see and act on (None: all)."""
        return scope_rule(self.user, self._team(crm))

    def check_customer(self, crm: "CRM", customer_id: int) -> None:
        """404 for an unknown customer, 403 for one outside the user's scope."""
        crm.customers.get(customer_id)
        rule = self.scope(crm)
        if rule is not None and customer_id not in crm.segments.evaluate(rule):
            raise PermissionDenied(f"customer {customer_id} is outside the scope of user {self.user.id!r}")

    def check_owner(self, crm: "CRM", owner: str | None) -> None:
        """403 unless the user may give a customer this owner (None: the pool)."""
        owners = owners_in_scope(self.user, self._team(crm))
        if owner is not None and owners is not None and owner not in owners:
            raise PermissionDenied(f"user {self.user.id!r} may not give customers to {owner!r}")

    def _team(self, crm: "CRM") -> list[str]:
        return crm.users.team_members(self.user.team) if self.user.role == "manager" else []


def caller(request: Request, user: "User" = Depends(current_user)) -> Caller:
    """FastAPI dependency: the request's :class:`Caller`."""
    return Caller(user, request.app.state.hub)


def jsonable(value: Any) -> Any:
    """A record (attrs), or structure of them, as JSON-ready data: times ISO text, money text."""
    if attrs.has(type(value)):
        return {f.name: jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return to_iso(value)
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
