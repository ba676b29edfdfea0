"""Opening from interactions in batches, satisfaction surveys, feedback interactions, erasure, merge."""

from __future__ import annotations

import pytest

import crmkit
from crmkit_complaints.models import OPEN_STATES


def complaint_rows(customer_ids, n, **data):
    return [
        {"customer_id": customer_ids[i % len(customer_ids)], "kind": "complaint", "channel": "email",
         "occurred_at": f"2024-12-{1 + i % 28:02d}T10:00:00Z", "product": "kettle",
         "data": {"category": "quality", "severity": ["low", "normal", "high", "critical"][i % 4], **data}}
        for i in range(n)
    ]


class TestOpeningFromInteractions:
    def test_batches_open_one_ticket_per_complaint(self, team, customer):
        crm = team
        other = crm.customers.add(name="Bo")
        result = crm.interactions.record_many(
            complaint_rows([customer.id, other.id], 12) + [{"customer_id": customer.id, "kind": "call"}], batch_size=5
        )
        assert result.count == 13
        rows = crm.db.execute(
            "SELECT interaction_id, customer_id, severity, category, product, channel, status, received_at "
            "FROM complaints_complaints ORDER BY id"
        ).fetchall()
        assert len(rows) == 12
        assert [r[0] for r in rows] == list(range(1, 13))
        assert rows[1] == (2, other.id, "normal", "quality", "kettle", "email", "received", "2024-12-02T10:00:00Z")
        # three batches of the log (5, 5, 3 rows): one audit entry per batch
        assert len(crm.audit.query(action="complaint.open")) == 3
        assert crm.db.execute("SELECT count(*) FROM complaints_history WHERE event = 'received'").fetchone()[0] == 12
        # received 2024-12-01 10:00, low: ack 24 h, resolve 10 d
        first = crm.complaints.get(1)
        assert crmkit.timeutil.to_iso(first.resolve_due_at) == "2024-12-11T10:00:00Z"
        # everyone got an owner, least-loaded: ann and bob share 12 equally
        assert sorted(crm.complaints.get(i).owner for i in range(1, 13)).count("ann") == 6

    @pytest.mark.parametrize("size", [1, 64, 65, 300])
    def test_any_size_of_batch_opens_tickets_for_its_complaints_only(self, team, customer, size):
        """Small batches are read record by record, large ones asked of the database: the same tickets."""
        crm = team
        complaints = {size - 1, size // 2}
        rows = [
            complaint_rows([customer.id], 1)[0] if n in complaints
            else {"customer_id": customer.id, "kind": "call", "occurred_at": f"2024-11-{1 + n % 28:02d}T09:00:00Z"}
            for n in range(size)
        ]
        result = crm.interactions.record_many(rows)
        opened = [r[0] for r in crm.db.execute("SELECT interaction_id FROM complaints_complaints ORDER BY interaction_id")]
        assert opened == [result.first_id + n for n in sorted(complaints)]
        crm.interactions.record_many([{"customer_id": customer.id, "kind": "call"}] * size)
        assert crm.db.execute("SELECT count(*) FROM complaints_complaints").fetchone()[0] == len(complaints)

    def test_bad_severity_rolls_the_whole_write_back(self, team, customer, snapshot):
        crm = team
        before = snapshot(crm)
        rows = complaint_rows([customer.id], 4)
        rows[2]["data"]["severity"] = "apocalyptic"
        with pytest.raises(crmkit.PluginError, match="interaction 3: data.severity") as caught:
            crm.interactions.record_many(rows)
        assert caught.value.plugin == "complaints"
        assert snapshot(crm) == before

    def test_description_falls_back_to_notes(self, crm, customer):
        crm.interactions.record(customer.id, "complaint", notes="lid broke", data={"desired_outcome": "new lid"})
        c = crm.complaints.get(1)
        assert (c.description, c.desired_outcome, c.severity) == ("lid broke", "new lid", "normal")

    def test_survey_about_a_complaint_sets_satisfaction(self, crm, customer):
        crm.interactions.record(customer.id, "complaint")
        crm.interactions.record(customer.id, "survey", data={"score": 5, "topic": "complaint", "complaint_id": 1})
        crm.interactions.record(customer.id, "survey", data={"score": 1, "topic": "delivery"})
        assert crm.complaints.get(1).satisfaction == 5

    def test_a_survey_for_another_customers_complaint_is_ignored(self, crm, customer):
        crm.interactions.record(customer.id, "complaint")
        stranger = crm.customers.add(name="Stranger")
        crm.interactions.record(stranger.id, "survey", data={"score": 1, "topic": "complaint", "complaint_id": 1})
        assert crm.complaints.get(1).satisfaction is None


class TestErasureAndMerge:
    def test_forget_blanks_free_text_and_keeps_figures(self, team, customer):
        crm = team
        c = crm.complaints.open(customer.id, description="my neighbour Bob ...", desired_outcome="refund")
        crm.complaints.add_note(c.id, "called Alice at home")
        crm.complaints.feedback.record(customer.id, "Alice wants dark mode", title="Alice's idea")
        crm.forget(customer.id)
        after = crm.complaints.get(c.id)
        assert (after.description, after.desired_outcome, after.severity) == (None, None, "normal")
        assert [n.text for n in crm.complaints.notes(c.id)] == [None]
        assert all(h.message is None for h in crm.complaints.history(c.id))
        item = crm.complaints.feedback.get(1)
        assert (item.text, item.title) == (None, None)
        assert crm.complaints.stats()[0]["received"] == 1

    def test_merge_moves_complaints_and_feedback(self, team, customer):
        crm = team
        dup = crm.customers.add(name="Alice N.")
        c = crm.complaints.open(dup.id)
        crm.complaints.feedback.record(dup.id, "more colours")
        crm.customers.merge(customer.id, dup.id)
        assert crm.complaints.get(c.id).customer_id == customer.id
        assert crm.complaints.feedback.requesters(1)[0]["customer_id"] == customer.id


class TestLabelsFromOtherSystems:
    def test_severity_and_feedback_aliases(self, crm, customer):
        crm.interactions.record(customer.id, "complaint", data={"severity": "Medium"})
        crm.interactions.record(customer.id, "feedback", data={"topic": "delivery options"})
        assert crm.complaints.get(1).severity == "normal"
        assert crm.complaints.open(customer.id, severity="urgent").severity == "critical"
        [item] = crm.complaints.feedback.list()
        assert (item.classification, item.title) == ("delivery", "delivery options")


class TestDemo:
    def test_demo_data_is_deterministic_and_alive(self, tmp_path):
        from crmkit.demo.build import build

        rows = []
        for name in ("a.db", "b.db"):
            build(tmp_path / name, customers=150, seed=3, plugins=["complaints"])
            crm = crmkit.open(tmp_path / name, plugins=["complaints"])
            rows.append((
                crm.db.execute("SELECT id, owner, status, status_at, satisfaction FROM complaints_complaints ORDER BY id").fetchall(),
                crm.db.execute("SELECT id, status, urgency FROM complaints_feedback ORDER BY id").fetchall(),
            ))
            assert len(crm.complaints.handlers()) == 7
            crm.close()
        assert rows[0] == rows[1]
        statuses = {r[2] for r in rows[0][0]}
        assert "closed" in statuses and all(r[1] for r in rows[0][0])

    def test_the_demo_queue_holds_recent_complaints_only(self, tmp_path):
        """A reopened complaint is handled again, so the demo's queue holds the last weeks'
        tickets, not complaints reopened years before the demo's today."""
        from crmkit.demo.build import build

        build(tmp_path / "demo.db", customers=600, seed=3, plugins=["complaints"])
        with crmkit.open(tmp_path / "demo.db", plugins=["complaints"]) as crm:
            today = crm.now()
            opened = [c for c in crm.complaints.list(limit=1_000_000) if c.status in OPEN_STATES]
            reopened_then_closed = crm.db.execute(
                "SELECT count(*) FROM complaints_complaints WHERE reopen_count > 0 AND status = 'closed'"
            ).fetchone()[0]
        assert reopened_then_closed > 0
        assert all((today - c.status_at).days <= 45 for c in opened), sorted(
            (c.id, c.status, c.status_at.date().isoformat()) for c in opened if (today - c.status_at).days > 45
        )
