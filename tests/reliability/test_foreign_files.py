"""Files that are not what crmkit expects (issue 16, item 7): another application's file or
database, a CRM from a newer crmkit, an empty file, a read-only file and a full disk each end
in one clear error, and nothing in the file changes."""

from __future__ import annotations

import os
import sqlite3
import struct

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.engine import errors

from .helpers import connect_raw, file_state

# The header field SQLite keeps an application's id in: 4 big-endian bytes at offset 68.
APPLICATION_ID_OFFSET = 68


def invoke(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args])


def assert_one_error_line(result, *fragments):
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]



def application_id(path) -> int:
    with open(path, "rb") as file:
        file.seek(APPLICATION_ID_OFFSET)
        return struct.unpack(">I", file.read(4))[0]


# --- on both engines ------------------------------------------------------------------------------


def test_another_applications_tables_are_refused_before_anything_changes(tmp_path):
    path = tmp_path / "photos.db"
    raw = connect_raw(path)
    raw.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, title TEXT)")
    raw.execute("INSERT INTO photos (title) VALUES ('beach')")
    raw.close()
    before = file_state(path)

    with pytest.raises(errors.NotACrmFile, match="not a crmkit CRM.*photos"):
        crmkit.open(path)
    assert_one_error_line(invoke("customers", "list", path), "not a crmkit CRM", "photos")
    assert_one_error_line(invoke("customers", "add", path, "--name", "Ada"), "not a crmkit CRM")
    assert_one_error_line(invoke("migrate", path), "not a crmkit CRM")
    assert file_state(path) == before  # no crmkit table, no migration, the photo still there


def newer_crm(path):
    with crmkit.open(path, plugins=[]) as crm:
        crm.customers.add(name="Ada")
    raw = connect_raw(path)
    raw.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('crmkit', 'm999_from_the_future', '2030-01-01')"
    )
    raw.close()


def test_a_crm_from_a_newer_crmkit_is_refused_naming_both_versions(tmp_path):
    """Before: it reported "up to date" and accepted writes."""
    path = tmp_path / "newer.db"
    newer_crm(path)
    raw = connect_raw(path)
    recorded = raw.execute("SELECT count(*) FROM _sqlite_migrations WHERE migration_set = 'crmkit'").fetchone()[0]
    raw.close()
    before = file_state(path)

    with pytest.raises(errors.NewerSchema) as caught:
        crmkit.open(path, plugins=[])
    message = str(caught.value)
    assert f"version {recorded} (m999_from_the_future)" in message
    assert f"knows version {recorded - 1}" in message
    assert_one_error_line(invoke("customers", "add", path, "--name", "Bob"), "newer crmkit", f"version {recorded}")
    assert_one_error_line(invoke("migrate", path), "newer crmkit")
    assert file_state(path) == before


def test_a_renamed_core_column_is_one_error_line_not_a_key_error(tmp_path):
    path = tmp_path / "renamed.db"
    with crmkit.open(path, plugins=[]) as crm:
        crm.customers.add(name="Ada")
    raw = connect_raw(path)
    raw.execute("ALTER TABLE customers RENAME COLUMN name TO full_name")
    raw.close()

    with pytest.raises(crmkit.CrmError, match="customers.*name"):
        crmkit.open(path, plugins=[])
    assert_one_error_line(invoke("customers", "list", path), "customers", "name")


# --- the SQLite file itself -------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_another_applications_sqlite_file_keeps_every_byte(tmp_path):
    """Before: the file was switched to WAL for good, then a traceback."""
    path = tmp_path / "photos.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, title TEXT)")
    conn.execute("INSERT INTO photos (title) VALUES ('beach')")
    conn.commit()
    conn.close()
    content, mtime = path.read_bytes(), path.stat().st_mtime_ns

    assert_one_error_line(invoke("report", path), "not a crmkit CRM")
    with pytest.raises(errors.NotACrmFile):
        crmkit.open(path)
    assert path.read_bytes() == content and path.stat().st_mtime_ns == mtime
    assert sorted(os.listdir(tmp_path)) == ["photos.db"]  # no -wal or -shm left behind


@pytest.mark.sqlite_only
def test_a_file_with_another_applications_id_is_refused_even_without_tables(tmp_path):
    path = tmp_path / "stamped.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("PRAGMA user_version = 1")  # makes SQLite write the header
    conn.close()
    content = path.read_bytes()
    with pytest.raises(errors.NotACrmFile, match="application id 0x000004d2"):
        crmkit.open(path)
    assert path.read_bytes() == content


@pytest.mark.sqlite_only
def test_a_file_that_is_no_database_is_one_error_line(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 50)
    content = path.read_bytes()
    assert_one_error_line(invoke("customers", "list", path), "not a SQLite database")
    assert path.read_bytes() == content


