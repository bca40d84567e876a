"""Reading the feeds' file formats into polars frames of text, one row per source record.

Every reader returns `Records`: the good records (with their 1-based `source_record`), the records that
could not be read (with a reason), the raw text of every record (for quarantine) and the count read.
Nothing here loops over records in Python except the fallbacks for broken files.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

REC = "source_record"
_REJECT_SCHEMA = {REC: pl.Int64(), "reason": pl.String(), "detail": pl.String(), "raw": pl.String()}


@dataclass
class Records:
    frame: pl.DataFrame  # one row per readable record; text columns plus `source_record`
    rejects: pl.DataFrame  # source_record, reason, detail, raw
    raw: pl.Series  # every record's text, indexed by source_record - 1
    count: int  # records read: the ledger's rows_read
    encoding: str = "utf-8"


def no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=_REJECT_SCHEMA)


def rejects_for(
    records: pl.Series | Sequence[int], reason: str, raw: pl.Series, detail: str | None = None
) -> pl.DataFrame:
    """Reject rows for the given record numbers, with their raw text."""
    nums = pl.Series(REC, records, dtype=pl.Int64)
    frame = pl.DataFrame({REC: nums})
    return frame.with_columns(
        pl.lit(reason).alias("reason"),
        pl.lit(detail, pl.String).alias("detail"),
        raw.gather(nums - 1).alias("raw") if len(nums) else pl.lit(None, pl.String).alias("raw"),
    ).select(list(_REJECT_SCHEMA))


def decode(path: Path) -> tuple[str, str]:
    """A text file's content: UTF-8 (a BOM removed), else Windows-1252. Undecodable bytes become U+FFFD."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def split_lines(text: str) -> list[str]:
    """Lines without their CR/LF; a final line break does not add an empty record."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _undecodable(raw: pl.Series) -> pl.DataFrame:
    """Records holding a character that could not be decoded: a warning row each."""
    bad = raw.str.contains("\ufffd", literal=True).fill_null(False)
    nums = (pl.int_range(1, raw.len() + 1, eager=True).filter(bad)).cast(pl.Int64)
    return rejects_for(nums, "undecodable_characters", raw)


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> Records:
    """A CSV file with a header row, read by column name (required and optional columns only).

    The first occurrence of a repeated header name is used; extra columns are ignored; a missing required
    column rejects every record (`missing_column`), a missing optional one reads as empty; a row with the wrong number of fields is rejected
    (`missing_fields` / `extra_fields`). Empty fields are null.
    """
    text, encoding = decode(path)
    if not text.strip():
        return Records(pl.DataFrame(schema={REC: pl.Int64}), no_rejects(), pl.Series("raw", [], pl.String), 0)
    lines = split_lines(text)
    header = next(csv.reader([lines[0]]))
    header = [h.strip() for h in header]
    width = len(header)
    frame = (
        pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            has_header=False,
            skip_rows=1,
            infer_schema=False,
            empty_string_is_null=False,
            truncate_ragged_lines=True,
            raise_if_empty=False,
            new_columns=[f"c{i}" for i in range(width)],
        )
        if len(lines) > 1
        else pl.DataFrame(schema={f"c{i}": pl.String for i in range(width)})
    )
    body = pl.Series("raw", lines[1:], dtype=pl.String)
    if frame.height == body.len():
        # Fields per line: drop quoted sections, then count separators.
        fields = body.str.replace_all(r'"[^"]*"', "").str.count_matches(",") + 1
        raw = body
    else:  # quoted line breaks or blank lines: the exact (slow) reader decides what a record is
        frame, raw, fields = _read_csv_exact(text, width)
    frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(REC))

    rejects = [_undecodable(raw)] if encoding != "utf-8" else []
    missing = [c for c in required if c not in header]
    if missing:
        nums = pl.int_range(1, raw.len() + 1, eager=True)
        rejects.append(rejects_for(nums, "missing_column", raw, f"missing column(s): {', '.join(missing)}"))
        return Records(pl.DataFrame(schema={REC: pl.Int64}), pl.concat(rejects), raw, raw.len(), encoding)

    first: dict[str, int] = {}
    for i, name in enumerate(header):
        first.setdefault(name, i)
    # Optional columns the export dropped are read as empty.
    frame = frame.with_columns(fields.alias("_fields")).select(
        REC,
        "_fields",
        *[
            (
                pl.when(pl.col(f"c{first[c]}") == "").then(None).otherwise(pl.col(f"c{first[c]}"))
                if c in first
                else pl.lit(None, pl.String)
            ).alias(c)
            for c in dict.fromkeys((*required, *optional))
        ],
    )
    short = frame.filter(pl.col("_fields") < width)[REC]
    long = frame.filter(pl.col("_fields") > width)[REC]
    rejects.append(rejects_for(short, "missing_fields", raw, f"fewer fields than the header's {width}"))
    rejects.append(rejects_for(long, "extra_fields", raw, f"more fields than the header's {width}"))
    frame = frame.filter(pl.col("_fields") == width).drop("_fields")
    return Records(frame, pl.concat(rejects), raw, raw.len(), encoding)


def _read_csv_exact(text: str, width: int) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    rows = list(csv.reader(io.StringIO(text)))[1:]
    rows = [r for r in rows if r]  # a blank line is not a record
    padded = [(r + [""] * width)[:width] for r in rows]
    frame = pl.DataFrame(
        {f"c{i}": [r[i] for r in padded] for i in range(width)},
        schema={f"c{i}": pl.String for i in range(width)},
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    raws = []
    for r in rows:
        out.seek(0)
        out.truncate()
        writer.writerow(r)
        raws.append(out.getvalue().rstrip("\n"))
    return frame, pl.Series("raw", raws, pl.String), pl.Series([len(r) for r in rows], dtype=pl.Int64)


# --- JSON ---------------------------------------------------------------------------------------


def read_jsonl(path: Path, dtype: pl.DataType | None = None) -> Records:
    """A JSON-lines file: one object a line. Lines that are not a JSON object are rejected (`invalid_json`)."""
    text, encoding = decode(path)
    lines = [ln for ln in split_lines(text)]
    raw = pl.Series("raw", lines, dtype=pl.String)
    records = _decode_objects(raw, dtype)
    if encoding != "utf-8":
        records.rejects = pl.concat([_undecodable(raw), records.rejects])
    records.encoding = encoding
    return records


def read_json_array(path: Path, dtype: pl.DataType | None = None) -> Records:
    """A JSON array of objects. A truncated array keeps the elements before the break; the rest is one
    rejected record (`invalid_json`)."""
    text, encoding = decode(path)
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            items = None
    except json.JSONDecodeError:
        items = None
    tail: str | None = None
    if items is None:
        items, tail = _salvage_array(text)
    raws = [json.dumps(item, ensure_ascii=False) for item in items]
    if tail is not None:
        raws.append(tail)
    raw = pl.Series("raw", raws, dtype=pl.String)
    records = _decode_objects(raw, dtype)
    records.encoding = encoding
    return records


def _salvage_array(text: str) -> tuple[list[object], str]:
    """The complete elements at the start of a broken JSON array, and the unreadable rest."""
    decoder = json.JSONDecoder()
    start = text.find("[")
    if start < 0:
        return [], text
    pos, items = start + 1, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return items, ""
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return items, text[pos:]
        items.append(item)


def _decode_objects(raw: pl.Series, dtype: pl.DataType | None) -> Records:
    """Decode JSON texts to structs; the fast path decodes all at once, the fallback finds the bad ones."""
    n = raw.len()
    nums = pl.int_range(1, n + 1, eager=True, dtype=pl.Int64).alias(REC)
    blank = raw.str.strip_chars().str.len_chars() == 0
    try:
        if bool(blank.any()):
            raise pl.exceptions.ComputeError("blank line")
        decoded = raw.str.json_decode(dtype, infer_schema_length=None)
        if decoded.dtype.base_type() != pl.Struct:
            raise pl.exceptions.ComputeError("not objects")
        ok = pl.Series([True] * n, dtype=pl.Boolean)
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError):
        # A broken file. Which lines are JSON objects, over the whole column (json_path_match is null for
        # invalid JSON, where json_decode fails the whole column).
        ok = raw.str.json_path_match("$").str.starts_with("{").fill_null(False)
        fits = ok
        try:  # usually the broken lines were the only problem
            decoded = raw.filter(fits).str.json_decode(dtype, infer_schema_length=None)
        except pl.exceptions.PolarsError:
            # then some records have fields of another JSON type: find them (per record, broken files only)
            objects = [_as_object(s) for s in raw.to_list()]
            ok = pl.Series([o is not None for o in objects], dtype=pl.Boolean)
            odd = _odd_types(objects) if dtype is None else _misfits(raw, objects, dtype)
            fits = pl.Series(
                [o is not None and i not in odd for i, o in enumerate(objects)], dtype=pl.Boolean
            )
            try:
                decoded = raw.filter(fits).str.json_decode(dtype, infer_schema_length=None)
            except pl.exceptions.PolarsError:
                decoded, fits = raw.head(0).str.json_decode(dtype), pl.Series([False] * n, dtype=pl.Boolean)
        mistyped = nums.filter(ok & ~fits)
        ok = fits
        bad_nums = nums.filter(~ok & ~nums.is_in(mistyped.implode()))
        rejects = pl.concat(
            [
                rejects_for(bad_nums, "invalid_json", raw, "not a complete JSON object"),
                rejects_for(mistyped, "bad_json_type", raw, "a field holds another JSON type than expected"),
            ]
        ).sort(REC)
        frame = (
            decoded.struct.unnest().with_columns(nums.filter(ok))
            if decoded.len() and decoded.dtype.base_type() == pl.Struct
            else pl.DataFrame({REC: nums.filter(ok)})
        )
        return Records(frame, rejects, raw, n)
    bad_nums = nums.filter(~ok)
    rejects = rejects_for(bad_nums, "invalid_json", raw, "not a complete JSON object")
    if decoded.len() == 0 or decoded.dtype.base_type() != pl.Struct:
        frame = pl.DataFrame({REC: nums.filter(ok)})
    else:
        frame = decoded.struct.unnest().with_columns(nums.filter(ok))
    return Records(frame, rejects, raw, n)


def _as_object(text: str | None) -> dict | None:
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _shape(value: object, path: str, out: dict[str, str]) -> None:
    """JSON type per path (`a.b`, `a[]`), nulls left out: what polars needs to agree across records."""
    if value is None:
        return
    if isinstance(value, dict):
        out[path] = "object"
        for key, item in value.items():
            _shape(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        out[path] = "list"
        for item in value:
            _shape(item, f"{path}[]", out)
    else:
        out[path] = (
            "bool" if isinstance(value, bool) else "number" if isinstance(value, int | float) else "string"
        )


def _misfits(raw: pl.Series, objects: list[dict | None], dtype: pl.DataType) -> set[int]:
    """Indexes of the records the given schema cannot decode."""
    out = set()
    for i, (text, obj) in enumerate(zip(raw.to_list(), objects, strict=True)):
        if obj is None:
            continue
        try:
            pl.Series([text], dtype=pl.String).str.json_decode(dtype)
        except pl.exceptions.PolarsError:
            out.add(i)
    return out


def _odd_types(objects: list[dict | None]) -> set[int]:
    """Indexes of records where some field has another JSON type than most records give it."""
    shapes: list[dict[str, str]] = []
    votes: dict[str, Counter[str]] = {}
    for obj in objects:
        shape: dict[str, str] = {}
        if obj is not None:
            _shape(obj, "", shape)
        shapes.append(shape)
        for path, kind in shape.items():
            votes.setdefault(path, Counter())[kind] += 1
    usual = {path: c.most_common(1)[0][0] for path, c in votes.items()}
    return {i for i, shape in enumerate(shapes) if any(usual[p] != k for p, k in shape.items())}


# --- plain lines (fixed width, registries) ------------------------------------------------------


def read_lines(path: Path) -> Records:
    """A text file of one record a line: column `line`."""
    text, encoding = decode(path)
    raw = pl.Series("raw", split_lines(text), dtype=pl.String)
    frame = pl.DataFrame({"line": raw}).with_columns(
        pl.int_range(1, raw.len() + 1, dtype=pl.Int64).alias(REC)
    )
    rejects = _undecodable(raw) if encoding != "utf-8" else no_rejects()
    return Records(frame, rejects, raw, raw.len(), encoding)
