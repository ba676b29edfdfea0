"""A baseline of the ``csv_import`` workload: the rows a customers import stores, written by raw
sqlite3 with no check, no plugin and no crmkit code.

Run as ``python -m benchmarks.workloads._customers_floor CRM_FILE CUSTOMERS_CSV`` on a fresh CRM
file (``crmkit init``) and a file of external_id, name, email. It writes what ``crmkit import
--kind customers`` writes for new customers: the customers (the email also lower-cased, as
matched), each one's first history version and its audit entry, the secondary indexes dropped
and built again at the end, in one transaction with the settings crmkit's SQLite engine uses.
Its time is what storing those rows costs on this machine, whatever the code around it.
"""

from __future__ import annotations

import csv
import sqlite3
import sys
import time

HISTORY = "region, company, industry, size, source, owner, stage, tags, attributes"


def main(crm_file: str, customers_csv: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(customers_csv, newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        rows = [(number, external, name, email, email.lower(), now, now)
                for number, (external, name, email) in enumerate(reader, 1)]
    conn = sqlite3.connect(crm_file, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("BEGIN IMMEDIATE")
    secondary = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers' "
        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
    ).fetchall()
    for name, _ in secondary:
        conn.execute(f'DROP INDEX "{name}"')
    conn.executemany(
        "INSERT INTO customers(id, external_id, name, email, email_norm, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows,
    )
    conn.execute(
        f"INSERT INTO customer_history(customer_id, valid_from, {HISTORY}) SELECT id, created_at, {HISTORY} FROM customers"
    )
    conn.execute(
        "INSERT INTO audit_log(at, actor, action, entity, entity_id, before, after, source) "
        "SELECT ?, 'bench', 'customer.add', 'customer', id, NULL, '{\"name\": \"' || name || '\"}', 'core' "
        "FROM customers ORDER BY id",
        [now],
    )
    conn.execute("PRAGMA cache_size=-4096")  # crmkit builds its indexes in sort runs of this size
    for _, sql in secondary:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
