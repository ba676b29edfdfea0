"""The workloads, by name. Add a module here and its name to WORKLOADS (see ../README.md)."""

WORKLOADS = {
    "bulk_load": "benchmarks.workloads.bulk_load",
    "csv_import": "benchmarks.workloads.csv_import",
    "segment_count": "benchmarks.workloads.segment_count",
    "duckdb_count": "benchmarks.workloads.duckdb_count",
    "loyalty_rfm": "benchmarks.workloads.loyalty_rfm",
    "loyalty_clv": "benchmarks.workloads.loyalty_clv",
    "leads": "benchmarks.workloads.leads",
    "complaints_sla": "benchmarks.workloads.complaints_sla",
    "reports": "benchmarks.workloads.reports",
    "dashboard": "benchmarks.workloads.dashboard",
    "postgres": "benchmarks.workloads.postgres",
    "cli_startup": "benchmarks.workloads.cli_startup",
    "http_api": "benchmarks.workloads.http_api",
}
