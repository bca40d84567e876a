"""Golden consent (semantics §3-4): identity and the merge by source time, built incrementally."""

from consent_pipeline.core.golden.golden import GOLDEN_TABLES, INVARIANTS, GoldenResult, build_golden
from consent_pipeline.core.golden.merge import LOGIC_VERSION

__all__ = ["GOLDEN_TABLES", "INVARIANTS", "LOGIC_VERSION", "GoldenResult", "build_golden"]
