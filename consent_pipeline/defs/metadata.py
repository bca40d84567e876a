"""Turning frames into Dagster metadata (tables in the UI).

Dagster keeps metadata in its run history (DAGSTER_HOME) for good, where erasure cannot reach: no personal
data may go there. A text column shows its values only when it is known to hold none (sources, files, record
numbers, reasons, scopes, ids); any other text column shows the SHA-256 of each value instead
(`sha256:<hex>`, as the warehouse keeps an erased contact point), which `consent-pipeline explain` accepts.
"""

from __future__ import annotations

import hashlib

import duckdb
import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

from consent_pipeline.core.lib.scope import Scope

# Text columns shown as they are: none of them holds a name, a contact point or a record's raw text.
SAFE_TEXT = frozenset(
    {
        "source", "delivery", "source_file", "file", "reason", "state", "status", "basis", "channel", "brand",
        "purpose", "segment", "region", "party_id", "event_id", "send_id", "request_id", "opt_out_event_id",
        "contact_point_type", "contact_point_sha256", "build", "why",
    }
)  # fmt: skip


def _sha256(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.startswith("sha256:") else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _plain(dtype: pl.DataType) -> bool:
    """Numbers, times and booleans: never personal data here."""
    return dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean


def without_personal_data(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every column that is neither plain (numbers, times, booleans) nor in SAFE_TEXT replaced
    by its values' SHA-256. For a preview of at most a few dozen rows."""
    hidden = [name for name, dtype in frame.schema.items() if name not in SAFE_TEXT and not _plain(dtype)]
    return frame.with_columns(
        pl.Series(name, [_sha256(v) for v in frame[name].to_list()], dtype=pl.String) for name in hidden
    )


def md_table(frame: pl.DataFrame, max_rows: int = 20, max_chars: int = 120) -> MetadataValue:
    """A small frame as a markdown table (long cells cut, pipes escaped), personal data hashed."""
    if frame.height == 0:
        return MetadataValue.md("_none_")
    shown = without_personal_data(frame.head(max_rows))
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    lines = [header, rule]
    for row in shown.iter_rows():
        cells = []
        for v in row:
            text = "" if v is None else str(v)
            text = text.replace("|", "\\|").replace("\n", " ")
            cells.append(text if len(text) <= max_chars else text[: max_chars - 1] + "…")
        lines.append("| " + " | ".join(cells) + " |")
    if frame.height > max_rows:
        lines.append(f"\n_{frame.height - max_rows} more rows_")
    return MetadataValue.md("\n".join(lines))


def first_rows(frame: pl.DataFrame, n: int = 3, max_chars: int = 400) -> str:
    """The first rows of a frame on one line (`col=value, ...; ...`), personal data hashed: what a failed
    check shows in the run's one-line error."""
    if frame.height == 0:
        return ""
    shown = without_personal_data(frame.head(n))
    rows = [", ".join(f"{k}={'' if v is None else v}" for k, v in r.items()) for r in shown.iter_rows(named=True)]
    text = "; ".join(r.replace("\n", " ").replace("\r", " ") for r in rows)
    more = f" (and {frame.height - n} more)" if frame.height > n else ""
    return (text if len(text) <= max_chars else text[: max_chars - 1] + "…") + more


def table_metadata(con: duckdb.DuckDBPyConnection, table: str, rows: int | None = None) -> dict[str, MetadataValue]:
    """A warehouse table's row count and column schema, as the Dagster UI shows (and plots) them."""
    columns = con.execute(f'DESCRIBE "{table}"').fetchall()
    if rows is None:
        rows = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
    schema = TableSchema(columns=[TableColumn(name=str(c[0]), type=str(c[1])) for c in columns])
    return {
        "dagster/row_count": MetadataValue.int(int(rows)),
        "dagster/column_schema": MetadataValue.table_schema(schema),
    }


def scope_metadata(scope: Scope, recomputed: str) -> dict[str, str | int]:
    """How an incremental stage built its table: `build`, `why`, and `recomputed_<what>` (-1: rebuilt whole;
    the run summary reads it)."""
    return {
        "build": "incremental" if scope.incremental else "full",
        "why": scope.reason,
        f"recomputed_{recomputed}": scope.size if scope.incremental else -1,
    }


def as_int(value: MetadataValue) -> int:
    """A numeric metadata value (a row count, a figure) as an int."""
    raw = value.value
    if not isinstance(raw, int | float):
        raise TypeError(f"metadata value {raw!r} is not a number")
    return int(raw)
