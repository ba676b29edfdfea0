"""CLI tables as a terminal shows them: wide (Chinese) characters aligned, and ``segments fields``
giving every description in full, wrapped to the terminal's width."""

from __future__ import annotations

import unicodedata

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli


def run(*args, columns: int = 100):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], env={"COLUMNS": str(columns)}, catch_exceptions=False)


def columns_of(text: str) -> int:
    """Terminal columns, counted independently of crmkit: East Asian wide/fullwidth take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in text)


@pytest.fixture
def shop(crm_path):
    with crmkit.open(crm_path, plugins=[]) as crm:
        crm.customers.add(name="王小明", company="北京贸易有限公司", region="华北")
        crm.customers.add(name="Ada Lovelace", company="Analytical Engines", region="EU")
        crm.customers.add(name="Zoë Ångström", company="Cafe\u0301 Nord", region="Nordics")
    return crm_path


def test_wide_characters_keep_columns_aligned(shop):
    result = run("customers", "list", shop)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header, _rule, *rows = lines[:5]
    # Each column starts where the header's does, counted in terminal columns.
    starts = [columns_of(header[: header.index(name)]) for name in ("name", "email", "company", "region")]
    for row in rows:
        for name, start in zip(("王小明", "Ada Lovelace", "Zoë Ångström"), [starts[0]] * 3):
            if name in row:
                assert columns_of(row[: row.index(name)]) == start
        for region in ("华北", "EU", "Nordics"):
            if region in row:
                assert columns_of(row[: row.index(region)]) == starts[3]


def test_segments_fields_prints_full_descriptions_wrapped(shop):
    with crmkit.open(shop, plugins=[]) as crm:
        described = {f.name: f.description for f in crm.fields}
    result = run("segments", "fields", shop, columns=80)
    assert result.exit_code == 0, result.output
    assert all(columns_of(line) <= 80 for line in result.output.splitlines())
    start = result.output.splitlines()[0].index("description")
    # Join each field's description back from its wrapped lines.
    joined: dict[str, str] = {}
    current = None
    for line in result.output.splitlines()[2:]:
        name = line[:start].split()[0] if line[:start].strip() else None
        if name is not None:
            current = name
            joined[current] = line[start:].strip()
        elif current is not None:
            joined[current] += " " + line[start:].strip()
    long = [name for name, text in described.items() if len(text) > 40]
    assert long, "the core has descriptions longer than the old 40-character cut"
    for name in described:
        assert joined[name] == " ".join(described[name].split())
