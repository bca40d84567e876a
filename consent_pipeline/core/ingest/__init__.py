"""Ingest: the landing tree, connectors' batches normalised and validated, staged, and the event log."""

from consent_pipeline.core.ingest.invariants import INGEST as INVARIANTS

__all__ = ["INVARIANTS"]
