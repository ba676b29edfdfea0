"""The ASGI app: the core's routes, every active plugin's routes, problem details, OpenAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from crmkit import __version__
from crmkit.errors import CrmError
from . import core_routes, problems
from .toolkit import Hub

if TYPE_CHECKING:
    from crmkit.crm import CRM

DESCRIPTION = (
    "The HTTP API of a crmkit CRM. Authenticate with `Authorization: Bearer <token>`, a token "
    "from `crmkit users token DB USER`. Errors are RFC 9457 problem details."
)


def create_app(crm: "CRM") -> FastAPI:
    """An app serving ``crm`` (one CRM object for the process) with the plugins' routes mounted.

    OpenAPI document at ``/openapi.json``, interactive docs at ``/docs``.
    """
    app = FastAPI(title="crmkit", version=__version__, description=DESCRIPTION)
    app.state.hub = Hub(crm)
    problems.install(app)
    app.include_router(core_routes.router)
    for plugin, routers in crm.plugins.each_or_raise("crmkit_routes", crm=crm):
        for router in routers or []:
            if not isinstance(router, APIRouter):
                raise CrmError(f"plugin {plugin!r} returned {router!r} from crmkit_routes, not a fastapi.APIRouter")
            app.include_router(router)
    return app


def app_from_environment() -> FastAPI:
    """The app for ``$CRMKIT_DATABASE``: what ``uvicorn --factory`` (and ``crmkit serve``) runs."""
    import os

    from crmkit.cli import open_crm

    return create_app(open_crm(os.environ["CRMKIT_DATABASE"]))
