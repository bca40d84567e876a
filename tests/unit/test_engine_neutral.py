"""The merge and permission logic stays within SQL that sqlglot transpiles faithfully to Spark SQL
(stack-notes: the functions that differ silently or fail on Spark are not used)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

import consent_pipeline.core
from consent_pipeline.config import Rules
from consent_pipeline.core.audit import audit
from consent_pipeline.core.golden import merge
from consent_pipeline.core.lib.reference import required_purposes
from consent_pipeline.core.lib.sql import SqlFile, Step, read_sql_file
from consent_pipeline.core.marketing import suppression
from consent_pipeline.core.permissions import permissions
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
    # found running the steps on Spark (issue 14, branch issue14-spark): Spark's hash is another function
    # (murmur3, 32 bits); sqlglot writes strftime's literal letters ('T', 'Z') into a Spark pattern unquoted,
    # which Spark rejects
    r"\bhash\(",
    r"\bstrftime\(",
]


CORE = Path(consent_pipeline.core.__file__).parent
SQL_FILES = sorted(CORE.glob("*/sql/*.sql"))


def _queries(f: SqlFile, sql: str) -> str:
    """What to transpile: a step's query; a table macro's body (Spark has no macros: an engine would run the
    query as a view over its arguments)."""
    if f.kind == "statement" and " AS TABLE" in sql:
        return sql.split(" AS TABLE", 1)[1]
    return sql


def _steps(rules: Rules) -> list[tuple[str, str]]:
    """Every `.sql` file of the core, its parameters filled with a sample of their type; then the parameters
    the orchestration generates (scope conditions, rule lists), rendered into the files that take them; then
    the steps whose SQL the Python still builds (registries, erasure)."""
    out: list[tuple[str, str]] = []
    for path in SQL_FILES:
        f = read_sql_file(path)
        out.append((f"{path.parent.parent.name}/{path.name}", _queries(f, f.sample())))
    generated: list[tuple[list[Step], dict[str, str]]] = [
        (merge.STEPS, merge.scope_params(False)),
        (merge.STEPS, merge.scope_params(True)),  # an incremental run: only the contact points in scope
        (permissions.STEPS, permissions.params(rules, AS_OF)),
        (permissions.PARTY_INPUT_STEPS + permissions.KEY_STEPS, permissions.params(rules, AS_OF, scoped=True)),
        ([suppression.CANDIDATES, suppression.SUPPRESSION], suppression.params(rules, scoped=False)),
        ([suppression.CANDIDATES, suppression.SUPPRESSION], suppression.params(rules, scoped=True)),
        *(
            (
                [audit.OPTOUTS, audit.REGION, audit.DEADLINES, audit.SLA, audit.VIOLATIONS],
                audit.params(AS_OF, required_purposes(rules), scoped),
            )
            for scoped in (False, True)
        ),
        (erasure.STEPS, {}),
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
    ]
    out += [(s.name, s.sql.format(**params)) for steps, params in generated for s in steps]
    return out


def test_the_core_has_sql_files() -> None:
    """The glob finds them (a moved folder would otherwise make the lint pass on nothing)."""
    assert len(SQL_FILES) >= 40
    assert {p.parent.parent.name for p in SQL_FILES} >= {"golden", "permissions", "identity", "marketing", "audit"}


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


def _arguments(sql: str, start: int) -> str:
    """The text of a call's arguments, from just after its opening parenthesis to the matching one."""
    depth = 1
    for i in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth == 0:
            return sql[start:i]
    raise AssertionError(f"unbalanced call: {sql[start - 20 : start + 40]}")


def test_regexp_replace_replaces_every_match(rules: Rules) -> None:
    """DuckDB's regexp_replace replaces the first match unless told 'g'; Spark's replaces every match, and
    sqlglot drops the flag: only the global form means the same on both."""
    for name, sql in _steps(rules):
        for call in re.finditer(r"\bregexp_replace\(", sql, flags=re.IGNORECASE):
            assert _arguments(sql, call.end()).rstrip().endswith("'g'"), f"{name}: regexp_replace without 'g'"


def test_no_division_by_a_decimal_literal(rules: Rules) -> None:
    """`x / 3600.0` is a DOUBLE on DuckDB and a DECIMAL rounded to 6 places on Spark (found running the audit on
    Spark: source_lag_hours 2.000277777777778 against 2.000278); `x / 3600` is the same DOUBLE on both."""
    for name, sql in _steps(rules):
        for div in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Div):
            for side in (div.this, div.expression):
                decimal = isinstance(side, exp.Literal) and side.is_number and "." in side.this
                assert not decimal, f"{name}: divides by or into the decimal literal {side.sql()}"
