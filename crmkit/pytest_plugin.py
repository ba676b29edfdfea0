"""A pytest plugin that runs a test suite written against CRM files on either engine.

Installed with crmkit (entry point ``pytest11``), so crmkit's own suite and every plugin's get:

- ``--engine sqlite|postgresql`` (or ``CRMKIT_TEST_ENGINE``): with ``postgresql`` every CRM the
  tests open by path or ``:memory:`` lives in its own schema of a PostgreSQL database instead
  (see :mod:`crmkit.engine.redirect`). The server is ``CRMKIT_TEST_POSTGRES_URL`` when set (a
  new database is made on it for the run), otherwise a throw-away server started for the run.
- the ``sqlite_only`` marker for tests about the SQLite file itself (its bytes, WAL, VACUUM);
  they are left out of a PostgreSQL run, not skipped.
- the ``crm_engine`` fixture: the engine the run uses.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest

ENGINES = ("sqlite", "postgresql")
_stack = ExitStack()


def pytest_addoption(parser) -> None:
    """Add ``--engine sqlite|postgresql``."""
    group = parser.getgroup("crmkit")
    group.addoption(
        "--engine", choices=ENGINES, default=os.environ.get("CRMKIT_TEST_ENGINE") or "sqlite",
        help="database engine the CRMs of the tests use (default: $CRMKIT_TEST_ENGINE or sqlite)",
    )


def pytest_configure(config) -> None:
    """Register the markers; for a PostgreSQL run, create the run's database and redirect files to it."""
    config.addinivalue_line("markers", "sqlite_only: about the SQLite file itself; left out of a PostgreSQL run")
    config.addinivalue_line("markers", "postgresql_only: needs a PostgreSQL server; left out of a SQLite run")
    if config.getoption("engine") != "postgresql" or os.environ.get("CRMKIT_TEST_SERVER"):
        return
    from .engine.redirect import ENVIRONMENT_VARIABLE

    os.environ[ENVIRONMENT_VARIABLE] = _server_url()
    _stack.callback(os.environ.pop, ENVIRONMENT_VARIABLE, None)


def _server_url() -> str:
    from .testing import new_database, postgres_server

    given = os.environ.get("CRMKIT_TEST_POSTGRES_URL")
    if given:
        return _stack.enter_context(new_database(given, prefix="crmkit_test"))
    try:
        return _stack.enter_context(postgres_server(database="crmkit_tests"))
    except RuntimeError as error:
        raise pytest.UsageError(f"--engine postgresql: cannot start PostgreSQL: {error}") from None


def pytest_unconfigure(config) -> None:
    """Drop the run's database when the run made one."""
    _stack.close()


def pytest_collection_modifyitems(config, items) -> None:
    """Leave out the tests marked for the other engine."""
    engine = config.getoption("engine")
    unwanted = "sqlite_only" if engine == "postgresql" else "postgresql_only"
    kept, left_out = [], []
    for item in items:
        (left_out if item.get_closest_marker(unwanted) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session")
def crm_engine(request) -> str:
    """The engine this run's CRMs use: ``"sqlite"`` or ``"postgresql"``."""
    return request.config.getoption("engine")