@pytest.mark.sqlite_only
def test_crmkit_files_carry_its_application_id_and_older_ones_get_it(tmp_path):
    path = tmp_path / "shop.db"
    with crmkit.open(path) as crm:
        crm.customers.add(name="Ada")
    assert path.read_bytes()[APPLICATION_ID_OFFSET:APPLICATION_ID_OFFSET + 4] == b"CRMK"

    # A file made before the id: same tables, zero in the header. It opens and gets the id.
    data = bytearray(path.read_bytes())
    data[APPLICATION_ID_OFFSET:APPLICATION_ID_OFFSET + 4] = bytes(4)
    path.write_bytes(bytes(data))
    assert application_id(path) == 0
    with crmkit.open(path) as crm:
        assert [c.name for c in crm.customers.list()] == ["Ada"]
    assert application_id(path) == struct.unpack(">I", b"CRMK")[0]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("command", [
    ["report", "{db}"], ["customers", "list", "{db}"], ["segments", "list", "{db}"], ["export", "{db}", "out.csv"],
])
def test_reading_commands_refuse_an_empty_or_missing_file(tmp_path, command, monkeypatch):
    """Before: a 0-byte file was silently turned into a new CRM by a read command."""
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert_one_error_line(invoke(*[a.format(db=empty) for a in command]), "empty file (0 bytes)")
    assert empty.read_bytes() == b""
    assert sorted(os.listdir(tmp_path)) == ["empty.db"]

    missing = tmp_path / "missing.db"
    assert_one_error_line(invoke(*[a.format(db=missing) for a in command]), "no CRM file")
    assert not missing.exists()


@pytest.mark.sqlite_only
def test_init_makes_a_crm_of_an_empty_file(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    result = invoke("init", path)
    assert result.exit_code == 0, result.output
    with crmkit.open(path) as crm:
        assert crm.settings.get("core.currency") == "USD"


@pytest.mark.sqlite_only
def test_a_read_only_file_reads_and_refuses_writes_in_one_line(tmp_path):
    """Before: tracebacks (the data stayed intact)."""
    path = tmp_path / "shop.db"
    with crmkit.open(path) as crm:  # every plugin's tables, as the CLI opens it
        crm.customers.add(name="Ada")
    path.chmod(0o444)
    try:
        content = path.read_bytes()
        listed = invoke("customers", "list", path)
        assert listed.exit_code == 0, listed.output
        assert "Ada" in listed.output
        assert_one_error_line(invoke("customers", "add", path, "--name", "Bob"), "read-only")
        with crmkit.open(path) as crm:
            with pytest.raises(errors.ReadOnly):
                crm.customers.add(name="Bob")
            assert [c.name for c in crm.customers.list()] == ["Ada"]
        assert path.read_bytes() == content
    finally:
        path.chmod(0o644)


@pytest.mark.sqlite_only
def test_a_read_only_file_that_needs_migrations_says_so(tmp_path):
    path = tmp_path / "old.db"
    crmkit.open(path, plugins=[]).close()
    raw = connect_raw(path)
    raw.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_interaction_external_key'")
    raw.execute("DROP INDEX ix_interactions_external_key")
    raw.execute("ALTER TABLE interactions DROP COLUMN external_key")
    raw.close()
    path.chmod(0o444)
    try:
        assert_one_error_line(invoke("customers", "list", path), "read-only", "needs schema migrations")
    finally:
        path.chmod(0o644)


@pytest.mark.sqlite_only
def test_a_full_disk_is_a_storage_error_and_the_crm_stays_as_it_was(tmp_path):
    """SQLite's page limit stands in for a full disk: the engine reports the same SQLITE_FULL."""
    path = tmp_path / "shop.db"
    with crmkit.open(path, plugins=[]) as crm:
        crm.customers.add(name="Ada")
        (pages,) = crm.db.execute("PRAGMA page_count").fetchone()
        crm.db.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(errors.StorageFull, match="disk is full"):
            with crm.transaction():
                for i in range(2000):
                    crm.customers.add(name=f"Customer {i} " + "x" * 150)
        assert [c.name for c in crm.customers.list()] == ["Ada"]


# --- a server schema ---------------------------------------------------------------------------------


@pytest.mark.postgresql_only
def test_a_server_schema_with_another_applications_tables_gets_nothing_of_crmkit(monkeypatch):
    """Refused before migrations, and not even crmkit's helper functions are defined in it."""
    import uuid
    from urllib.parse import quote

    import psycopg

    server = os.environ.get("CRMKIT_TEST_SERVER")
    if not server:
        pytest.fail("a postgresql_only test ran without a server")
    monkeypatch.delenv("CRMKIT_TEST_SERVER")  # the URL below is a real server target, not a redirect
    schema = "other_" + uuid.uuid4().hex[:12]
    objects = (
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s",
    )
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".photos (id integer PRIMARY KEY, title text)')
        before = [conn.execute(query, [schema]).fetchone()[0] for query in objects]
    url = f"{server}{'&' if '?' in server else '?'}options={quote(f'-c search_path={schema}')}"
    try:
        with pytest.raises(errors.NotACrmFile, match="photos"):
            crmkit.open(url)
        assert_one_error_line(invoke("customers", "list", url), "not a crmkit CRM")
        with psycopg.connect(server, autocommit=True) as conn:
            assert [conn.execute(query, [schema]).fetchone()[0] for query in objects] == before
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
