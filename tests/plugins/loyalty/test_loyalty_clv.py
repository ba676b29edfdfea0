"""The CLV models: published CDNOW figures, agreement with `lifetimes`, and the CRM's CLV run."""

from __future__ import annotations

import warnings
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from crmkit_loyalty import clv

warnings.filterwarnings("ignore", category=DeprecationWarning)
lifetimes = pytest.importorskip("lifetimes")


@pytest.fixture(scope="module")
def cdnow():
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    return load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="module")
def fitted(cdnow):
    return clv.fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"]), clv.fit_gamma_gamma(cdnow["frequency"], cdnow["monetary_value"])


class TestPublishedFigures:
    def test_bgnbd_parameters_match_fader_hardie_lee_2005(self, fitted):
        """r 0.243, alpha 4.414, a 0.793, b 2.426 and log-likelihood -9582.4 (in weeks)."""
        bgnbd, _ = fitted
        assert (round(bgnbd.r, 3), round(bgnbd.alpha, 3), round(bgnbd.a, 3), round(bgnbd.b, 3)) == (0.243, 4.414, 0.793, 2.426)
        assert round(bgnbd.log_likelihood, 1) == -9582.4
        assert bgnbd.customers == 2357

    def test_conditional_expectation_of_the_worked_example(self, fitted):
        """x = 2, t_x = 30.43, T = 38.86: 1.226 purchases expected in the next 39 weeks."""
        bgnbd, _ = fitted
        assert round(float(clv.conditional_expected_purchases(bgnbd, 39, [2], [30.43], [38.86])[0]), 3) == 1.226

    def test_gamma_gamma_parameters_of_the_repeat_customers(self, fitted):
        """p 6.25, q 3.74, gamma 15.44 on the 946 repeat customers."""
        _, gg = fitted
        assert (round(gg.p, 2), round(gg.q, 2), round(gg.v, 2)) == (6.25, 3.74, 15.45)
        assert gg.customers == 946
        assert round(gg.log_likelihood, 2) == -4055.92


class TestAgainstLifetimes:
    def test_parameters_and_predictions_agree_on_cdnow(self, cdnow, fitted):
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        bgnbd, gg = fitted
        ref = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        repeat = cdnow[cdnow["frequency"] > 0]
        ref_gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        for name in ("r", "alpha", "a", "b"):
            assert getattr(bgnbd, name) == pytest.approx(ref.params_[name], rel=1e-4)
        for name in ("p", "q", "v"):
            assert getattr(gg, name) == pytest.approx(ref_gg.params_[name], rel=1e-4)
        x, t_x, big_t, m = cdnow["frequency"], cdnow["recency"], cdnow["T"], cdnow["monetary_value"]
        params = ref.params_.to_dict()
        np.testing.assert_allclose(clv.p_alive(params, x, t_x, big_t), ref.conditional_probability_alive(x, t_x, big_t), rtol=1e-10)
        np.testing.assert_allclose(
            clv.conditional_expected_purchases(params, 10, x, t_x, big_t),
            ref.conditional_expected_number_of_purchases_up_to_time(10, x, t_x, big_t), rtol=1e-9,
        )
        assert float(clv.expected_purchases(params, 10)) == pytest.approx(float(ref.expected_number_of_purchases_up_to_time(10)), rel=1e-10)
        np.testing.assert_allclose(
            clv.expected_spend(ref_gg.params_.to_dict(), x, m), ref_gg.conditional_expected_average_profit(x, m), rtol=1e-10,
        )
        value = clv.customer_lifetime_value(
            params, ref_gg.params_.to_dict(), x, t_x, big_t, m, periods=12, period_length=4.345, discount_rate=0.01,
        )
        reference = ref_gg.customer_lifetime_value(ref, x, t_x, big_t, m, time=12, freq="W", discount_rate=0.01)
        np.testing.assert_allclose(value, reference.values, rtol=1e-8)

    @pytest.mark.slow
    def test_parameters_agree_on_synthetic_data(self):
        """Data drawn from the BG/NBD process itself; both fits find the same maximum."""
        from lifetimes import BetaGeoFitter
        from lifetimes.generate_data import beta_geometric_nbd_model

        np.random.seed(7)
        data = beta_geometric_nbd_model(T=52, r=0.5, alpha=5.0, a=0.6, b=2.5, size=3000)
        mine = clv.fit_bgnbd(data["frequency"], data["recency"], data["T"])
        ref = BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
        for name in ("r", "alpha", "a", "b"):
            assert getattr(mine, name) == pytest.approx(ref.params_[name], rel=1e-3)


