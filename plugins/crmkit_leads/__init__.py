"""crmkit plugin: leads (see docs/plugins/leads.md)."""
