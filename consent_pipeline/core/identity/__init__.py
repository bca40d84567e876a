"""Parties and contact-point ownership (semantics §3): who owns each contact point, recomputed every run."""

from consent_pipeline.core.identity.identity import OBSERVED_ASSOCIATIONS, build_identity

__all__ = ["OBSERVED_ASSOCIATIONS", "build_identity"]
