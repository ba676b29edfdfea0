"""`crmkit new-plugin` writes a package that installs with pip and passes its own tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from crmkit import CrmError
from crmkit.scaffold import new_plugin_command, write_plugin


@pytest.mark.slow
def test_generated_package_installs_and_its_tests_pass(tmp_path):
    result = CliRunner().invoke(new_plugin_command, ["visits", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "crmkit-visits"
    assert f"wrote {root}" in result.output
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(site), str(root)],
        check=True, capture_output=True, text=True,
    )
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("CRMKIT_PLUGINS", None)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout


@pytest.mark.parametrize("name", ["Visits", "1abc", "a", "class", "has-dash", ""])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(CrmError, match="plugin name"):
        write_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, message", [
    ("loyalty", "Error: plugin name 'loyalty' is taken by the installed plugin crmkit_loyalty.plugin; choose another name"),
    ("jupyter", "Error: plugin name 'jupyter': a module crmkit_jupyter is already installed; choose another name"),
])
def test_names_of_installed_plugins_and_modules_are_refused(tmp_path, name, message):
    """A second 'loyalty' would clash with the built-in entry point and shadow its package."""
    result = CliRunner().invoke(new_plugin_command, [name, "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == message
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_never_overwritten(tmp_path):
    write_plugin("visits", tmp_path)
    (tmp_path / "crmkit-visits" / "README.md").write_text("mine")
    result = CliRunner().invoke(new_plugin_command, ["visits", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists" in result.output
    assert (tmp_path / "crmkit-visits" / "README.md").read_text() == "mine"


def test_missing_folder(tmp_path):
    with pytest.raises(CrmError, match="does not exist"):
        write_plugin("visits", tmp_path / "nope")


def test_the_next_step_names_the_folder_as_a_path(tmp_path, monkeypatch):
    """pip reads `crmkit-visits[test]` as a package to download; the printed command must name
    the folder (`./crmkit-visits`) so it runs as shown."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(new_plugin_command, ["visits", "--dir", "."])
    assert result.exit_code == 0, result.output
    assert "next: pip install -e './crmkit-visits[test]' && pytest ./crmkit-visits/tests" in result.output
