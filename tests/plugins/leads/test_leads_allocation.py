"""Allocation strategies, their composition, limits, dry runs and strategies from other plugins."""

from __future__ import annotations

import pytest

import crmkit
from crmkit import ConflictError, CrmError, hookimpl
from crmkit_leads import Candidates, Picker, Selector


def add_leads(crm, industries, **extra):
    return [crm.leads.add(f"Lead {i}", industry=industry, **extra).id for i, industry in enumerate(industries)]


class TestLeastLoaded:
    def test_fills_reps_in_proportion_to_capacity(self, team):
        """Slots ordered by (open + k) / capacity: cy (8) takes 3 of 6, ann and bo (4) share the rest.

        Keys: cy 1/8=.125, then .25 for ann k1, bo k1, cy k2 (k breaks ties), cy .375, then .5 ann k2.
        """
        ids = add_leads(team, ["retail", "software"] * 3)
        result = team.leads.allocate("pool", strategy="least_loaded")
        assert [(m.lead_id, m.rep) for m in result.moves] == [
            (ids[0], "cy"), (ids[1], "ann"), (ids[2], "bo"), (ids[3], "cy"), (ids[4], "cy"), (ids[5], "ann"),
        ]
        assert result.by_rep() == {"ann": 2, "bo": 1, "cy": 3}
        assert result.moves[0].reason == "least_loaded (load 1/8)"
        assert team.leads.get(ids[0]).owner == "cy"
        assert team.leads.get(ids[0]).status == "assigned"

    def test_never_exceeds_capacity_and_leaves_the_rest_in_the_pool(self, team):
        """16 slots (4 + 4 + 8) for 20 leads: 4 stay in the pool with the reason."""
        ids = add_leads(team, ["retail"] * 20)
        result = team.leads.allocate()
        assert result.by_rep() == {"ann": 4, "bo": 4, "cy": 8}
        assert len(result.unassigned) == 4
        assert result.unassigned == ids[16:]
        assert "no candidate rep with room" in result.unassigned_reason[ids[19]]
        assert team.leads.counts()["pool"] == 4
        assert team.leads.allocate().count == 0

    def test_inactive_reps_are_never_chosen(self, team):
        team.leads.update_rep("cy", active=False)
        add_leads(team, ["retail"] * 6)
        assert team.leads.allocate().by_rep() == {"ann": 3, "bo": 3}

    def test_priority_goes_first(self, team):
        """With one free slot, the priority-2 lead is placed although it arrived last."""
        team.leads.update_rep("bo", active=False)
        team.leads.update_rep("cy", active=False)
        team.leads.update_rep("ann", capacity=1)
        low = team.leads.add("Low", priority=0).id
        high = team.leads.add("High", priority=2).id
        result = team.leads.allocate()
        assert [m.lead_id for m in result.moves] == [high]
        assert result.unassigned == [low]


class TestRoundRobin:
    def test_takes_turns_and_remembers_the_last_rep(self, team):
        first = add_leads(team, ["retail"])
        assert [m.rep for m in team.leads.allocate(strategy="round_robin").moves] == ["ann"]
        more = add_leads(team, ["retail"] * 4)
        moves = team.leads.allocate(more, strategy="round_robin").moves
        # after ann: bo, cy, then ann again (second slot of each rep comes after every first slot)
        assert [m.rep for m in moves] == ["bo", "cy", "ann", "bo"]
        assert team.settings.get("leads.round_robin_last") == "bo"
        assert first[0] not in [m.lead_id for m in moves]

    def test_skips_full_reps(self, team):
        team.leads.update_rep("ann", capacity=1)
        add_leads(team, ["retail"] * 5)
        assert [m.rep for m in team.leads.allocate(strategy="round_robin").moves] == ["ann", "bo", "cy", "bo", "cy"]


