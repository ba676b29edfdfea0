"""Leads and reps as records: adding, the prospect link, conversion, loss, fields, erasure, merging."""

from __future__ import annotations

import pytest

from crmkit import ConflictError, NotFound, ValidationError


class TestAddingLeads:
    def test_a_lead_is_a_prospect_customer_in_the_pool(self, crm):
        lead = crm.leads.add("Acme Ltd", email="buyer@acme.test", industry="retail", size="small", source="trade show",
                             priority=2, needs="a till system", product="pos", language="en", lead_class="hot")
        customer = crm.customers.get(lead.id)
        assert (customer.stage, customer.source, customer.industry) == ("prospect", "trade show", "retail")
        assert (lead.status, lead.stage, lead.priority, lead.needs, lead.product, lead.lead_class) == (
            "pool", "new", 2, "a till system", "pos", "hot")
        assert lead.received_at == customer.created_at

    def test_prospects_added_through_the_core_join_the_pool(self, crm):
        prospect = crm.customers.add(name="Walk-in", stage="prospect")
        regular = crm.customers.add(name="Old client", stage="mature")
        assert crm.leads.get(prospect.id).status == "pool"
        with pytest.raises(NotFound, match=f"no lead with id {regular.id}"):
            crm.leads.get(regular.id)

    def test_a_customer_moved_back_to_prospect_joins_the_pool(self, crm, clock):
        customer = crm.customers.add(name="Old client", stage="churned")
        clock.advance(days=30)
        crm.customers.update(customer.id, stage="prospect")
        lead = crm.leads.get(customer.id)
        assert lead.status == "pool"
        assert lead.received_at.isoformat() == "2025-01-31T09:00:00+00:00"  # when it became a prospect

    @pytest.mark.parametrize("size", [1, 64, 65, 700])
    def test_any_size_of_batch_puts_exactly_its_prospects_in_the_pool(self, crm, size):
        """Small batches are read record by record, large ones asked of the database: the same leads."""
        rows = [{"name": f"C{n}", "stage": "prospect" if n % 3 == 0 else "mature"} for n in range(size)]
        ids = crm.customers.add_many(rows, batch_size=500)
        pooled = [r[0] for r in crm.db.execute("SELECT customer_id FROM leads_leads WHERE status = 'pool' ORDER BY customer_id")]
        assert pooled == [customer_id for customer_id, row in zip(ids, rows) if row["stage"] == "prospect"]

    def test_a_customers_import_by_column_puts_its_prospects_in_the_pool(self, crm, tmp_path, monkeypatch):
        from crmkit import columnar
        from crmkit.importing import import_file

        monkeypatch.setattr(columnar, "DEFER_INDEXES", 10)
        path = tmp_path / "people.csv"
        path.write_text("external_id,name,stage\n" + "".join(
            f"P{n},Person {n},{'prospect' if n % 4 == 0 else 'mature'}\n" for n in range(300)), encoding="utf-8")
        assert import_file(crm, path, kind="customers").added == 300
        pooled = [r[0] for r in crm.db.execute(
            "SELECT c.external_id FROM leads_leads l JOIN customers c ON c.id = l.customer_id ORDER BY c.id")]
        assert pooled == [f"P{n}" for n in range(0, 300, 4)]

    def test_auto_pool_can_be_switched_off(self, crm):
        crm.leads.configure(auto_pool=False)
        prospect = crm.customers.add(name="Walk-in", stage="prospect")
        with pytest.raises(NotFound):
            crm.leads.get(prospect.id)
        assert crm.leads.receive([prospect.id]) == 1
        assert crm.leads.counts()["pool"] == 1

    def test_add_many_is_all_or_nothing(self, crm, row_counts):
        before = row_counts(crm)
        with pytest.raises(ValidationError, match="row 2: priority"):
            crm.leads.add_many([{"name": "Fine"}, {"name": "Bad", "priority": "high"}])
        with pytest.raises(ValidationError, match="row 1: stage"):
            crm.leads.add_many([{"name": "Bad", "stage": "won"}])
        with pytest.raises(ValidationError, match="email"):
            crm.leads.add_many([{"name": "Fine"}, {"name": "Bad", "email": "nope"}])
        with pytest.raises(ValidationError, match="row 1"):
            crm.leads.add_many(["not a dict"])
        assert row_counts(crm) == before
        ids = crm.leads.add_many([{"name": "A", "stage": "contacted"}, {"name": "B", "priority": "3"}])
        assert [crm.leads.get(i).stage for i in ids] == ["contacted", "new"]
        assert crm.leads.get(ids[1]).priority == 3

    def test_reps_validate(self, crm, row_counts):
        before = row_counts(crm)
        with pytest.raises(ValidationError, match="capacity"):
            crm.leads.add_rep("ann", "Ann", capacity=0)
        with pytest.raises(ValidationError, match="rep"):
            crm.leads.add_rep("a b", "Ann")
        with pytest.raises(ValidationError, match="experience"):
            crm.leads.add_rep("ann", "Ann", experience=9)
        with pytest.raises(ValidationError, match="a rep field"):
            crm.leads.add_rep("ann", "Ann", colour="red")
        assert row_counts(crm) == before
        rep = crm.leads.add_rep("ann", "Ann", industries="retail, food", capacity=5)
        assert rep.industries == ("retail", "food")
        assert crm.leads.update_rep("ann", active=False).active is False
        assert [e.action for e in crm.audit.query(entity="rep", entity_id="ann")] == ["rep.update", "rep.add"]


