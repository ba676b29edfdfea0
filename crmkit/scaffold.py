"""``crmkit new-plugin``: write a ready plugin package that installs with pip and passes its tests."""

from __future__ import annotations

import importlib.util
import keyword
import re
from pathlib import Path

import click

from .errors import CrmError

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")


def _files(name: str) -> dict[str, str]:
    package = f"crmkit_{name}"
    title = name.replace("_", " ").title()
    return {
        "pyproject.toml": f'''[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[project]
name = "crmkit-{name.replace("_", "-")}"
version = "0.1.0"
description = "{title}: a crmkit plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["crmkit>=0.1"]

[project.optional-dependencies]
test = ["pytest>=8.0", "crmkit[server]", "httpx>=0.27"]

# crmkit finds plugins through this entry point group.
[project.entry-points.crmkit]
{name} = "{package}.plugin"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]
''',
        "README.md": f"""# crmkit-{name.replace("_", "-")}

A crmkit plugin. Install it next to crmkit and it is active in every CRM:

```console
$ pip install .
$ crmkit plugins
$ crmkit {name} count shop.db
```

Run its tests with `pip install '.[test]' && pytest`.
""",
        f"{package}/__init__.py": f'"""{title}: a crmkit plugin."""\n\n__version__ = "0.1.0"\n',
        f"{package}/schema.py": f'''"""The plugin's tables: its own migration set. Append migrations, never edit one."""

from crmkit import Migrations
from crmkit.engine import Database

migrations = Migrations("{package}")


@migrations()
def m001_marks(db: Database) -> None:
    db["{name}_marks"].create(
        {{"id": int, "customer_id": int, "interaction_id": int, "marked_at": str}},
        pk="id",
        foreign_keys=[("customer_id", "customers", "id")],
    )
    db["{name}_marks"].create_index(["customer_id"])
''',
        f"{package}/plugin.py": f'''"""Hook implementations of the {name} plugin.

It marks every purchase, offers the segment field `{name}_marks`, creates a follow-up task for
customers with three marks or more, contributes a report section and a CLI command. Replace the
marking rule with your own.
"""

from __future__ import annotations

import click

from crmkit import Field, Section, hookimpl
from crmkit.cli import db_argument, open_crm
from crmkit.store import unindexed

from .schema import migrations


@hookimpl
def crmkit_migrations():
    return migrations


@hookimpl
def crmkit_fields(crm):
    return [Field(
        "{name}_marks", "number", "Purchases marked by the {name} plugin.",
        "(SELECT count(*) FROM {name}_marks m WHERE m.customer_id = c.id AND m.marked_at <= :as_of)",
    )]


@hookimpl
def crmkit_interactions_recorded(crm, interactions):
    # One set-based statement per batch, never one per row.
    first, last = interactions[0].id, interactions[-1].id
    # unindexed(): the batch is read by its id range, not through the index on kind.
    crm.db.execute(
        "INSERT INTO {name}_marks(customer_id, interaction_id, marked_at) "
        "SELECT customer_id, id, occurred_at FROM interactions "
        f"WHERE id BETWEEN ? AND ? AND {{unindexed('kind')}} = 'purchase'",
        [first, last],
    )


@hookimpl
def crmkit_due(crm, now):
    rows = [
        {{"kind": "{name} follow-up", "customer_id": customer_id, "owner": owner, "due_at": now,
         "source": "{name}", "key": f"{name}:{{customer_id}}"}}
        for customer_id, owner in crm.db.execute(
            "SELECT c.id, c.owner FROM customers c WHERE "
            "(SELECT count(*) FROM {name}_marks m WHERE m.customer_id = c.id) >= 3"
        )
    ]
    return {{"tasks_created": crm.tasks.create_many(rows)}}


@hookimpl
def crmkit_report_sections(crm, as_of):
    marks = crm.segments.evaluate("{name}_marks >= 1", as_of=as_of).count()
    return [Section("{name}.summary", "{title}", figures={{"customers_marked": marks}})]


@hookimpl
def crmkit_customers_merged(crm, kept_id, merged_id):
    crm.db.execute("UPDATE {name}_marks SET customer_id = ? WHERE customer_id = ?", [kept_id, merged_id])


@hookimpl
def crmkit_customer_forgotten(crm, customer_id):
    pass  # the marks hold no personal data


@click.group("{name}")
def {name}_group():
    """Commands of the {name} plugin."""


@{name}_group.command("count")
@db_argument
def count(db):
    """Count customers with at least one mark."""
    with open_crm(db) as crm:
        click.echo(crm.segments.evaluate("{name}_marks >= 1").count())


@hookimpl
def crmkit_commands(cli):
    cli.add_command({name}_group)


@hookimpl
def crmkit_permissions():
    from crmkit import Permission

    return [Permission("{name}.read", "See the {name} marks", {{"manager", "rep", "analyst"}}, write=False)]


@hookimpl
def crmkit_routes(crm):
    from . import routes  # FastAPI only where `crmkit serve` runs

    return [routes.router]
''',
        f"{package}/routes.py": f'''"""The {name} plugin's HTTP routes, mounted by `crmkit serve`."""

from fastapi import APIRouter, Depends

from crmkit_api.toolkit import Caller, CustomerId, caller

router = APIRouter(prefix="/{name}", tags=["{name}"])


@router.get("/customers/{{customer_id}}/marks", summary="How many marks a customer has")
def marks(customer_id: CustomerId, c: Caller = Depends(caller)) -> dict:
    with c.session("{name}.read") as crm:
        c.check_customer(crm, customer_id)
        count = crm.db.execute("SELECT count(*) FROM {name}_marks WHERE customer_id = ?", [customer_id]).fetchone()[0]
        return {{"customer_id": customer_id, "marks": count}}
''',
        "tests/test_plugin.py": f'''"""Tests of the {name} plugin, against a real CRM file."""

from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.testing import FixedClock


def make_crm(path):
    return crmkit.open(path, plugins=["{name}"], clock=FixedClock("2025-03-01"))


def test_purchases_are_marked_and_usable_in_rules(tmp_path):
    with make_crm(tmp_path / "crm.db") as crm:
        ada = crm.customers.add(name="Ada", owner="rep-1")
        crm.interactions.record_many([
            {{"customer_id": ada.id, "kind": "purchase", "amount": "10", "occurred_at": f"2025-01-0{{d}}"}}
            for d in (1, 2, 3)
        ] + [{{"customer_id": ada.id, "kind": "call", "occurred_at": "2025-01-04"}}])
        assert crm.segments.evaluate("{name}_marks = 3").count() == 1


def test_due_work_is_idempotent(tmp_path):
    with make_crm(tmp_path / "crm.db") as crm:
        ada = crm.customers.add(name="Ada", owner="rep-1")
        for day in (1, 2, 3):
            crm.interactions.record(ada.id, "purchase", f"2025-01-0{{day}}", amount="10")
        assert crm.run_due().results["{name}"] == {{"tasks_created": 1}}
        assert crm.run_due().results["{name}"] == {{"tasks_created": 0}}


def test_cli_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "{name}")
    path = tmp_path / "crm.db"
    make_crm(path).close()
    result = CliRunner().invoke(make_cli(), ["{name}", "count", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0"


def test_http_route_checks_token_and_scope(tmp_path):
    from fastapi.testclient import TestClient
    from crmkit_api import create_app

    with make_crm(tmp_path / "crm.db") as crm:
        crm.users.add("rep-1", "Rep One")
        token = crm.users.issue_token("rep-1")[1]
        ada = crm.customers.add(name="Ada", owner="rep-1")
        bob = crm.customers.add(name="Bob", owner="rep-2")
        crm.interactions.record(ada.id, "purchase", "2025-01-01", amount="10")
        client = TestClient(create_app(crm))
        assert client.get(f"/{name}/customers/{{ada.id}}/marks").status_code == 401
        client.headers["Authorization"] = f"Bearer {{token}}"
        assert client.get(f"/{name}/customers/{{ada.id}}/marks").json() == {{"customer_id": ada.id, "marks": 1}}
        assert client.get(f"/{name}/customers/{{bob.id}}/marks").status_code == 403
''',
    }


