"""The merge and permission logic stays within SQL that sqlglot transpiles faithfully to Spark SQL
(stack-notes: the functions that differ silently or fail on Spark are not used)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel, SqlglotError

from consent_pipeline.config import Rules
from consent_pipeline.core.audit import audit
from consent_pipeline.core.golden import merge
from consent_pipeline.core.identity import identity
from consent_pipeline.core.lib.sql import Step, ts
from consent_pipeline.core.marketing import segments, suppression
from consent_pipeline.core.permissions import permissions, reviews
from consent_pipeline.core.privacy import erasure
from consent_pipeline.core.registries import registries

AS_OF = dt.datetime(2026, 3, 1, 6)

# DuckDB-only or silently different on Spark (stack-notes.md).
TRAPS = [
    r"date_diff\(\s*'(month|year|day)'",
    r"\blist\(",
    r"\blen\(",
    r"\blist_",
    r"\bepoch_ms\b",
    r"\bquantile_cont\b",
    r"\*\s*REPLACE\b",
    r"\bCOLUMNS\(",
    r"UNION\s+BY\s+NAME",
    r"\bdayofweek\b|\bisodow\b|\bdow\b",
    r"\[-1\]",
    r"\bto_days\(|\bto_months\(",
]


def _steps(rules: Rules) -> list[tuple[str, str]]:
    p = permissions.params(rules, AS_OF)
    groups: list[tuple[list[Step], dict[str, str]]] = [
        (identity.BEFORE_PHONES + identity.AFTER_PHONES, {}),
        (merge.STEPS, merge.scope_params(False)),
        (merge.STEPS, merge.scope_params(True)),  # an incremental run: only the contact points in scope
        (erasure.STEPS, {}),
        (permissions.STEPS, p),
        (permissions.KEY_STEPS, permissions.params(rules, AS_OF, scoped=True)),
        ([suppression.CANDIDATES, suppression.SUPPRESSION], p),
        (
            [
                *registries.FACT_STEPS,
                registries.CANDIDATES,
                registries.BASELINE,
                Step("rg_new_pairs", registries.NEW_PAIRS),
                registries.DECIDE,
                registries.SNAPSHOT_STATUS,
                registries.STATUS,
            ],
            registries.params(rules, AS_OF),
        ),
        ([audit.OPTOUTS, audit.REGION, audit.DEADLINES, audit.SLA, audit.VIOLATIONS], p),
        ([reviews.LAST_REVIEW, reviews.QUEUE], {"as_of": ts(AS_OF), "interval_months": "6"}),
        ([segments.PURCHASES, segments.FREQUENT, segments.SEGMENTS], {"as_of": ts(AS_OF)}),
    ]
    return [(s.name, s.sql.format(**params)) for steps, params in groups for s in steps]


def test_every_step_transpiles_to_spark(rules: Rules) -> None:
    for name, sql in _steps(rules):
        try:
            out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{name}: {exc}")
        assert out and out[0].strip(), name


def test_no_step_uses_a_function_that_differs_on_spark(rules: Rules) -> None:
    for name, sql in _steps(rules):
        for trap in TRAPS:
            assert not re.search(trap, sql, flags=re.IGNORECASE), f"{name} uses {trap}"


def test_macros_transpile(rules: Rules) -> None:
    for sql in merge.MACROS:
        body = sql.split(" AS TABLE", 1)[1]
        sqlglot.transpile(body, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
