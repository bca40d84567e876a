"""What every reader returns: the readable records, the ones it could not read, and the file's fate."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

REC = "source_record"
REJECT_SCHEMA: dict[str, pl.DataType] = {
    REC: pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "raw": pl.String(),
}


@dataclass(frozen=True)
class FileProblem:
    """Why a file could not be read at all: it becomes one quarantine row (no record number)."""

    reason: str  # unreadable_file, ...
    detail: str
    # The file could not be opened or read (it vanished after discovery, a permission, an I/O error): nothing of
    # it was seen, so it is not settled: the ledger marks it `failed` and the next run reads it again. A file
    # whose bytes were read and hold no record (`retry` False) is settled until its bytes change.
    retry: bool = False


@dataclass
class Records:
    frame: pl.DataFrame  # one row per readable record; its fields plus `source_record` (1-based)
    rejects: pl.DataFrame  # source_record, reason, detail, raw: records (or parts) the reader could not read
    raw: pl.Series  # every record's text, indexed by source_record - 1
    count: int  # records in the file: the ledger's rows_read
    encoding: str = "utf-8"
    problem: FileProblem | None = None  # set when the file could not be read at all (count is then 0)
    sha256: str | None = None  # of the file's bytes: a file changed after it was read is found by it
    size: int | None = None
    # The header's names (CSV), stripped: lets a connector tell a missing column from an empty one where a
    # file may carry any of several forms of one field (Salesforce lookups by name, id or relationship).
    columns: tuple[str, ...] = ()


def file_bytes(path: Path) -> bytes:
    """A landing file's bytes, never through a symbolic link (discovery reports links; this closes the
    window in which one could replace a file) and never blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def with_digest(records: Records, data: bytes) -> Records:
    records.sha256 = hashlib.sha256(data).hexdigest()
    records.size = len(data)
    return records


def no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


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
    ).select(list(REJECT_SCHEMA))


def unreadable(reason: str, detail: str, encoding: str = "utf-8", retry: bool = False) -> Records:
    """A file that yields no record at all (`retry`: its bytes could not be read; see FileProblem)."""
    return Records(
        pl.DataFrame(schema={REC: pl.Int64}),
        no_rejects(),
        pl.Series("raw", [], pl.String),
        0,
        encoding,
        FileProblem(reason, detail, retry),
    )


def numbered(n: int) -> pl.Series:
    return pl.int_range(1, n + 1, eager=True, dtype=pl.Int64).alias(REC)
