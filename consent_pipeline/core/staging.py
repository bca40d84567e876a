"""Canonical batches on disk between a source's asset and the event log: `<staging>/<source>/*.parquet`.

A source writes its batch; the event log ingests every staged source in one transaction and clears them.
Files are written under a temporary name and renamed, so a half-written batch is never read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch

PARTS = ("rejects", "skips", "files")


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
    tmp.rename(folder)
    return folder


def staged_sources(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "files.parquet").exists()
    )


def staged_files(root: Path, part: str) -> list[str]:
    """Every staged parquet file of one table or part, across sources."""
    return [str(p / f"{part}.parquet") for p in staged_sources(root) if (p / f"{part}.parquet").exists()]


def read_staged(folder: Path, part: str) -> pl.DataFrame | None:
    path = folder / f"{part}.parquet"
    return pl.read_parquet(path) if path.exists() else None


def clear(root: Path) -> None:
    for folder in staged_sources(root):
        shutil.rmtree(folder)
