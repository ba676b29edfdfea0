"""The SQL the loyalty dashboard panel needs beyond the service: the R × F grid of a stored run.

Kept apart from ``queries`` so the panel's statements can change without touching the scoring
code's; the panel itself holds no SQL.
"""

from __future__ import annotations

#: Customers per (r, f) score pair of one stored RFM run (the loyalty_rfm primary key starts
#: with run_id, so this reads only the run's rows).
RFM_GRID = "SELECT r, f, COUNT(*) FROM loyalty_rfm WHERE run_id = ? GROUP BY r, f"
