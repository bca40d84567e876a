"""What a connector returns: canonical tables, rejects, skips and the ledger skeleton (files read)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from consent_pipeline.canonical.tables import REJECTS, SKIPS, TABLES, conform, empty

FILES: dict[str, pl.DataType] = {
    "source": pl.String(),
    "delivery": pl.String(),
    "received_ts": pl.Datetime("us"),
    "source_file": pl.String(),
    "rows_read": pl.Int64(),
}


@dataclass(frozen=True)
class Delivery:
    """One drop of one source: `<landing>/<source>/<name>/` with its files."""

    source: str
    name: str  # the folder name, YYYY-MM-DDTHHMMSSZ
    received_ts: dt.datetime  # naive UTC
    path: Path
    landing: Path

    def relative(self, file: Path) -> str:
        """A file's path below the landing root, as lineage records it."""
        return file.relative_to(self.landing).as_posix()

    def files(self, pattern: str = "*") -> list[Path]:
        return sorted(p for p in self.path.rglob(pattern) if p.is_file())


@dataclass
class Batch:
    """A connector's output, collected part by part and concatenated once when read."""

    source: str
    _tables: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    _rejects: list[pl.DataFrame] = field(default_factory=list)
    _skips: list[pl.DataFrame] = field(default_factory=list)
    _files: list[dict[str, object]] = field(default_factory=list)
    # Each file's records as text, by record number - 1: the raw text of quarantined records.
    raw: dict[str, pl.Series] = field(default_factory=dict)

    # --- written by connectors ---
    def add(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self._tables.setdefault(table, []).append(conform(frame, TABLES[table].input_columns))

    def reject(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._rejects.append(conform(frame, REJECTS))

    def skip(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._skips.append(conform(frame, SKIPS))

    def read_file(self, delivery: Delivery, file: Path, rows_read: int, raw: pl.Series | None = None) -> str:
        """Register a file as read (it gets one ledger row); returns its lineage path."""
        rel = delivery.relative(file)
        self._files.append(
            {
                "source": delivery.source,
                "delivery": delivery.name,
                "received_ts": delivery.received_ts,
                "source_file": rel,
                "rows_read": rows_read,
            }
        )
        if raw is not None:
            self.raw[rel] = raw
        return rel

    def extend(self, other: Batch) -> None:
        for name, frames in other._tables.items():
            self._tables.setdefault(name, []).extend(frames)
        self._rejects.extend(other._rejects)
        self._skips.extend(other._skips)
        self._files.extend(other._files)
        self.raw.update(other.raw)

    # --- read by the core ---
    def table(self, name: str) -> pl.DataFrame:
        frames = self._tables.get(name)
        if not frames:
            return empty(TABLES[name].input_columns)
        if len(frames) > 1:
            self._tables[name] = [pl.concat(frames, how="vertical", rechunk=True)]
        return self._tables[name][0]

    def set_table(self, name: str, frame: pl.DataFrame) -> None:
        self._tables[name] = [frame]

    @property
    def table_names(self) -> list[str]:
        return [n for n in TABLES if self._tables.get(n)]

    def set_rejects(self, frame: pl.DataFrame) -> None:
        self._rejects = [conform(frame, REJECTS)]

    @property
    def rejects(self) -> pl.DataFrame:
        return pl.concat(self._rejects, how="vertical") if self._rejects else empty(REJECTS)

    @property
    def skips(self) -> pl.DataFrame:
        return pl.concat(self._skips, how="vertical") if self._skips else empty(SKIPS)

    @property
    def files(self) -> pl.DataFrame:
        return pl.DataFrame(self._files, schema=FILES) if self._files else empty(FILES)
