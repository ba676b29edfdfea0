"""Fixtures shared by the core's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def small_chunks(monkeypatch):
    """Columnar imports read chunks of about 2 kB, so that a small file has many. (A test file
    that wants another size defines its own ``small_chunks``.)"""
    from crmkit import columnar

    monkeypatch.setattr(columnar, "CHUNK_BYTES", 2048)
