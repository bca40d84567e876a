"""One module per source feed (spec: feeds.md), each turning the vendor's files into canonical frames.

A connector module has `SOURCE` (its landing folder name) and `parse(delivery, rules) -> Batch`. It knows
nothing of DuckDB or Dagster: it reads files with polars and hands back canonical tables (with raw
contact points), rejected records and parts, skipped records and the files it read.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SOURCES: tuple[str, ...] = (
    "customer_master",
    "salesforce_consent",
    "mailchimp",
    "sendgrid",
    "twilio_sms",
    "preference_centre",
    "call_centre",
    "pos",
    "onetrust",
    "legacy",
    "dnc_registries",
    "lead_lists",
    "transactions",
    "sends",
    "erasure_requests",
)


def file_kinds(source: str, rules: object) -> list[str]:
    """The kinds of file a source's connector reads (each needs its patterns in rules/files.yaml)."""
    module = connector(source)
    if hasattr(module, "file_kinds"):  # kinds that come from the company's mapping (registries)
        return list(module.file_kinds(rules))
    return list(getattr(module, "KINDS", ())) or [module.KIND]


def connector(source: str) -> ModuleType:
    """The connector module of a source."""
    if source not in SOURCES:
        raise KeyError(f"unknown source {source!r}")
    return importlib.import_module(f"source_connectors.{source}")
