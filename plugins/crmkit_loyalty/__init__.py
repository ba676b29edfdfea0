"""crmkit plugin: loyalty (see docs/plugins/loyalty.md)."""
