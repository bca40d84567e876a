"""National do-not-call registries (feeds.md §11): one sub-folder per registry, `<registry>/*.txt`.

Each file is a full snapshot of its registry as of the delivery: one `registry_snapshots` row per file
(file-level, no record number; `listed` = the file's records, so an empty file is a valid snapshot listing
nothing) and one `registry_listings` row per line, the number in national format parsed by the core with
the registry's country. A file with lines none of which fits the layout is no snapshot (a garbled file
must not clear the registry). The registry ids, their countries and line layouts come from the mapping:

- `area_code_number`: `415,5550134` -> `4155550134`;
- `national`: `0412345678` (spaces inside the number are dropped);
- `national_fixed_width`: the dialling code left-justified in 5 then the rest right-justified in 7
  (`0207 3787244`), or the whole number left-justified in 12; the spaces are padding.

A line that does not fit its registry's layout is rejected (`bad_registry_line`); a number that fits but is
not a possible number is rejected by the core's normalisation. Blank lines are not records. Files outside
the mapped registries' folders (an unknown registry, a file in the delivery root) are `unexpected_file`.
Every listing's time is the delivery's `received_ts`: the registry says nothing about when a number was
added.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import Registry
from source_connectors._common import kinds_of, reject_where, start_file, unexpected_files, with_lineage
from source_connectors.readers import REC, Records, no_rejects, read_lines, rejects_for

SOURCE = "dnc_registries"
FIXED_WIDTH = 12  # national_fixed_width: the whole line
CODE_WIDTH = 5  # national_fixed_width: the dialling code's field

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    registries: dict[str, Registry] = rules.mapping(SOURCE).registries
    files = kinds_of(delivery, rules, SOURCE, list(registries))
    unexpected_files(batch, delivery, [p for paths in files.values() for p in paths])
    for registry, paths in files.items():
        for path in paths:
            records = _records(path)
            rel = start_file(batch, delivery, path, records)
            listed = _listings(batch, delivery, rel, records.frame, registry, registries[registry])
            # A file none of whose lines can be read is not a snapshot listing nothing (that would make every
            # number callable): the registry's previous snapshot stays the newest. An empty file is one.
            if records.count == 0 or listed:
                batch.add(
                    "registry_snapshots", _snapshot(delivery, rel, registry, registries[registry], records)
                )
    return batch


def _records(path: Path) -> Records:
    """The file's lines without the blank ones (padding, a trailing empty line): they are not records, so
    the records are numbered over the non-blank lines."""
    lines = read_lines(path)
    raw = lines.raw.filter(lines.raw.str.strip_chars().str.len_chars() > 0)
    nums = pl.int_range(1, raw.len() + 1, eager=True, dtype=pl.Int64)
    frame = pl.DataFrame({"line": raw, REC: nums})
    rejects = no_rejects()
    if lines.encoding != "utf-8":  # a Windows-1252 file: a warning per line holding an undecodable byte
        rejects = rejects_for(
            nums.filter(raw.str.contains("\ufffd", literal=True)), "undecodable_characters", raw
        )
    return Records(frame, rejects, raw, raw.len(), lines.encoding)


def _snapshot(delivery: Delivery, rel: str, registry: str, reg: Registry, records: Records) -> pl.DataFrame:
    """The file as a snapshot: file-level (no record number), so it never makes a line count as accepted."""
    frame = pl.DataFrame({REC: pl.Series([None], dtype=pl.Int64)})
    return with_lineage(frame, delivery, rel).select(
        *LINEAGE_COLS,
        pl.lit(registry).alias("registry"),
        pl.lit(reg.country).alias("country"),
        pl.col("received_ts").alias("snapshot_ts"),
        pl.lit(records.count, pl.Int64).alias("listed"),
    )


def _national_number(layout: str) -> pl.Expr:
    """The line's number in national format, or null when the line does not fit the layout."""
    line = pl.col("line")
    if layout == "area_code_number":
        parts = line.str.strip_chars().str.extract_groups(r"^(\d+)\s*,\s*(\d+)$")
        return pl.concat_str(parts.struct.field("1"), parts.struct.field("2"))
    if layout == "national":
        trimmed = line.str.strip_chars()
        return pl.when(trimmed.str.contains(r"^\d[\d ]*$")).then(
            trimmed.str.replace_all(" ", "", literal=True)
        )
    # national_fixed_width. Trailing spaces are the left-justified number's padding (an editor may strip
    # them); a right-justified rest ends the 12-character line.
    padded = line.str.strip_chars_end()
    whole = padded.str.contains(rf"^\d{{1,{FIXED_WIDTH}}}$")
    split = (
        (padded.str.len_chars() == FIXED_WIDTH)
        & padded.str.slice(0, CODE_WIDTH).str.contains(r"^\d+ *$")
        & padded.str.slice(CODE_WIDTH).str.contains(r"^ *\d+$")
    )
    return pl.when(whole | split).then(padded.str.replace_all(" ", "", literal=True))


def _listings(
    batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, registry: str, reg: Registry
) -> int:
    """The file's listings; returns how many lines fit the layout."""
    if rows.height == 0:
        return 0
    rows = rows.with_columns(_national_number(reg.layout).alias("number"))
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("number").is_null(),
        "bad_registry_line",
        pl.format("{} line ({}): {}", pl.lit(registry), pl.lit(reg.layout), pl.col("line")),
    )
    batch.add(
        "registry_listings",
        with_lineage(rows, delivery, rel).select(
            *LINEAGE_COLS,
            pl.lit(registry).alias("registry"),
            pl.col("number").alias("cp_raw"),
            pl.lit("phone").alias("contact_point_type"),
            pl.lit(reg.country).alias("cp_region"),
            pl.col("received_ts").alias("snapshot_ts"),
        ),
    )
    return rows.height
