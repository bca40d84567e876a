"""The canonical model: the tables every connector produces and every core stage reads."""

from consent_pipeline.canonical.batch import Batch, Delivery
from consent_pipeline.canonical.tables import (
    LINEAGE,
    REJECTS,
    SKIPS,
    TABLES,
    ContactColumn,
    TableSpec,
    conform,
    empty,
)

__all__ = [
    "LINEAGE",
    "REJECTS",
    "SKIPS",
    "TABLES",
    "Batch",
    "ContactColumn",
    "Delivery",
    "TableSpec",
    "conform",
    "empty",
]
