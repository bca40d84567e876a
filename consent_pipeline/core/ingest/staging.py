"""Canonical batches on disk between a source's asset and the event log: `<staging>/<source>/*.parquet`.

A source writes its batch; the event log ingests every staged source in one transaction and clears them.
Files are written under a temporary name and renamed, so a half-written batch is never read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch

HELD = {"source": pl.String, "delivery": pl.String, "files": pl.Int64, "reason": pl.String, "detail": pl.String}


def write_batch(batch: Batch, root: Path) -> Path:
    folder = root / batch.source
    if folder.exists():
        shutil.rmtree(folder)
    tmp = root / f".{batch.source}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name in batch.table_names:
        batch.table(name).write_parquet(tmp / f"{name}.parquet", compression="lz4")
    batch.rejects.write_parquet(tmp / "rejects.parquet", compression="lz4")
    batch.skips.write_parquet(tmp / "skips.parquet", compression="lz4")
    batch.files.write_parquet(tmp / "files.parquet", compression="lz4")
    pl.DataFrame(batch.held, schema=HELD).write_parquet(tmp / "held.parquet", compression="lz4")
    _changed_raw(batch).write_parquet(tmp / "raw.parquet", compression="lz4")
    tmp.rename(folder)
    return folder


def _changed_raw(batch: Batch) -> pl.DataFrame:
    """Every record's text of the files whose bytes changed after they were read: the event log may
    quarantine their new records (`file_changed`) and keeps each one's text."""
    changed = batch.files.filter(pl.col("file_note") == "changed")["source_file"].to_list()
    frames = [
        pl.DataFrame({"source_file": f, "source_record": pl.int_range(1, raw.len() + 1, eager=True), "raw": raw})
        for f in changed
        if (raw := batch.raw.get(f)) is not None
    ]
    schema = pl.Schema({"source_file": pl.String, "source_record": pl.Int64, "raw": pl.String})
    return pl.concat([f.cast(schema) for f in frames]) if frames else pl.DataFrame(schema=schema)


def staged_sources(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "files.parquet").exists()
    )


def staged_files(root: Path, part: str) -> list[str]:
    """Every staged parquet file of one table or part, across sources."""
    return [str(p / f"{part}.parquet") for p in staged_sources(root) if (p / f"{part}.parquet").exists()]


def clear(root: Path) -> None:
    for folder in staged_sources(root):
        shutil.rmtree(folder)
