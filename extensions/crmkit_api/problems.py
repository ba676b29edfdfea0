"""Errors as RFC 9457 problem details (``application/problem+json``), with the CLI's messages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from crmkit.errors import (
    ConflictError, CrmError, ImportRefused, NotAuthenticated, NotFound, PermissionDenied, RuleError, ValidationError,
)

from .toolkit import jsonable

MEDIA_TYPE = "application/problem+json"

# Most specific first: the first class an error is an instance of decides its status.
_STATUS = (
    (NotAuthenticated, 401, "Not authenticated"),
    (PermissionDenied, 403, "Forbidden"),
    (NotFound, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (ValidationError, 422, "Invalid value"),
    (RuleError, 422, "Invalid segment rule"),
    (ImportRefused, 422, "Import refused"),
    (CrmError, 400, "Bad request"),
)


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    """A problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _crm_error(request: Request, error: CrmError) -> JSONResponse:
    for kind, status, title in _STATUS:
        if isinstance(error, kind):
            extra = {"field": error.field} if isinstance(error, ValidationError) else {}
            if isinstance(error, ImportRefused):
                extra = {"problems": jsonable(error.problems)}
            return problem(status, title, str(error), **extra)
    raise error  # pragma: no cover - CrmError is the last entry


def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = error.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    detail = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return problem(422, "Invalid request", detail, errors=[
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in errors
    ])


def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    return problem(error.status_code, str(error.detail), str(error.detail))


def install(app: FastAPI) -> None:
    """Make every crmkit error, request validation error and HTTP error a problem document."""
    app.add_exception_handler(CrmError, _crm_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
