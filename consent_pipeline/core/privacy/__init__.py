"""Erasure (semantics §6): the register, and every table scrubbed of erased contact points."""

from consent_pipeline.core.privacy.erasure import INVARIANTS, LOGIC_VERSION, ErasureResult, apply_erasures

__all__ = ["INVARIANTS", "LOGIC_VERSION", "ErasureResult", "apply_erasures"]
