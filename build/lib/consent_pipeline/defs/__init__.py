"""Dagster definitions: thin wrappers of the core stages, one folder per domain."""
