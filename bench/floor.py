"""The floor: the fastest correct read of every landing file, plus one latest-per-key pass, in this process.

No pipeline can beat it: whatever else it does, a run must read every byte of every new file and find each
key's latest event. Each group of files (a source's files of one name pattern: one export format) is read
by DuckDB and by polars, every field as text, and the faster reader's time counts for that group. A read
touches every field (for delimited files the byte length of every column is summed, so no reader can skip
a column; JSON and fixed-width text are parsed whole). The latest-per-key pass runs over the warehouse's
event log, which the full run just built.

    .venv/bin/python bench/floor.py --landing data/bench/scale-1-seed-7/landing --warehouse W.duckdb
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl


@dataclass
class Floor:
    files: int = 0
    rows_read: int = 0
    read_s: float = 0.0  # the faster reader per group, summed
    duckdb_s: float = 0.0  # DuckDB alone, every group
    polars_s: float = 0.0  # polars alone, every group
    events: int = 0
    latest_s: float = 0.0
    failed: list[str] = field(default_factory=list)  # "group: reader: error" (the other reader's time counts)

    @property
    def floor_s(self) -> float:
        return self.read_s + self.latest_s

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "floor_s": self.floor_s}


def file_groups(landing: Path) -> dict[str, list[Path]]:
    """Files by export format: source folder, file name without its date or id part, extension."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith(".")):
        source = path.relative_to(landing).parts[0]
        stem = path.stem.rsplit("_", 1)[0] if "_" in path.stem else path.stem
        groups[f"{source}/{stem}{path.suffix.lower()}"].append(path)
    return dict(groups)


def _kind(group: str) -> str:
    return "csv" if group.endswith(".csv") else "json" if group.endswith((".json", ".jsonl")) else "text"


def _listing(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def read_duckdb(con: duckdb.DuckDBPyConnection, group: str, paths: list[Path]) -> int:
    kind = _kind(group)
    if kind == "csv":
        sql = (
            f"SELECT count(*), sum(len(COLUMNS(*))) FROM read_csv({_listing(paths)}, all_varchar = true, "
            "union_by_name = true, null_padding = true, ignore_errors = true, strict_mode = false)"
        )
    elif kind == "json":
        fmt = "newline_delimited" if group.endswith(".jsonl") else "auto"
        sql = (
            f"SELECT count(*) FROM read_json({_listing(paths)}, format = '{fmt}', ignore_errors = true, "
            "maximum_object_size = 100000000)"
        )
    else:
        sql = f"SELECT sum(len(string_split(content, chr(10)))) FROM read_text({_listing(paths)})"
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def read_polars(group: str, paths: list[Path]) -> int:
    kind = _kind(group)
    rows = 0
    for p in paths:  # polars reads a list of files only when their columns agree
        if kind == "csv":
            frame = pl.scan_csv(p, infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True)
            rows += int(frame.select(pl.len(), pl.all().str.len_bytes().sum()).collect().item(0, 0))
        elif group.endswith(".jsonl"):
            rows += pl.read_ndjson(p, infer_schema_length=None, ignore_errors=True).height
        elif kind == "json":
            rows += pl.read_json(p, infer_schema_length=None).height
        else:
            rows += len(p.read_bytes().split(b"\n"))
    return rows


def measure(landing: Path, warehouse: Path) -> Floor:
    result = Floor()
    con = duckdb.connect()
    for group, paths in file_groups(landing).items():
        result.files += len(paths)
        times: dict[str, float] = {}
        rows: dict[str, int] = {}
        for reader in ("duckdb", "polars"):
            started = time.perf_counter()
            try:
                rows[reader] = read_duckdb(con, group, paths) if reader == "duckdb" else read_polars(group, paths)
            except Exception as exc:
                result.failed.append(f"{group}: {reader}: {str(exc).splitlines()[0][:120]}")
                continue
            times[reader] = time.perf_counter() - started
        result.duckdb_s += times.get("duckdb", 0.0)
        result.polars_s += times.get("polars", 0.0)
        if times:
            best = min(times, key=lambda r: times[r])
            result.read_s += times[best]
            result.rows_read += rows[best]
    con.execute(f"ATTACH '{warehouse}' AS w (READ_ONLY)")
    result.events = int(con.execute("SELECT count(*) FROM w.consent_events").fetchall()[0][0])
    started = time.perf_counter()
    con.execute(
        """CREATE TABLE latest AS SELECT * FROM w.consent_events
           QUALIFY row_number() OVER (PARTITION BY coalesce(contact_point, party_id), channel, purpose, brand
                                      ORDER BY event_ts DESC, event_id) = 1"""
    )
    result.latest_s = time.perf_counter() - started
    con.close()
    return result


def describe(fl: Floor) -> str:
    text = (
        f"floor: {fl.floor_s:.1f}s = the faster reader per file group, {fl.files:,} files ({fl.rows_read:,} rows), "
        f"{fl.read_s:.1f}s (DuckDB alone {fl.duckdb_s:.1f}s, polars alone {fl.polars_s:.1f}s) + latest-per-key "
        f"over {fl.events:,} events {fl.latest_s:.1f}s"
    )
    if fl.failed:
        text += "\n  a reader could not read: " + "; ".join(fl.failed)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landing", type=Path, required=True)
    ap.add_argument("--warehouse", type=Path, required=True, help="a warehouse a full run over the landing built")
    args = ap.parse_args()
    print(describe(measure(args.landing, args.warehouse)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
