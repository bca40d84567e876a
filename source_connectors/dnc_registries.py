"""National do-not-call registries (feeds.md §11): one sub-folder per registry, `<registry>/<pattern>`
(rules/files.yaml).

All the files of one registry in one delivery make that registry's snapshot as of the delivery (the FTC
delivers one file per area code). This connector reads each file and says, file by file, whether it was read
whole; whether the delivery's snapshot replaces the one in force is decided by the core
(`core/registries/registries.py`) over the warehouse tables, never here.

- A file read whole: one `registry_snapshots` row (file-level, no record number; `listed` = the file's
  records, `file_sha256` = its bytes, so that a delivery re-dropped unchanged is known) and one
  `registry_listings` row per listed line, the number in national format parsed by the core with the
  registry's country. An empty file is a whole file listing nothing.
- A file not read whole has no snapshot row and one file-level quarantine row (no record number), which is
  what holds the registry's snapshot of that delivery: a file whose lines none fit the layout (an HTML
  error page, an XML download saved as `.txt`: `unreadable_file`), a wash answer of a kind that cannot be
  read safely (`unsupported_wash_answer`), or a file the reader reports as cut short or unreadable. Files
  in a registry's folder that match none of its patterns are `unexpected_file` (`_common.unexpected_files`),
  which holds the snapshot the same way.

Line layouts, from the mapping:
- `area_code_number`: `415,5550134` -> `4155550134`, or ten digits a line (`4155550134`, the FTC's
  per-area-code files);
- `national`: `0412345678` (spaces inside the number are dropped);
- `national_fixed_width`: the dialling code left-justified in 5 then the rest right-justified in 7
  (`0207 3787244`), or the whole number left-justified in 12; the spaces are padding.
A registry with a `wash_answer` (AU DNCR) also reads the whole submitted list with its result: a first line
naming the number and result columns (any case) is a header, `Registered` rows are listed, `Not Registered`
rows are skipped (`not_registered`), any other result is a bad line.

A line that does not fit is rejected (`bad_registry_line`) and does not hold the snapshot; a number that
fits but is not a possible number is rejected by the core's normalisation. Blank lines are not records.
Every listing's time is the delivery's `received_ts`: the registry says nothing about when a number was
added.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import Registry, WashAnswer
from source_connectors._common import (
    all_records_rejected,
    kinds_of,
    reject_where,
    skip_records,
    start_file,
    unexpected_files,
    with_lineage,
)
from source_connectors.readers import REC, Records, no_rejects, read_lines, rejects_for

SOURCE = "dnc_registries"
FIXED_WIDTH = 12  # national_fixed_width: the whole line
CODE_WIDTH = 5  # national_fixed_width: the dialling code's field
# Reasons a reader gives for a file it could not read whole (as well as any reject without a record number).
FILE_PROBLEMS = ("unreadable_file", "truncated")

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def file_kinds(rules: Rules) -> list[str]:
    """One kind of file per registry of the mapping: its folder's patterns in rules/files.yaml."""
    return list(rules.mapping(SOURCE).registries)


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    registries = rules.mapping(SOURCE).registries
    # Each registry's files, by the patterns of rules/files.yaml (a folder per registry).
    files = kinds_of(delivery, rules, SOURCE, list(registries))
    unexpected_files(batch, delivery, [p for paths in files.values() for p in paths])
    for registry, paths in files.items():
        for path in paths:
            _read_file(batch, delivery, path, registry, registries[registry])
    return batch


def _read_file(batch: Batch, delivery: Delivery, path: Path, registry: str, reg: Registry) -> None:
    lines = read_lines(path)
    wash = reg.wash_answer
    header = wash is not None and _is_wash_header(lines.raw, wash)
    records = _records(lines, header)
    rel = start_file(batch, delivery, path, records)
    if wash is not None and _unsupported_name(path.name, wash):
        detail = (
            f"{registry}: a wash answer named like {' or '.join(wash.unsupported_names)} (the submitted list "
            "without the registered numbers) cannot be told from registered numbers by its content"
        )
        all_records_rejected(batch, rel, records, "unsupported_wash_answer", detail)
        _file_problem(batch, rel, "unsupported_wash_answer", detail)
        return
    readable = (
        _wash_rows(batch, delivery, rel, records.frame, registry, reg, wash)
        if wash is not None and header
        else _listings(batch, delivery, rel, records.frame, registry, reg)
    )
    # What the reader could not read whole (a file cut short...): its lines are accounted as usual, but the
    # file is no part of a snapshot.
    problems = lines.rejects.filter(pl.col(REC).is_null() | pl.col("reason").is_in(FILE_PROBLEMS))
    if problems.height:
        _file_problem(batch, rel, problems["reason"][0], problems["detail"][0] or "the file was not read whole")
    elif records.count and not readable:
        # Lines, none of which is a registry line: not a snapshot listing nobody (that would make every
        # number callable) but an unreadable download.
        _file_problem(batch, rel, "unreadable_file", f"no line fits the {registry} layout ({reg.layout})")
    else:
        batch.add("registry_snapshots", _snapshot(delivery, rel, registry, reg, records, path))


def _file_problem(batch: Batch, rel: str, reason: str, detail: str) -> None:
    """One file-level quarantine row: the file was not read whole, so its delivery's snapshot is held."""
    batch.reject(pl.DataFrame({"source_file": [rel], "reason": [reason], "detail": [detail], "raw": [rel]}))


def _unsupported_name(name: str, wash: WashAnswer) -> bool:
    return any(part.lower() in name.lower() for part in wash.unsupported_names)


