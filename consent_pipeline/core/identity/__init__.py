"""Parties and contact-point ownership (semantics §3): who owns each contact point, decided every run (for every
contact point, or for those an incremental golden build found touched)."""

from consent_pipeline.core.identity.identity import LOGIC_FILES, OBSERVED_ASSOCIATIONS, build_identity

__all__ = ["LOGIC_FILES", "OBSERVED_ASSOCIATIONS", "build_identity"]
