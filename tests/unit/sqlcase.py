"""The unit layer for SQL steps: given tables, run one stage's steps on an in-memory DuckDB, compare rows.

A case is plain data: the rows of each input table (lists of dicts) and the rows expected out. Reference
tables come from the shipped rules (`load_reference`), or from edited rules where a case is about them.
Each case runs in milliseconds, so every boundary of a rule can have its own.

Two ways to get a database:

- `database(rules, tables)`: a new connection (about 40 ms for the reference tables), for a case with
  edited rules;
- `Sandbox(rules).given(tables)`: one connection per test module whose reference tables are loaded once;
  each case drops what the previous one left (its input tables and every step's temporary table) and
  creates its own inputs, so a case costs a few milliseconds.

An input table named in `SCHEMAS` is created with the warehouse's column types, its rows naming only the
columns the case is about (the rest are NULL; an unknown column is an error, so a typo cannot pass as
NULL), and an empty list makes an empty table. Other names are created from their rows as given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.reference import load_reference
from consent_pipeline.warehouse.schema import table_columns

Rows = Sequence[Mapping[str, Any]]

# Derived warehouse tables a stage reads (the shapes the earlier stages write).
_DERIVED: dict[str, dict[str, str]] = {
    "parties": {
        "party_id": "VARCHAR", "party_type": "VARCHAR", "household_id": "VARCHAR", "is_primary_holder": "BOOLEAN",
        "country": "VARCHAR", "region": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
        "brands": "VARCHAR",
    },
    "contact_point_owner": {
        "contact_point": "VARCHAR", "contact_point_type": "VARCHAR", "party_id": "VARCHAR",
        "household_id": "VARCHAR", "rule": "VARCHAR",
    },
    "consent_current": {
        "contact_point": "VARCHAR", "contact_point_type": "VARCHAR", "channel": "VARCHAR", "purpose": "VARCHAR",
        "brand": "VARCHAR", "status": "VARCHAR", "basis": "VARCHAR", "event_ts": "TIMESTAMP",
        "received_ts": "TIMESTAMP", "source": "VARCHAR", "event_id": "VARCHAR", "party_id": "VARCHAR",
        "valid_until": "TIMESTAMP", "double_opt_in": "BOOLEAN", "source_file": "VARCHAR", "source_record": "BIGINT",
    },
    "erasure_register": {
        "contact_point": "VARCHAR", "contact_point_sha256": "VARCHAR", "contact_point_type": "VARCHAR",
        "erased_at": "TIMESTAMP", "request_id": "VARCHAR", "party_id": "VARCHAR", "reestablished_at": "TIMESTAMP",
    },
    # what core/registries/registries.py decides per registry and delivery (the input of its STATUS step)
    "rg_snapshot_status": {
        "registry": "VARCHAR", "delivery": "VARCHAR", "received_ts": "TIMESTAMP", "in_force": "BOOLEAN",
        "pending": "BOOLEAN",
    },
    "segments": {"party_id": "VARCHAR", "brand": "VARCHAR", "segment": "VARCHAR"},
    "contact_permission": {
        "party_id": "VARCHAR", "contact_point": "VARCHAR", "channel": "VARCHAR", "purpose": "VARCHAR",
        "brand": "VARCHAR", "region": "VARCHAR", "allowed": "BOOLEAN", "reason": "VARCHAR",
        "decided_by": "VARCHAR", "valid_until": "TIMESTAMP", "contact_point_type": "VARCHAR",
        "consent_status": "VARCHAR", "consent_basis": "VARCHAR",
    },
    "x_suppression": {
        "contact_point": "VARCHAR", "contact_point_sha256": "VARCHAR", "channel": "VARCHAR", "brand": "VARCHAR",
        "purpose": "VARCHAR", "reason": "VARCHAR", "since": "TIMESTAMP", "key_contact_point": "VARCHAR",
    },
    "run_log": {"run_id": "VARCHAR", "as_of": "TIMESTAMP", "logged_at": "TIMESTAMP"},
    "optout_honoured": {
        "event_id": "VARCHAR", "contact_point": "VARCHAR", "honoured_at": "TIMESTAMP", "run_id": "VARCHAR",
    },
    # the identity stage's outputs the merge reads
    "id_customers": {"party_id": "VARCHAR"},
    "id_owner": {
        "contact_point": "VARCHAR", "contact_point_type": "VARCHAR", "party_id": "VARCHAR",
        "household_id": "VARCHAR", "rule": "VARCHAR",
    },
    "id_party_points": {"party_id": "VARCHAR", "contact_point": "VARCHAR", "contact_point_type": "VARCHAR"},
}  # fmt: skip
_DERIVED["consent_effects"] = {**_DERIVED["consent_current"], "status_rank": "INTEGER", "priority": "VARCHAR"}
_DERIVED["consent_history"] = {
    **_DERIVED["consent_current"],
    "valid_from": "TIMESTAMP", "valid_to": "TIMESTAMP", "recorded_at": "TIMESTAMP",
    "valid_to_recorded_at": "TIMESTAMP", "replaced_by": "VARCHAR",
}  # fmt: skip

# Ingest tables: the canonical specs' columns (the warehouse cannot drift from them either).
_INGEST = {
    "consent_events": "events",
    **{
        t: t
        for t in (
            "customer_records", "subject_profiles", "contact_evidence", "undeliverable", "registry_listings",
            "activity", "sends", "reviews", "party_links",
        )
    },
}  # fmt: skip
SCHEMAS: dict[str, dict[str, str]] = {**{t: table_columns(c) for t, c in _INGEST.items()}, **_DERIVED}

_POLARS = {
    "VARCHAR": pl.String(),
    "TIMESTAMP": pl.Datetime("us"),
    "BOOLEAN": pl.Boolean(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "DOUBLE": pl.Float64(),
}


def _frame(name: str, rows: Rows | pl.DataFrame) -> pl.DataFrame:
    if isinstance(rows, pl.DataFrame):
        return rows
    schema = SCHEMAS.get(name)
    if schema is None:
        return pl.DataFrame(list(rows), infer_schema_length=None)
    for row in rows:
        unknown = set(row) - set(schema)
        if unknown:
            raise KeyError(f"{name} has no column {sorted(unknown)}")
    types = {c: _POLARS[t] for c, t in schema.items()}
    return pl.DataFrame([{c: row.get(c) for c in schema} for row in rows], schema=types, orient="row")


def _create(con: duckdb.DuckDBPyConnection, name: str, rows: Rows | pl.DataFrame) -> None:
    schema = SCHEMAS.get(name)
    if schema is not None and not isinstance(rows, pl.DataFrame) and not rows:
        # most inputs of a case are empty: no frame to hand over
        cols = ", ".join(f'"{c}" {t}' for c, t in schema.items())
        con.execute(f'CREATE OR REPLACE TABLE "{name}" ({cols})')
        return
    con.register(f"_given_{name}", _frame(name, rows))
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "_given_{name}"')
    finally:
        con.unregister(f"_given_{name}")


def database(rules: Rules, tables: Mapping[str, Rows | pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with the rules' reference tables and the given input tables."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    load_reference(con, rules)
    for name, rows in tables.items():
        _create(con, name, rows)
    return con


class Sandbox:
    """One in-memory DuckDB whose reference tables (ref_*) are loaded once; `given` clears the last case."""

    def __init__(self, rules: Rules) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        load_reference(self.con, rules)

    def given(self, tables: Mapping[str, Rows | pl.DataFrame]) -> duckdb.DuckDBPyConnection:
        con = self.con
        for name, kind, temporary in con.execute(
            "SELECT table_name, 'TABLE', temporary FROM duckdb_tables() "
            "UNION ALL SELECT view_name, 'VIEW', temporary FROM duckdb_views() WHERE NOT internal"
        ).fetchall():
            if not name.startswith("ref_"):
                con.execute(f'DROP {kind} IF EXISTS {"temp." if temporary else ""}"{name}" CASCADE')
        for name, rows in tables.items():
            _create(con, name, rows)
        return con


def rows(con: duckdb.DuckDBPyConnection, sql: str, columns: Iterable[str]) -> list[tuple[Any, ...]]:
    cols = ", ".join(f'"{c}"' for c in columns)
    return sorted(con.execute(f"SELECT {cols} FROM ({sql})").fetchall(), key=repr)


def days_before(as_of: dt.datetime, days: int) -> dt.datetime:
    return as_of - dt.timedelta(days=days)


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """Calendar months, the day clamped to the month's end (as SQL's `+ INTERVAL n MONTH`)."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return when.replace(year=year, month=month, day=min(when.day, last))


