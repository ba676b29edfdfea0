"""The vocabulary of the demo CRM: names, companies, the sales team, products, segments.

Everything here is plain data; :mod:`crmkit.demo.people` and :mod:`crmkit.demo.history` draw
from it with seeded random generators. Weights need not sum to one; they are normalised.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Alan", "Alice", "Amara", "Ana", "Andrei", "Anna", "Arjun", "Ben", "Bianca", "Carlos",
    "Chen", "Chloe", "Daniel", "David", "Dmitri", "Elena", "Emma", "Erik", "Fatima", "Felix",
    "Grace", "Hana", "Hugo", "Ines", "Isaac", "Ivan", "Jack", "James", "Jana", "Javier", "Jin",
    "Julia", "Kai", "Karin", "Kenji", "Laura", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mia",
    "Mohammed", "Nadia", "Nina", "Noah", "Olga", "Omar", "Oscar", "Paula", "Pedro", "Priya",
    "Rafael", "Rosa", "Ryan", "Sara", "Sofia", "Tariq", "Thomas", "Tom", "Uma", "Victor", "Wei",
    "Yara", "Yuki", "Zoe",
)
LAST_NAMES = (
    "Adams", "Ahmed", "Alvarez", "Andersen", "Baker", "Bauer", "Brown", "Castro", "Chen", "Costa",
    "Cruz", "Dubois", "Evans", "Fischer", "Garcia", "Gupta", "Hansen", "Hoffmann", "Ito", "Jensen",
    "Johnson", "Kaur", "Kim", "Kowalski", "Kumar", "Larsen", "Lee", "Lopez", "Martin", "Meyer",
    "Moreau", "Muller", "Nakamura", "Ng", "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Petrov",
    "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith", "Sato", "Tanaka", "Taylor", "Torres",
    "Wagner", "Walker", "Wang", "Weber", "Wilson", "Yilmaz", "Zhang",
)
COMPANY_WORDS = (
    "Acme", "Apex", "Atlas", "Aurora", "Beacon", "Blue", "Bright", "Cedar", "Coastal", "Crest",
    "Delta", "Eagle", "Evergreen", "Falcon", "Forge", "Granite", "Harbor", "Horizon", "Iron",
    "Keystone", "Lakeside", "Maple", "Meridian", "Nova", "Oak", "Orbit", "Pacific", "Peak",
    "Pine", "Pioneer", "Prime", "Quantum", "Red", "River", "Silver", "Sterling", "Summit",
    "Sun", "Titan", "Union", "Valley", "Vertex", "Vista", "West", "Zenith",
)
COMPANY_NOUNS = (
    "Analytics", "Bakery", "Builders", "Clinic", "Consulting", "Design", "Dynamics", "Electric",
    "Foods", "Freight", "Health", "Hotels", "Labs", "Logistics", "Media", "Motors", "Outfitters",
    "Partners", "Pharma", "Print", "Retail", "Robotics", "Software", "Solutions", "Systems",
    "Textiles", "Tools", "Travel", "Works",
)
COMPANY_SUFFIXES = ("Ltd", "Inc", "GmbH", "LLC", "SA", "BV", "Group", "Co")
PERSONAL_MAIL_DOMAINS = ("mail.example", "inbox.example", "post.example")

INDUSTRIES = {
    "retail": 16, "manufacturing": 14, "software": 12, "healthcare": 10, "hospitality": 8,
    "construction": 8, "logistics": 7, "finance": 7, "education": 6, "media": 5,
    "agriculture": 4, "energy": 3,
}

# region: (weight, phone country code, the reps who own its customers)
REGIONS = {
    "North America": (30, "1", ("rep-ava", "rep-ben", "rep-cora")),
    "Western Europe": (25, "44", ("rep-dan", "rep-eva", "rep-finn")),
    "Central Europe": (15, "49", ("rep-greta", "rep-hugo")),
    "Southern Europe": (10, "34", ("rep-ines", "rep-jon")),
    "Asia Pacific": (12, "61", ("rep-kira", "rep-leo")),
    "Latin America": (8, "55", ("rep-mara",)),
}
REPS = tuple(rep for _, _, reps in REGIONS.values() for rep in reps)

# size: (weight, spend multiplier, contact multiplier)
SIZES = {
    "micro": (34, 0.5, 0.5),
    "small": (30, 1.0, 0.8),
    "medium": (20, 2.0, 1.2),
    "large": (11, 4.0, 1.8),
    "enterprise": (5, 8.0, 2.5),
}

SOURCES = {
    "referral": 14, "trade show": 10, "web search": 26, "social": 14, "purchased list": 8,
    "event": 10, "cold call": 18,
}

# archetype: (weight, stage once established) — how a customer behaves over its tenure.
ARCHETYPES = {
    "growing": (15, "growing"),
    "steady": (30, "mature"),
    "declining": (14, "declining"),
    "churned": (15, "churned"),
    "one-off": (18, "mature"),
    "prospect": (8, "prospect"),
}

# category: {product: list price}
PRODUCTS = {
    "hardware": {"Laptop Pro 14": "1899.00", "Desktop Tower": "1249.00", "Monitor 27in": "379.00", "Dock Station": "219.00"},
    "software": {"Office Suite licence": "249.00", "Security Suite": "129.00", "Design Studio": "599.00", "Backup Cloud 1TB": "89.00"},
    "supplies": {"Paper Box A4": "39.90", "Toner Black": "74.50", "Label Roll": "12.90", "Ink Set": "54.00"},
    "furniture": {"Ergo Chair": "489.00", "Standing Desk": "749.00", "Filing Cabinet": "259.00"},
    "services": {"Onsite Support Day": "950.00", "Training Workshop": "1500.00", "Installation": "320.00", "Extended Warranty": "149.00"},
    "networking": {"Wi-Fi Access Point": "189.00", "Switch 24-port": "429.00", "Firewall Appliance": "1350.00"},
}
CATEGORY_WEIGHTS = {"hardware": 22, "software": 20, "supplies": 28, "furniture": 8, "services": 12, "networking": 10}

PURCHASE_CHANNELS = {"web shop": 45, "phone order": 20, "field sales": 20, "partner": 15}
COMPLAINT_CATEGORIES = ("delivery delay", "damaged item", "billing error", "product defect", "poor service", "missing parts")
SEVERITIES = {"low": 45, "medium": 35, "high": 15, "critical": 5}
FEEDBACK_TOPICS = ("pricing", "product range", "website", "delivery options", "support hours", "new feature request")
TAG_CHOICES = {"newsletter": 0.35, "b2b-portal": 0.20, "partner": 0.04, "trade-show-2024": 0.06, "tax-exempt": 0.03}

# The segments every demo CRM defines: (name, rule, description).
SEGMENTS = (
    ("vip", "spend_365d >= 5000 and last_purchase_days <= 90",
     "Spent 5,000 or more in the last year and bought within 90 days."),
    ("at-risk", "ltv >= 1000 and last_purchase_days between 120 and 365",
     "Valuable customers (lifetime net spend 1,000+) whose last purchase is 4 to 12 months ago."),
    ("lapsed", "purchases >= 1 and last_purchase_days > 365", "Bought before, but not in the last year."),
    ("new-this-quarter", "customer_days <= 90", "Added in the last 90 days."),
    ("key-accounts-uncontacted", "size in ('large', 'enterprise') and last_contact_days > 60",
     "Large and enterprise customers nobody called, emailed, visited or met in 60 days."),
    ("never-bought", "purchases = 0", "Customers and prospects without a purchase yet."),
    ("frequent-buyers", "purchases_365d >= 6", "Six or more purchases in the last year."),
)
