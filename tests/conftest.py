"""Fixtures shared by the whole suite: CRMs on :memory: or on real files, with a fixed clock."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.testing import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at 2025-01-01 09:00 UTC; tests move it explicitly."""
    return FixedClock("2025-01-01T09:00:00Z")


@pytest.fixture
def fresh_crm(clock):
    """A core-only CRM (no plugins) in memory."""
    crm = crmkit.open(":memory:", plugins=[], clock=clock)
    yield crm
    crm.close()


@pytest.fixture(autouse=True)
def columnar_import_at_every_size(request, monkeypatch):
    """The suite's files are small: let the columnar import take them as it takes a large file,
    so that its tests test it. A test of the size rule itself asks for ``row_path_below_bytes``."""
    if "row_path_below_bytes" not in request.fixturenames:
        from crmkit import columnar

        monkeypatch.setattr(columnar, "ROW_PATH_BELOW_BYTES", 0)


@pytest.fixture
def row_path_below_bytes() -> int:
    """The file size below which an import takes the row path, as a user meets it."""
    from crmkit import columnar

    return columnar.ROW_PATH_BELOW_BYTES


@pytest.fixture
def crm_path(tmp_path):
    """Path of a CRM file in the test's temporary folder (not created yet)."""
    return tmp_path / "crm.db"


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Debian Chromium driven by Playwright for the whole session.

    Playwright's sync API allows one running instance per thread, so every browser test shares
    this one. In CI (``CI`` set) a missing browser fails; elsewhere the test is skipped.
    """
    import os
    from pathlib import Path

    problem = None
    if not Path(CHROMIUM).exists():
        problem = "Chromium is not installed (apt-get install -y --no-install-recommends chromium fonts-dejavu-core)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = problem or "the playwright package is not installed (pip install -e '.[dev]')"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {problem}")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()
