"""Figures as of a date stay exact now that they are computed set-based.

Transitions exactly at ``as_of`` count and one second later do not; and on demo data (pauses,
rejections, reopenings, surveys) the set-based figures equal, at many dates, periods and
breakdowns, those of the first version, which looked each complaint's past up row by row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import crmkit
from crmkit.store import whole_number
from crmkit.timeutil import from_iso, to_iso
from crmkit_complaints import queries_figures
from crmkit_complaints.queries import epoch, json_field, open_states_sql


def reference_figures(db, group: str, customer_filter: str | None, params: dict) -> list[dict]:
    """The first version of the figures query, kept as the definition: one look-up per complaint
    into its history, its surveys and its pauses."""
    listed, more = open_states_sql("_fg_open")
    where = "x.received_at > :since AND x.received_at <= :as_of"
    if customer_filter:
        where += f" AND x.customer_id IN ({customer_filter})"
    pause_ended = (
        "(SELECT q.due_after FROM complaints_pauses q WHERE q.complaint_id = p.id AND q.ended_at <= :as_of "
        "ORDER BY q.ended_at DESC LIMIT 1)"
    )
    first_pause = "(SELECT q.due_before FROM complaints_pauses q WHERE q.complaint_id = p.id ORDER BY q.started_at LIMIT 1)"
    paused_since = (
        "(SELECT q.started_at FROM complaints_pauses q WHERE q.complaint_id = p.id AND q.started_at <= :as_of "
        "AND (q.ended_at IS NULL OR q.ended_at > :as_of) LIMIT 1)"
    )
    due_at_as_of = f"COALESCE({pause_ended}, {first_pause}, p.first_resolve_due_at, p.resolve_due_at)"
    sql = f"""
    WITH pop AS (
        SELECT x.id, x.customer_id, {group} AS grp, x.received_at, x.acknowledged_at, x.ack_due_at,
               x.first_answered_at, x.first_resolve_due_at, x.resolve_due_at
        FROM complaints_complaints x WHERE {where}
    ),
    st AS (
        SELECT p.*,
            (SELECT h.status_to FROM complaints_history h WHERE h.complaint_id = p.id AND h.status_to IS NOT NULL
               AND h.at <= :as_of ORDER BY h.at DESC, h.id DESC LIMIT 1) AS state,
            (SELECT h.status_to FROM complaints_history h WHERE h.complaint_id = p.id
               AND h.status_to IN ('resolved', 'rejected') AND h.at <= :as_of ORDER BY h.at DESC, h.id DESC LIMIT 1) AS outcome,
            EXISTS (SELECT 1 FROM complaints_history h WHERE h.complaint_id = p.id AND h.status_to = 'reopened'
               AND h.at <= :as_of) AS reopened,
            (SELECT CAST({json_field('i.data', 'score')} AS REAL) FROM interactions i WHERE i.customer_id = p.customer_id
               AND i.kind = 'survey' AND i.occurred_at <= :as_of AND {whole_number(json_field('i.data', 'complaint_id'))} = p.id
               ORDER BY i.occurred_at DESC, i.id DESC LIMIT 1) AS score,
            CASE WHEN p.first_answered_at <= :as_of THEN {epoch('p.first_answered_at')} - {epoch('p.received_at')} END AS answer_s,
            CASE WHEN p.acknowledged_at <= :as_of THEN (CASE WHEN p.acknowledged_at <= p.ack_due_at THEN 1 ELSE 0 END)
                 WHEN :as_of > p.ack_due_at THEN 0 END AS ack_ok,
            CASE WHEN p.first_answered_at <= :as_of THEN (CASE WHEN p.first_answered_at <= p.first_resolve_due_at THEN 1 ELSE 0 END)
                 WHEN COALESCE({paused_since}, :as_of) > {due_at_as_of} THEN 0 END AS resolve_ok
        FROM pop p
    ),
    ranked AS (
        SELECT grp, answer_s, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY answer_s) AS rn,
               COUNT(*) OVER (PARTITION BY grp) AS n
        FROM st WHERE answer_s IS NOT NULL
    ),
    pct AS (
        SELECT grp, MIN(CASE WHEN rn * 2 >= n THEN answer_s END) AS median_s,
               MIN(CASE WHEN rn * 10 >= n * 9 THEN answer_s END) AS p90_s
        FROM ranked GROUP BY grp
    ),
    repeaters AS (
        SELECT grp, COUNT(*) AS repeat_complainants
        FROM (SELECT grp, customer_id FROM st GROUP BY grp, customer_id HAVING COUNT(*) >= 2) AS repeating GROUP BY grp
    )
    SELECT st.grp AS grp, COUNT(*) AS received,
        SUM(st.state IN ({listed})) AS open,
        SUM(st.state NOT IN ({listed}) AND st.outcome = 'resolved') AS resolved,
        SUM(st.state NOT IN ({listed}) AND st.outcome = 'rejected') AS rejected,
        SUM(st.ack_ok = 1) AS ack_met, COUNT(st.ack_ok) AS ack_decided,
        SUM(st.resolve_ok = 1) AS resolve_met, COUNT(st.resolve_ok) AS resolve_decided,
        COUNT(st.answer_s) AS answered, SUM(st.reopened) AS reopened,
        COUNT(DISTINCT st.customer_id) AS complainants,
        COUNT(st.score) AS surveys, SUM(st.score) AS score_sum, SUM(st.score >= 4) AS satisfied,
        MIN(pct.median_s) AS median_s, MIN(pct.p90_s) AS p90_s,
        COALESCE(MIN(repeaters.repeat_complainants), 0) AS repeat_complainants
    FROM st LEFT JOIN pct ON pct.grp = st.grp LEFT JOIN repeaters ON repeaters.grp = st.grp
    GROUP BY st.grp ORDER BY received DESC, st.grp
    """
    return list(db.query(sql, dict(params, **more)))


def stats_with(monkeypatch, crm, figures_sql, **options):
    """``crm.complaints.stats(**options)`` computed with the given figures query."""
    with monkeypatch.context() as patch:
        patch.setattr(queries_figures, "figures", figures_sql)
        return crm.complaints.stats(**options)


@pytest.fixture
def one_complaint(team, clock):
    """A's normal complaint: received 01-10 09:00, acknowledged and assessed 10:00, resolved
    01-12 09:00 (48 h), followed up with a 5 on 01-13 09:00, closed 01-14, reopened 01-20 09:00."""
    crm = team
    a = crm.customers.add(name="A")
    clock.set("2025-03-01T09:00:00Z")
    s = crm.complaints
    c = s.open(a.id, category="billing", received_at="2025-01-10T09:00:00Z").id
    s.acknowledge(c, at="2025-01-10T10:00:00Z")
    s.assess(c, at="2025-01-10T10:00:00Z")
    s.resolve(c, "apology", at="2025-01-12T09:00:00Z")
    s.follow_up(c, score=5, accepted=True, at="2025-01-13T09:00:00Z")
    s.close(c, at="2025-01-14T09:00:00Z")
    s.reopen(c, "it happened again", at="2025-01-20T09:00:00Z")
    return crm, a


def figures_at(crm, moment):
    [row] = crm.complaints.stats(moment, since="2025-01-01T00:00:00Z")
    return row


def open_complaints(crm, customer, moment):
    field = crm.fields.get("open_complaints")
    return crm.db.execute(
        f"SELECT {field.sql} FROM customers c WHERE c.id = :id", dict(field.params, id=customer.id, as_of=moment)
    ).fetchone()[0]


class TestPeriodBoundaries:
    """A step at ``as_of`` counts; the same step one second after ``as_of`` does not."""

    def test_resolution(self, one_complaint):
        crm, a = one_complaint
        before, at = figures_at(crm, "2025-01-12T08:59:59Z"), figures_at(crm, "2025-01-12T09:00:00Z")
        assert (before["open"], before["resolved"], before["median_hours_to_resolve"]) == (1, 0, None)
        # 01-10 09:00 -> 01-12 09:00 = 48 h; the normal 5-day target is met
        assert (at["open"], at["resolved"], at["median_hours_to_resolve"], at["resolved_within_sla"]) == (0, 1, 48.0, 1.0)
        assert (open_complaints(crm, a, "2025-01-12T08:59:59Z"), open_complaints(crm, a, "2025-01-12T09:00:00Z")) == (1, 0)

    def test_acknowledgement(self, one_complaint):
        crm, _ = one_complaint
        # received 09:00, acknowledged 10:00: before that the 24 h clock is still running (undecided)
        assert figures_at(crm, "2025-01-10T09:59:59Z")["acknowledged_within_sla"] is None
        assert figures_at(crm, "2025-01-10T10:00:00Z")["acknowledged_within_sla"] == 1.0

    def test_satisfaction(self, one_complaint):
        crm, _ = one_complaint
        assert figures_at(crm, "2025-01-13T08:59:59Z")["satisfaction"] is None
        at = figures_at(crm, "2025-01-13T09:00:00Z")
        assert (at["satisfaction"], at["satisfied_share"]) == (5.0, 1.0)

    def test_reopening(self, one_complaint):
        crm, a = one_complaint
        before, at = figures_at(crm, "2025-01-20T08:59:59Z"), figures_at(crm, "2025-01-20T09:00:00Z")
        assert (before["open"], before["resolved"], before["reopen_rate"]) == (0, 1, 0.0)
        assert (at["open"], at["resolved"], at["reopen_rate"]) == (1, 0, 1.0)   # 1 reopened of 1 answered
        assert (open_complaints(crm, a, "2025-01-20T08:59:59Z"), open_complaints(crm, a, "2025-01-20T09:00:00Z")) == (0, 1)

    def test_survey_recorded_later_about_an_earlier_date_counts_from_its_date(self, one_complaint):
        crm, a = one_complaint
        crm.interactions.record(a.id, "survey", "2025-01-25T09:00:00Z", data={"score": 2, "complaint_id": "1"})
        assert figures_at(crm, "2025-01-25T08:59:59Z")["satisfaction"] == 5.0
        assert figures_at(crm, "2025-01-25T09:00:00Z")["satisfaction"] == 2.0   # the latest survey wins

    def test_same_answer_as_the_per_row_definition(self, one_complaint, monkeypatch):
        crm, _ = one_complaint
        for moment in ("2025-01-10T09:00:00Z", "2025-01-12T08:59:59Z", "2025-01-12T09:00:00Z",
                       "2025-01-14T09:00:00Z", "2025-01-20T08:59:59Z", "2025-03-01T09:00:00Z"):
            assert crm.complaints.stats(moment) == stats_with(monkeypatch, crm, reference_figures, as_of=moment)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo CRM (complaints plugin only): complaints taken along the process with pauses,
    rejections, reopenings and follow-up surveys."""
    from crmkit.demo.build import build

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build(path, customers=600, seed=11, plugins=["complaints"])
    crm = crmkit.open(path, plugins=["complaints"])
    yield crm
    crm.close()


