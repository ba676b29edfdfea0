"""A day's work from the shell: edit a customer, log a call, add and close a task, read who
changed customer 1, back up the file — each with its error path (one Error line, nothing written)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.testing import FixedClock


def run(*args):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.db"
    with crmkit.open(path, plugins=[], clock=FixedClock("2025-06-01T09:00:00Z"), actor="ann") as crm:
        crm.customers.add(name="Ada Lovelace", region="EU", owner="rep-1")
    return path


def _audit_count(path) -> int:
    with crmkit.open(path, plugins=[]) as crm:
        return crm.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def test_update_a_customer_and_see_who_changed_it(shop):
    result = run("customers", "update", shop, 1, "--region", "Northern Europe", "--clear", "owner")
    assert result.exit_code == 0, result.output
    with crmkit.open(shop, plugins=[]) as crm:
        ada = crm.customers.get(1)
    assert (ada.region, ada.owner) == ("Northern Europe", None)
    log = run("audit", shop, "--customer", 1, "--action", "customer.update")
    assert "region: 'EU' -> 'Northern Europe'" in log.output
    assert "owner: 'rep-1' -> None" in log.output


def test_update_errors_write_nothing(shop):
    before = _audit_count(shop)
    for args in (("customers", "update", shop, 1), ("customers", "update", shop, 99, "--region", "X"),
                 ("customers", "update", shop, 1, "--size", "huge")):
        result = run(*args)
        assert result.exit_code == 1
        assert result.output.startswith("Error: ") and len(result.output.strip().splitlines()) == 1
    assert _audit_count(shop) == before


def test_log_a_call_and_list_it(shop):
    result = run("interactions", "record", shop, 1, "call", "--at", "2025-06-01T08:00:00Z", "--notes", "asked for a quote")
    assert result.output.strip() == "Recorded call 1 for customer 1 at 2025-06-01 08:00 UTC"
    listed = run("interactions", "list", shop, 1)
    assert "asked for a quote" in listed.output and "call" in listed.output
    bad = run("interactions", "record", shop, 1, "purchase")
    assert bad.exit_code == 1 and bad.output.startswith("Error: ")
    with crmkit.open(shop, plugins=[]) as crm:
        assert crm.interactions.count(1) == 1


def test_add_a_task_then_close_it(shop):
    result = run("tasks", "add", shop, "call", "--customer", 1, "--owner", "rep-1", "--due", "2025-06-03", "--reason", "send the quote")
    assert result.output.strip() == "Created task 1: call for customer 1"
    assert run("tasks", "done", shop, 1).exit_code == 0
    with crmkit.open(shop, plugins=[]) as crm:
        assert crm.tasks.get(1).status == "done"
    missing = run("tasks", "add", shop, "call", "--customer", 42)
    assert missing.exit_code == 1 and "no customer with id 42" in missing.output


@pytest.mark.sqlite_only
def test_backup_is_a_complete_copy_and_never_overwrites_by_accident(shop, tmp_path):
    copy = tmp_path / "copy.db"
    assert run("backup", shop, copy).exit_code == 0
    names = sqlite3.connect(copy).execute("SELECT name FROM customers").fetchall()
    assert names == [("Ada Lovelace",)]
    again = run("backup", shop, copy)
    assert again.exit_code == 1 and "exists" in again.output
    assert run("backup", shop, copy, "--replace").exit_code == 0


def test_backup_of_a_server_crm_points_to_pg_dump():
    result = run("backup", "postgresql://ann:secret@db.example.com/shop", "x.db")
    assert result.exit_code == 1 and "pg_dump" in result.output and "secret" not in result.output


def test_audit_filters_must_make_sense(shop):
    assert run("audit", shop, "--id", 3).output.startswith("Error: --id needs --entity")
    assert run("audit", shop, "--customer", 1, "--entity", "task").output.startswith("Error: ")


def test_times_print_on_the_home_zone_clock_with_the_zone(tmp_path):
    """A Shanghai shop (UTC+8): 23:00 UTC on 30 June is 07:00 on 1 July there, and the CLI says so
    wherever it prints a time (the stored time stays 23:00 UTC)."""
    path = tmp_path / "shanghai.db"
    with crmkit.open(path, plugins=[], clock=FixedClock("2025-06-30T20:00:00Z"), timezone="Asia/Shanghai") as crm:
        crm.customers.add(name="Li Wei", owner="rep-1")
    recorded = run("interactions", "record", path, 1, "visit", "--at", "2025-06-30T23:00:00Z")
    assert recorded.output.strip() == "Recorded visit 1 for customer 1 at 2025-07-01 07:00 CST"
    listed = run("interactions", "list", path, 1).output
    assert "2025-07-01 07:00 CST" in listed and "23:00" not in listed
    added = run("tasks", "add", path, "call", "--customer", 1, "--due", "2025-07-01T16:30:00Z")
    assert added.exit_code == 0, added.output
    assert "2025-07-02 00:30 CST" in run("tasks", "list", path).output
    # a date alone is the home zone's midnight, as --as-of is: 1 July 00:00 in Shanghai
    by_date = run("tasks", "add", path, "email", "--customer", 1, "--due", "2025-07-01")
    assert by_date.exit_code == 0, by_date.output
    with crmkit.open(path, plugins=[]) as crm:
        assert crm.tasks.open(kind="email")[0].due_at.isoformat() == "2025-06-30T16:00:00+00:00"
    assert run("tasks", "add", path, "email", "--due", "1 July").output.startswith("Error: ")
    audit = run("audit", path, "--customer", 1).output
    assert "CST" in audit and "Z " not in audit
    with crmkit.open(path, plugins=[]) as crm:
        stored = crm.interactions.history(1)[0].occurred_at
    assert stored.isoformat() == "2025-06-30T23:00:00+00:00"


def test_a_time_without_an_offset_is_the_home_zones(tmp_path):
    """In a Shanghai shop a call logged "at 09:00" happened at 09:00 Shanghai time (01:00 UTC),
    as --due and --as-of read it; the audit log's --since/--until read their dates the same way."""
    path = tmp_path / "shanghai.db"
    with crmkit.open(path, plugins=[], timezone="Asia/Shanghai", actor="ann") as crm:
        crm.customers.add(name="Li Wei")
    recorded = run("interactions", "record", path, 1, "call", "--at", "2025-06-30 09:00")
    assert recorded.output.strip() == "Recorded call 1 for customer 1 at 2025-06-30 09:00 CST"
    with crmkit.open(path, plugins=[]) as crm:
        assert crm.interactions.history(1)[0].occurred_at.isoformat() == "2025-06-30T01:00:00+00:00"
        added_at = crm.audit.query(entity="customer", entity_id=1)[0].at
    local_day = added_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert "customer.add" in run("audit", path, "--since", local_day.isoformat()).output
    # --until is "up to" its midnight, that instant included: an entry made in the very second
    # of Shanghai's midnight (16:00:00 UTC, as a CI run once did) is listed, as it should be.
    midnight = datetime.combine(local_day, datetime.min.time(), ZoneInfo("Asia/Shanghai"))
    listed = run("audit", path, "--until", local_day.isoformat()).output.strip()
    if added_at > midnight:
        assert listed == "No audit entries."
    else:
        assert "customer.add" in listed
    assert run("interactions", "record", path, 1, "call", "--at", "half past nine").output.startswith("Error: ")
