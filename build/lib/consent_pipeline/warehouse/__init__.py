"""The DuckDB warehouse: one database API (connections, the run lock) and the schema."""

from consent_pipeline.warehouse.database import Warehouse, WarehouseLocked

__all__ = ["Warehouse", "WarehouseLocked"]
