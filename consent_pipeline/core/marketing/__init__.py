"""Marketing outputs: segments, the suppression lists and the extract files (outputs.md)."""

from consent_pipeline.core.marketing.suppression import INVARIANTS, build_suppression, use_written_suppression
from consent_pipeline.core.marketing.suppression import STAGE as SUPPRESSION_STAGE

__all__ = ["INVARIANTS", "SUPPRESSION_STAGE", "build_suppression", "use_written_suppression"]
