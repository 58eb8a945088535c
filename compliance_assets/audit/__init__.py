"""The tamper-evident audit trail: a keyed chain over append-only records, its head checkpointed outside the warehouse."""
