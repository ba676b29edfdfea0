"""The HTTP API of ``crmkit serve``: a FastAPI app over the same services the CLI uses.

An extension beside ``crmkit_jupyter``: it needs the ``server`` extra (FastAPI, uvicorn), imports
no plugin (their routes come through the ``crmkit_routes`` hook) and is imported by neither the
core nor the Jupyter extension. Plugins build their routes with :mod:`crmkit_api.toolkit`,
imported inside their ``routes`` module. ``create_app`` is imported on first use, so loading
the ``serve`` command (:mod:`crmkit_api.command`) does not import FastAPI.
"""

from crmkit.lazy import lazy_exports

__all__ = ["create_app"]
__getattr__, __dir__ = lazy_exports(globals(), {"create_app": "app"})