class TestPerformanceWeighted:
    def test_leads_follow_the_smoothed_conversion_rate(self, crm):
        """ann converted 3 of 3: weight (3+1)/(3+2) = 0.8; bo lost 3 of 3: (0+1)/(3+2) = 0.2.

        Slot keys (open + k) / weight: ann 1.25, 2.5, 3.75, 5.0, 6.25; bo 5.0, 10. The tie at 5.0
        goes to the lower k (bo's first slot), so 5 leads go ann, ann, ann, bo, ann.
        """
        crm.leads.add_rep("ann", "Ann", capacity=10)
        crm.leads.add_rep("bo", "Bo", capacity=10)
        for rep, close in (("ann", "convert"), ("bo", "lose")):
            for i in range(3):
                lead = crm.leads.add(f"{rep} history {i}").id
                crm.leads.claim(lead, rep)
                if close == "convert":
                    crm.leads.convert(lead)
                else:
                    crm.leads.lose(lead, "no budget")
        fresh = add_leads(crm, ["retail"] * 5)
        result = crm.leads.allocate(strategy="performance_weighted")
        assert [m.rep for m in result.moves] == ["ann", "ann", "ann", "bo", "ann"]
        assert [m.lead_id for m in result.moves] == fresh


class TestSelectors:
    def test_rules_first_match_to_team_or_reps_then_tie_break(self, team):
        team.leads.add_rule("software to bo", "industry = 'software'", reps=["bo"])
        team.leads.add_rule("EU retail to team b", "industry = 'retail' and region = 'EU'", team="b")
        eu_retail = team.leads.add("EU shop", industry="retail", region="EU").id
        software = team.leads.add("App maker", industry="software").id
        other = team.leads.add("Shop", industry="retail").id
        result = team.leads.allocate(strategy="rules > least_loaded")
        placed = {m.lead_id: m for m in result.moves}
        assert placed[eu_retail].rep == "cy"
        assert placed[eu_retail].reason == "rule 'EU retail to team b' → team b; least_loaded (load 1/8)"
        assert placed[software].rep == "bo"
        assert placed[software].reason.startswith("rule 'software to bo' → bo")
        # no rule: any rep; ann 1/4 = .25 ties cy 2/8 = .25 at k=1 and wins on id
        assert placed[other].rep == "ann"
        assert placed[other].reason.startswith("no rule matched")

    def test_rules_accept_saved_segments_and_the_lead_score_field(self, team):
        team.segments.define("hot", "lead_priority >= 2")
        team.leads.add_rule("hot to ann", "hot", reps=["ann"])
        hot = team.leads.add("Hot", priority=2).id
        result = team.leads.allocate(strategy="rules")
        assert result.moves[0].lead_id == hot and result.moves[0].rep == "ann"
        assert team.leads.rules()[0].rule == "hot"

    def test_skill_match_then_least_loaded(self, team):
        """Retail → ann or cy, software → bo or cy; per group the least loaded wins."""
        ids = add_leads(team, ["retail", "software", "retail", "retail"])
        result = team.leads.allocate(strategy="skill_match > least_loaded")
        assert {m.lead_id: m.rep for m in result.moves} == {ids[0]: "cy", ids[2]: "ann", ids[3]: "cy", ids[1]: "bo"}
        assert result.moves[0].reason.startswith("skills 1/1 (industry retail)")

    def test_skill_match_prefers_more_matching_skills(self, team):
        team.leads.update_rep("bo", products=["erp"], industries=["retail"])
        lead = team.leads.add("Factory", industry="retail", product="erp").id
        result = team.leads.allocate([lead], strategy="skill_match")
        assert result.moves[0].rep == "bo"
        assert "skills 2/2" in result.moves[0].reason

    def test_selectors_intersect(self, team):
        team.leads.add_rule("all retail to team a", "industry = 'retail'", team="a")
        lead = team.leads.add("Shop", industry="retail").id
        # team a = ann, bo; retail skills = ann, cy; both → ann
        result = team.leads.allocate([lead], strategy="rules > skill_match > round_robin")
        assert result.moves[0].rep == "ann"

    def test_skill_match_ranks_within_what_the_rules_allow(self, team):
        """The rule allows only bo, who has no retail skill: skill matching does not empty the
        candidates, it leaves bo."""
        team.leads.add_rule("all to bo", "industry = 'retail'", reps=["bo"])
        lead = team.leads.add("Shop", industry="retail").id
        result = team.leads.allocate([lead], strategy="rules > skill_match")
        assert result.moves[0].rep == "bo"
        assert result.moves[0].reason == "rule 'all to bo' → bo; skill_match: no allowed rep has the skills; least_loaded (load 1/4)"

    def test_no_candidate_leaves_the_lead_in_the_pool(self, team):
        team.leads.add_rule("to ann", "industry = 'retail'", reps=["ann"])
        team.leads.update_rep("ann", active=False)
        lead = team.leads.add("Shop", industry="retail").id
        result = team.leads.allocate(strategy="rules")
        assert result.moves == [] and result.unassigned == [lead]
        assert "rule 'to ann'" in result.unassigned_reason[lead]


