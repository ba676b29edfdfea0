"""A CRM knows its variant: the plugin set chosen at creation is stored and used by every open."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli


@pytest.fixture(autouse=True)
def no_allow_list(monkeypatch, tmp_path):
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    monkeypatch.delenv("CRMKIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def _names(path) -> list[str]:
    with crmkit.open(path) as crm:
        return crm.plugins.names()


def test_a_new_crm_remembers_the_plugins_it_was_created_with(crm_path):
    crmkit.open(crm_path, plugins=["loyalty"]).close()
    assert _names(crm_path) == ["loyalty"]
    with crmkit.open(crm_path) as crm:
        assert crm.settings.get("plugins") == ["loyalty"]
        assert not crm.db["leads_leads"].exists()  # an installed plugin outside the set adds nothing


def test_a_new_crm_without_a_choice_gets_every_installed_plugin(crm_path):
    from crmkit.plugins import installed_entry_points

    assert _names(crm_path) == sorted(installed_entry_points())


def test_an_old_crm_without_the_setting_keeps_the_plugins_whose_tables_it_holds(crm_path):
    with crmkit.open(crm_path, plugins=["loyalty"]) as crm:
        with crm.transaction():
            crm.db.execute("DELETE FROM settings WHERE key = 'plugins'")
    # loyalty has its migrations here; reports keeps no tables; leads and complaints have none here
    assert sorted(_names(crm_path)) == ["loyalty", "reports"]


def test_plugins_add_and_remove_from_the_command_line(crm_path):
    crmkit.open(crm_path, plugins=["loyalty"]).close()
    runner = CliRunner()
    shown = runner.invoke(make_cli(), ["plugins", str(crm_path)])
    assert shown.exit_code == 0 and "loyalty" in shown.output and "leads" not in shown.output
    added = runner.invoke(make_cli(), ["plugins", "add", str(crm_path), "leads"])
    assert added.exit_code == 0, added.output
    with crmkit.open(crm_path) as crm:
        assert crm.plugins.names() == ["leads", "loyalty"] and crm.db["leads_leads"].exists()
    removed = runner.invoke(make_cli(), ["plugins", "remove", str(crm_path), "leads"])
    assert removed.exit_code == 0 and "stay in the file" in removed.output
    with crmkit.open(crm_path) as crm:
        assert crm.plugins.names() == ["loyalty"]
        assert crm.db["leads_leads"].exists()  # the data is kept
        assert crm.audit.query(entity="setting", entity_id="plugins", action="setting.set")  # audited


@pytest.mark.parametrize("args, message", [
    (["add", "{db}", "nope"], "unknown plugin 'nope'"),
    (["remove", "{db}", "leads"], "not in"),
    (["add", "{db}", "loyalty"], "already in"),
])
def test_bad_plugin_changes_are_one_error_line_and_change_nothing(crm_path, args, message):
    crmkit.open(crm_path, plugins=["loyalty"]).close()
    result = CliRunner().invoke(make_cli(), ["plugins", *[a.format(db=crm_path) for a in args]])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert result.output.count("\n") == 1
    assert _names(crm_path) == ["loyalty"]