def write_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write the package ``crmkit-<name>`` into ``directory``; returns its folder.

    ``name`` is the plugin's entry point name: lower-case letters, digits and ``_``. An existing
    folder is never overwritten.
    """
    if not _NAME.match(name or "") or keyword.iskeyword(name):
        raise CrmError(f"plugin name {name!r}: use 2-31 lower-case letters, digits and _, starting with a letter")
    _refuse_taken(name)
    root = Path(directory) / f"crmkit-{name.replace('_', '-')}"
    if root.exists():
        raise CrmError(f"{root} exists; choose another name or folder")
    if not Path(directory).is_dir():
        raise CrmError(f"folder {directory} does not exist")
    for relative, text in _files(name).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def _refuse_taken(name: str) -> None:
    """A name an installed plugin has, or whose module ``crmkit_<name>`` exists, would clash:
    two entry points of one name, or the new package shadowing (or shadowed by) the old one."""
    from .plugins import installed_entry_points

    taken = installed_entry_points().get(name)
    if taken is not None:
        raise CrmError(f"plugin name {name!r} is taken by the installed plugin {taken.value}; choose another name")
    try:
        found = importlib.util.find_spec(f"crmkit_{name}")
    except (ImportError, ValueError):
        found = None
    if found is not None:
        raise CrmError(f"plugin name {name!r}: a module crmkit_{name} is already installed; choose another name")


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False), help="Folder to write the package into.")
def new_plugin_command(name: str, directory: str) -> None:
    """Write a ready plugin package crmkit-NAME (pyproject with the entry point, hooks, a
    migration, a CLI command and tests) that installs with pip and passes its tests."""
    try:
        root = write_plugin(name, directory)
    except CrmError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {root}")
    # pip reads a bare name as a package to download: the folder needs a path (./name)
    folder = root if root.is_absolute() or str(root).startswith(".") else f"./{root}"
    click.echo(f"next: pip install -e '{folder}[test]' && pytest {folder}/tests")