class TestOutcomes:
    def test_convert_makes_a_new_customer_owned_by_the_rep(self, team):
        lead = team.leads.add("Acme").id
        team.leads.claim(lead, "ann")
        customer = team.leads.convert(lead)
        assert (customer.stage, customer.owner) == ("new", "ann")
        after = team.leads.get(lead)
        assert (after.status, after.closed_at.isoformat()) == ("converted", "2025-01-01T09:00:00+00:00")
        [spell] = team.leads.history(lead)
        assert spell.end_how == "convert"

    def test_lose_needs_a_listed_reason(self, team, row_counts):
        lead = team.leads.add("Acme").id
        team.leads.claim(lead, "ann")
        before = row_counts(team)
        with pytest.raises(ValidationError, match="one of no budget, no need"):
            team.leads.lose(lead, "weather")
        assert row_counts(team) == before
        lost = team.leads.lose(lead, "no budget")
        assert (lost.status, lost.lost_reason) == ("lost", "no budget")
        with pytest.raises(ConflictError, match="already lost"):
            team.leads.convert(lead)
        team.leads.configure(lost_reasons=["timing"])
        other = team.leads.add("Other").id
        assert team.leads.lose(other, "timing").status == "lost"

    def test_sales_stages_are_configurable(self, team, row_counts):
        lead = team.leads.add("Acme").id
        assert team.leads.advance(lead, "qualified").stage == "qualified"
        before = row_counts(team)
        with pytest.raises(ValidationError, match="one of new, contacted, qualified, proposal"):
            team.leads.advance(lead, "negotiation")
        assert row_counts(team) == before
        team.leads.configure(stages=["new", "negotiation"])
        assert team.leads.advance(lead, "negotiation").stage == "negotiation"


class TestFields:
    def test_lead_fields_work_in_segment_rules(self, team):
        a = team.leads.add("A", source="referral", priority=2).id
        b = team.leads.add("B", source="web search").id
        team.customers.add(name="Not a lead", source="referral")
        team.leads.claim(a, "ann")
        assert list(team.segments.evaluate("lead_status = 'assigned'").ids()) == [a]
        assert list(team.segments.evaluate("lead_source = 'referral'").ids()) == [a]
        assert list(team.segments.evaluate("lead_owner = 'ann' and lead_priority >= 2").ids()) == [a]
        assert list(team.segments.evaluate("lead_status = 'pool'").ids()) == [b]
        assert list(team.segments.evaluate("lead_protected").ids()) == []
        assert team.segments.evaluate("lead_status is null").count() == 1


class TestErasureAndMerging:
    def test_forget_erases_the_leads_free_text(self, team):
        lead = team.leads.add("Acme", needs="call Jo on her private number 555").id
        team.leads.claim(lead, "ann")
        team.leads.protect(lead, "boss", "Jo is the CEO's sister")
        team.forget(lead)
        after = team.leads.get(lead)
        assert after.needs is None and after.protected_reason == "erased"
        assert after.owner == "ann"  # the figures still add up

    def test_merge_moves_the_lead_to_the_kept_customer(self, team):
        kept = team.customers.add(name="Acme Ltd", stage="new")
        dup = team.leads.add("ACME").id
        team.leads.claim(dup, "ann")
        team.customers.merge(kept.id, dup)
        moved = team.leads.get(kept.id)
        assert (moved.status, moved.owner) == ("assigned", "ann")
        assert [s.lead_id for s in team.leads.history(kept.id)] == [kept.id]

    def test_merge_of_two_leads_keeps_one_and_the_history_of_both(self, team):
        kept = team.leads.add("Acme").id
        dup = team.leads.add("ACME").id
        team.leads.claim(kept, "ann")
        team.leads.claim(dup, "bo")
        team.customers.merge(kept, dup)
        assert team.leads.get(kept).owner == "ann"
        with pytest.raises(NotFound):
            team.leads.get(dup)
        history = team.leads.history(kept)
        assert sorted((s.rep, s.end_how) for s in history) == [("ann", None), ("bo", "merge")]


class TestDemoData:
    def test_demo_is_deterministic_and_alive(self, clock):
        """Two demo loads with the same seed give the same leads; every status occurs."""
        import crmkit

        results = []
        for _ in range(2):
            crm = crmkit.open(":memory:", plugins=["leads"], clock=clock)
            with crm.transaction():
                crm.plugins.call("crmkit_demo_data", crm=crm, seed=3, now=crm.now())
            results.append((crm.leads.counts(), crm.db.execute(
                "SELECT group_concat(customer_id || status || COALESCE(owner, '')) FROM leads_leads").fetchone()[0]))
            assert len(crm.leads.reps()) == 6
            assert crm.settings.get("leads.model") is not None
            crm.close()
        assert results[0] == results[1]
        counts = results[0][0]
        assert counts["converted"] > 0 and counts["lost"] > 0 and counts["assigned"] + counts["following_up"] > 0


def test_the_plugins_hook_and_strategies_are_documented():
    """The hook the plugin adds and every built-in strategy appear in docs/plugins/leads.md."""
    import inspect
    from pathlib import Path

    from crmkit_leads import hookspecs
    from crmkit_leads.strategies import BUILT_IN

    page = (Path(__file__).resolve().parents[3] / "docs" / "plugins" / "leads.md").read_text(encoding="utf-8")
    hooks = [name for name, item in vars(hookspecs).items() if name.startswith("crmkit_") and inspect.isfunction(item)]
    assert hooks == ["crmkit_leads_strategies"]
    for name in hooks + [s.name for s in BUILT_IN]:
        assert f"`{name}" in page, name