class TestPoolRulesInAllocation:
    def test_never_back_to_the_previous_owner(self, team):
        lead = team.leads.add("Shop", industry="retail").id
        team.leads.claim(lead, "ann")
        team.leads.release(lead, "ann", "not my area")
        result = team.leads.allocate()
        assert result.moves[0].rep != "ann"
        assert "not back to ann" in result.moves[0].reason

    def test_daily_quota_caps_automatic_allocation(self, team, clock):
        """Quota 0.5 of capacity: ann 2, bo 2, cy 4 a day."""
        team.leads.configure(daily_quota=0.5)
        add_leads(team, ["retail"] * 12)
        assert team.leads.allocate().by_rep() == {"ann": 2, "bo": 2, "cy": 4}
        assert team.leads.allocate().count == 0
        clock.advance(days=1)
        # the 4 left: cy 5/8 = .625 first, then .75 for ann k1, bo k1 and cy k2
        assert team.leads.allocate().by_rep() == {"ann": 1, "bo": 1, "cy": 2}


class TestTransactionAndDryRun:
    def test_dry_run_writes_nothing(self, team, row_counts):
        add_leads(team, ["retail"] * 3)
        before = row_counts(team)
        result = team.leads.allocate(dry_run=True)
        assert result.dry_run and result.count == 3
        assert row_counts(team) == before

    def test_audit_and_history_of_an_allocation(self, team):
        lead = add_leads(team, ["retail"])[0]
        team.leads.allocate()
        entries = team.audit.query(entity="lead", entity_id=lead, action="lead.allocate")
        assert len(entries) == 1
        assert entries[0].after == {"owner": "cy", "reason": "least_loaded (load 1/8)", "status": "assigned"}
        assert entries[0].source == "leads"
        [spell] = team.leads.history(lead)
        assert (spell.rep, spell.how, spell.reason, spell.ended_at) == ("cy", "allocate", "least_loaded (load 1/8)", None)

    def test_leads_not_in_the_pool_are_refused_and_nothing_changes(self, team, row_counts):
        ids = add_leads(team, ["retail"] * 2)
        team.leads.claim(ids[0], "ann")
        before = row_counts(team)
        with pytest.raises(ConflictError, match=rf"not in the pool: {ids[0]} \(assigned\)"):
            team.leads.allocate(ids)
        with pytest.raises(ConflictError, match="999 \\(no such lead\\)"):
            team.leads.allocate([999])
        assert row_counts(team) == before

    def test_bad_strategies_are_clear_errors(self, team, row_counts):
        add_leads(team, ["retail"])
        before = row_counts(team)
        with pytest.raises(CrmError, match="unknown allocation strategy 'fastest'; known: least_loaded, performance_weighted, round_robin, rules, skill_match"):
            team.leads.allocate(strategy="fastest")
        with pytest.raises(CrmError, match="selectors first"):
            team.leads.allocate(strategy="least_loaded > rules")
        with pytest.raises(CrmError, match="strategy is text"):
            team.leads.allocate(strategy="")
        assert row_counts(team) == before

    def test_bad_rules_are_refused(self, team, row_counts):
        before = row_counts(team)
        with pytest.raises(CrmError, match="unknown field 'industy'"):
            team.leads.add_rule("typo", "industy = 'x'", reps=["ann"])
        with pytest.raises(CrmError, match="a team or a list of reps"):
            team.leads.add_rule("nowhere", "industry = 'x'")
        with pytest.raises(CrmError, match="no rep with id 'zed'"):
            team.leads.add_rule("ghost", "industry = 'x'", reps=["zed"])
        with pytest.raises(CrmError, match="no rep is in team 'c'"):
            team.leads.add_rule("ghost team", "industry = 'x'", team="c")
        assert row_counts(team) == before
        team.leads.add_rule("ok", "industry = 'x'", reps=["ann"])
        with pytest.raises(ConflictError, match="exists"):
            team.leads.add_rule("ok", "industry = 'y'", reps=["ann"])
        team.leads.remove_rule("ok")
        assert team.leads.rules() == []
        with pytest.raises(CrmError, match="no allocation rule named 'ok'"):
            team.leads.remove_rule("ok")