class TestErrors:
    def test_bad_summaries_are_refused_with_a_reason(self):
        with pytest.raises(clv.ModelError, match="no customers"):
            clv.fit_bgnbd([], [], [])
        with pytest.raises(clv.ModelError, match="between 0 and T"):
            clv.fit_bgnbd([1], [5.0], [4.0])
        with pytest.raises(clv.ModelError, match="recency must be 0"):
            clv.fit_bgnbd([0], [1.0], [4.0])
        with pytest.raises(clv.ModelError, match="whole numbers"):
            clv.fit_bgnbd([1.5], [1.0], [4.0])
        with pytest.raises(clv.ModelError, match="differ in length"):
            clv.fit_bgnbd([1, 2], [1.0], [4.0])
        with pytest.raises(clv.ModelError, match="repeat purchase"):
            clv.fit_gamma_gamma([0, 0], [0, 0])
        with pytest.raises(clv.ModelError, match="positive"):
            clv.fit_gamma_gamma([1, 2], [10.0, -1.0])
        with pytest.raises(clv.ModelError, match="periods"):
            clv.customer_lifetime_value((1, 1, 1, 2), (1, 2, 1), [1], [1], [2], [1], periods=0)


class TestCrmClv:
    def _shop(self, crm, add_customers):
        """20 customers: customer k buys k % 4 + 1 times, 7·(k+1) days apart, 10·k + 5 each."""
        ids = add_customers(crm, 20)
        start = crm.now() - timedelta(days=400)
        rows = []
        for k, cid in enumerate(ids):
            for n in range(k % 4 + 1):
                rows.append({"customer_id": cid, "kind": "purchase", "occurred_at": start + timedelta(days=k + n * 7 * (k + 1)),
                             "amount": str(10 * k + 5)})
        crm.interactions.record_many(rows)
        return ids

    def test_summary_is_per_purchase_day_in_weeks(self, crm, add_customers):
        ids = self._shop(crm, add_customers)
        cid = ids[3]  # k = 3: 4 purchases of 35.00 on days 403-3=397.., every 28 days
        crm.interactions.record(cid, "purchase", crm.now() - timedelta(days=397), amount="1.00")  # same day as the first
        crm.interactions.record(cid, "refund", crm.now() - timedelta(days=10), amount="5.00")
        from crmkit_loyalty.value import summary

        data = summary(crm)
        i = list(data["customer_id"]).index(cid)
        # first purchase day is 400 - 3 = 397 days before 2025-01-01, then +28, +56, +84 days.
        assert data["frequency"][i] == 3
        assert data["recency"][i] == pytest.approx(84 / 7)
        assert data["T"][i] == pytest.approx(397 / 7)
        assert data["monetary"][i] == pytest.approx(35.0)  # repeat days only; the extra 1.00 is on day one
        assert data["revenue"][i] == 4 * 3500 + 100 - 500

    def test_run_is_stored_and_read_by_fields(self, crm, add_customers):
        ids = self._shop(crm, add_customers)
        crm.customers.update(ids[1], attributes={"margin": "0.25"})
        result = crm.loyalty.clv(months=6, discount_rate="0.02")
        assert result.customers == 20 and result.run.customers == 20
        check = clv.fit_bgnbd(*_arrays(crm))
        assert result.bgnbd["r"] == pytest.approx(check.r)
        one = crm.loyalty.clv_of(ids[1])
        assert one.historical == Decimal("30.00")  # 2 purchases of 15.00
        assert one.historical_margin == Decimal("7.50")
        assert 0 < one.p_alive <= 1 and one.clv >= 0
        assert one.clv == one.clv.quantize(Decimal("0.01"))
        assert result.total_clv == sum(v.clv for v in result.values)
        best = result.values[0]
        rule = f"clv >= {best.clv}"
        assert list(crm.segments.evaluate(rule).ids()) == sorted(v.customer_id for v in result.values if v.clv >= best.clv)
        assert crm.segments.evaluate("p_alive > 0 and expected_purchases_90d >= 0").count() == 20
        assert crm.segments.evaluate("clv > 0", as_of=crm.now() - timedelta(days=1)).count() == 0  # before the run

    def test_too_few_customers_is_a_clear_error_and_writes_no_run(self, crm, add_customers, snapshot):
        """A failed fit stores no run and no values; a stored computation that fails leaves only
        a note of why (setting ``loyalty.clv_failure``) for the report and the dashboard."""
        (cid,) = add_customers(crm, 1)
        crm.interactions.record(cid, "purchase", "2024-05-01", amount="10.00")
        before = snapshot(crm)
        from crmkit_loyalty.value import ClvError, failure

        with pytest.raises(ClvError, match="at least 10 customers"):
            crm.loyalty.clv(store=False)
        with pytest.raises(Exception, match="months"):
            crm.loyalty.clv(months=0)
        with pytest.raises(Exception, match="discount_rate"):
            crm.loyalty.clv(discount_rate=0.01)
        assert snapshot(crm) == before and failure(crm) is None
        with pytest.raises(ClvError, match="at least 10 customers"):
            crm.loyalty.clv()
        after = snapshot(crm)
        assert after["loyalty_runs"] == before["loyalty_runs"] and after["interactions"] == before["interactions"]
        assert failure(crm)["as_of"] == "2025-01-01T09:00:00Z" and "found 1 and 0" in failure(crm)["reason"]
        assert failure(crm, as_of="2024-12-31") is None  # the note is of a later date


