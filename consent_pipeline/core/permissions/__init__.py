"""Permissions (semantics §5) and the review queue (§7): what may be sent, decided per party."""

from consent_pipeline.core.permissions.build import TABLES, build_permission_tables
from consent_pipeline.core.permissions.permission_scope import CHANGES, STAGE, changes_unreadable, record_read
from consent_pipeline.core.permissions.permissions import INVARIANTS, LOGIC_VERSION

__all__ = [
    "CHANGES",
    "INVARIANTS",
    "LOGIC_VERSION",
    "STAGE",
    "TABLES",
    "build_permission_tables",
    "changes_unreadable",
    "record_read",
]
