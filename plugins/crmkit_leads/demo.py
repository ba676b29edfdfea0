"""Demo data of the leads plugin: a sales team and two months of lead traffic.

Deterministic for a seed. Days are replayed in order: new leads arrive, the pool is allocated,
owners follow up (or not, and lose the lead to recycling), leads are converted or lost.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmkit import CRM

REPS = [
    ("ana", "Ana Silva", "north", ["retail", "food"], ["pos"], ["en", "pt"], 4, 14),
    ("ben", "Ben Okafor", "north", ["software"], ["crm", "pos"], ["en"], 3, 12),
    ("chen", "Chen Wei", "north", ["manufacturing"], ["erp"], ["en", "zh"], 5, 16),
    ("dana", "Dana Levi", "south", ["healthcare", "retail"], ["crm"], ["en", "he"], 2, 10),
    ("emil", "Emil Berg", "south", ["software", "manufacturing"], ["erp", "crm"], ["en", "de"], 3, 12),
    ("fatima", "Fatima Zahra", "south", ["food", "healthcare"], ["pos"], ["en", "fr", "ar"], 4, 14),
]
SOURCES = [("referral", 0.45), ("trade show", 0.3), ("web search", 0.2), ("social", 0.12), ("purchased list", 0.06), ("cold call", 0.08)]
INDUSTRIES = ["retail", "software", "manufacturing", "healthcare", "food"]
PRODUCTS = ["pos", "crm", "erp"]
LANGUAGES = ["en", "en", "en", "de", "fr", "pt", "zh"]
FIRST = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan", "Morgan", "Quinn"]
LAST = ["Holdings", "Labs", "Foods", "Systems", "Clinic", "Works", "Traders", "Partners"]


def load(crm: "CRM", seed: int, now: datetime, days: int = 60) -> None:
    """Add reps, rules and ``days`` days of leads ending at ``now``."""
    rng = random.Random(seed)
    leads = crm.leads
    for rep_id, name, team, industries, products, languages, experience, capacity in REPS:
        leads.add_rep(rep_id, name, team=team, industries=industries, products=products, languages=languages,
                      experience=experience, capacity=capacity, claim_limit=5)
    leads.add_rule("big accounts", "size in ('large', 'enterprise')", reps=["chen", "emil"])
    leads.configure(recycle_days={"default": 10, "hot": 5}, reminder_days=2)
    calendar = crm.calendar  # days are the home zone's: each starts at 09:00 on its wall clock
    first_day = calendar.local_date(now) - timedelta(days=days)
    start = calendar.to_datetime(f"{first_day.isoformat()}T09:00:00")
    plans: list[tuple[datetime, int, str, str]] = []  # (when, lead, action, detail)
    for day in range(days + 1):
        today = calendar.add_days(start, day)
        rows = []
        for _ in range(rng.randint(1, 4)):
            source, _rate = rng.choice(SOURCES)
            rows.append({
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.randint(1, 999)}",
                "company": f"{rng.choice(LAST)} {rng.randint(1, 99)}", "source": source,
                "industry": rng.choice(INDUSTRIES), "size": rng.choice(["small", "small", "medium", "large", "enterprise"]),
                "region": rng.choice(["north", "south"]), "product": rng.choice(PRODUCTS), "language": rng.choice(LANGUAGES),
                "priority": rng.choice([0, 0, 0, 1, 2]), "lead_class": "hot" if source == "referral" else "default",
                "created_at": today,
            })
        leads.add_many(rows)
        leads.recycle(now=today)
        if day == days:
            break  # today's leads wait in the pool for the team to claim
        result = leads.allocate("pool", strategy="rules > skill_match > least_loaded", as_of=today)
        follow_ups = []
        for move in result.moves:
            source = leads.get(move.lead_id).source
            rate = dict(SOURCES).get(source, 0.1)
            if rng.random() < 0.75:
                follow_ups.append({"customer_id": move.lead_id, "kind": rng.choice(["call", "email", "meeting"]),
                                   "occurred_at": today + timedelta(hours=rng.randint(2, 60)), "rep": move.rep})
                outcome = "convert" if rng.random() < rate * 1.6 else "lose"
                plans.append((calendar.add_days(today, rng.randint(3, 12)), move.lead_id, outcome, rng.choice(["no budget", "no need", "chose competitor"])))
            elif rng.random() < 0.5:
                # nobody calls: the lead is recycled, and given up on after a while
                plans.append((calendar.add_days(today, rng.randint(10, 25)), move.lead_id, "lose", "no response"))
        if follow_ups:
            crm.interactions.record_many(follow_ups)
        for when, lead_id, action, reason in [p for p in plans if p[0] <= today]:
            plans.remove((when, lead_id, action, reason))
            if leads.get(lead_id).status in ("assigned", "following_up"):
                if action == "convert":
                    leads.convert(lead_id, now=when)
                else:
                    leads.lose(lead_id, reason, now=when)
    leads.train(now)