class TestSpendLeftOut:
    """Repeat buyers whose repeat purchases are worth nothing do not take CLV down with them."""

    def _shop(self, crm, add_customers, free: int = 1):
        ids = TestCrmClv._shop(self, crm, add_customers)
        start = crm.now() - timedelta(days=300)
        extra = add_customers(crm, free, owner="free")
        crm.interactions.record_many(
            {"customer_id": cid, "kind": "purchase", "occurred_at": start + timedelta(days=30 * n + k), "amount": "0.00"}
            for k, cid in enumerate(extra) for n in range(3)
        )
        return ids, extra

    def test_left_out_of_the_spend_fit_counted_and_given_the_population_mean(self, crm, add_customers):
        ids, (free,) = self._shop(crm, add_customers)
        result = crm.loyalty.clv()
        assert result.customers == 21 and result.spend_left_out == 1 and result.run.params["spend_left_out"] == 1
        from crmkit_loyalty.value import summary

        data = summary(crm)
        keep = data["customer_id"] != free
        alone = clv.fit_gamma_gamma(data["frequency"][keep], data["monetary"][keep])
        assert result.gamma_gamma["p"] == pytest.approx(alone.p, rel=1e-9)
        assert result.gamma_gamma["q"] == pytest.approx(alone.q, rel=1e-9)
        g = result.gamma_gamma
        population = g["p"] * g["v"] / (g["q"] - 1)
        one = crm.loyalty.clv_of(free)
        assert one.frequency == 2 and one.monetary == 0
        assert one.expected_spend == Decimal(str(round(population, 2)))
        assert one.clv > 0

    def test_dashboard_text_shows_the_run_and_the_left_out(self, crm, add_customers):
        from crmkit_loyalty.panel import clv_text

        self._shop(crm, add_customers)
        result = crm.loyalty.clv()
        text = clv_text(crm, crm.now())
        assert text.startswith(f"Run #{result.run.id} as of 2025-01-01: 21 customers valued.")
        assert f"r={result.bgnbd['r']:.4f}" in text and "1 repeat buyer with no positive spend" in text

    def test_cli_and_report_say_how_many_were_left_out(self, crm, add_customers, monkeypatch):
        self._shop(crm, add_customers, free=2)
        crm.close()
        from click.testing import CliRunner

        from crmkit.cli import make_cli

        monkeypatch.setenv("CRMKIT_PLUGINS", "loyalty")
        shown = CliRunner().invoke(make_cli(), ["loyalty", "clv", str(crm.path), "--as-of", "2025-01-01T09:00:00Z"])
        assert shown.exit_code == 0, shown.output
        assert "2 repeat buyers with no positive spend left out of the spend model" in shown.output
        import crmkit
        from crmkit_loyalty import report

        with crmkit.open(crm.path, plugins=["loyalty"]) as again:
            section = report._clv(again, again.as_of("2025-01-01T09:00:00Z"))
        assert section.figures["left out of the spend model"] == 2 and "2 repeat buyers" in section.notes

    def test_too_few_positive_spenders_is_a_clear_error_everywhere(self, crm, add_customers, monkeypatch):
        """All repeat buyers spent 0 on repeat days but one: no spend model. The CLI says why in
        one line, the report section and the dashboard's text say it too; no run is stored."""
        free = add_customers(crm, 12)
        start = crm.now() - timedelta(days=300)
        crm.interactions.record_many(
            {"customer_id": cid, "kind": "purchase", "occurred_at": start + timedelta(days=30 * n + k),
             "amount": "10.00" if (n == 0 or k == 0) else "0.00"}
            for k, cid in enumerate(free) for n in range(3)
        )
        crm.close()
        from click.testing import CliRunner

        import crmkit
        from crmkit.cli import make_cli
        from crmkit_loyalty import report

        monkeypatch.setenv("CRMKIT_PLUGINS", "loyalty")
        failed = CliRunner().invoke(make_cli(), ["loyalty", "clv", str(crm.path), "--as-of", "2025-01-01T09:00:00Z"])
        assert failed.exit_code == 1 and "Traceback" not in failed.output
        (line,) = failed.output.strip().splitlines()
        assert line.startswith("Error: CLV needs at least 2 repeat buyers with a positive spend") and "found 1" in line
        with crmkit.open(crm.path, plugins=["loyalty"]) as again:
            assert again.loyalty.runs("clv") == []
            section = report._clv(again, again.as_of("2025-01-02"))
            assert "CLV could not be computed: CLV needs at least 2 repeat buyers" in section.notes
            before = report._clv(again, again.as_of("2024-12-31"))
            assert "No CLV run yet" in before.notes


