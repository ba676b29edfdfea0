"""crmkit plugin: complaints (see docs/plugins/complaints.md)."""
