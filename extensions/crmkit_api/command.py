"""``serve``: the HTTP API of a CRM, for a team (needs the ``server`` extra).

The extension gives the ``crmkit`` command line this command through the ``crmkit.commands``
entry point group, so the core never imports the extension. This module imports only click:
``crmkit serve --help`` works, and ``crmkit serve`` says what to install, where FastAPI is missing.
"""

from __future__ import annotations

import os

import click

from crmkit.cli import IntRange, db_argument, open_crm
from crmkit.errors import CrmError


@click.command("serve")
@db_argument
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=IntRange(min=1, max=65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=IntRange(min=1, max=64), default=1, show_default=True,
              help="Server processes, each with its own connection to the CRM.")
def serve(db: str, host: str, port: int, workers: int) -> None:
    """Serve the CRM's HTTP API (OpenAPI page at /docs); clients send a token from `crmkit users token`.

    Example: crmkit serve shop.db --port 8000
    """
    try:
        import uvicorn

        import crmkit_api.app  # noqa: F401 - fails here, not in a worker, without FastAPI
    except ImportError as error:
        raise CrmError(f"crmkit serve needs the server extra: pip install 'crmkit[server]' ({error})") from None
    open_crm(db).close()  # a missing file or a bad URL is one clear error before the server starts
    os.environ["CRMKIT_DATABASE"] = str(db)
    uvicorn.run("crmkit_api.app:app_from_environment", factory=True, host=host, port=port, workers=workers)
