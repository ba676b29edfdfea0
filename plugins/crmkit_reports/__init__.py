"""crmkit plugin: reports (see docs/plugins/reports.md)."""
