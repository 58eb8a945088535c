"""The tamper-evident audit trail: a hash chain over append-only records."""