def _fields(line: pl.Expr) -> pl.Expr:
    """A comma-separated line's fields, trimmed of spaces and quotes."""
    return line.str.split(",").list.eval(pl.element().str.strip_chars().str.strip_chars('"').str.strip_chars())


def _is_wash_header(raw: pl.Series, wash: WashAnswer) -> bool:
    """Whether the first non-blank line names the wash answer's number and result columns (any case)."""
    first = raw.filter(raw.str.strip_chars().str.len_chars() > 0).head(1)
    if first.len() == 0:
        return False
    names = set(pl.select(_fields(pl.lit(first[0]).str.to_lowercase())).item().to_list())
    return {wash.number_column.lower(), wash.result_column.lower()} <= names


def _records(lines: Records, header: bool = False) -> Records:
    """The file's lines without the blank ones (padding, a trailing empty line): they are not records, so
    the records are numbered over the non-blank lines. With `header`, the first of them names the columns
    (kept in every row's `header`) and is no record."""
    raw = lines.raw.filter(lines.raw.str.strip_chars().str.len_chars() > 0)
    frame = pl.DataFrame({"line": raw})
    if header:
        frame = frame.slice(1).with_columns(pl.lit(raw[0]).alias("header"))
        raw = raw.slice(1)
    frame = frame.with_columns(pl.int_range(1, raw.len() + 1, dtype=pl.Int64).alias(REC)).select(
        "line", REC, *(["header"] if header else [])
    )
    rejects = no_rejects()
    if lines.encoding != "utf-8":  # a Windows-1252 file: a warning per line holding an undecodable byte
        nums = pl.int_range(1, raw.len() + 1, eager=True, dtype=pl.Int64)
        rejects = rejects_for(nums.filter(raw.str.contains("\ufffd", literal=True)), "undecodable_characters", raw)
    return Records(frame, rejects, raw, raw.len(), lines.encoding)


def _snapshot(delivery: Delivery, rel: str, registry: str, reg: Registry, records: Records, path: Path) -> pl.DataFrame:
    """The file as part of its registry's snapshot: file-level (no record number), so it never makes a line
    count as accepted."""
    frame = pl.DataFrame({REC: pl.Series([None], dtype=pl.Int64)})
    return with_lineage(frame, delivery, rel).select(
        *LINEAGE_COLS,
        pl.lit(registry).alias("registry"),
        pl.lit(reg.country).alias("country"),
        pl.col("received_ts").alias("snapshot_ts"),
        pl.lit(records.count, pl.Int64).alias("listed"),
        pl.lit(hashlib.sha256(path.read_bytes()).hexdigest()).alias("file_sha256"),
    )


def _national_number(layout: str, line: pl.Expr) -> pl.Expr:
    """The line's number in national format, or null when the line does not fit the layout."""
    if layout == "area_code_number":
        trimmed = line.str.strip_chars()
        parts = trimmed.str.extract_groups(r"^(\d+)\s*,\s*(\d+)$")
        return (
            pl.when(trimmed.str.contains(r"^\d{10}$"))
            .then(trimmed)
            .otherwise(pl.concat_str(parts.struct.field("1"), parts.struct.field("2")))
        )
    if layout == "national":
        trimmed = line.str.strip_chars()
        return pl.when(trimmed.str.contains(r"^\+?\d[\d ]*$")).then(trimmed.str.replace_all(" ", "", literal=True))
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


def _listings(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, registry: str, reg: Registry) -> int:
    """The file's listings, one number a line; returns how many lines fit the layout."""
    if rows.height == 0:
        return 0
    rows = rows.with_columns(_national_number(reg.layout, pl.col("line")).alias("number"))
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("number").is_null(),
        "bad_registry_line",
        pl.format("{} line ({}): {}", pl.lit(registry), pl.lit(reg.layout), pl.col("line")),
    )
    _add_listings(batch, delivery, rel, rows, registry, reg)
    return rows.height


def _wash_rows(
    batch: Batch,
    delivery: Delivery,
    rel: str,
    rows: pl.DataFrame,
    registry: str,
    reg: Registry,
    wash: WashAnswer,
) -> int:
    """A wash answer listing the submitted numbers with their result, read by column name; returns how many
    rows were read (listed or recognised as not registered)."""
    if rows.height == 0:
        return 0
    names = pl.select(_fields(pl.lit(rows["header"][0]).str.to_lowercase())).item().to_list()
    number_at, result_at = names.index(wash.number_column.lower()), names.index(wash.result_column.lower())
    listed = [v.strip().lower() for v in wash.listed]
    not_listed = [v.strip().lower() for v in wash.not_listed]
    fields = _fields(pl.col("line"))
    rows = rows.with_columns(
        fields.list.len().alias("_width"),
        _national_number("national", fields.list.get(number_at, null_on_oob=True)).alias("number"),
        fields.list.get(result_at, null_on_oob=True).str.to_lowercase().alias("_result"),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        (pl.col("_width") != len(names)) | pl.col("number").is_null(),
        "bad_registry_line",
        pl.format("{} wash answer row: {}", pl.lit(registry), pl.col("line")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("_result").is_in(listed + not_listed),
        "bad_registry_line",
        pl.format("{} wash answer: unknown result '{}'", pl.lit(registry), pl.col("_result")),
    )
    skip_records(batch, rel, rows.filter(pl.col("_result").is_in(not_listed)), "not_registered")
    _add_listings(batch, delivery, rel, rows.filter(pl.col("_result").is_in(listed)), registry, reg)
    return rows.height


def _add_listings(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, registry: str, reg: Registry) -> None:
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
