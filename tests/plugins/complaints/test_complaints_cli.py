"""``crmkit complaints ...`` on a real file: every command, and its error path (one line, nothing written)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli


@pytest.fixture
def db(crm_path, monkeypatch, clock):
    monkeypatch.setenv("CRMKIT_PLUGINS", "complaints")
    crm = crmkit.open(crm_path, plugins=["complaints"], clock=clock)
    crm.customers.add(name="Alice")
    crm.close()
    return str(crm_path)


def run(*args):
    result = CliRunner().invoke(make_cli(), [str(a) for a in args])
    return result


def table_counts(path):
    crm = crmkit.open(path, plugins=["complaints"])
    try:
        return {t: crm.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("complaints_complaints", "complaints_history", "complaints_handlers", "audit_log",
                          "complaints_feedback", "interactions")}
    finally:
        crm.close()


def test_every_command_has_help():
    group = make_cli().commands["complaints"]
    names = set(group.commands)
    assert {"open", "list", "show", "ack", "assess", "resolve", "reject", "follow-up", "close", "reopen", "sla",
            "stats", "pause", "resume", "assign", "note", "handlers", "handler-add", "feedback"} <= names
    for name, command in group.commands.items():
        assert command.help, name
    for name, command in group.commands["feedback"].commands.items():
        assert command.help, name


def test_pause_and_resume_say_whether_the_clock_is_stopped(db):
    """The status stays what it was while paused; the message says so, rather than only 'assessing'."""
    run("complaints", "open", db, 1)
    run("complaints", "ack", db, 1)
    run("complaints", "assess", db, 1)
    paused = run("complaints", "pause", db, 1, "--reason", "bank statement")
    assert paused.exit_code == 0, paused.output
    assert paused.output.strip() == "complaint 1 is now assessing (paused)"
    assert run("complaints", "resume", db, 1).output.strip() == "complaint 1 is now assessing"


def test_the_whole_process(db):
    assert run("complaints", "handler-add", db, "sam", "--role", "supervisor").exit_code == 0
    assert run("complaints", "handler-add", db, "ann", "--supervisor", "sam", "--skills", "billing").exit_code == 0
    opened = run("complaints", "open", db, 1, "--category", "billing", "--severity", "high", "--description", "double charge")
    assert opened.exit_code == 0, opened.output
    assert "opened complaint 1 for customer 1, owner ann" in opened.output
    for args in (("ack", 1), ("assess", 1), ("pause", 1, "--reason", "bank statement"), ("resume", 1),
                 ("resolve", 1, "--resolution", "refund", "--amount", "12.50"),
                 ("follow-up", 1, "--score", 4, "--accepted"), ("close", 1), ("reopen", 1, "--reason", "charged again"),
                 ("reject", 1, "--reason", "second charge was a new order")):
        result = run("complaints", args[0], db, *args[1:])
        assert result.exit_code == 0, (args, result.output)
    assert "complaint 1 is now rejected" in result.output
    shown = run("complaints", "show", db, 1, "--internal")
    assert "We have resolved your complaint: refund of 12.50 USD." in shown.output
    assert run("complaints", "note", db, 1, "checked the ledger").exit_code == 0
    assert "checked the ledger" in run("complaints", "show", db, 1, "--internal").output
    assert "checked the ledger" not in run("complaints", "show", db, 1).output
    assert run("complaints", "assign", db, 1, "sam").output.strip() == "complaint 1 is now handled by sam"
    listed = run("complaints", "list", db, "--status", "rejected")
    assert listed.exit_code == 0 and "rejected" in listed.output
    stats = run("complaints", "stats", db, "--by", "category", "--json")
    assert stats.exit_code == 0 and '"group": "billing"' in stats.output
    assert run("complaints", "sla", db).exit_code == 0
    assert "ann" in run("complaints", "handlers", db).output


def test_sla_board(db):
    from datetime import datetime, timedelta, timezone

    run("complaints", "open", db, 1, "--severity", "critical")  # the CLI runs on the wall clock
    later = datetime.now(timezone.utc) + timedelta(hours=3)  # acknowledge target 2 h: 1 h overdue
    result = run("complaints", "sla", db, "--as-of", later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert result.exit_code == 0
    line = result.output.splitlines()[1]
    assert "acknowledge" in line and "breached" in line and "-1.0" in line


def test_feedback_commands(db):
    assert run("complaints", "feedback", "add", db, 1, "dark mode", "--class", "website").exit_code == 0
    assert run("complaints", "feedback", "add", db, 1, "dark mode!", "--class", "website").exit_code == 0
    assert "merged into 1" in run("complaints", "feedback", "merge", db, 1, 2).output
    assert run("complaints", "feedback", "classify", db, 1, "--urgency", 5).exit_code == 0
    assert "dark mode" in run("complaints", "feedback", "top", db).output
    done = run("complaints", "feedback", "status", db, 1, "done")
    assert "tell customer 1 Alice" in done.output
    assert "(none)" in run("complaints", "feedback", "list", db, "--status", "new").output


@pytest.mark.parametrize("args,message", [
    (("ack", 9), "Error: no complaint with id 9"),
    (("resolve", 1, "--resolution", "refund"), "Error: complaint 1 is received; it cannot move to resolved. Allowed next: acknowledged"),
    (("resolve", 1, "--resolution", "refund", "--amount", "1.234"), "at most 2 decimal places"),
    (("open", 99), "Error: no customer with id 99"),
    (("assign", 1, "nobody"), "Error: no handler named 'nobody'"),
    (("pause", 1, "--reason", "x"), "only a complaint that is acknowledged"),
    (("stats", "--as-of", "yesterday"), "ISO-8601"),
    (("handler-add", "x", "--supervisor", "y"), "add the supervisor first"),
    (("feedback", "merge", 1, 1), "another item than keep_id"),
    (("note", 1, " "), "non-empty note"),
    (("ack", 1, "--at", "2999-01-01"), "a time not after now"),
    (("ack", 1, "--at", "2000-01-01"), "a time not before the complaint's last step"),
    (("ack", 1, "--at", "last tuesday"), "ISO-8601"),
    (("open", 1, "--received-at", "soon"), "ISO-8601"),
])
def test_errors_are_one_line_and_write_nothing(db, args, message):
    run("complaints", "open", db, 1)
    run("complaints", "feedback", "add", db, 1, "idea")
    before = table_counts(db)
    result = run("complaints", args[0], db, *args[1:]) if args[0] != "feedback" else run("complaints", "feedback", args[1], db, *args[2:])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert table_counts(db) == before


def test_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "complaints")
    result = run("complaints", "list", tmp_path / "nope.db")
    assert result.exit_code == 1 and "no CRM file at" in result.output


def test_times_are_shown_on_the_home_zones_clock(tmp_path, monkeypatch):
    """In a Shanghai CRM the CLI prints a complaint's times in Shanghai time, naming the zone."""
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("CRMKIT_PLUGINS", "complaints")
    path = tmp_path / "desk.db"
    with crmkit.open(path, plugins=["complaints"], timezone="Asia/Shanghai") as crm:
        crm.customers.add(name="Li")
        crm.complaints.add_handler("ann")
    opened = run("complaints", "open", path, 1, "--category", "billing")
    assert opened.exit_code == 0, opened.output
    with crmkit.open(path, plugins=["complaints"]) as crm:
        complaint = crm.complaints.get(1)
    shanghai = ZoneInfo("Asia/Shanghai")

    def shown(moment) -> str:
        return moment.astimezone(shanghai).strftime("%Y-%m-%d %H:%M") + " CST"

    assert f"acknowledge by {shown(complaint.ack_due_at)}, resolve by {shown(complaint.resolve_due_at)}" in opened.output
    listed = run("complaints", "list", path)
    assert shown(complaint.received_at) in listed.output and shown(complaint.resolve_due_at) in listed.output
    board = run("complaints", "sla", path)
    assert shown(complaint.ack_due_at) in board.output


