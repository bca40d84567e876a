"""Consent pipeline: unify communication consent from many sources into one golden record."""

__version__ = "0.1.0"
