"""The example third-party plugin installs with pip like any package and works end to end:
found through its entry point, its own tests pass, its CLI, field and report section appear."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.testing import FixedClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "crmkit-competitors"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example built and installed with pip into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )
    return target


@pytest.fixture
def on_path(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    return installed


@pytest.mark.slow
def test_entry_point_is_discovered_with_its_version(on_path, tmp_path):
    with crmkit.open(tmp_path / "a.db", clock=FixedClock("2025-03-01")) as crm:
        info = {p.name: p for p in crm.plugins.info()}
        assert info["competitors"].version == "0.1.0"
        assert "crmkit_fields" in info["competitors"].hooks
        assert crm.fields.get("lost_to_competitor").plugin == "competitors"


@pytest.mark.slow
def test_its_own_test_suite_passes(installed):
    env = dict(os.environ, PYTHONPATH=str(installed))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True, text=True, env=env, cwd=installed,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


@pytest.mark.slow
def test_end_to_end_with_the_built_in_plugins(on_path, tmp_path):
    path = tmp_path / "shop.db"
    with crmkit.open(path, clock=FixedClock("2025-03-01")) as crm:
        ann = crm.customers.add(name="Ann")
        crm.competitors.add("Acme CRM", positioning="budget")
        crm.competitors.link(ann.id, "Acme CRM", "lost_to")
        assert crm.segments.define("lost", "lost_to_competitor is not null").count() == 1
    result = CliRunner().invoke(make_cli(), ["competitors", "stats", str(path)])
    assert result.exit_code == 0, result.output
    assert "Acme CRM\t1\t0\t0" in result.output


def test_disabled_plugin_leaves_no_trace(tmp_path):
    """Without the package on the path (or not selected), crmkit knows nothing of it."""
    with crmkit.open(tmp_path / "b.db", plugins=[], clock=FixedClock("2025-03-01")) as crm:
        assert "lost_to_competitor" not in crm.fields
        with pytest.raises(AttributeError):
            crm.competitors
