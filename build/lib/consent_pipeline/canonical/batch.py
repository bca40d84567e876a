"""What a connector returns: canonical tables, rejects, skips and the ledger skeleton (files read)."""

from __future__ import annotations

import datetime as dt
import fnmatch
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
    # What became of the file: read, unreadable (no record could be read), unexpected (its name matches no
    # pattern of the source's rules: read by the first run whose rules name it), failed (the connector
    # broke on it: read again by the next run).
    "file_status": pl.String(),
    "file_sha256": pl.String(),
    "file_bytes": pl.Int64(),
    "file_mtime_ns": pl.Int64(),
    # late: it appeared in a delivery already read; changed: its bytes changed after it was read.
    "file_note": pl.String(),
}
FILE_STATUSES = ("read", "unreadable", "unexpected", "failed")


@dataclass(frozen=True)
class LandedFile:
    """A regular file of a delivery as discovery found it (symbolic links and other entries are not)."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Delivery:
    """One drop of one source: `<landing>/<source>/<name>/` with its files.

    `landed` lists the delivery's regular files, found without following symbolic links; `only`, when set,
    names the files this run reads (the others were read before: a connector may still open them for
    context, and the core drops what it makes of them)."""

    source: str
    name: str  # the folder name, YYYY-MM-DDTHHMMSSZ
    received_ts: dt.datetime  # naive UTC
    path: Path
    landing: Path
    landed: tuple[LandedFile, ...] | None = None
    only: frozenset[str] | None = None  # relative paths to read this run; None = all
    notes: tuple[tuple[str, str], ...] = ()  # (relative path, late | changed)

    def relative(self, file: Path) -> str:
        """A file's path below the landing root, as lineage records it."""
        return file.relative_to(self.landing).as_posix()

    def all_files(self) -> list[Path]:
        if self.landed is None:  # a delivery made by hand (tests): its regular files, links not followed
            return sorted(p for p in self.path.rglob("*") if p.is_file() and not p.is_symlink())
        return sorted(f.path for f in self.landed)

    def files(self, pattern: str = "*") -> list[Path]:
        """The delivery's files whose name (or, for a pattern with `/`, path within the delivery) matches
        the glob `pattern`, whatever its case."""
        pat = pattern.casefold()
        if "/" in pat:
            return [p for p in self.all_files() if fnmatch.fnmatchcase(self._inside(p).casefold(), pat)]
        return [p for p in self.all_files() if fnmatch.fnmatchcase(p.name.casefold(), pat)]

    def _inside(self, file: Path) -> str:
        return file.relative_to(self.path).as_posix()

    def note(self, rel: str) -> str | None:
        return dict(self.notes).get(rel)


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
    # Deliveries found but not read this run, and why (dated after the as-of...).
    held: list[dict[str, object]] = field(default_factory=list)

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

    def read_file(
        self,
        delivery: Delivery,
        file: Path,
        rows_read: int,
        raw: pl.Series | None = None,
        status: str = "read",
        sha256: str | None = None,
        size: int | None = None,
    ) -> str:
        """Register a file as read (it gets one ledger row); returns its lineage path."""
        rel = delivery.relative(file)
        mtime = None
        try:
            st = file.lstat()
            mtime, size = st.st_mtime_ns, size if size is not None else st.st_size
        except OSError:
            pass
        self._files.append(
            {
                "source": delivery.source,
                "delivery": delivery.name,
                "received_ts": delivery.received_ts,
                "source_file": rel,
                "rows_read": rows_read,
                "file_status": status,
                "file_sha256": sha256,
                "file_bytes": size,
                "file_mtime_ns": mtime,
                "file_note": delivery.note(rel),
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
        self.held.extend(other.held)

    def restricted_to(self, files: list[str]) -> Batch:
        """The part of this batch that comes from the given files (lineage paths)."""
        keep = pl.col("source_file").is_in(files)
        out = Batch(self.source)
        for name, frames in self._tables.items():
            out._tables[name] = [f.filter(keep) for f in frames]
        out._rejects = [f.filter(keep) for f in self._rejects]
        out._skips = [f.filter(keep) for f in self._skips]
        out._files = [f for f in self._files if f["source_file"] in set(files)]
        out.raw = {k: v for k, v in self.raw.items() if k in set(files)}
        out.held = list(self.held)
        return out

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
