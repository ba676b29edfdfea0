"""The small promises of issue 16, each with the test that would have caught its break: churn
warnings without a limit, one error line for a plugin not active in a file, read-only commands
that write nothing unless asked, dates far in the future on import."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import crmkit
from crmkit.cli import make_cli
from crmkit.importing import import_file
from crmkit.plugins import installed_entry_points
from crmkit.testing import FixedClock

from .helpers import file_state

PLUGINS = sorted(installed_entry_points())
NOW = "2024-06-01T09:00:00Z"
needs_loyalty = pytest.mark.skipif("loyalty" not in PLUGINS, reason="needs the loyalty plugin")


def invoke(*args, plugins: str | None = None):
    env = {} if plugins is None else {"CRMKIT_PLUGINS": plugins}
    return CliRunner().invoke(make_cli(), [str(a) for a in args], env=env)


@pytest.fixture
def shop(tmp_path):
    """A file with every plugin and customers who bought, long ago and lately."""
    path = tmp_path / "shop.db"
    with crmkit.open(path, plugins=PLUGINS, clock=FixedClock(NOW)) as crm:
        crm.settings.set("core.frozen_at", NOW)
        for i in range(1, 13):
            person = crm.customers.add(name=f"Customer {i}")
            crm.interactions.record(person.id, "purchase", f"2023-{i:02d}-10", amount="20.00")
            if i % 3 == 0:
                crm.interactions.record(person.id, "purchase", "2024-05-31", amount="35.00")
    return path



@needs_loyalty
def test_churn_without_a_limit_lists_every_warning(tmp_path):
    """limit=None raised sqlite3.IntegrityError (datatype mismatch)."""
    with crmkit.open(tmp_path / "c.db", plugins=["loyalty"], clock=FixedClock(NOW)) as crm:
        for i in range(5):
            crm.interactions.record(crm.customers.add(name=f"C{i}").id, "purchase", "2023-01-01", amount="5.00")
        everyone = crm.loyalty.churn(limit=None)
        assert len(everyone) == len(crm.loyalty.churn(limit=1000)) > 2
        assert len(crm.loyalty.churn_warnings(limit=None)) == len(everyone)
        assert len(crm.loyalty.churn(limit=2)) == 2
        with pytest.raises(crmkit.ValidationError, match="limit"):
            crm.loyalty.churn(limit=-1)


@pytest.mark.parametrize("plugin, command", [
    ("leads", ["leads", "pool"]), ("leads", ["leads", "reps"]), ("loyalty", ["loyalty", "rfm"]),
    ("loyalty", ["loyalty", "churn"]), ("loyalty", ["loyalty", "cadence"]), ("complaints", ["complaints", "list"]),
])
def test_a_plugin_not_active_in_the_file_is_one_error_line(tmp_path, plugin, command):
    """Leads and loyalty ended in an AttributeError traceback."""
    if plugin not in PLUGINS:
        pytest.skip(f"needs the {plugin} plugin")
    path = tmp_path / "bare.db"
    crmkit.open(path, plugins=[]).close()
    others = ",".join(p for p in PLUGINS if p != plugin)
    result = invoke(*command[:1], *command[1:], path, plugins=others)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [f"Error: the {plugin} plugin is not active in {path}"]


@needs_loyalty
class TestReadOnlyCommandsWriteNothing:
    def test_loyalty_rfm_stores_only_with_store(self, shop):
        """It stored a run unless --no-store."""
        before = file_state(shop)
        shown = invoke("loyalty", "rfm", shop)
        assert shown.exit_code == 0, shown.output
        assert file_state(shop) == before
        stored = invoke("loyalty", "rfm", shop, "--store")
        assert stored.exit_code == 0, stored.output
        with crmkit.open(shop) as crm:
            assert len(crm.loyalty.runs("rfm")) == 1
        assert "--store" in invoke("loyalty", "rfm", "--help").output

    def test_loyalty_cadence_creates_tasks_only_with_create(self, shop):
        """It created every owed task when run to look at the rules."""
        before = file_state(shop)
        shown = invoke("loyalty", "cadence", shop, "--now", NOW)
        assert shown.exit_code == 0 and "would create" in shown.output, shown.output
        assert file_state(shop) == before
        created = invoke("loyalty", "cadence", shop, "--now", NOW, "--create")
        assert created.exit_code == 0 and "created" in created.output, created.output
        with crmkit.open(shop) as crm:
            assert crm.tasks.open()
        assert "--create" in invoke("loyalty", "cadence", "--help").output


class TestDatesFarInTheFuture:
    ROWS = "customer_id,kind,occurred_at,amount\n1,purchase,2024-05-01,10.00\n1,purchase,2099-05-01,10.00\n1,purchase,9999-01-01,1\n"

    def setup_file(self, tmp_path):
        data = tmp_path / "orders.csv"
        data.write_text(self.ROWS, encoding="utf-8")
        path = tmp_path / "crm.db"
        with crmkit.open(path, plugins=[], clock=FixedClock(NOW)) as crm:
            crm.settings.set("core.frozen_at", NOW)
            crm.customers.add(name="Ann")
        return path, data

    def test_max_future_refuses_them(self, tmp_path):
        path, data = self.setup_file(tmp_path)
        with crmkit.open(path, plugins=[]) as crm:
            with pytest.raises(crmkit.ImportRefused) as refused:
                import_file(crm, data, kind="interactions", max_future=30)
            assert [(p.row, p.field) for p in refused.value.problems] == [(3, "occurred_at"), (4, "occurred_at")]
            assert crm.interactions.count() == 0

    def test_without_it_they_import_with_a_warning(self, tmp_path):
        """2099 and 9999 imported without a word."""
        path, data = self.setup_file(tmp_path)
        result = invoke("import", path, data, "--kind", "interactions", plugins="")
        assert result.exit_code == 0, result.output
        assert "Warning: 2 row(s) dated more than a day in the future (rows 3, 4)" in result.output
        refused = invoke("import", path, data, "--kind", "interactions", "--max-future", "30", plugins="")
        assert refused.exit_code == 1 and "more than 30 day(s) in the future" in refused.output
