"""Dagster resources: the warehouse (SQLAlchemy) and the pseudonymisation key holder."""

from resources.keys import PseudonymisationKeyResource
from resources.warehouse import WarehouseResource

__all__ = ["PseudonymisationKeyResource", "WarehouseResource"]