# --- the permission stage's upstream tables, for a party, from a few fields ---------------------------------

# The type of contact point each channel uses.
POINT_TYPE = {
    "email": "email",
    "push": "email",
    "sms": "phone",
    "voice": "phone",
    "mail": "postal",
    "door": "postal",
}
# A country of each region (EU: France, so no country override applies).
COUNTRY = {"US": "US", "CA": "CA", "GB": "GB", "EU": "FR", "AU": "AU", "OTHER": "CH"}


def points(party: str = "P1") -> dict[str, str]:
    """The party's contact points, one of each type (P<n>: its own, so that parties can share a database)."""
    n = int(party[1:])
    return {"email": f"p{n}@example.com", "phone": f"+1555{n:07d}", "postal": f"{n} mill lane, leeds"}


POINTS = points()


def point(channel: str, party: str = "P1") -> str:
    """The party's contact point a channel uses."""
    return points(party)[POINT_TYPE[channel]]


def snapshot(registry: str, received: dt.datetime, in_force: bool = True) -> dict[str, Any]:
    """A registry delivery as core/registries/registries.py records it (the input of its STATUS step)."""
    return {
        "registry": registry, "delivery": f"{received:%Y-%m-%dT%H%M%SZ}", "received_ts": received,
        "in_force": in_force, "pending": False,
    }  # fmt: skip


