"""Plain text of one record a line (fixed width, registry lists): column `line`, blank lines no records."""

from __future__ import annotations

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
from source_connectors.readers.text import decode, is_blank, lines_of, undecodable


def read_lines(path: Path) -> Records:
    try:
        data = file_bytes(path)
    except OSError as exc:
        return unreadable("unreadable_file", f"cannot read the file: {exc.strerror or exc}", retry=True)
    return with_digest(parse_lines(data), data)


def parse_lines(data: bytes) -> Records:
    text = decode(data)
    if text.binary:
        return unreadable("unreadable_file", "binary content, not a text file", text.encoding)
    lines = lines_of(text)
    raw = lines.filter(~is_blank(lines)).alias("raw")
    nums = numbered(raw.len())
    frame = pl.DataFrame({"line": raw, REC: nums})
    rejects = (
        rejects_for(nums.filter(undecodable(raw)), "undecodable_characters", raw)
        if text.encoding not in ("utf-8", "utf-8-sig")
        else no_rejects()
    )
    return Records(frame, rejects, raw, raw.len(), text.encoding)
