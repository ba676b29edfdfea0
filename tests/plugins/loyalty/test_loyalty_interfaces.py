"""The loyalty plugin's CLI, report sections, interaction kinds, merges and demo data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

import crmkit
from crmkit import ValidationError
from crmkit.cli import make_cli
from crmkit.testing import FixedClock


@pytest.fixture
def shop_file(crm_path):
    """A CRM file (loyalty only) of 30 customers with repeat purchases, tiers defined."""
    crm = crmkit.open(crm_path, plugins=["loyalty"], clock=FixedClock("2025-01-01T09:00:00Z"))
    ids = [crm.customers.add(name=f"c{i}", owner="ann").id for i in range(30)]
    start = crm.now() - timedelta(days=300)
    crm.interactions.record_many(
        {"customer_id": cid, "kind": "purchase", "occurred_at": start + timedelta(days=k * 3 + n * (20 + k)),
         "amount": f"{10 + k}.50", "category": ["shoes", "socks", "hats"][(k + n) % 3]}
        for k, cid in enumerate(ids) for n in range(k % 5 + 1)
    )
    crm.loyalty.tiers.define([{"name": "silver", "metric": "spend", "threshold": 50}])
    crm.close()
    return crm_path


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setenv("CRMKIT_PLUGINS", "loyalty")
    runner = CliRunner()
    command = make_cli()
    return lambda *args: runner.invoke(command, [str(a) for a in args], catch_exceptions=False)


class TestCli:
    def test_every_command_has_help(self, cli):
        for name in ("rfm", "pareto", "tiers", "points", "churn", "cadence", "clv"):
            result = cli("loyalty", name, "--help")
            assert result.exit_code == 0 and "Usage:" in result.output
            assert len(result.output.splitlines()) > 3

    def test_commands_on_a_file(self, cli, shop_file):
        as_of = "2025-01-01T09:00:00Z"
        result = cli("loyalty", "rfm", shop_file, "--as-of", as_of)
        assert result.exit_code == 0 and "30 customers" in result.output and "champions" in result.output
        result = cli("loyalty", "pareto", shop_file, "--as-of", as_of)
        assert result.exit_code == 0 and "gini" in result.output
        result = cli("loyalty", "tiers", shop_file, "--as-of", as_of, "--evaluate")
        assert result.exit_code == 0 and "upgrades" in result.output and "silver" in result.output
        result = cli("loyalty", "points", shop_file, "--as-of", as_of)
        assert result.exit_code == 0 and "spendable:" in result.output
        result = cli("loyalty", "points", shop_file, 1, "--as-of", as_of)
        assert result.exit_code == 0 and "earn" in result.output
        result = cli("loyalty", "churn", shop_file, "--as-of", as_of, "--level", "low")
        assert result.exit_code == 0
        result = cli("loyalty", "cadence", shop_file, "--now", as_of, "--dry-run")
        assert result.exit_code == 0 and "thank_you" in result.output and "would create" in result.output
        result = cli("loyalty", "clv", shop_file, "--as-of", as_of, "--top", 3)
        assert result.exit_code == 0 and "BG/NBD r=" in result.output

    def test_redeem_with_key_and_user_errors_are_one_line(self, cli, shop_file):
        at = ("--as-of", "2025-01-01T09:00:00Z")
        result = cli("loyalty", "points", shop_file, 2, "--redeem", 5, "--key", "cli-1", *at)
        assert result.exit_code == 0 and "redeem -5" in result.output
        again = cli("loyalty", "points", shop_file, 2, "--redeem", 5, "--key", "cli-1", *at)
        assert again.exit_code == 0 and again.output.splitlines()[0] == result.output.splitlines()[0]
        crm = crmkit.open(shop_file, plugins=["loyalty"])
        before = crm.db.execute("SELECT COUNT(*) FROM loyalty_points").fetchone()[0]
        crm.close()
        for args, message in (
            (("points", shop_file, 2, "--redeem", 10**9, "--key", "cli-2", *at), "spendable points"),
            (("points", shop_file, 2, "--redeem", 5), "--key"),
            (("points", shop_file, "--redeem", 5, "--key", "x"), "customer_id"),
            (("rfm", shop_file, "--window", 0), "window_days"),
            (("rfm", shop_file.parent / "missing.db"), "no CRM file"),
        ):
            failed = cli("loyalty", *args)
            assert failed.exit_code == 1, failed.output
            assert message in failed.output and len(failed.output.strip().splitlines()) == 1
        crm = crmkit.open(shop_file, plugins=["loyalty"])
        assert crm.db.execute("SELECT COUNT(*) FROM loyalty_points").fetchone()[0] == before
        crm.close()

    def test_rfm_methods_and_saved_default(self, cli, shop_file):
        at = ("--as-of", "2025-01-01T09:00:00Z", "--no-store")
        shown = cli("loyalty", "rfm", shop_file, *at)
        assert shown.exit_code == 0 and ", quantiles: 30 customers" in shown.output and "cut points: R below" in shown.output
        shown = cli("loyalty", "rfm", shop_file, *at, "--method", "ntile")
        assert shown.exit_code == 0 and ", ntile: 30 customers" in shown.output and "cut points" not in shown.output
        cuts = "r=30,90,180,365 f=2,3,5,8 m=50,100,250,500"
        shown = cli("loyalty", "rfm", shop_file, *at, "--thresholds", cuts, "--save")
        assert shown.exit_code == 0 and "thresholds" in shown.output and "M at least 50/100/250/500 USD" in shown.output
        with crmkit.open(shop_file, plugins=["loyalty"]) as crm:
            assert crm.loyalty.rfm_method() == "thresholds" and not crm.loyalty.runs("rfm")
        assert ", thresholds: 30" in cli("loyalty", "rfm", shop_file, *at).output

    def test_rfm_method_errors_are_one_line_and_write_nothing(self, cli, shop_file):
        with crmkit.open(shop_file, plugins=["loyalty"]) as crm:
            before = crm.settings.all()
        for args, message in (
            (("--method", "deciles"), "deciles"),
            (("--method", "thresholds"), "cut points for method 'thresholds'"),
            (("--thresholds", "r=1,2,3 f=1,2,3,4 m=1,2,3,4"), "four strictly ascending"),
            (("--thresholds", "r=1,2,3,4 f=1,2,3,4"), "each of r, f and m"),
            (("--thresholds", "r=a,b,c,d f=1,2,3,4 m=1,2,3,4"), "whole numbers"),
            (("--thresholds", "r=1,2,3,4 f=1,2,3,4 m=1,2,x,4"), "thresholds.m"),
            (("--method", "ntile", "--thresholds", "r=1,2,3,4 f=1,2,3,4 m=1,2,3,4"), "only with --method thresholds"),
            (("--save",), "--method"),
            (("--method", "thresholds", "--save"), "cut points"),
        ):
            failed = cli("loyalty", "rfm", shop_file, *args)
            assert failed.exit_code != 0, (args, failed.output)
            assert message in failed.output and len(failed.output.strip().splitlines()) == 1, failed.output
            assert "Traceback" not in failed.output and "Error:" in failed.output
        with crmkit.open(shop_file, plugins=["loyalty"]) as crm:
            assert crm.settings.all() == before and not crm.loyalty.runs("rfm")

    def test_clv_with_too_few_customers_is_one_line(self, cli, crm_path):
        crmkit.open(crm_path, plugins=["loyalty"]).close()
        failed = cli("loyalty", "clv", crm_path)
        assert failed.exit_code == 1 and "CLV needs at least 10 customers" in failed.output


    @pytest.mark.parametrize("args, message", [
        (("pareto", "--top", "abc"), "top: a fraction above 0 and at most 1"),
        (("pareto", "--top", "nan"), "top: a fraction above 0 and at most 1"),
        (("clv", "--discount", "abc"), "discount_rate: a monthly rate from 0 to below 1"),
        (("clv", "--top", "-1"), "--top: -1 is not in the range"),
        (("churn", "--limit", "-1"), "--limit: -1 is not in the range"),
    ])
    def test_bad_numbers_are_one_line_and_store_no_run(self, cli, shop_file, args, message):
        """A number the command cannot use is one Error line and exit status 1; no run is stored."""
        command, *options = args
        failed = cli("loyalty", command, shop_file, "--as-of", "2025-01-01T09:00:00Z", *options)
        assert failed.exit_code == 1, failed.output
        assert failed.output.strip().splitlines() == [failed.output.strip()] and failed.output.startswith("Error: ")
        assert message in failed.output and "Traceback" not in failed.output
        with crmkit.open(shop_file, plugins=["loyalty"]) as crm:
            assert crm.db.execute("SELECT COUNT(*) FROM loyalty_runs").fetchone()[0] == 0

    def test_clv_top_lists_that_many_customers(self, cli, shop_file):
        """--top N lists the N customers of highest CLV; --top 0 only the totals, as --limit 0 does."""
        for top, rows in ((3, 3), (0, 0)):
            shown = cli("loyalty", "clv", shop_file, "--as-of", "2025-01-01T09:00:00Z", "--top", top).output.splitlines()
            table = shown[shown.index(next(line for line in shown if line.startswith("30 customers"))) + 1:]
            assert len(table) == (1 + rows if rows else 0), shown  # a header and the rows


class TestNumberArguments:
    @pytest.mark.parametrize("call, message", [
        (lambda crm: crm.loyalty.pareto(top="abc"), "top"),
        (lambda crm: crm.loyalty.pareto(top="NaN"), "top"),
        (lambda crm: crm.loyalty.pareto(top=True), "top"),
        (lambda crm: crm.loyalty.clv(discount_rate="abc"), "discount_rate"),
        (lambda crm: crm.loyalty.clv(discount_rate="sNaN"), "discount_rate"),
        (lambda crm: crm.loyalty.clv(discount_rate=True), "discount_rate"),
        (lambda crm: crm.loyalty.upsell_candidates(closeness="abc"), "closeness"),
        (lambda crm: crm.loyalty.upsell_candidates(closeness="nan"), "closeness"),
        (lambda crm: crm.loyalty.churn(limit=-1), "limit"),
    ])
    def test_unreadable_numbers_are_validation_errors_and_write_nothing(self, crm, snapshot, call, message):
        """Text that is no number, NaN or a bool is a ValidationError naming the argument,
        raised before anything is computed or stored."""
        cid = crm.customers.add(name="x").id
        crm.interactions.record(cid, "purchase", "2024-12-01", amount="70.00")
        before = snapshot(crm)
        with pytest.raises(ValidationError, match=f"^{message}: "):
            call(crm)
        assert snapshot(crm) == before


class TestReportSections:
    def test_sections_read_only(self, shop_file):
        crm = crmkit.open(shop_file, plugins=["loyalty"], clock=FixedClock("2025-01-01T09:00:00Z"))
        crm.loyalty.tiers.evaluate()
        crm.loyalty.warn()
        crm.loyalty.clv()
        runs_before = crm.db.execute("SELECT COUNT(*) FROM loyalty_runs").fetchone()[0]
        sections = crm.plugins.call("crmkit_report_sections", crm=crm, as_of=crm.now())[0]
        keyed = {s.key: s for s in sections}
        assert set(keyed) == {"loyalty.rfm", "loyalty.tiers", "loyalty.points", "loyalty.clv", "loyalty.churn"}
        assert sum(r["customers"] for r in keyed["loyalty.rfm"].rows) == 30
        assert keyed["loyalty.tiers"].figures["upgrades (365 days)"] == crm.loyalty.tiers.movement()["upgrades"]
        assert keyed["loyalty.points"].figures["spendable points"] == crm.loyalty.points.liability().spendable
        assert sum(r["customers"] for r in keyed["loyalty.clv"].rows) == 30
        assert crm.db.execute("SELECT COUNT(*) FROM loyalty_runs").fetchone()[0] == runs_before
        crm.close()


class TestHooks:
    def test_tier_kinds_validate_their_data(self, crm):
        cid = crm.customers.add(name="x").id
        with pytest.raises(ValidationError, match="data.reason"):
            crm.interactions.record(cid, "tier_upgrade", data={"from": None, "to": "gold"})
        assert "tier_upgrade" in crm.kinds and "tier_downgrade" in crm.kinds

    def test_merge_moves_history_and_stored_runs(self, crm):
        keep = crm.customers.add(name="keep").id
        dup = crm.customers.add(name="dup").id
        crm.interactions.record(dup, "purchase", "2024-12-01", amount="70.00")
        crm.loyalty.tiers.define([{"name": "silver", "metric": "spend", "threshold": 50}])
        crm.loyalty.tiers.evaluate()
        crm.loyalty.rfm()
        crm.customers.merge(keep, dup)
        assert crm.loyalty.tiers.of(keep) == "silver"
        assert [s.customer_id for s in crm.loyalty.rfm_scores()] == [keep]
        assert crm.loyalty.points.balance(keep) == 70

    @pytest.mark.slow
    def test_demo_data_is_deterministic(self, tmp_path):
        from crmkit import demo

        summaries = []
        for name in ("a.db", "b.db"):
            demo.build(tmp_path / name, customers=150, seed=3, replace=True, plugins=["loyalty"])
            crm = crmkit.open(tmp_path / name, plugins=["loyalty"])
            summaries.append((
                crm.db.execute("SELECT COUNT(*), SUM(points) FROM loyalty_points").fetchone(),
                crm.db.execute("SELECT COUNT(*) FROM loyalty_tier_history").fetchone(),
                crm.db.execute("SELECT kind, customers FROM loyalty_runs ORDER BY id").fetchall(),
            ))
            crm.close()
        assert summaries[0] == summaries[1]
        assert summaries[0][0][0] > 0 and summaries[0][1][0] > 0
