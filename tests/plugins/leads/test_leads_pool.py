"""The shared pool: claims and their limits, concurrent claims, releases, extensions,
protection, follow-ups and recycling through crmkit_due."""

from __future__ import annotations

import threading

import pytest

import crmkit
from crmkit import ConflictError, NotFound, ValidationError


class TestClaims:
    def test_claim_assigns_and_records(self, team):
        lead = team.leads.add("Shop").id
        claimed = team.leads.claim(lead, "ann")
        assert (claimed.status, claimed.owner) == ("assigned", "ann")
        assert claimed.recycle_at.isoformat() == "2025-01-08T09:00:00+00:00"  # 7 days after 2025-01-01 09:00
        [spell] = team.leads.history(lead)
        assert (spell.how, spell.rep) == ("claim", "ann")
        [entry] = team.audit.query(entity="lead", entity_id=lead, action="lead.claim")
        assert entry.before == {"owner": None, "status": "pool"}

    def test_capacity_limit(self, team, row_counts):
        ids = [team.leads.add(f"L{i}").id for i in range(5)]
        for lead in ids[:4]:
            team.leads.claim(lead, "ann")
        before = row_counts(team)
        with pytest.raises(ConflictError, match=r"rep ann is at capacity \(4 of 4 open leads\)"):
            team.leads.claim(ids[4], "ann")
        assert row_counts(team) == before

    def test_daily_claim_cap_and_the_reps_own_limit(self, team, clock, row_counts):
        team.leads.configure(daily_claim_cap=2)
        ids = [team.leads.add(f"L{i}").id for i in range(6)]
        team.leads.claim(ids[0], "cy")
        team.leads.claim(ids[1], "cy")
        before = row_counts(team)
        with pytest.raises(ConflictError, match=r"daily claim limit \(2 of 2 today\)"):
            team.leads.claim(ids[2], "cy")
        assert row_counts(team) == before
        clock.advance(days=1)
        team.leads.claim(ids[2], "cy")
        team.leads.update_rep("bo", claim_limit=1)
        team.leads.claim(ids[3], "bo")
        with pytest.raises(ConflictError, match=r"\(1 of 1 today\)"):
            team.leads.claim(ids[4], "bo")

    def test_claim_errors_change_nothing(self, team, row_counts):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        other = team.leads.add("Other").id
        team.leads.update_rep("cy", active=False)
        before = row_counts(team)
        with pytest.raises(ConflictError, match=f"lead {lead} is assigned \\(owner ann\\), not in the pool"):
            team.leads.claim(lead, "bo")
        with pytest.raises(NotFound, match="no rep with id 'zed'"):
            team.leads.claim(other, "zed")
        with pytest.raises(NotFound, match="no lead with id 999"):
            team.leads.claim(999, "bo")
        with pytest.raises(ConflictError, match="rep cy is inactive"):
            team.leads.claim(other, "cy")
        assert row_counts(team) == before

    def test_two_reps_claiming_at_once_exactly_one_wins(self, file_crm, crm_path, clock):
        """Two CRM objects (two connections) on one file claim the same lead at the same moment."""
        file_crm.leads.add_rep("ann", "Ann", capacity=5)
        file_crm.leads.add_rep("bo", "Bo", capacity=5)
        lead = file_crm.leads.add("Contested").id
        other = crmkit.open(crm_path, plugins=["leads"], clock=clock)
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def attempt(crm, rep):
            barrier.wait()
            try:
                crm.leads.claim(lead, rep)
                outcomes[rep] = "won"
            except ConflictError as error:
                outcomes[rep] = str(error)

        threads = [threading.Thread(target=attempt, args=(c, r)) for c, r in ((file_crm, "ann"), (other, "bo"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        other.close()
        winners = [rep for rep, outcome in outcomes.items() if outcome == "won"]
        assert len(winners) == 1
        loser = ({"ann", "bo"} - set(winners)).pop()
        assert "not in the pool" in outcomes[loser]
        assert file_crm.leads.get(lead).owner == winners[0]
        assert len(file_crm.leads.history(lead)) == 1


class TestReleaseReassign:
    def test_release_back_to_the_pool_with_cooldown(self, team, clock):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        released = team.leads.release(lead, "ann", "wrong region")
        assert (released.status, released.owner, released.previous_owner) == ("pool", None, "ann")
        assert released.cooldown_until.isoformat() == "2025-01-04T09:00:00+00:00"  # 3 days
        with pytest.raises(ConflictError, match="cooldown ends 2025-01-04T09:00:00Z"):
            team.leads.claim(lead, "ann")
        clock.set("2025-01-04T09:00:00Z")
        assert team.leads.claim(lead, "ann").owner == "ann"
        spells = team.leads.history(lead)
        assert [(s.rep, s.how, s.end_how, s.end_reason) for s in spells] == [
            ("ann", "claim", "release", "wrong region"), ("ann", "claim", None, None),
        ]

    def test_only_the_owner_releases_or_extends(self, team, row_counts):
        lead = team.leads.add("Shop").id
        pooled = team.leads.add("Pooled").id
        team.leads.claim(lead, "ann")
        before = row_counts(team)
        with pytest.raises(ConflictError, match="belongs to ann, not bo"):
            team.leads.release(lead, "bo")
        with pytest.raises(ConflictError, match="belongs to ann, not bo"):
            team.leads.extend(lead, "bo")
        with pytest.raises(ConflictError, match=r"lead \d+ is in the pool; only the owner of an assigned lead can release it"):
            team.leads.release(pooled, "ann")
        assert row_counts(team) == before

    def test_reassign_needs_a_reason_and_keeps_the_history(self, team, row_counts):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        before = row_counts(team)
        with pytest.raises(ValidationError, match="reason"):
            team.leads.reassign(lead, "bo", "")
        with pytest.raises(ConflictError, match="already with ann"):
            team.leads.reassign(lead, "ann", "x")
        assert row_counts(team) == before
        moved = team.leads.reassign(lead, "bo", "ann is on leave")
        assert moved.owner == "bo"
        assert [(s.rep, s.how, s.end_how) for s in team.leads.history(lead)] == [("ann", "claim", "reassign"), ("bo", "reassign", None)]
        [entry] = team.audit.query(entity="lead", entity_id=lead, action="lead.reassign")
        assert entry.before["owner"] == "ann" and entry.after["reason"] == "ann is on leave"


class TestFollowUps:
    def test_owner_contact_is_a_follow_up_and_moves_the_recycle_time(self, team):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        team.interactions.record(lead, "call", "2025-01-02T09:00:00Z", rep="bo")  # not the owner
        team.interactions.record(lead, "note", "2025-01-02T10:00:00Z", rep="ann")  # not a follow-up kind
        assert team.leads.get(lead).status == "assigned"
        team.interactions.record_many([
            {"customer_id": lead, "kind": "call", "occurred_at": "2025-01-03T09:00:00Z", "rep": "ann"},
            {"customer_id": lead, "kind": "email", "occurred_at": "2025-01-04T09:00:00Z", "rep": "ann"},
        ])
        after = team.leads.get(lead)
        assert after.status == "following_up"
        assert after.first_followed_up_at.isoformat() == "2025-01-03T09:00:00+00:00"
        assert after.last_followed_up_at.isoformat() == "2025-01-04T09:00:00+00:00"
        assert after.recycle_at.isoformat() == "2025-01-11T09:00:00+00:00"  # last follow-up + 7 days
        [spell] = team.leads.history(lead)
        assert spell.first_follow_up_at.isoformat() == "2025-01-03T09:00:00+00:00"
        assert len(team.audit.query(entity="lead", entity_id=lead, action="lead.follow_up")) == 1

    def test_the_follow_up_kinds_are_configurable(self, team):
        team.leads.configure(follow_up_kinds=["visit"])
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        team.interactions.record(lead, "call", "2025-01-02T09:00:00Z", rep="ann")
        assert team.leads.get(lead).status == "assigned"
        team.interactions.record(lead, "visit", "2025-01-02T09:00:00Z", rep="ann")
        assert team.leads.get(lead).status == "following_up"


class TestRecycling:
    def test_lapsed_lead_is_recycled_once_and_not_back_to_the_same_rep(self, team, clock):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        clock.set("2025-01-08T08:59:59Z")
        assert team.run_due().results["leads"]["recycled"] == 0
        clock.set("2025-01-08T09:00:00Z")
        first = team.run_due()
        assert first.results["leads"]["recycled"] == 1
        again = team.run_due()  # same now: idempotent
        assert again.results["leads"]["recycled"] == 0
        recycled = team.leads.get(lead)
        assert (recycled.status, recycled.owner, recycled.previous_owner, recycled.recycles) == ("pool", None, "ann", 1)
        [spell] = team.leads.history(lead)
        assert (spell.end_how, spell.end_reason) == ("recycle", "no follow-up by 2025-01-08")
        assert len(team.audit.query(entity="lead", entity_id=lead, action="lead.recycle")) == 1
        with pytest.raises(ConflictError, match="cooldown"):
            team.leads.claim(lead, "ann")
        assert team.leads.allocate().moves[0].rep != "ann"

    def test_recycled_leads_are_reoffered_during_due(self, team, clock):
        team.leads.configure(recycle_strategy="least_loaded")
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "cy")
        clock.set("2025-01-09T09:00:00Z")
        summary = team.run_due().results["leads"]
        assert (summary["recycled"], summary["reallocated"]) == (1, 1)
        after = team.leads.get(lead)
        assert after.owner == "ann"  # least loaded among ann and bo (cy excluded): tie → ann
        assert [(s.rep, s.how) for s in team.leads.history(lead)] == [("cy", "claim"), ("ann", "reallocate")]

    def test_per_class_period_and_extensions(self, team, clock, row_counts):
        team.leads.configure(recycle_days={"default": 7, "hot": 3}, max_extensions=2, extension_days=5)
        hot = team.leads.add("Hot", lead_class="hot").id
        team.leads.claim(hot, "ann")
        assert team.leads.get(hot).recycle_at.isoformat() == "2025-01-04T09:00:00+00:00"
        assert team.leads.extend(hot, "ann", "waiting for budget").recycle_at.isoformat() == "2025-01-09T09:00:00+00:00"
        assert team.leads.extend(hot, "ann").recycle_at.isoformat() == "2025-01-14T09:00:00+00:00"
        before = row_counts(team)
        with pytest.raises(ConflictError, match="already had 2 extension\\(s\\); the limit is 2"):
            team.leads.extend(hot, "ann")
        assert row_counts(team) == before
        [entry] = team.audit.query(entity="lead", entity_id=hot, action="lead.extend", limit=1)
        assert entry.after["extensions"] == 2
        clock.set("2025-01-13T09:00:00Z")
        assert team.run_due().results["leads"]["recycled"] == 0
        clock.set("2025-01-14T09:00:00Z")
        assert team.run_due().results["leads"]["recycled"] == 1

    def test_changing_the_period_recomputes_open_leads(self, team):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        team.leads.configure(recycle_days={"default": 10})
        assert team.leads.get(lead).recycle_at.isoformat() == "2025-01-11T09:00:00+00:00"

    def test_protected_leads_never_recycle(self, team, clock, row_counts):
        lead = team.leads.add("Key account").id
        team.leads.claim(lead, "ann")
        before = row_counts(team)
        with pytest.raises(ValidationError, match="who protects the lead and why"):
            team.leads.protect(lead, "boss", " ")
        assert row_counts(team) == before
        protected = team.leads.protect(lead, "boss", "strategic account")
        assert (protected.protected, protected.protected_by, protected.protected_reason) == (True, "boss", "strategic account")
        with pytest.raises(ConflictError, match="protected"):
            team.leads.extend(lead, "ann")
        clock.set("2025-03-01T09:00:00Z")
        assert team.run_due().results["leads"]["recycled"] == 0
        assert team.leads.get(lead).status == "assigned"
        team.leads.unprotect(lead, "boss", "deal slipped")
        assert team.run_due().results["leads"]["recycled"] == 1  # long overdue once unprotected
        actions = [e.action for e in team.audit.query(entity="lead", entity_id=lead, action="lead.*")]
        assert actions == ["lead.recycle", "lead.unprotect", "lead.protect", "lead.claim"]

    def test_reminder_task_before_the_recycle_time(self, team, clock):
        lead = team.leads.add("Shop").id
        team.leads.claim(lead, "ann")
        clock.set("2025-01-05T09:00:00Z")  # recycle at 01-08 09:00, reminders 2 days ahead: not yet
        assert team.run_due().results["leads"]["reminders"] == 0
        clock.set("2025-01-06T09:00:00Z")
        assert team.run_due().results["leads"]["reminders"] == 1
        clock.set("2025-01-07T09:00:00Z")
        assert team.run_due().results["leads"]["reminders"] == 0  # the open task holds the key
        [task] = team.tasks.open(owner="ann")
        assert (task.kind, task.customer_id, task.source) == ("lead_follow_up", lead, "leads")
        assert task.due_at.isoformat() == "2025-01-08T09:00:00+00:00"

    def test_bad_options_are_refused(self, team, row_counts):
        before = row_counts(team)
        for options, message in (
            ({"recycle_days": {"hot": 3}}, '"default" entry'),
            ({"recycle_days": {"default": 0}}, "a whole number from 1 to 3650"),
            ({"daily_quota": 2}, "share of capacity"),
            ({"cooldown_days": -1}, "a whole number from 0 to 3650"),
            ({"colour": "red"}, "option"),
            ({"recycle_strategy": "nope"}, "unknown allocation strategy"),
        ):
            with pytest.raises(crmkit.CrmError, match=message):
                team.leads.configure(**options)
        assert row_counts(team) == before
