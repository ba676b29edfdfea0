"""The same demo on a SQLite file and on a PostgreSQL server gives the same report.

``crmkit demo`` with one seed, once into a file (redirection to the server switched off for that
process) and once into a fresh schema of the test server by its ``postgresql://`` URL; then
``crmkit report --json`` of both. Every section file and every figure in it must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

pytestmark = [pytest.mark.postgresql_only, pytest.mark.slow]

SEED = "5"
CUSTOMERS = "400"


def _cli(*args: str, redirect: bool = False) -> subprocess.CompletedProcess:
    """Run the crmkit CLI; without ``redirect`` a file path stays a real SQLite file."""
    environment = dict(os.environ)
    if not redirect:
        environment.pop("CRMKIT_TEST_SERVER", None)
    result = subprocess.run(
        [sys.executable, "-c", "from crmkit.cli import main; main()", *args],
        capture_output=True, text=True, env=environment,
    )
    assert result.returncode == 0, f"crmkit {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def server_url():
    """The URL of a new, empty schema of the test server's database; dropped afterwards."""
    base = os.environ["CRMKIT_TEST_SERVER"]
    schema = "agree_" + uuid.uuid4().hex[:16]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in base else "?"
    yield f"{base}{joiner}options={quote(f'-c search_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _report(target: str, folder: Path) -> dict[str, object]:
    """The JSON report of ``target``: section file name -> parsed content."""
    _cli("report", target, "--json", str(folder))
    files = sorted(folder.glob("*.json"))
    assert files, f"no JSON written for {target}"
    return {path.name: json.loads(path.read_text()) for path in files}


def _differences(left, right, where: str = "") -> list[str]:
    """Paths at which two parsed JSON values differ (numbers compared as numbers)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found = [f"{where}/{key}: only on {'SQLite' if key in left else 'PostgreSQL'}"
                 for key in sorted(set(left) ^ set(right))]
        for key in sorted(set(left) & set(right)):
            found += _differences(left[key], right[key], f"{where}/{key}")
        return found
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{where}: {len(left)} items on SQLite, {len(right)} on PostgreSQL"]
        found = []
        for index, (a, b) in enumerate(zip(left, right)):
            found += _differences(a, b, f"{where}[{index}]")
        return found
    same = left == right and type(left) is type(right) or (
        isinstance(left, (int, float)) and isinstance(right, (int, float))
        and not isinstance(left, bool) and not isinstance(right, bool) and left == right
    )
    return [] if same else [f"{where}: {left!r} on SQLite, {right!r} on PostgreSQL"]


def test_demo_report_is_the_same_on_a_file_and_on_a_server(tmp_path, server_url):
    demo_file = tmp_path / "demo.db"
    _cli("demo", str(demo_file), "--customers", CUSTOMERS, "--seed", SEED)
    _cli("demo", server_url, "--customers", CUSTOMERS, "--seed", SEED)

    on_file = _report(str(demo_file), tmp_path / "file")
    on_server = _report(server_url, tmp_path / "server")

    assert sorted(on_file) == sorted(on_server)
    differences = _differences(on_file, on_server)
    assert not differences, "the engines' reports differ:\n" + "\n".join(differences[:40])
