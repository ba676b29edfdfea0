"""``serve``: the HTTP API of a CRM, for a team (needs the ``server`` extra)."""

from __future__ import annotations

import os

import click

from ..cli import db_argument, open_crm
from ..errors import CrmError
from ._common import IntRange


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

        import crmkit.http  # noqa: F401 - fails here, not in a worker, without FastAPI
    except ImportError as error:
        raise CrmError(f"crmkit serve needs the server extra: pip install 'crmkit[server]' ({error})") from None
    open_crm(db).close()  # a missing file or a bad URL is one clear error before the server starts
    os.environ["CRMKIT_DATABASE"] = str(db)
    uvicorn.run("crmkit.http.app:app_from_environment", factory=True, host=host, port=port, workers=workers)
