"""Audit: the opt-out service level, sends after an opt-out, snapshots, `explain`, and every invariant."""

from consent_pipeline.core.audit.audit import INVARIANTS, build_audit, write_audit

__all__ = ["INVARIANTS", "build_audit", "write_audit"]