def test_steps_taken_earlier_are_recorded_at_their_home_zone_time(tmp_path, monkeypatch):
    """A handler catching up enters when each step really happened, on the home zone's clock:
    --received-at and --at take a local time (or a date, its local midnight)."""
    from datetime import datetime, timezone

    monkeypatch.setenv("CRMKIT_PLUGINS", "complaints")
    path = tmp_path / "desk.db"
    with crmkit.open(path, plugins=["complaints"], timezone="Asia/Shanghai") as crm:
        crm.customers.add(name="Li")
    assert run("complaints", "open", path, 1, "--received-at", "2026-01-05 09:00").exit_code == 0
    acked = run("complaints", "ack", path, 1, "--at", "2026-01-05T10:30")
    assert acked.exit_code == 0, acked.output
    assessed = run("complaints", "assess", path, 1, "--at", "2026-01-06")
    assert assessed.output.strip() == "complaint 1 is now assessing"
    with crmkit.open(path, plugins=["complaints"]) as crm:
        complaint = crm.complaints.get(1)
    # Shanghai is UTC+8 all year.
    assert complaint.received_at == datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
    assert complaint.acknowledged_at == datetime(2026, 1, 5, 2, 30, tzinfo=timezone.utc)
    assert complaint.status_at == datetime(2026, 1, 5, 16, 0, tzinfo=timezone.utc)
