"""Every SQL statement of the plugin."""

LINKS_OF_CUSTOMER = """
SELECT l.id, l.customer_id, c.name AS competitor, l.relation, l.noted_at, l.notes
FROM competitors_links l JOIN competitors_competitors c ON c.id = l.competitor_id
WHERE l.customer_id = ? ORDER BY l.noted_at, l.id
"""

WINS_AND_LOSSES = """
SELECT c.name AS competitor, c.positioning,
       SUM(CASE WHEN l.relation = 'lost_to' THEN 1 ELSE 0 END) AS lost_to,
       SUM(CASE WHEN l.relation = 'won_from' THEN 1 ELSE 0 END) AS won_from,
       SUM(CASE WHEN l.relation = 'also_serves' THEN 1 ELSE 0 END) AS also_serves
FROM competitors_competitors c
LEFT JOIN competitors_links l ON l.competitor_id = c.id AND l.noted_at <= :as_of
     AND (CAST(:since AS TEXT) IS NULL OR l.noted_at > :since)
GROUP BY c.id ORDER BY lost_to DESC, c.name
"""

# Field SQL: `c` is the customer row, :as_of the evaluation time.
LOST_TO_FIELD = """(SELECT k.name FROM competitors_links l JOIN competitors_competitors k ON k.id = l.competitor_id
 WHERE l.customer_id = c.id AND l.relation = 'lost_to' AND l.noted_at <= :as_of
 ORDER BY l.noted_at DESC, l.id DESC LIMIT 1)"""

SERVING_FIELD = """(SELECT count(DISTINCT l.competitor_id) FROM competitors_links l
 WHERE l.customer_id = c.id AND l.relation = 'also_serves' AND l.noted_at <= :as_of)"""

FORGET = "UPDATE competitors_links SET notes = NULL WHERE customer_id = ?"
MERGE = "UPDATE competitors_links SET customer_id = ? WHERE customer_id = ?"
