"""The SQL invariants (core/audit/invariant_registry.py) as Dagster asset checks, one per invariant, on the table it
guards. A blocking one (`blocking=True`) that fails stops every asset downstream of that table, so
tonight's extract folder is not published; the others report without stopping anything."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from consent_pipeline.core.audit.invariant_registry import BY_DOMAIN, check
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.defs.metadata import first_rows, md_table
from consent_pipeline.defs.resources import PipelineResource
from consent_pipeline.lib import faults

# At most this many violating rows are read (the count shown says "at least" beyond it).
LIMIT = 1000


def build_invariant_check(inv: Invariant) -> AssetChecksDefinition:
    @asset_check(
        asset=inv.table,
        name=inv.name,
        description=inv.description + (" (blocking: nothing downstream runs when it fails)" if inv.blocking else ""),
        blocking=inv.blocking,
    )
    def _check(context: AssetCheckExecutionContext, pipeline: PipelineResource) -> AssetCheckResult:
        pipeline.begin(context)
        faults.pause(f"check:{inv.name}")  # tests plant a violation here (tests/test_gates.py)
        with pipeline.db.connect() as con:
            checked = check(con, inv, limit=LIMIT)
        bad = checked.violations
        return AssetCheckResult(
            passed=bad.height == 0,
            severity=AssetCheckSeverity(inv.severity),
            metadata={
                "violations": bad.height,
                "violations_capped": bad.height >= LIMIT,
                "rows_looked_at": MetadataValue.text(checked.rows_looked_at),
                # personal data hashed (defs/metadata.py): Dagster keeps this for good
                "first_rows": MetadataValue.text(first_rows(bad)),
                "preview": md_table(bad),
            },
        )

    return _check


def build_invariant_checks(domain: str) -> list[AssetChecksDefinition]:
    """The checks of one domain's invariants (core/invariant_registry.BY_DOMAIN)."""
    return [build_invariant_check(inv) for inv in BY_DOMAIN[domain]]