def by_experience(ctx):
    """Most experienced first: reps with higher experience take leads before others."""
    return "-s.experience"


def same_region(ctx):
    """Same region: reps whose team is named like the lead's region."""
    keys = ctx.lead_values("c.region")
    return {key: Candidates([r.id for r in ctx.reps if r.team == key] if key else None, f"region {key}") for key in keys}


class StrategyPlugin:
    """A third-party plugin contributing one selector and one picker."""

    name = "strategy_plugin"

    @hookimpl(optionalhook=True)
    def crmkit_leads_strategies(self, crm):
        return [Picker("by_experience", by_experience), Selector("same_region", same_region)]


class TestStrategiesFromOtherPlugins:
    def test_a_plugin_contributes_strategies_through_the_hook(self, clock):
        crm = crmkit.open(":memory:", plugins=["leads", StrategyPlugin()], clock=clock)
        crm.leads.add_rep("ann", "Ann", team="a", experience=2, capacity=5)
        crm.leads.add_rep("bo", "Bo", team="a", experience=4, capacity=5)
        crm.leads.add_rep("cy", "Cy", team="b", experience=5, capacity=5)
        names = {s["name"]: s for s in crm.leads.strategy_list()}
        assert names["by_experience"]["plugin"] == "strategy_plugin"
        assert names["by_experience"]["kind"] == "picker"
        assert names["same_region"]["description"].startswith("Same region")
        lead_a = crm.leads.add("In a", region="a").id
        lead_b = crm.leads.add("In b", region="b").id
        result = crm.leads.allocate(strategy="same_region > by_experience")
        assert {m.lead_id: m.rep for m in result.moves} == {lead_a: "bo", lead_b: "cy"}
        assert result.moves[0].reason == "region a; by_experience (load 1/5)"
        crm.close()

    def test_the_plugin_loads_without_the_leads_plugin(self, clock):
        crm = crmkit.open(":memory:", plugins=[StrategyPlugin()], clock=clock)
        assert crm.plugins.names() == ["strategy_plugin"]
        crm.close()

    def test_a_name_clash_is_an_error_naming_both(self, clock):
        class Clash:
            name = "clash"

            @hookimpl(optionalhook=True)
            def crmkit_leads_strategies(self, crm):
                return [Picker("least_loaded", by_experience)]

        with pytest.raises(CrmError, match="strategy 'least_loaded' is contributed by both 'leads' and 'clash'"):
            crmkit.open(":memory:", plugins=["leads", Clash()], clock=clock)
