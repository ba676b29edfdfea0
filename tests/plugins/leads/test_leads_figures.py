"""Figures as of a date, fairness (capacity-weighted Gini), the report section and backtests."""

from __future__ import annotations

import pytest

from crmkit import CrmError, ValidationError
from crmkit_leads.figures import weighted_gini


@pytest.fixture
def traffic(team, clock):
    """L1 referral: ann claims 01-01 09:00, calls after 6 h, converted 01-02.
    L2 referral: ann claims, calls after 24 h, lost 01-03.
    L3 web search, class hot: bo claims, never calls, recycled 01-08 09:00; cy claims then,
    calls after 2 h, converted 01-09. L4 web search: stays in the pool."""
    crm = team
    l1 = crm.leads.add("L1", source="referral").id
    l2 = crm.leads.add("L2", source="referral").id
    l3 = crm.leads.add("L3", source="web search", lead_class="hot").id
    l4 = crm.leads.add("L4", source="web search").id
    crm.leads.claim(l1, "ann")
    crm.leads.claim(l2, "ann")
    crm.leads.claim(l3, "bo")
    crm.interactions.record(l1, "call", "2025-01-01T15:00:00Z", rep="ann")
    crm.interactions.record(l2, "call", "2025-01-02T09:00:00Z", rep="ann")
    clock.set("2025-01-02T09:00:00Z")
    crm.leads.convert(l1)
    clock.set("2025-01-03T09:00:00Z")
    crm.leads.lose(l2, "no budget")
    clock.set("2025-01-08T09:00:00Z")
    assert crm.run_due().results["leads"]["recycled"] == 1
    crm.leads.claim(l3, "cy")
    crm.interactions.record(l3, "call", "2025-01-08T11:00:00Z", rep="cy")
    clock.set("2025-01-09T09:00:00Z")
    crm.leads.convert(l3)
    clock.set("2025-01-10T09:00:00Z")
    return crm, (l1, l2, l3, l4)


class TestStats:
    def test_overall(self, traffic):
        """Median hours to first follow-up over 6, 24 and 2 is 6; conversion 2 / (2 + 1)."""
        crm, _ = traffic
        assert crm.leads.stats() == [{
            "group": "all", "received": 4, "assigned": 3, "converted": 2, "lost": 1, "recycled": 1,
            "conversion_rate": 0.6667, "median_hours_to_follow_up": 6.0,
        }]

    def test_as_of_a_past_date(self, traffic):
        """On 01-02 12:00 only L1 was converted; L2's call (24 h) had happened, L3 not recycled yet."""
        crm, _ = traffic
        [row] = crm.leads.stats("2025-01-02T12:00:00Z")
        assert (row["converted"], row["lost"], row["recycled"], row["median_hours_to_follow_up"]) == (1, 0, 0, 15.0)

    def test_by_rep_counts_spells(self, traffic):
        crm, _ = traffic
        rows = {r["rep"]: r for r in crm.leads.stats(by="rep")}
        assert rows["ann"] == {"rep": "ann", "received": 2, "assigned": 2, "converted": 1, "lost": 1, "recycled": 0,
                               "conversion_rate": 0.5, "median_hours_to_follow_up": 15.0}
        assert (rows["bo"]["recycled"], rows["bo"]["conversion_rate"], rows["bo"]["median_hours_to_follow_up"]) == (1, None, None)
        assert (rows["cy"]["converted"], rows["cy"]["conversion_rate"], rows["cy"]["median_hours_to_follow_up"]) == (1, 1.0, 2.0)

    def test_by_team_source_and_class(self, traffic):
        crm, _ = traffic
        team = {r["team"]: r for r in crm.leads.stats(by="team")}
        assert (team["a"]["received"], team["a"]["converted"], team["a"]["lost"], team["a"]["recycled"]) == (3, 1, 1, 1)
        assert team["b"]["converted"] == 1
        source = {r["source"]: r for r in crm.leads.stats(by="source")}
        assert (source["referral"]["received"], source["referral"]["conversion_rate"]) == (2, 0.5)
        assert (source["web search"]["received"], source["web search"]["assigned"], source["web search"]["recycled"]) == (2, 1, 1)
        assert source["web search"]["median_hours_to_follow_up"] == 2.0
        by_class = {r["class"]: r for r in crm.leads.stats(by="class")}
        assert (by_class["default"]["received"], by_class["hot"]["converted"]) == (3, 1)
        with pytest.raises(ValidationError, match="one of rep, team, source, class"):
            crm.leads.stats(by="region")

    def test_track_record(self, traffic):
        crm, _ = traffic
        record = {r["rep"]: r for r in crm.leads.track_record()}
        assert (record["ann"]["conversion_rate"], record["ann"]["median_hours_to_follow_up"]) == (0.5, 15.0)
        assert (record["bo"]["recycled"], record["cy"]["open_leads"]) == (1, 0)


