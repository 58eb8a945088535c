"""The plugin's Dagster resources: the warehouse, the pseudonym vault and keys, the audit trail,
DPIA reviews and data-subject requests. Thin layers over `compliance_assets.storage` and the
privacy engines."""
