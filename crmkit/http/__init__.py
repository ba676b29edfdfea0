"""The HTTP API of ``crmkit serve``: a FastAPI app over the same services the CLI uses.

Needs the ``server`` extra (FastAPI, uvicorn). The rest of the core never imports this package;
plugins add routes through the ``crmkit_routes`` hook and build them with :mod:`crmkit.http.toolkit`.
"""

from .app import create_app

__all__ = ["create_app"]