class TestFairness:
    def test_weighted_gini_by_hand(self):
        """x = (.5, 0, .5), w = (10, 10, 20): mean 15/40 = .375; sum over ordered pairs of
        w_i w_j |x_i - x_j| = 2 * (100 * .5 + 200 * .5) = 300; G = 300 / (2 * 1600 * .375) = .25."""
        assert weighted_gini([0.5, 0.0, 0.5], [10, 10, 20]) == pytest.approx(0.25)
        assert weighted_gini([0.3, 0.3], [1, 5]) == 0.0
        assert weighted_gini([], []) == 0.0

    def test_open_load_against_capacity(self, traffic):
        """On 01-01 12:00: ann 2/4, bo 1/4, cy 0/8. W = 16, mean 3/16; ordered pairs
        2 * (16 * .25 + 32 * .5 + 32 * .25) = 56; G = 56 / (2 * 256 * 3/16) = 0.5833."""
        crm, _ = traffic
        fair = crm.leads.fairness("2025-01-01T12:00:00Z")
        assert [(r["rep"], r["open_leads"], r["capacity"]) for r in fair["reps"]] == [("ann", 2, 4), ("bo", 1, 4), ("cy", 0, 8)]
        assert fair["gini"] == 0.5833
        assert crm.leads.fairness()["gini"] == 0.0  # nothing open any more

    def test_report_section(self, traffic):
        crm, _ = traffic
        [[section, sources]] = crm.plugins.call("crmkit_report_sections", crm=crm, as_of=crm.now())
        assert section.key == "leads.overview" and section.plugin == "leads"
        assert section.figures["leads received"] == 4
        assert section.figures["in pool"] == 1
        assert section.figures["conversion rate"] == 0.6667
        assert [r["rep"] for r in section.rows] == ["ann", "bo", "cy"]
        assert {c.kind for c in section.charts} == {"bar", "funnel"}
        assert sources.key == "leads.sources"
        assert [(r["source"], r["conversion_rate"]) for r in sources.rows] == [("referral", 0.5), ("web search", 1.0)]
        assert sources.figures["best converting channel (5+ closed)"] is None  # no channel has 5 closed leads


class TestBacktest:
    @pytest.fixture
    def past(self, crm, clock):
        """Four leads (three on 01-01, an hour apart, one on 01-02), all historically worked by ann: 1 and 3 converted, 2 and 4 lost (closed 01-05)."""
        crm.leads.add_rep("ann", "Ann", capacity=4)
        crm.leads.add_rep("bo", "Bo", capacity=4)
        ids = []
        for i in range(3):
            ids.append(crm.leads.add(f"L{i}").id)
            clock.advance(hours=1)
        clock.set("2025-01-02T09:00:00Z")
        ids.append(crm.leads.add("L3").id)
        for lead in ids:
            crm.leads.claim(lead, "ann")
        clock.set("2025-01-05T09:00:00Z")
        crm.leads.convert(ids[0])
        crm.leads.lose(ids[1], "no need")
        crm.leads.convert(ids[2])
        crm.leads.lose(ids[3], "no need")
        return crm

    def test_replay_round_robin(self, past, row_counts):
        """Day 1: leads 1, 2, 3 → ann, bo, ann; day 2: lead 4 → bo (the turn continues).
        Historically ann had all four: Gini x = (1, 0), w = (4, 4): 2 * 16 / (2 * 64 * .5) = .5."""
        before = row_counts(past)
        result = past.leads.backtest("round_robin", "2025-01-01", "2025-01-03", seed=0)
        assert row_counts(past) == before
        assert (result["leads"], result["placed"], result["unplaced"]) == (4, 4, 0)
        rows = {r["rep"]: r for r in result["reps"]}
        assert (rows["ann"]["received"], rows["ann"]["historical_converted"], rows["ann"]["historical_conversion_rate"]) == (2, 2, 1.0)
        assert (rows["bo"]["received"], rows["bo"]["historical_lost"], rows["bo"]["historical_conversion_rate"]) == (2, 2, 0.0)
        assert (rows["ann"]["actually_received"], rows["bo"]["actually_received"]) == (4, 0)
        assert (result["gini"], result["historical_gini"]) == (0.0, 0.5)
        assert past.leads.backtest("round_robin", "2025-01-01", "2025-01-03", seed=0) == result

    def test_the_seed_breaks_ties_deterministically(self, crm):
        crm.leads.add_rep("ann", "Ann", capacity=10)
        crm.leads.add_rep("bo", "Bo", capacity=10)
        for i in range(6):
            crm.leads.add(f"Same time {i}")  # same arrival time and priority: the seed orders them
        runs = {seed: crm.leads.backtest("round_robin", "2025-01-01", "2025-01-02", seed=seed) for seed in (1, 1, 2)}
        assert runs[1]["reps"] == crm.leads.backtest("round_robin", "2025-01-01", "2025-01-02", seed=1)["reps"]
        assert runs[1]["placed"] == runs[2]["placed"] == 6

    def test_capacity_applies_in_the_replay(self, past):
        past.leads.update_rep("bo", active=False)
        past.leads.update_rep("ann", capacity=2)
        result = past.leads.backtest("least_loaded", "2025-01-01", "2025-01-03")
        assert (result["placed"], result["unplaced"]) == (2, 2)
        assert {r["rep"]: r["peak_load"] for r in result["reps"]} == {"ann": 2, "bo": 0}

    def test_backtest_errors(self, past):
        with pytest.raises(ValidationError, match="after since"):
            past.leads.backtest("least_loaded", "2025-01-03", "2025-01-01")
        with pytest.raises(CrmError, match="unknown allocation strategy"):
            past.leads.backtest("best", "2025-01-01", "2025-01-03")
        with pytest.raises(ValidationError, match="seed"):
            past.leads.backtest("least_loaded", "2025-01-01", "2025-01-03", seed="x")