def default_snapshots(rules: Rules, as_of: dt.datetime) -> list[dict[str, Any]]:
    """Every registry of the rules delivered three days before the run, in force."""
    return [snapshot(r, as_of - dt.timedelta(days=3)) for r in rules.policies.registries]


def permission_inputs(
    rules: Rules,
    as_of: dt.datetime,
    *,
    region: str,
    brands: Sequence[str],
    party: str = "P1",
    country: str | None = None,
    consent: Rows = (),
    activity: Rows = (),
    registries: Rows | None = None,
    listed: Sequence[str | tuple[str, str]] = (),
    undeliverable: Rows = (),
    evidence: Rows = (),
    erased: Sequence[str] = (),
    events: Rows = (),
    party_type: str = "customer",
) -> dict[str, list[Mapping[str, Any]]]:
    """The tables the permission steps read, for `party` who owns one email, phone and postal address.

    `consent`: consent_current rows (the contact point follows from the channel); `activity`: the party's
    activity rows; `registries`: rg_snapshot_status rows (default: `default_snapshots`); `listed`: registries
    whose snapshot in force lists the phone (or (registry, delivery) pairs); `undeliverable`, `evidence`: rows
    whose contact point follows from their `contact_point_type`; `erased`: contact point types in the erasure
    register."""
    cps = points(party)
    snapshots = default_snapshots(rules, as_of) if registries is None else registries
    in_force = {s["registry"]: s["delivery"] for s in snapshots if s.get("in_force")}
    return {
        "parties": [
            {
                "party_id": party, "party_type": party_type, "country": country or COUNTRY[region], "region": region,
                "brands": ";".join(brands), "is_primary_holder": True,
            }
        ],
        "contact_point_owner": [
            {"contact_point": cp, "contact_point_type": t, "party_id": party, "rule": "personal"}
            for t, cp in cps.items()
        ],
        "consent_current": [
            {
                "contact_point": cps[POINT_TYPE[c["channel"]]], "contact_point_type": POINT_TYPE[c["channel"]],
                "brand": brands[0], "party_id": party, **c,
            }
            for c in consent
        ],
        "consent_events": list(events),
        "activity": [
            {"row_id": f"row-{a['activity_id']}", "party_id": party, "brand": brands[0], **a} for a in activity
        ],
        "rg_snapshot_status": list(snapshots),
        "registry_listings": [
            {"registry": r, "delivery": d, "contact_point": cps["phone"]}
            for r, d in ((x, in_force.get(x, "none")) if isinstance(x, str) else x for x in listed)
        ],
        "undeliverable": [{"contact_point": cps[u["contact_point_type"]], **u} for u in undeliverable],
        "contact_evidence": [
            {"contact_point": cps[e["contact_point_type"]], "party_id": party, **e} for e in evidence
        ],
        "erasure_register": [{"contact_point": cps[t], "contact_point_type": t} for t in erased],
    }  # fmt: skip
