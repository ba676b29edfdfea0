"""Fixtures shared by the core's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def small_chunks(monkeypatch):
    """Columnar imports read chunks of about 2 kB, so that a small file has many. (A test file
    that wants another size defines its own ``small_chunks``.)"""
    from crmkit import columnar

    monkeypatch.setattr(columnar, "CHUNK_BYTES", 2048)


@pytest.fixture
def rows_by_column(monkeypatch) -> list[int]:
    """The rows of each chunk a columnar import read by column (converted, for interactions;
    checked, for customers), in file order; empty when the row path read every line."""
    from crmkit import columnar

    counted: list[int] = []
    split = columnar.ColumnarImport._split
    check = columnar.ColumnarCustomers._check_by_column

    def noted_split(self, first, data):
        done = split(self, first, data)
        if done is not None and done[0] is not None:
            counted.append(done[0].num_rows)
        return done

    def noted_check(self, first, data):
        done = check(self, first, data)
        if done is not None:
            counted.append(done["rows"])
        return done

    monkeypatch.setattr(columnar.ColumnarImport, "_split", noted_split)
    monkeypatch.setattr(columnar.ColumnarCustomers, "_check_by_column", noted_check)
    return counted
