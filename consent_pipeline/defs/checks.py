"""Asset check results from the SQL invariants (core/invariants.py)."""

from collections.abc import Iterable, Iterator

import duckdb
from dagster import AssetCheckResult, AssetCheckSpec, AssetKey

from consent_pipeline.core.invariants import INVARIANTS, violations
from consent_pipeline.defs.metadata import md_table


def invariant_names(tables: Iterable[str]) -> list[str]:
    wanted = set(tables)
    return [name for name, inv in INVARIANTS.items() if inv.table in wanted]


def invariant_specs(tables: Iterable[str]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(n, asset=INVARIANTS[n].table, description=INVARIANTS[n].description)
        for n in invariant_names(tables)
    ]


def invariant_results(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> Iterator[AssetCheckResult]:
    for name in invariant_names(tables):
        bad = violations(con, name, limit=1000)
        yield AssetCheckResult(
            asset_key=AssetKey(INVARIANTS[name].table),
            check_name=name,
            passed=bad.height == 0,
            metadata={"violations": bad.height, "preview": md_table(bad)},
        )
