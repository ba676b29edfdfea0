"""The naive-Bayes lead score: values computed by hand, explanations, export, calibration."""

from __future__ import annotations

import csv
import math

import pytest

from crmkit import CrmError, ValidationError


def history(crm):
    """Closed: referral won, won, lost; web search lost, lost. Every lead has class 'default'."""
    for source, outcome in (("referral", "won"), ("referral", "won"), ("referral", "lost"), ("web search", "lost"), ("web search", "lost")):
        lead = crm.leads.add(f"{source} {outcome}", source=source).id
        if outcome == "won":
            crm.leads.convert(lead)
        else:
            crm.leads.lose(lead, "no need")


class TestScore:
    def test_scores_match_the_hand_computation(self, crm):
        """N_won = 2, N_lost = 3, alpha = 1.

        source (2 values seen, 3 slots): referral (2+1)/(2+3) vs (1+1)/(3+3) → ratio 1.8;
        never seen: (0+1)/5 vs (0+1)/6 → 1.2. class 'default' (1 value, 2 slots): (2+1)/4 vs
        (3+1)/5 → 0.9375. Prior odds (2+1)/(3+1) = 0.75.
        referral: odds 0.75 * 1.8 * 0.9375 = 1.265625 → p = 1.265625 / 2.265625
        trade show (unseen): 0.75 * 1.2 * 0.9375 = 0.84375 → p = 0.84375 / 1.84375
        no source: 0.75 * 0.9375 = 0.703125 → p = 0.703125 / 1.703125
        """
        history(crm)
        referral = crm.leads.add("New referral", source="referral").id
        unseen = crm.leads.add("Fair visitor", source="trade show").id
        blank = crm.leads.add("No source").id
        summary = crm.leads.train()
        assert (summary["won"], summary["lost"], summary["scored"]) == (2, 3, 3)
        assert crm.leads.get(referral).score == pytest.approx(1.265625 / 2.265625, abs=1e-12)
        assert crm.leads.get(unseen).score == pytest.approx(0.84375 / 1.84375, abs=1e-12)
        assert crm.leads.get(blank).score == pytest.approx(0.703125 / 1.703125, abs=1e-12)
        assert list(crm.segments.evaluate("lead_score > 0.5").ids()) == [referral]
        assert crm.leads.pool(limit=1)[0].id == referral  # best score first

    def test_explanation_lists_what_raised_and_lowered_the_score(self, crm):
        history(crm)
        referral = crm.leads.add("New referral", source="referral").id
        unseen = crm.leads.add("Fair visitor", source="trade show").id
        crm.leads.train()
        explained = crm.leads.explain(referral)
        assert [(r["feature"], r["value"], r["effect"]) for r in explained["reasons"]] == [
            ("source", "referral", "raised"), ("class", "default", "lowered"),
        ]
        assert explained["reasons"][0]["weight"] == round(math.log(1.8), 4)
        assert explained["computed"] == pytest.approx(explained["score"], abs=1e-6)
        [source] = [r for r in crm.leads.explain(unseen)["reasons"] if r["feature"] == "source"]
        assert (source["seen"], source["weight"]) == (False, round(math.log(1.2), 4))

    def test_export_writes_every_open_lead(self, crm, tmp_path):
        history(crm)
        crm.leads.add("New referral", source="referral")
        crm.leads.add("Fair visitor", source="trade show")
        crm.leads.train()
        assert crm.leads.export_scores(tmp_path / "scores.csv") == 2
        rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
        assert [r["lead"] for r in rows] == ["6", "7"]
        assert rows[0]["reasons"].startswith("source=referral (+0.59)")
        with pytest.raises(CrmError, match="does not exist"):
            crm.leads.export_scores(tmp_path / "missing" / "scores.csv")

    def test_training_errors(self, crm):
        crm.leads.add("Open")
        with pytest.raises(CrmError, match="nothing to learn"):
            crm.leads.train()
        with pytest.raises(CrmError, match="not trained yet"):
            crm.leads.explain(1)
        history(crm)
        with pytest.raises(ValidationError, match="alpha"):
            crm.leads.train(alpha=0)
        assert crm.settings.get("leads.model") is None

    def test_due_retrains_once_per_now(self, crm):
        history(crm)
        crm.leads.add("New referral", source="referral")
        assert crm.run_due().results["leads"]["scored"] == 1
        assert "scored" not in crm.run_due().results["leads"]


class TestCalibration:
    def test_predicted_against_actual_by_band(self, crm, clock):
        """Train on January's closed leads; the holdout is February's: 4 referrals (3 won) scored
        1.265625 / 2.265625 ≈ 0.5586, 2 web searches (0 won) scored 0.28125 / 1.28125 ≈ 0.2195
        (odds 0.75 * 0.4 * 0.9375, web's ratio (0+1)/5 / (2+1)/6 = 0.4)."""
        history(crm)
        clock.set("2025-02-01T09:00:00Z")
        for source, outcome in [("referral", "won")] * 3 + [("referral", "lost")] + [("web search", "lost")] * 2:
            lead = crm.leads.add("holdout", source=source).id
            if outcome == "won":
                crm.leads.convert(lead)
            else:
                crm.leads.lose(lead, "no need")
        crm.leads.add("still open", source="referral")  # no outcome yet: not in the table
        table = crm.leads.calibration("2025-01-15", "2025-03-01", bands=2)
        assert table[0]["band"] == "0.00-0.50" and table[0]["leads"] == 2
        assert table[0]["predicted"] == round(0.28125 / 1.28125, 4) and table[0]["actual"] == 0.0
        assert table[1]["leads"] == 4
        assert table[1]["predicted"] == round(1.265625 / 2.265625, 4) and table[1]["actual"] == 0.75
        assert crm.settings.get("leads.model") is None  # the live model is untouched

    def test_calibration_errors(self, crm):
        with pytest.raises(ValidationError, match="after train_until"):
            crm.leads.calibration("2025-02-01", "2025-01-01")
        with pytest.raises(ValidationError, match="bands"):
            crm.leads.calibration("2025-01-01", "2025-02-01", bands=1)
        with pytest.raises(CrmError, match="nothing to train on"):
            crm.leads.calibration("2025-01-01", "2025-02-01")
