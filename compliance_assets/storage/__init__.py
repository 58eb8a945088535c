"""Dagster-free storage: reading and writing tables through SQLAlchemy, bulk copies."""
