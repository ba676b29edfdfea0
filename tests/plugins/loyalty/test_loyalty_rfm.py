"""RFM scores, segments, stored runs, movement and Pareto against values worked out by hand."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest

import crmkit
from crmkit import ValidationError
from crmkit_loyalty.rfm import ntile, quantile_cuts, quantile_scores


@pytest.fixture
def shop(crm, add_customers):
    """Seven customers; as of 2025-01-01 09:00 the 365-day window starts 2024-01-02 09:00.

    c1 bought 2024-12-01 (50) and 2024-12-31 (100); c2 2024-10-01 (40); c3 2023-12-01 (80),
    2024-06-01 (200), refund 2024-06-05 (50); c4 only a refund; c5 nothing; c6 2023-06-01 (30);
    c7 exactly at the window start 2024-01-02 09:00 (60), so outside the window.
    """
    ids = add_customers(crm, 7)
    c = dict(zip(range(1, 8), ids))
    rows = [
        (1, "purchase", "2024-12-01", "50.00"), (1, "purchase", "2024-12-31", "100.00"),
        (2, "purchase", "2024-10-01", "40.00"),
        (3, "purchase", "2023-12-01", "80.00"), (3, "purchase", "2024-06-01", "200.00"), (3, "refund", "2024-06-05", "50.00"),
        (4, "refund", "2024-05-01", "10.00"),
        (6, "purchase", "2023-06-01", "30.00"),
        (7, "purchase", "2024-01-02T09:00:00Z", "60.00"),
    ]
    crm.interactions.record_many(
        {"customer_id": c[n], "kind": kind, "occurred_at": at, "amount": amount} for n, kind, at, amount in rows
    )
    return c


@pytest.fixture
def sql_ntile():
    """NTILE(5) OVER (ORDER BY v, id) computed by the database, as {id: score}."""
    with crmkit.open(":memory:", plugins=[]) as crm:
        crm.db.execute("CREATE TABLE ntile_check(id INTEGER, v INTEGER)")

        def compute(ids, values) -> dict[int, int]:
            crm.db.execute("DELETE FROM ntile_check")
            crm.db.executemany("INSERT INTO ntile_check VALUES (?, ?)", list(zip(ids.tolist(), values.tolist())))
            return dict(crm.db.execute("SELECT id, NTILE(5) OVER (ORDER BY v, id) FROM ntile_check").fetchall())

        yield compute


class TestQuintiles:
    def test_ntile_matches_sql_ntile_with_id_tie_breaker(self, sql_ntile):
        """Heavy ties (frequency-like values); the same as NTILE(5) OVER (ORDER BY v, id)."""
        rng = random.Random(3)
        for n in (1, 4, 5, 7, 13, 100, 1001):
            ids = np.array(rng.sample(range(1, 10 * n + 1), n))
            values = np.array([rng.choice([0, 1, 1, 2, 5]) for _ in range(n)])
            expected = sql_ntile(ids, values)
            got = ntile(values, ids)
            assert {int(i): int(s) for i, s in zip(ids, got)} == expected

    def test_ntile_on_ascending_ids_small_and_wide_value_ranges(self, sql_ntile):
        """Ids in ascending order (as the aggregate returns them) take the stable-sort path; values
        spanning fewer than 2**16 are sorted as uint16 offsets, wider ones (money) as they are."""
        rng = np.random.default_rng(5)
        for n in (2, 6, 999, 5003):
            ids = np.sort(rng.choice(np.arange(1, 20 * n), size=n, replace=False))
            for values in (rng.integers(-400, 3000, n), -rng.integers(0, 4, n), rng.integers(-10**9, 10**12, n),
                           np.full(n, 7), np.array([-(2**62), 2**62] * (n // 2) + [0] * (n % 2))):
                expected = sql_ntile(ids, values)
                assert {int(i): int(s) for i, s in zip(ids, ntile(values, ids))} == expected

    def test_group_sizes_for_seven_customers(self):
        """7 = 5 groups of 1 plus 2 extra: sizes 2, 2, 1, 1, 1 (larger groups first)."""
        scores = ntile(np.arange(7), np.arange(7))
        assert scores.tolist() == [1, 1, 2, 2, 3, 4, 5]


class TestRfm:
    def test_scores_worked_by_hand(self, crm, shop):
        """Recency (whole days to 2025-01-01 09:00): c1 1, c2 92, c3 214, c6 580, c7 365.
        Frequency in the window: c1 2, c2 1, c3 1, c6 0, c7 0 (at the start: excluded).
        Monetary: c1 150.00, c2 40.00, c3 200 - 50 = 150.00, c6 0, c7 0.
        Method ntile: five customers, one per quintile; ties by ascending id (c6 before c7, c1 before c3)."""
        crm.loyalty.set_rfm_method("ntile")
        result = crm.loyalty.rfm()
        by_id = {s.customer_id: s for s in result.scores}
        assert set(by_id) == {shop[1], shop[2], shop[3], shop[6], shop[7]}  # c4 refunds only, c5 nothing
        got = {n: (by_id[shop[n]].recency_days, by_id[shop[n]].frequency, by_id[shop[n]].monetary) for n in (1, 2, 3, 6, 7)}
        assert got == {
            1: (1, 2, Decimal("150.00")), 2: (92, 1, Decimal("40.00")), 3: (214, 1, Decimal("150.00")),
            6: (580, 0, Decimal("0.00")), 7: (365, 0, Decimal("0.00")),
        }
        codes = {n: (by_id[shop[n]].code, by_id[shop[n]].score, by_id[shop[n]].segment) for n in (1, 2, 3, 6, 7)}
        assert codes == {
            1: ("554", 14, "champions"), 2: ("433", 10, "potential_loyalists"), 3: ("345", 12, "loyal"),
            6: ("111", 3, "lost"), 7: ("222", 6, "hibernating"),
        }
        assert result.segments["champions"] == 1 and sum(result.segments.values()) == 5
        assert result.run.customers == 5 and result.method == "ntile"
        assert result.cuts is None and result.run.params["method"] == "ntile"

    def test_fields_read_the_newest_run_as_of_the_rule_time(self, crm, shop):
        crm.loyalty.set_rfm_method("ntile")
        assert crm.segments.evaluate("rfm_score >= 3").count() == 0  # no run yet
        crm.loyalty.rfm()
        assert list(crm.segments.evaluate("rfm_segment = 'champions'").ids()) == [shop[1]]
        assert list(crm.segments.evaluate("rfm_code = '345' and rfm_r = 3 and rfm_f = 4 and rfm_m = 5").ids()) == [shop[3]]
        assert crm.segments.evaluate("rfm_score >= 10").count() == 3
        assert crm.segments.evaluate("rfm_score >= 3", as_of="2024-12-31").count() == 0

    def test_thresholds_instead_of_quintiles(self, crm, shop):
        """R cuts 30/90/180/365 days, F cuts 1/2/3/4, M cuts 50/100/150/200:
        c1 (1 d, 2, 150) → 5,3,4; c2 (92, 1, 40) → 3,2,1; c3 (214, 1, 150) → 2,2,4;
        c6 (580, 0, 0) → 1,1,1; c7 (365, 0, 0) → 2,1,1."""
        crm.loyalty.set_rfm_thresholds({"r": [30, 90, 180, 365], "f": [1, 2, 3, 4], "m": ["50", "100", "150", "200"]})
        result = crm.loyalty.rfm(store=False)
        assert result.run is None and result.method == "thresholds"
        codes = {s.customer_id: s.code for s in result.scores}
        assert codes == {shop[1]: "534", shop[2]: "321", shop[3]: "224", shop[6]: "111", shop[7]: "211"}

    def test_movement_between_runs(self, crm, shop):
        """As of 2024-07-01 09:00 only c3, c6, c7 had bought: recency 30, 396, 181 days;
        frequency 2, 0, 1; monetary 230, 0, 60 → c3 need_attention (3,3), c7 hibernating,
        c6 lost. Now: c3 loyal, c1 champions, c2 potential_loyalists (method ntile)."""
        crm.loyalty.set_rfm_method("ntile")
        first = crm.loyalty.rfm(as_of="2024-07-01T09:00:00Z")
        assert {s.customer_id: s.code for s in first.scores} == {shop[3]: "333", shop[6]: "111", shop[7]: "222"}
        crm.loyalty.rfm()
        moved = crm.loyalty.rfm_movement("2024-07-01T09:00:00Z")
        assert sorted(moved.counts) == sorted([
            ("need_attention", "loyal", 1), ("not scored", "champions", 1), ("not scored", "potential_loyalists", 1),
            ("lost", "lost", 1), ("hibernating", "hibernating", 1),
        ])
        assert [m[0] for m in moved.movers] == [shop[1], shop[2], shop[3]]
        left = crm.loyalty.rfm_movement(first.run, from_segment="need_attention")
        assert left.movers == [(shop[3], "need_attention", "loyal")]

    def test_rerun_for_the_same_as_of_replaces_the_run(self, crm, shop):
        crm.loyalty.rfm()
        crm.interactions.record(shop[5], "purchase", "2024-12-30", amount="5.00")
        again = crm.loyalty.rfm()
        assert len(crm.loyalty.runs("rfm")) == 1
        assert again.run.customers == 6
        assert len(crm.loyalty.rfm_scores()) == 6

    def test_empty_crm_and_errors(self, crm, snapshot, add_customers):
        add_customers(crm, 2)
        result = crm.loyalty.rfm()
        assert result.scores == [] and sum(result.segments.values()) == 0
        before = snapshot(crm)
        with pytest.raises(ValidationError, match="window_days"):
            crm.loyalty.rfm(window_days=0)
        with pytest.raises(ValidationError, match="four strictly ascending"):
            crm.loyalty.set_rfm_thresholds({"r": [1, 2, 3], "f": [1, 2, 3, 4], "m": [1, 2, 3, 4]})
        with pytest.raises(ValidationError, match="rfm segment"):
            crm.loyalty.set_rfm_segments([{"segment": "Bad Name"}])
        with pytest.raises(Exception, match="no stored rfm run"):
            crm.loyalty.rfm_movement("2020-01-01")
        assert snapshot(crm) == before

    def test_custom_segment_mapping(self, crm, shop):
        crm.loyalty.set_rfm_segments([{"segment": "best", "r": [4, 5], "f": [4, 5], "m": [4, 5]}, {"segment": "rest"}])
        result = crm.loyalty.rfm(store=False)
        assert result.segments == {"best": 1, "rest": 4}

    def test_scores_are_a_lazy_sequence_equal_to_the_stored_rows(self, crm, shop):
        """``scores`` reads like a list of RfmScore by customer id and equals what the run stored."""
        result = crm.loyalty.rfm()
        scores = result.scores
        as_list = list(scores)
        assert len(scores) == result.customers == 5 and scores == as_list and scores == crm.loyalty.rfm_scores()
        assert [s.customer_id for s in as_list] == sorted(s.customer_id for s in as_list)
        assert scores[0] == as_list[0] and scores[-1] == as_list[-1] and scores[1:4] == as_list[1:4]
        assert scores[::-2] == as_list[::-2]
        with pytest.raises(IndexError):
            scores[5]
        columns = scores.columns()
        assert columns["code"].tolist() == [int(s.code) for s in as_list]
        assert columns["segment"].tolist() == [s.segment for s in as_list]
        assert columns["monetary"].tolist() == [int(s.monetary * 100) for s in as_list]

    def test_report_pareto_from_the_rfm_pass_equals_pareto(self, crm, shop):
        from crmkit_loyalty import rfm

        for as_of in (None, "2024-07-01T09:00:00Z", "2025-06-01", "2020-01-01"):
            result = crm.loyalty.rfm(as_of=as_of, store=False)
            for top in ("0.2", "0.4", "1"):
                assert rfm.pareto_of(crm, result, top) == crm.loyalty.pareto(as_of=as_of, window_days=365, top=top)


class TestPareto:
    def test_top_share_and_gini_by_hand(self, crm, shop):
        """Net revenue to date: c1 150, c2 40, c3 80 + 200 - 50 = 230, c6 30, c7 60 (total 510;
        c4 only refunded). Top 20% = 1 customer (c3): 230 / 510 = 0.450980.
        Gini = 2·Σ i·x(i) / (n·Σx) - (n+1)/n with x ascending 30, 40, 60, 150, 230:
        Σ i·x = 30 + 80 + 180 + 600 + 1150 = 2040 → 4080 / 2550 - 1.2 = 0.4."""
        p = crm.loyalty.pareto()
        assert (p.customers, p.revenue, p.top_customers, p.top_revenue) == (5, Decimal("510.00"), 1, Decimal("230.00"))
        assert p.top_share == pytest.approx(230 / 510, abs=1e-6)
        assert p.gini == pytest.approx(0.4, abs=1e-9)
        assert p.lorenz[0] == (0.0, 0.0) and p.lorenz[-1] == (1.0, 1.0)
        assert p.lorenz[20] == (0.2, round(30 / 510, 6))

    def test_window_and_errors(self, crm, shop):
        """Last 365 days: c1 150, c2 40, c3 150 (ties broken by id: c1 is the top customer)."""
        p = crm.loyalty.pareto(window_days=365, top="0.4")
        assert (p.customers, p.revenue, p.top_customers, p.top_revenue) == (3, Decimal("340.00"), 2, Decimal("300.00"))
        with pytest.raises(ValidationError, match="top"):
            crm.loyalty.pareto(top=0.2)
        with pytest.raises(ValidationError, match="top"):
            crm.loyalty.pareto(top="1.5")
        with pytest.raises(ValidationError, match="window_days"):
            crm.loyalty.pareto(window_days=0)


class TestQuantileMethod:
    """The default method: cut points from the distribution, equal values score alike."""

    def test_scores_worked_by_hand(self, crm, shop):
        """Worst to best, R (days): 580, 365, 214, 92, 1 → 1, 2, 3, 4, 5.
        F: 0, 0, 1, 1, 2 → worse counts 0, 0, 2, 2, 4 → 1 + ⌊5·k/5⌋ = 1, 1, 3, 3, 5.
        M: 0, 0, 40, 150, 150 → worse counts 0, 0, 2, 3, 3 → 1, 1, 3, 4, 4."""
        result = crm.loyalty.rfm()
        assert result.method == "quantiles" and crm.loyalty.rfm_method() == "quantiles"
        codes = {s.customer_id: (s.code, s.segment) for s in result.scores}
        assert codes == {
            shop[1]: ("554", "champions"), shop[2]: ("433", "potential_loyalists"), shop[3]: ("334", "need_attention"),
            shop[6]: ("111", "lost"), shop[7]: ("211", "hibernating"),
        }
        # cut k = the value at position ⌈k·5/5⌉ = k from the worst
        assert result.cuts == {"r": [580, 365, 214, 92], "f": [0, 0, 1, 1], "m": ["0.00", "0.00", "40.00", "150.00"]}
        assert result.run.params["cuts"] == result.cuts

    def test_invariants_on_heavy_ties_and_shuffled_ids(self):
        """Equal values score alike, better never scores lower, and a permutation of the
        customers permutes their scores; the cut points give the same scores."""
        rng = np.random.default_rng(11)
        for n in (1, 2, 3, 5, 7, 50, 1000):
            values = rng.choice([0, 0, 0, 0, 1, 1, 2, 3, 9], size=n)
            got = quantile_scores(values)
            assert set(np.unique(got)) <= {1, 2, 3, 4, 5}
            for v in np.unique(values):
                assert len(set(got[values == v].tolist())) == 1
            order = np.argsort(values, kind="stable")
            assert np.all(np.diff(got[order]) >= 0)
            perm = rng.permutation(n)
            assert quantile_scores(values[perm]).tolist() == got[perm].tolist()
            cuts = quantile_cuts(values)
            assert (1 + sum((values > c).astype(int) for c in cuts)).tolist() == got.tolist()

    def test_a_value_shared_by_most_customers_scores_1_and_the_next_value_jumps(self):
        """70 of 100 bought once: once-buyers score 1, the 20 twice-buyers 1 + ⌊5·70/100⌋ = 4,
        the 10 thrice-buyers 1 + ⌊5·90/100⌋ = 5; scores 2 and 3 stay unused."""
        values = np.array([1] * 70 + [2] * 20 + [3] * 10)
        assert np.bincount(quantile_scores(values), minlength=6).tolist() == [0, 70, 0, 0, 20, 10]

    def test_without_ties_each_score_takes_a_fifth(self):
        scores = quantile_scores(np.arange(100))
        assert np.bincount(scores).tolist() == [0, 20, 20, 20, 20, 20]

    def test_method_per_call_and_stored_setting(self, crm, shop, snapshot):
        assert crm.loyalty.rfm(store=False, method="ntile").method == "ntile"
        cuts = {"r": [30, 90, 180, 365], "f": [1, 2, 3, 4], "m": ["50", "100", "150", "200"]}
        assert crm.loyalty.rfm(store=False, method="thresholds", thresholds=cuts).method == "thresholds"
        assert crm.loyalty.rfm(store=False).method == "quantiles"  # nothing was stored
        before = snapshot(crm)
        with pytest.raises(ValidationError, match="method"):
            crm.loyalty.rfm(method="deciles")
        with pytest.raises(ValidationError, match="thresholds"):
            crm.loyalty.rfm(method="thresholds")  # no cut points stored
        with pytest.raises(ValidationError, match="method"):
            crm.loyalty.set_rfm_method("deciles")
        with pytest.raises(ValidationError, match="thresholds"):
            crm.loyalty.set_rfm_method("thresholds")
        assert snapshot(crm) == before
        crm.loyalty.set_rfm_method("thresholds", cuts)
        assert crm.loyalty.rfm_method() == "thresholds" and crm.loyalty.rfm(store=False).method == "thresholds"
        crm.loyalty.set_rfm_method("quantiles")
        assert crm.loyalty.rfm(store=False).method == "quantiles"
        crm.loyalty.set_rfm_thresholds(cuts)
        assert crm.loyalty.rfm_method() == "thresholds"
        crm.loyalty.set_rfm_thresholds(None)
        assert crm.loyalty.rfm_method() == "quantiles"

    def test_insertion_order_does_not_change_scores(self, crm_path, clock, tmp_path):
        """The same purchases recorded for customers created in the opposite order give every
        customer (by name) the same code."""
        import crmkit

        purchases = {f"c{i}": [("2024-12-0%d" % (1 + i % 3), "10.00")] * (1 + i % 2) for i in range(12)}

        def codes(names, path):
            with crmkit.open(path, plugins=["loyalty"], clock=clock) as crm:
                ids = {name: crm.customers.add(name=name).id for name in names}
                crm.interactions.record_many(
                    {"customer_id": ids[n], "kind": "purchase", "occurred_at": at, "amount": amount}
                    for n in names for at, amount in purchases[n]
                )
                by_id = {s.customer_id: s.code for s in crm.loyalty.rfm(store=False).scores}
                return {n: by_id[i] for n, i in ids.items()}

        names = sorted(purchases)
        assert codes(names, tmp_path / "a.db") == codes(names[::-1], tmp_path / "b.db")
