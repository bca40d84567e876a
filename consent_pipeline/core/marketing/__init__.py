"""Marketing outputs: segments, the suppression lists and the extract files (outputs.md)."""

from consent_pipeline.core.marketing.suppression import INVARIANTS, build_suppression, use_written_suppression

__all__ = ["INVARIANTS", "build_suppression", "use_written_suppression"]
