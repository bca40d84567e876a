"""Compare two runs' outputs: every contract table row for row (with multiplicity and column types) and every
extract file byte for byte (the manifest without its run id)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

# outputs.md's warehouse tables, and the derived tables later runs build on (incremental == full compares them)
CONTRACT_TABLES = [
    "consent_events",
    "quarantine",
    "ingest_ledger",
    "parties",
    "contact_point_owner",
    "consent_current",
    "consent_history",
    "contact_permission",
    "segments",
    "review_queue",
    "optout_sla",
    "violations",
]
DERIVED_TABLES = [
    "consent_effects",
    "party_contact_points",
    "waiting_events",
    "party_brands",
    "party_activity",
    "suppression",
    "erasure_register",
    "registry_status",
    "registry_snapshot_status",
]
SHOWN = 3  # differing rows shown per side
RUN_SPECIFIC = {"run_id"}  # columns that name the run itself (Dagster's run id), equal in no two runs


def table_differences(left: Path, right: Path, tables: list[str]) -> list[str]:
    """What differs between the two warehouses' tables: a line per table whose columns or rows differ."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a local option: not settable in connect()'s config
    found: list[str] = []
    try:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        for table in tables:
            cols = [con.execute(f"DESCRIBE {side}.{table}").fetchall() for side in ("l", "r")]
            if [c[:2] for c in cols[0]] != [c[:2] for c in cols[1]]:
                found.append(f"{table}: columns {cols[0]} != {cols[1]}")
                continue
            compared = ", ".join(f'"{c[0]}"' for c in cols[0] if c[0] not in RUN_SPECIFIC)
            only = [
                con.execute(
                    f"SELECT {compared} FROM {a}.{table} EXCEPT ALL SELECT {compared} FROM {b}.{table}"
                ).fetchmany(SHOWN + 1)
                for a, b in (("l", "r"), ("r", "l"))
            ]
            if only[0] or only[1]:
                found.append(f"{table}: only left {only[0][:SHOWN]}, only right {only[1][:SHOWN]}")
    finally:
        con.close()
    return found


def extract_differences(left: Path, right: Path) -> list[str]:
    """What differs between two extract folders: files present on one side only, or with other bytes."""
    names = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    other = {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    found = [f"only in {left}: {sorted(map(str, names - other))}"] if names - other else []
    found += [f"only in {right}: {sorted(map(str, other - names))}"] if other - names else []
    for name in sorted(names & other):
        a, b = (left / name).read_bytes(), (right / name).read_bytes()
        if name.name == "manifest.json":
            a, b = (json.dumps({**json.loads(x), "run_id": None}, sort_keys=True).encode() for x in (a, b))
        if a != b:
            found.append(f"{name}: {len(a)} bytes != {len(b)} bytes")
    return found
