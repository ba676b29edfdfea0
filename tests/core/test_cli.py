"""The core CLI commands on real files: happy paths, one-line errors with exit 1, nothing written."""

from __future__ import annotations

import hashlib
import json

import click
import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.timeutil import to_iso


@pytest.fixture(autouse=True)
def core_only(monkeypatch, tmp_path):
    """Only the core's commands and no plugins, whatever is installed; run in a temp folder."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "")
    monkeypatch.chdir(tmp_path)


def run(*args: str):
    return CliRunner().invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_error(result, message: str) -> None:
    """Exit 1 and one 'Error: ...' line containing ``message``, last but for a rule error's
    indented rule-and-caret display."""
    assert result.exit_code == 1, result.output
    lines = result.output.rstrip().splitlines()
    while lines and lines[-1].startswith("  ") and not lines[-1].startswith("Error: "):
        lines.pop()
    assert lines and lines[-1].startswith("Error: ") and message in lines[-1], result.output
    assert "Traceback" not in result.output


@pytest.fixture
def db(tmp_path):
    """A CRM file with two customers, a purchase, a task and a saved segment."""
    path = tmp_path / "shop.db"
    with crmkit.open(path, plugins=[]) as crm:
        ada = crm.customers.add(name="Ada Lovelace", email="ada@example.com", region="EU", company="Acme")
        crm.customers.add(name="Ada  Lovelace", email="ADA@example.com", region="EU", company="Acme")
        crm.interactions.record(ada.id, "purchase", "2024-05-01", amount="120.50", product="lamp")
        crm.tasks.create("call back", ada.id, owner="rep-1", reason="asked for a quote")
        crm.segments.define("eu", "region = 'EU'", "European customers")
    return path


def test_every_command_has_help_text():
    """Each command and group, nested too, has a docstring and every option a help text or obvious name."""
    cli = make_cli()

    def walk(group: click.Group, prefix: str):
        for name, command in group.commands.items():
            yield f"{prefix}{name}", command
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")

    names = []
    for name, command in walk(cli, ""):
        names.append(name)
        assert command.help and len(command.help.strip()) > 10, name
        assert run(*name.split(), "--help").exit_code == 0, name
    for expected in ("init", "demo", "import", "export", "customers list", "customers show", "customers add",
                     "customers find", "customers duplicates", "customers merge", "segments list",
                     "segments define", "segments update", "segments delete", "segments count",
                     "segments members", "segments snapshot", "segments snapshots", "segments diff",
                     "segments fields", "segments check", "tasks list", "tasks done", "tasks cancel",
                     "due", "plugins", "migrate", "forget"):
        assert expected in names


def test_missing_database_file_is_one_line(tmp_path):
    result = run("customers", "list", tmp_path / "nope.db")
    assert_error(result, "no CRM file at")
    assert not (tmp_path / "nope.db").exists()


class TestInit:
    def test_creates_file_with_currency(self, tmp_path):
        result = run("init", tmp_path / "new.db", "--currency", "eur")
        assert result.exit_code == 0 and "money in EUR" in result.output
        with crmkit.open(tmp_path / "new.db", plugins=[]) as crm:
            assert crm.currency == "EUR"

    def test_refuses_existing_file_and_bad_currency(self, db, tmp_path):
        before = digest(db)
        assert_error(run("init", db), "exists already")
        assert digest(db) == before
        assert_error(run("init", tmp_path / "x.db", "--currency", "EURO"), "three-letter ISO 4217")
        assert not (tmp_path / "x.db").exists()
        assert_error(run("init", tmp_path / "y.db", "--plugins", "nonsense"), "unknown plugin 'nonsense'")
        assert not (tmp_path / "y.db").exists()


def test_demo_builds_a_file(tmp_path):
    pytest.importorskip("crmkit.demo")
    result = run("demo", tmp_path / "demo.db", "--customers", "30", "--seed", "1")
    assert result.exit_code == 0, result.output
    with crmkit.open(tmp_path / "demo.db", plugins=[]) as crm:
        assert crm.customers.count() >= 30
    assert_error(run("demo", tmp_path / "demo.db", "--customers", "0"), "--customers")


class TestImport:
    def test_import_customers_then_refused_file_changes_nothing(self, db, tmp_path):
        good = tmp_path / "good.csv"
        good.write_text("External ID,Name,E-mail\nX1,Cleo,cleo@example.com\nX2,Dan,dan@example.com\n", encoding="utf-8")
        result = run("import", db, good, "--kind", "customers")
        assert result.exit_code == 0, result.output
        assert "Imported 2 customers from" in result.output and "2 added, 0 updated" in result.output

        bad = tmp_path / "bad.csv"
        bad.write_text("nom,email\nEve,eve@example.com\nFay,not-mail\n,\nGus,gus\n", encoding="utf-8")
        before = digest(db)
        result = run("import", db, bad, "--kind", "customers", "--map", "nom=name")
        assert_error(result, "import refused: 2 problem(s) in 2 row(s) (rows 3, 5); nothing was imported")
        assert "row 3, email 'not-mail': an email address like name@example.com" in result.output
        assert digest(db) == before

        result = run("import", db, bad, "--kind", "customers", "--map", "nom=name", "--skip-invalid", "--report", tmp_path / "r.csv")
        assert result.exit_code == 0, result.output
        assert "Imported 1 customers" in result.output and "Skipped 2 bad row(s); report in" in result.output
        assert (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()[0] == "row,column,field,value,reason"

    def test_import_interactions_with_encoding(self, db, tmp_path):
        path = tmp_path / "i.csv"
        path.write_bytes("customer_id,kind,occurred_at,notes\n1,call,2024-06-01,说好了\n".encode("gbk"))
        assert_error(run("import", db, path, "--kind", "interactions"), "import refused")
        result = run("import", db, path, "--kind", "interactions", "--encoding", "gbk")
        assert result.exit_code == 0 and "Imported 1 interactions" in result.output
        with crmkit.open(db, plugins=[]) as crm:
            assert crm.interactions.history(1, kinds=["call"])[0].notes == "说好了"

    def test_orders_from_a_shop_system(self, db, tmp_path):
        """No kind column, German dates in Berlin time: --set, --date-format and --timezone as the help shows."""
        path = tmp_path / "orders.csv"
        path.write_text("Order ID;Customer No;Order Date;Total\nA-1;1;31.03.2024 23:30;120.50\n", encoding="utf-8")
        result = run("import", db, path, "--kind", "interactions", "--set", "kind=purchase",
                     "--map", "Customer No=customer_id", "--map", "Order Date=occurred_at", "--map", "Total=amount",
                     "--map", "Order ID=data.order_id", "--date-format", "%d.%m.%Y %H:%M", "--timezone", "Europe/Berlin")
        assert result.exit_code == 0, result.output
        assert "Imported 1 interactions" in result.output
        with crmkit.open(db, plugins=[]) as crm:
            [order] = [i for i in crm.interactions.history(1, kinds=["purchase"]) if i.data]
        assert (to_iso(order.occurred_at), str(order.amount), order.data) == ("2024-03-31T21:30:00Z", "120.50", {"order_id": "A-1"})

    def test_a_transaction_log_creates_its_customers(self, db, tmp_path):
        path = tmp_path / "log.csv"
        path.write_text("Client,Client name,Date,Amount\nC-9,Zoe Quinn,2024-02-01,9.50\nC-9,,2024-03-01,1.00\n", encoding="utf-8")
        args = ["import", db, path, "--kind", "interactions", "--set", "kind=purchase", "--map", "Client=customer_external_id",
                "--map", "Client name=customer_name", "--map", "Date=occurred_at"]
        before = digest(db)
        refused = run(*args)
        assert_error(refused, "import refused: 2 problem(s) in 2 row(s) (rows 2, 3)")
        assert "no customer has this external id (--create-customers adds one)" in refused.output
        assert digest(db) == before
        result = run(*args, "--create-customers")
        assert result.exit_code == 0, result.output
        assert "Imported 2 interactions from" in result.output and "1 new customer(s) created" in result.output
        with crmkit.open(db, plugins=[]) as crm:
            assert crm.customers.find(external_id="C-9")[0].name == "Zoe Quinn"

    @pytest.mark.parametrize("args, message", [
        (["missing.csv", "--kind", "customers"], "no file at missing.csv"),
        (["x.csv", "--kind", "orders"], "--kind: 'orders' is not one of 'customers', 'interactions'"),
        (["x.csv", "--kind", "customers", "--map", "nameonly"], "write it as COLUMN=FIELD"),
        (["x.csv", "--kind", "customers", "--map", "name=nickname"], "a customer field"),
        (["x.csv", "--kind", "customers", "--encoding", "nope"], "encoding"),
        (["x.csv", "--kind", "customers", "--format", "pdf"], "--format"),
        (["x.csv", "--kind", "customers", "--set", "source"], "write it as FIELD=VALUE"),
        (["x.csv", "--kind", "customers", "--set", "colour=red"], "--set colour: a customer field"),
        (["x.csv", "--kind", "customers", "--timezone", "Berlin"], "timezone: a time zone name"),
        (["x.csv", "--kind", "customers", "--date-format", "dd/mm/yyyy"], "date_format: a strptime format"),
    ])
    def test_errors(self, db, tmp_path, args, message):
        (tmp_path / "x.csv").write_text("name\nZed\n", encoding="utf-8")
        before = digest(db)
        assert_error(run("import", db, *args), message)
        assert digest(db) == before


class TestExport:
    def test_customers_segment_and_stdout(self, db, tmp_path):
        result = run("export", db, tmp_path / "c.csv")
        assert result.exit_code == 0 and "Exported 2 customers to" in result.output
        result = run("export", db, "-", "--segment", "eu", "--format", "jsonl")
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [x["id"] for x in lines] == [1, 2]
        result = run("export", db, tmp_path / "i.jsonl", "--kind", "interactions")
        assert json.loads((tmp_path / "i.jsonl").read_text().splitlines()[0])["amount"] == "120.50"
        result = run("export", db, tmp_path / "old.csv", "--segment", "ltv > 100", "--as-of", "2024-04-01")
        assert "Exported 0 customers" in result.output

    def test_errors(self, db, tmp_path):
        assert_error(run("export", db, tmp_path / "x.csv", "--segment", "nosuch"), "no segment named 'nosuch'")
        assert_error(run("export", db, tmp_path / "x.csv", "--as-of", "soon", "--segment", "eu"), "--as-of")
        assert_error(run("export", db, tmp_path / "x.pdf"), "pass --format")
        assert not (tmp_path / "x.csv").exists()


class TestCustomers:
    def test_list_show_add_find(self, db):
        result = run("customers", "list", db, "--search", "ada")
        assert "Ada Lovelace" in result.output and "(1-2 of 2)" in result.output
        result = run("customers", "show", db, 1)
        assert "email: ada@example.com" in result.output
        assert "120.50" in result.output and "lamp" in result.output
        assert "asked for a quote" in result.output
        result = run("customers", "add", db, "--name", "Zed", "--email", "zed@example.com", "--tag", "vip", "--size", "small")
        assert result.exit_code == 0 and "Added customer 3: Zed" in result.output
        result = run("customers", "find", db, "--email", "ZED@example.com")
        assert "Zed" in result.output

    def test_duplicates_and_merge(self, db):
        result = run("customers", "duplicates", db)
        assert "same email (ada@example.com)" in result.output
        result = run("customers", "merge", db, 1, 2)
        assert result.exit_code == 0 and "Merged customer 2 into 1" in result.output
        with crmkit.open(db, plugins=[]) as crm:
            assert crm.customers.count() == 1

    @pytest.mark.parametrize("args, message", [
        (["show", "{db}", "99"], "no customer with id 99"),
        (["show", "{db}", "abc"], "CUSTOMER_ID: 'abc' is not a whole number"),
        (["add", "{db}", "--name", "X", "--email", "bad"], "email: an email address"),
        (["add", "{db}", "--name", "X", "--size", "huge"], "--size"),
        (["find", "{db}"], "give at least one of"),
        (["merge", "{db}", "1", "1"], "a different customer"),
        (["merge", "{db}", "1", "77"], "no customer with id 77"),
        (["list", "{db}", "--limit", "-5"], "--limit"),
    ])
    def test_errors(self, db, args, message):
        before = digest(db)
        assert_error(run("customers", *[a.format(db=db) for a in args]), message)
        assert digest(db) == before


class TestSegments:
    def test_define_count_members_snapshot_diff(self, db):
        assert "Defined segment 'big': 1 members now." in run("segments", "define", db, "big", "ltv >= 100").output
        assert run("segments", "count", db, "big").output.strip() == "1"
        assert run("segments", "count", db, "--rule", "ltv >= 100", "--as-of", "2024-04-30").output.strip() == "0"
        listing = run("segments", "list", db, "--counts").output
        assert "eu" in listing and "European customers" in listing
        assert "Ada Lovelace" in run("segments", "members", db, "eu").output
        assert "Snapshot 1 of 'big' as of 2024-04-30 00:00 UTC: 0 members." in run("segments", "snapshot", db, "big", "--as-of", "2024-04-30").output
        assert "1 members" in run("segments", "snapshot", db, "big").output
        assert "2024-04-30" in run("segments", "snapshots", db, "big").output
        diff = run("segments", "diff", db, 1, 2).output
        assert "1 joined, 0 left, 0 stayed" in diff and "joined: 1" in diff
        assert "Updated segment 'big': ltv >= 50" in run("segments", "update", db, "big", "--rule", "ltv >= 50").output
        assert "Deleted segment 'big'." in run("segments", "delete", db, "big").output

    def test_fields_and_check(self, db):
        fields = run("segments", "fields", db).output
        assert "spend_365d" in fields and "pattern" in fields and "ltv" in fields and "money" in fields
        assert run("segments", "check", db, "ltv>5 and region='EU'").output.startswith("OK: ")
        result = run("segments", "check", db, "ltv >= 5 and regoin = 'EU'")
        assert result.exit_code == 1
        assert "unknown field 'regoin'; did you mean 'region'?" in result.output
        assert "              ^" in result.output  # the caret under the bad field

    @pytest.mark.parametrize("args, message", [
        (["define", "{db}", "eu", "region = 'US'"], "segment 'eu' exists; use segments.update() (crmkit segments update)"),
        (["define", "{db}", "x", "spend_365d >"], "position"),
        (["count", "{db}"], "give a segment NAME or --rule RULE"),
        (["count", "{db}", "nosuch"], "no segment named 'nosuch'"),
        (["update", "{db}", "eu"], "give --rule and/or --description"),
        (["delete", "{db}", "nosuch"], "no segment named 'nosuch'"),
        (["snapshot", "{db}", "eu", "--as-of", "not-a-date"], "--as-of"),
        (["diff", "{db}", "1", "2"], "no snapshot with id 1"),
    ])
    def test_errors(self, db, args, message):
        before = digest(db)
        assert_error(run("segments", *[a.format(db=db) for a in args]), message)
        assert digest(db) == before


class TestTasksDueForget:
    def test_tasks(self, db):
        assert "asked for a quote" in run("tasks", "list", db, "--owner", "rep-1").output
        assert "No open tasks." in run("tasks", "list", db, "--owner", "rep-2").output
        assert "Task 1 (call back) done." in run("tasks", "done", db, 1, "--note", "sent").output
        before = digest(db)
        assert_error(run("tasks", "cancel", db, 1), "task 1 is done, not open")
        assert_error(run("tasks", "done", db, 9), "no task with id 9")
        assert digest(db) == before

    def test_due_prints_each_plugin_and_fails_when_one_fails(self, db, monkeypatch):
        result = run("due", db, "--now", "2025-01-01")
        assert result.exit_code == 0 and "no active plugin has scheduled work" in result.output

        report = crmkit.DueReport(crmkit.open(":memory:", plugins=[]).now(), {"good": {"tasks": 2}}, {"bad": "plugin 'bad' failed in crmkit_due: boom"})
        monkeypatch.setattr(crmkit.CRM, "run_due", lambda self, now=None, progress=None: report)
        result = run("due", db)
        assert "good: tasks=2" in result.output and "bad: FAILED" in result.output
        assert_error(result, "1 plugin(s) failed: bad")

    def test_due_shows_nested_counts_with_their_total(self, db, monkeypatch):
        """A per-level count prints as its total and parts; an empty one as 0, not as nothing."""
        moment = crmkit.open(":memory:", plugins=[]).now()
        results = {"calm": {"escalated": {}, "tasks_created": 0},
                   "busy": {"escalated": {"supervisor": 2, "manager": 1}, "tasks_created": 3}}
        monkeypatch.setattr(crmkit.CRM, "run_due", lambda self, now=None, progress=None: crmkit.DueReport(moment, results, {}))
        result = run("due", db)
        assert result.exit_code == 0, result.output
        assert "  calm: escalated=0, tasks_created=0" in result.output
        assert "  busy: escalated=3 (supervisor=2, manager=1), tasks_created=3" in result.output

    def test_forget_needs_yes(self, db):
        before = digest(db)
        assert_error(run("forget", db, 1), "add --yes to confirm")
        assert_error(run("forget", db, 42, "--yes"), "no customer with id 42")
        assert digest(db) == before
        result = run("forget", db, 1, "--yes")
        assert result.exit_code == 0 and "Forgot customer 1" in result.output
        with crmkit.open(db, plugins=[]) as crm:
            assert crm.customers.get(1).email is None


class TestPluginsAndMigrate:
    def test_plugins_lists_active_and_all(self, monkeypatch):
        assert "No plugin is active." in run("plugins").output
        from crmkit.plugins import installed_entry_points

        installed = sorted(installed_entry_points())
        if installed:
            listing = run("plugins", "--all").output
            assert all(name in listing for name in installed) and "inactive" in listing

    def test_migrate(self, db, tmp_path):
        before = digest(db)
        assert "up to date" in run("migrate", db, "--list").output
        assert "up to date" in run("migrate", db).output
        assert digest(db) == before
        assert_error(run("migrate", tmp_path / "none.db"), "no CRM file at")
