"""CSV by column name, record by record: one damaged row costs only itself (feeds.md "Real files are messy").

The fast path is vectorised: lines are split, each record's shape is checked with one regular expression
over the whole column (RFC 4180 quoting, the header's field count), and the well-formed records are parsed
by polars. Only a file with an odd number of quotes on some line (a quoted line break, or a stray quote)
is walked line by line in Python, to tell the two apart.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from source_connectors.readers.records import (
    REC,
    Records,
    file_bytes,
    no_rejects,
    numbered,
    rejects_for,
    unreadable,
    with_digest,
)
from source_connectors.readers.text import Text, decode, is_blank, lines_of, undecodable

# Delimiters tried on the header, in order: the first under which every required column is found wins
# (Excel's "Unicode text" is tab-separated, and European Excel writes `;`).
DELIMITERS = (",", "\t", ";", "|")
# A record spanning more lines than this is taken for a stray quote, not a quoted line break.
MAX_RECORD_LINES = 1000
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def read_csv(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> Records:
    """A CSV file with a header row, read by column name.

    Header names match whatever their case and surrounding white space; the first occurrence of a
    repeated name is used; extra columns are ignored; a missing optional column reads as empty; a missing
    required one rejects every record (`missing_column`). A record with a stray quote, control characters
    or another number of fields than the header is rejected alone (`malformed_row`; `truncated` for a
    last record cut off without its line end). Empty fields are null. Blank lines are not records.
    """
    try:
        data = file_bytes(path)
    except OSError as exc:
        return unreadable("unreadable_file", f"cannot read the file: {exc.strerror or exc}", retry=True)
    return with_digest(parse_csv(data, required, optional), data)


def parse_csv(data: bytes, required: Sequence[str], optional: Sequence[str] = ()) -> Records:
    text = decode(data)
    if text.binary:
        return unreadable("unreadable_file", "binary content, not a text file", text.encoding)
    lines = lines_of(text)
    nonblank = (~is_blank(lines)).arg_true()
    if nonblank.len() == 0:
        return _empty(text)
    head_at = int(nonblank[0])
    header_line = lines[head_at]
    delimiter, header = _header(header_line, required)
    raw, unterminated = _records(lines.slice(head_at + 1), text, delimiter)
    n = raw.len()
    nums = numbered(n)
    rejects = []
    if text.encoding not in ("utf-8", "utf-8-sig"):
        rejects.append(rejects_for(nums.filter(undecodable(raw)), "undecodable_characters", raw))

    wanted = list(dict.fromkeys((*required, *optional)))
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        position.setdefault(name.strip().casefold(), i)
    missing = [c for c in required if c.strip().casefold() not in position]
    if missing:
        rejects.append(rejects_for(nums, "missing_column", raw, f"missing column(s): {', '.join(missing)}"))
        return Records(_no_rows(), _concat(rejects), raw, n, text.encoding, columns=tuple(header))

    width = len(header)
    ok, why = _well_formed(raw, delimiter, width)
    bad = ~ok
    cut = bad & unterminated
    rejects.append(rejects_for(nums.filter(cut), "truncated", raw, "the file ends inside this record"))
    malformed = pl.DataFrame({REC: nums, "raw": raw, "detail": why}).filter(bad & ~cut)
    if malformed.height:
        rejects.append(
            malformed.select(REC, pl.lit("malformed_row").alias("reason"), "detail", "raw").cast(
                {"reason": pl.String, "detail": pl.String}
            )
        )
    # The usual file: UTF-8, every record one line, no blank line after the header. polars then parses the
    # bytes as delivered (no copy of the records through Python), and the malformed records are dropped by
    # their number; anything else goes by the records' text found above.
    plain = (
        text.encoding in ("utf-8", "utf-8-sig")
        and raw.len() == lines.len() - head_at - 1
        and b"\r" not in data.replace(b"\r\n", b"\n")
    )
    fields = _fields_of_bytes(data, head_at, delimiter, width, n) if plain else None
    fields = fields.filter(ok) if fields is not None else _fields(raw.filter(ok), delimiter, width)
    frame = fields.with_columns(nums.filter(ok)).select(
        REC,
        *[
            (pl.col(f"c{position[c.strip().casefold()]}") if c.strip().casefold() in position else pl.lit(None))
            .cast(pl.String)
            .alias(c)
            for c in wanted
        ],
    )
    # Empty means absent: "" and an unquoted empty field alike.
    frame = frame.with_columns([pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in wanted])
    return Records(frame, _concat(rejects), raw, n, text.encoding, columns=tuple(header))


def _empty(text: Text) -> Records:
    return Records(_no_rows(), no_rejects(), pl.Series("raw", [], pl.String), 0, text.encoding)


def _no_rows() -> pl.DataFrame:
    return pl.DataFrame(schema={REC: pl.Int64})


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical").sort(REC) if frames else no_rejects()


def _header(line: str, required: Sequence[str]) -> tuple[str, list[str]]:
    """The delimiter and the header's names: the first delimiter under which every required name is found,
    else the one that splits the header into the most names."""
    want = {c.strip().casefold() for c in required}
    best: tuple[str, list[str]] | None = None
    for delimiter in DELIMITERS:
        try:
            names = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            names = line.split(delimiter)
        names = [n.strip().strip('"').strip() for n in names]
        if want <= {n.casefold() for n in names}:
            return delimiter, names
        if best is None or len(names) > len(best[1]):
            best = (delimiter, names)
    assert best is not None
    return best


def _records(body: pl.Series, text: Text, delimiter: str) -> tuple[pl.Series, pl.Series]:
    """Records as text (a quoted line break joins lines) without the blank ones, and which record is the
    last one of a file that ends without a line end (cut off)."""
    odd = (body.str.count_matches('"', literal=True) % 2 == 1).fill_null(False)
    if not odd.any():
        keep = ~is_blank(body)
        raw = body.filter(keep)
        last_line_kept = body.len() > 0 and bool(keep[-1])
    else:
        raw, last_line_kept = _group_quoted(body.to_list(), odd.to_list(), delimiter)
    n = raw.len()
    unterminated = pl.Series([False] * n, dtype=pl.Boolean)
    if n and last_line_kept and not text.ends_with_newline:
        unterminated[n - 1] = True
    return raw.alias("raw"), unterminated


def _group_quoted(lines: list[str], odd: list[bool], delimiter: str) -> tuple[pl.Series, bool]:
    """Join the lines of records with a quoted line break; a line whose odd quote closes nowhere sensible
    (a stray quote) stays a record of its own, to be rejected, and the next line starts afresh."""
    out: list[str] = []
    i, n, last_kept = 0, len(lines), False
    while i < n:
        line = lines[i]
        if not odd[i]:
            if line.strip():
                out.append(line)
                last_kept = i == n - 1
            i += 1
            continue
        j, parity = i + 1, True
        while j < n and j - i < MAX_RECORD_LINES:
            parity ^= odd[j]
            if not parity:
                break
            j += 1
        if not parity:
            candidate = "\n".join(lines[i : j + 1])
            if _parses_whole(candidate, delimiter):
                out.append(candidate)
                last_kept = j == n - 1
                i = j + 1
                continue
        out.append(line)  # a stray quote: this line alone, rejected as malformed
        last_kept = i == n - 1
        i += 1
    return pl.Series("raw", out, pl.String), last_kept


def _parses_whole(record: str, delimiter: str) -> bool:
    """A multi-line record is real when it is one well-formed CSV record."""
    return bool(re.fullmatch(_record_pattern(delimiter), record, flags=re.DOTALL))


def _record_pattern(delimiter: str) -> str:
    d = re.escape(delimiter)
    field = rf'(?:"(?:[^"]|"")*"|[^"{d}\n]*)'
    return rf"{field}(?:{d}{field})*"


def _well_formed(raw: pl.Series, delimiter: str, width: int) -> tuple[pl.Series, pl.Series]:
    """Per record: whether it is one RFC 4180 record of `width` fields, and if not, why."""
    quoted = raw.str.contains('"', literal=True).fill_null(False)
    if bool(quoted.any()):  # the quote-aware checks, only where there are quotes
        shape = (~quoted) | raw.str.contains(rf"^(?s:{_record_pattern(delimiter)})$").fill_null(False)
        unquoted = pl.when(quoted).then(raw.str.replace_all(r'"(?:[^"]|"")*"', "")).otherwise(raw)
        count = pl.select(unquoted.str.count_matches(delimiter, literal=True) + 1).to_series()
    else:
        shape = pl.Series([True] * raw.len(), dtype=pl.Boolean)
        count = raw.str.count_matches(delimiter, literal=True) + 1
    control = raw.str.contains(_CONTROL).fill_null(False)
    frame = pl.DataFrame({"shape": shape, "control": control, "count": count})
    why = frame.select(
        pl.when(~pl.col("shape"))
        .then(pl.lit("a stray or unbalanced quote"))
        .when(pl.col("control"))
        .then(pl.lit("control characters in the record"))
        .when(pl.col("count") != width)
        .then(pl.format("{} fields, the header has {}", pl.col("count"), pl.lit(width)))
        .otherwise(pl.lit(None, pl.String))
        .alias("why")
    ).to_series()
    return why.is_null(), why


def _fields_of_bytes(data: bytes, head_at: int, delimiter: str, width: int, n: int) -> pl.DataFrame | None:
    """Fields c0..c{width-1} parsed by polars straight from the file's bytes, or None when polars does not
    find exactly the `n` records the line scan found (then the records' text decides)."""
    names = [f"c{i}" for i in range(width)]
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            skip_rows=head_at + 1,
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            new_columns=names,
            raise_if_empty=False,
            encoding="utf8",
            truncate_ragged_lines=True,  # rows of another width are dropped by number afterwards
        )
    except pl.exceptions.PolarsError:
        return None
    if frame.height != n or frame.width != width:
        return None
    return frame


def _fields(raw: pl.Series, delimiter: str, width: int) -> pl.DataFrame:
    """Fields c0..c{width-1} of well-formed records."""
    names = [f"c{i}" for i in range(width)]
    if raw.len() == 0:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    if not raw.str.contains('"', literal=True).any():
        split = raw.str.split_exact(delimiter, width - 1).struct.unnest()
        return split.rename(dict(zip(split.columns, names, strict=True)))
    data = raw.str.join("\n").item().encode("utf-8")
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            new_columns=names,
            raise_if_empty=False,
        )
        if frame.height == raw.len() and frame.width == width:
            return frame
    except pl.exceptions.PolarsError:
        pass
    # polars disagreed with the shape check: Python's csv module decides, record by record.
    rows = [next(csv.reader([r], delimiter=delimiter)) for r in raw.to_list()]
    return pl.DataFrame(
        {name: [r[i] if i < len(r) else None for r in rows] for i, name in enumerate(names)},
        schema=dict.fromkeys(names, pl.String),
    )
