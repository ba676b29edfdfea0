"""Assembled variants: a team picks plugins by argument, environment or settings file, and the
plugins left out leave no tables and no commands behind."""

from __future__ import annotations

import pytest

import crmkit
from crmkit.cli import make_cli

SERVICE_DESK = ["complaints", "reports"]
SALES_TEAM = ["leads", "reports"]


def plugin_tables(crm) -> set[str]:
    names = set(crm.db.table_names())
    return {name.split("_")[0] for name in names if name.split("_")[0] in {"leads", "loyalty", "complaints", "reports"}}


@pytest.fixture(autouse=True)
def no_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    monkeypatch.delenv("CRMKIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("variant", [SERVICE_DESK, SALES_TEAM], ids=["service-desk", "sales-team"])
def test_variant_by_argument(variant, crm_path, clock):
    with crmkit.open(crm_path, plugins=variant, clock=clock) as crm:
        assert crm.plugins.names() == variant
        left_out = {"leads", "loyalty", "complaints", "reports"} - set(variant)
        assert not plugin_tables(crm) & left_out
        for name in left_out:
            assert not hasattr(crm, name)


def test_variant_by_settings_file_beside_the_database(tmp_path, clock):
    folder = tmp_path / "desk"
    folder.mkdir()
    (folder / "crmkit.toml").write_text('[crmkit]\nplugins = ["complaints", "reports"]\n')
    with crmkit.open(folder / "desk.db", clock=clock) as crm:
        assert crm.plugins.names() == SERVICE_DESK


def test_settings_file_named_by_environment_and_the_cli_follows_it(tmp_path, monkeypatch):
    config = tmp_path / "sales.toml"
    config.write_text('[crmkit]\nplugins = ["leads", "reports"]\n')
    monkeypatch.setenv("CRMKIT_CONFIG", str(config))
    commands = set(make_cli().commands)
    assert "complaints" not in commands and "loyalty" not in commands
    assert {"segments", "customers"} <= commands


def test_argument_beats_environment_beats_file(tmp_path, monkeypatch, clock):
    (tmp_path / "crmkit.toml").write_text('[crmkit]\nplugins = ["leads"]\n')
    with crmkit.open(tmp_path / "a.db", clock=clock) as crm:
        assert crm.plugins.names() == ["leads"]
    monkeypatch.setenv("CRMKIT_PLUGINS", "reports")
    with crmkit.open(tmp_path / "a.db", clock=clock) as crm:
        assert crm.plugins.names() == ["reports"]
    with crmkit.open(tmp_path / "a.db", plugins=[], clock=clock) as crm:
        assert crm.plugins.names() == []


@pytest.mark.parametrize(
    "text, message",
    [
        ('[crmkit]\nplugins = "leads"\n', "must be a list"),
        ("[crmkit\n", "cannot read settings file"),
        ('[crmkit]\nplugins = ["nope"]\n', "unknown plugin 'nope'"),
    ],
)
def test_bad_settings_file_is_a_clear_error(tmp_path, clock, text, message):
    (tmp_path / "crmkit.toml").write_text(text)
    with pytest.raises(crmkit.CrmError, match=message):
        crmkit.open(tmp_path / "a.db", clock=clock)
    assert not (tmp_path / "a.db").exists()


def test_missing_config_named_by_environment(tmp_path, monkeypatch, clock):
    monkeypatch.setenv("CRMKIT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(crmkit.CrmError, match="not a file"):
        crmkit.open(tmp_path / "a.db", clock=clock)