class TestSameAsPerRowDefinition:
    def test_demo_data_covers_the_hard_cases(self, demo):
        counts = demo.db.execute(
            "SELECT count(*), sum(reopen_count > 0), sum(decision = 'not_valid'), "
            "(SELECT count(*) FROM complaints_pauses), "
            "(SELECT count(*) FROM interactions WHERE kind = 'survey') FROM complaints_complaints"
        ).fetchone()
        assert counts[0] >= 50 and all(counts[1:]), counts

    def test_every_month_and_at_every_step(self, demo, monkeypatch):
        first, last = demo.db.execute("SELECT min(received_at), max(at) FROM complaints_complaints, complaints_history").fetchone()
        moments = []
        moment = from_iso(first)
        while moment <= from_iso(last) + timedelta(days=40):
            moments.append(moment)
            moment += timedelta(days=30)
        # the instants of steps (and one second before), where a boundary slip would show
        steps = [r[0] for r in demo.db.execute(
            "SELECT at FROM complaints_history WHERE status_to IN ('resolved', 'rejected', 'reopened', 'closed') "
            "ORDER BY id LIMIT 12")]
        moments += [from_iso(s) for s in steps] + [from_iso(s) - timedelta(seconds=1) for s in steps]
        compared = 0
        for moment in moments:
            for by in (None, "category", "handler"):
                since = to_iso(moment - timedelta(days=900))
                expected = stats_with(monkeypatch, demo, reference_figures, as_of=moment, by=by, since=since)
                assert demo.complaints.stats(moment, by=by, since=since) == expected, (to_iso(moment), by)
                compared += 1
        assert compared > 50

    def test_short_periods_and_segments(self, demo, monkeypatch):
        demo.segments.define("repeat", "complaints_365d >= 2")
        last = demo.db.execute("SELECT max(received_at) FROM complaints_complaints").fetchone()[0]
        for days in (7, 60, 365):
            since = to_iso(from_iso(last) - timedelta(days=days))
            for options in ({}, {"by": "severity"}, {"segment": "repeat"}, {"by": "segment"}):
                expected = stats_with(monkeypatch, demo, reference_figures, as_of=last, since=since, **options)
                assert demo.complaints.stats(last, since=since, **options) == expected, (days, options)