def _arrays(crm):
    from crmkit_loyalty.value import summary

    data = summary(crm)
    return data["frequency"], data["recency"], data["T"]


class TestFitInternals:
    """The analytic gradients the optimiser gets, the grouping of customers and of predictions."""

    @pytest.mark.parametrize("point", [(0.243, 4.414, 0.793, 2.426), (1.0, 1.0, 1.0, 1.0), (0.05, 30.0, 3.0, 0.3)])
    def test_bgnbd_objective_is_minus_the_mean_log_likelihood_with_its_gradient(self, cdnow, point):
        from scipy.optimize import approx_fprime

        x, t_x, big_t = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        negative, total = clv._bgnbd_objective(x, t_x, big_t)
        start = np.log(point)
        value, gradient = negative(start)
        assert total == 2357
        assert value == pytest.approx(-np.mean(clv.bgnbd_log_likelihood(point, x, t_x, big_t)), rel=1e-12)
        numeric = approx_fprime(start, lambda p: negative(p)[0], 1e-7)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-6)

    @pytest.mark.parametrize("point", [(6.25, 3.74, 15.44), (1.0, 1.0, 1.0), (0.3, 8.0, 200.0)])
    def test_gamma_gamma_objective_is_minus_the_mean_log_likelihood_with_its_gradient(self, cdnow, point):
        from scipy.optimize import approx_fprime

        repeat = cdnow[cdnow["frequency"] > 0]
        x, m = repeat["frequency"].to_numpy(dtype=float), repeat["monetary_value"].to_numpy(dtype=float)
        negative, total = clv._gamma_gamma_objective(x, m)
        start = np.log(point)
        value, gradient = negative(start)
        assert total == 946
        assert value == pytest.approx(-np.mean(clv.gamma_gamma_log_likelihood(point, x, m)), rel=1e-12)
        numeric = approx_fprime(start, lambda p: negative(p)[0], 1e-7)
        np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-6)

    def test_grouping_gives_the_distinct_rows_and_their_counts(self):
        rng = np.random.default_rng(3)
        x = rng.integers(0, 5, 2000).astype(float)
        t_x = np.where(x > 0, rng.integers(0, 20, 2000) / 7, 0.0)
        big_t = rng.integers(20, 40, 2000) / 7
        (ux, ut_x, ut), (ix, it_x, it), counts = clv._group(x, t_x, big_t)
        got = np.column_stack([ux[ix], ut_x[it_x], ut[it]])
        keys, expected = np.unique(np.column_stack([x, t_x, big_t]), axis=0, return_counts=True)
        np.testing.assert_array_equal(got, keys)
        np.testing.assert_array_equal(counts, expected)

    def test_predictions_per_customer_equal_one_by_one(self, cdnow, fitted):
        bgnbd, gg = fitted
        sample = cdnow.iloc[:60]
        x, t_x, big_t, m = (sample[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
        together = clv.conditional_expected_purchases(bgnbd, 13, x, t_x, big_t)
        value = clv.customer_lifetime_value(bgnbd, gg, x, t_x, big_t, m, periods=6, period_length=4.3)
        for i in range(len(x)):
            alone = clv.conditional_expected_purchases(bgnbd, 13, x[i], t_x[i], big_t[i])
            assert float(together[i]) == pytest.approx(float(alone), rel=1e-12)
            one = clv.customer_lifetime_value(bgnbd, gg, x[i:i + 1], t_x[i:i + 1], big_t[i:i + 1], m[i:i + 1], periods=6, period_length=4.3)
            assert float(value[i]) == pytest.approx(float(one[0]), rel=1e-12)

    def test_predict_gives_the_figures_of_the_separate_functions(self, cdnow, fitted):
        bgnbd, gg = fitted
        x, t_x, big_t, m = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
        out = clv.predict(bgnbd, gg, x, t_x, big_t, m, horizon=13, periods=12, period_length=4.345)
        np.testing.assert_allclose(out["p_alive"], clv.p_alive(bgnbd, x, t_x, big_t), rtol=1e-14)
        np.testing.assert_allclose(out["expected_purchases"], clv.conditional_expected_purchases(bgnbd, 13, x, t_x, big_t), rtol=1e-12)
        np.testing.assert_allclose(out["expected_spend"], clv.expected_spend(gg, x, m), rtol=1e-14)
        np.testing.assert_allclose(
            out["clv"], clv.customer_lifetime_value(bgnbd, gg, x, t_x, big_t, m, periods=12, period_length=4.345), rtol=1e-12,
        )
        assert "expected_purchases" not in clv.predict(bgnbd, gg, x, t_x, big_t, m)


class TestCrmClvValues:
    """``ClvResult.values`` is a sequence built on access; the summary's edge cases."""

    def _shop(self, crm, add_customers):
        return TestCrmClv._shop(self, crm, add_customers)

    def test_values_behave_as_a_list_highest_clv_first(self, crm, add_customers):
        self._shop(crm, add_customers)
        result = crm.loyalty.clv()
        values = result.values
        as_list = list(values)
        assert len(values) == len(as_list) == 20
        assert [(v.clv, v.customer_id) for v in as_list] == sorted(((v.clv, v.customer_id) for v in as_list), key=lambda p: (-p[0], p[1]))
        assert values[0] == as_list[0] and values[-1] == as_list[-1]
        assert values[:5] == as_list[:5] and isinstance(values[:5], list)
        assert values == as_list
        assert isinstance(values[0].clv, Decimal) and isinstance(values[0].frequency, int)
        from crmkit_loyalty.value import stored

        assert stored(crm, result.run, limit=100) == as_list  # what the run stored is what was returned
        columns = values.columns()
        assert list(columns["customer_id"]) == [v.customer_id for v in as_list]
        assert int(columns["clv"].sum()) == int(result.total_clv * 100)
        with pytest.raises(IndexError):
            values[20]

    def test_store_false_writes_nothing_and_gives_the_same_values(self, crm, add_customers):
        self._shop(crm, add_customers)
        unstored = crm.loyalty.clv(store=False)
        assert unstored.run is None and crm.db.execute("SELECT COUNT(*) FROM loyalty_clv").fetchone()[0] == 0
        assert list(crm.loyalty.clv().values) == list(unstored.values)

    def test_summary_edges_refund_only_first_day_and_as_of_within_a_day(self, crm, add_customers):
        from crmkit_loyalty.value import summary

        buyer, refund_only, later = add_customers(crm, 3)
        day = crm.now() - timedelta(days=70)
        rows = [
            {"customer_id": buyer, "kind": "purchase", "occurred_at": day, "amount": "10.00"},
            {"customer_id": buyer, "kind": "purchase", "occurred_at": day + timedelta(hours=2), "amount": "5.00"},
            {"customer_id": buyer, "kind": "purchase", "occurred_at": day + timedelta(days=14), "amount": "7.00"},
            {"customer_id": buyer, "kind": "purchase", "occurred_at": day + timedelta(days=14, hours=1), "amount": "1.00"},
            {"customer_id": buyer, "kind": "refund", "occurred_at": day + timedelta(days=20), "amount": "2.00"},
            {"customer_id": refund_only, "kind": "refund", "occurred_at": day, "amount": "3.00"},
            {"customer_id": later, "kind": "purchase", "occurred_at": crm.now() + timedelta(days=1), "amount": "9.00"},
        ]
        crm.interactions.record_many(rows)
        crm.customers.update(buyer, attributes={"margin": "0.5"})
        crm.customers.update(refund_only, attributes={"margin": "2"})  # out of range: not a margin
        data = summary(crm)
        assert list(data["customer_id"]) == [buyer]  # refunds only, or buying after as_of: not in the summary
        assert data["frequency"][0] == 1 and data["recency"][0] == pytest.approx(2.0) and data["T"][0] == pytest.approx(10.0)
        assert data["monetary"][0] == pytest.approx(8.0)  # the repeat day: 7.00 + 1.00; the first day's 15.00 is not repeat
        assert data["revenue"][0] == 2100 and data["margin"][0] == Decimal("0.5")
        # as of two hours into the first day, the second purchase of that day is not seen yet
        early = summary(crm, day + timedelta(hours=1))
        assert list(early["customer_id"]) == [buyer] and early["frequency"][0] == 0 and early["revenue"][0] == 1000
