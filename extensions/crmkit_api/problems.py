"""Errors as RFC 9457 problem details (``application/problem+json``), with the CLI's messages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
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


#: The error answers every route may give, as its OpenAPI operation documents them.
ERROR_RESPONSES = {
    "400": "Bad request: a value the route cannot use (the detail says which)",
    "401": "Not authenticated: no token, or one that is unknown, expired or revoked",
    "403": "Forbidden: the user lacks the permission, or the record is outside their scope",
    "404": "Not found",
    "409": "Conflict: a limit, a duplicate or a state that does not allow this",
    "422": "Invalid value, segment rule or request (the detail names the field)",
}

# The body of every error answer (RFC 9457), with the members crmkit adds.
PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Always about:blank"},
        "title": {"type": "string", "description": "The kind of error, e.g. Forbidden"},
        "status": {"type": "integer", "description": "The HTTP status"},
        "detail": {"type": "string", "description": "The message the CLI prints for the same error"},
        "field": {"type": "string", "description": "The field an invalid value was given for"},
        "errors": {
            "type": "array", "description": "Each invalid part of the request",
            "items": {"type": "object", "properties": {
                "loc": {"type": "array", "items": {"type": "string"}}, "msg": {"type": "string"},
            }},
        },
        "problems": {"type": "array", "items": {"type": "object"}, "description": "An import's bad rows"},
    },
}


def document_errors(schema: dict) -> dict:
    """``schema`` (an OpenAPI document) with every operation's error answers documented as the
    problem documents they are, in place of FastAPI's default validation error."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    problem_body = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                responses[status] = {"description": description, "content": problem_body}
    return schema


def install(app: FastAPI) -> None:
    """Make every crmkit error, request validation error and HTTP error a problem document,
    and document them so in the OpenAPI document."""
    app.add_exception_handler(CrmError, _crm_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
            ))
        return app.openapi_schema

    app.openapi = openapi
