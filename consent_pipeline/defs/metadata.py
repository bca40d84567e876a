"""Turning frames into Dagster metadata (tables in the UI)."""

from __future__ import annotations

import polars as pl
from dagster import MetadataValue


def md_table(frame: pl.DataFrame, max_rows: int = 20, max_chars: int = 120) -> MetadataValue:
    """A small frame as a markdown table (long cells cut, pipes escaped)."""
    if frame.height == 0:
        return MetadataValue.md("_none_")
    shown = frame.head(max_rows)
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
