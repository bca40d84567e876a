"""Which snapshot of each do-not-call registry is in force, and whether it is fresh (feeds.md §11).

Decided once a run, here, over the warehouse tables; permissions, suppression and the permission scope read
the result (`registry_status`), never the deliveries. A registry's snapshot is all of its files in one
delivery. Deliveries are taken in order (their names sort like their times), and one replaces the snapshot
in force only when

1. every file of the registry in it was read whole: a file quarantined as a file (no record number: an
   unreadable or unexpected file, a truncated one, an unsupported wash answer...) holds it (`damaged`);
2. it is not a re-drop: a delivery holding the same files (names and bytes) as an earlier one brings
   nothing new and refreshes nothing (`repeat`); and
3. it un-lists at most `max_unlisted_share` of the numbers of the snapshot in force, or an operator
   confirmed it (`registry_confirmations`); otherwise it is `held`. A registry's first snapshot is never
   held.

A snapshot's freshness is the time of the delivery that brought it: a repeat never becomes the snapshot
in force, so a re-drop cannot make a registry fresh.

Rule 3 compares each delivery with the snapshot in force before it, which depends on the decisions before
it. The decisions are found as a fixpoint: assume every delivery applied, compare each with the latest
applied one before it, decide, and repeat until nothing changes (decision k is right once those before it
are: at most as many rounds as deliveries, one or two in practice). Each round is set-based SQL; each pair
of deliveries is compared once, and kept (`registry_comparisons`) for later runs.

Tables written: `registry_snapshot_status` (one row per registry and delivery: what became of it and why),
`registry_status` (one row per registry: the snapshot in force and whether it is fresh as of the run),
`registry_confirmations` (every confirmation asked for, with what it did: the audit trail) and
`registry_comparisons` (how many numbers of one delivery the next one un-lists).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.sql import SqlFolder, run_steps, text, timed, ts
from consent_pipeline.core.lib.transaction import transaction

log = logging.getLogger(__name__)

SOURCE = "dnc_registries"
# File-level quarantine reasons that do not make a delivery damaged: a folder that is no delivery.
NOT_DAMAGE = ("bad_delivery_name",)
# File-level reasons that a later read of the same file settles (rules that name its pattern): the file is
# damage only while it has not been read whole since. (A file a connector failed on is read again by the next
# run, which replaces its quarantine row.)
UNTIL_READ = ("unexpected_file",)

CONFIRMATIONS = {
    "registry": "VARCHAR",
    "delivery": "VARCHAR",
    "requested_at": "TIMESTAMP",
    "run_id": "VARCHAR",
    "effective": "BOOLEAN",
    "outcome": "VARCHAR",
}

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
FILES = SQL.step("rg_files")
DAMAGED = SQL.step("rg_damaged")
DELIVERIES = SQL.step("rg_deliveries")
REPEATS = SQL.step("rg_repeats")
CANDIDATES = SQL.step("rg_candidates")
BASELINE = SQL.step("rg_baseline")
NEW_PAIRS = SQL.statement("rg_new_pairs")

DECIDE = SQL.step("rg_decided")
SNAPSHOT_STATUS = SQL.step("rg_snapshot_status")
STATUS = SQL.step("rg_status")

FACT_STEPS = [FILES, DAMAGED, DELIVERIES, REPEATS]


@dataclass(frozen=True)
class RegistryOutcome:
    rounds: int  # rounds of the fixpoint
    pending: int  # snapshots newer than the one in force and not applied (damaged, repeat or held)
    confirmed: list[tuple[str, str, bool, str]]  # this run's confirmations: registry, delivery, effective, outcome


def delivery_name(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%dT%H%M%SZ}"


def params(rules: Rules, as_of: dt.datetime) -> dict[str, str]:
    return {
        "source": text(SOURCE),
        "as_of": ts(as_of),
        "as_of_delivery": text(delivery_name(as_of)),
        "share": repr(float(rules.policies.registry_snapshots.max_unlisted_share)),
        "share_text": text(repr(float(rules.policies.registry_snapshots.max_unlisted_share))),
        "not_damage": ", ".join(text(r) for r in NOT_DAMAGE),
        "until_read": ", ".join(text(r) for r in UNTIL_READ),
    }


def ensure_registry_tables(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in CONFIRMATIONS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS registry_confirmations ({cols})")
    con.execute(
        "CREATE TABLE IF NOT EXISTS registry_comparisons (registry VARCHAR, baseline VARCHAR, candidate VARCHAR, "
        "baseline_listed BIGINT, candidate_listed BIGINT, unlisted BIGINT)"
    )


KEPT_PAIRS = SQL.step("rg_pairs")
SAVE_PAIRS = SQL.statement("rg_save_pairs")


def _decide(con: duckdb.DuckDBPyConnection, p: dict[str, str]) -> int:
    """The fixpoint of the hold decisions over rg_candidates (rg_applied, rg_baseline, rg_pairs); returns the
    rounds it took."""
    run_steps(con, [CANDIDATES], p)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rg_applied AS SELECT registry, delivery, true AS applied FROM rg_candidates"
    )
    limit = con.execute("SELECT count(*) FROM rg_candidates").fetchall()[0][0] + 1
    for rounds in range(1, limit + 1):
        run_steps(con, [BASELINE], p)
        timed(con, "registry comparisons", NEW_PAIRS)
        run_steps(con, [DECIDE], p)
        changed = con.execute(
            "SELECT count(*) FROM rg_decided d "
            "JOIN rg_applied a ON a.registry = d.registry AND a.delivery = d.delivery "
            "WHERE d.applied <> a.applied"
        ).fetchall()[0][0]
        con.execute("CREATE OR REPLACE TEMP TABLE rg_applied AS SELECT * FROM rg_decided")
        if not changed:
            run_steps(con, [BASELINE], p)  # the baselines of the final decisions
            return rounds
    raise AssertionError("registry hold decisions did not settle")  # pragma: no cover - see the docstring


def _record_confirmations(
    con: duckdb.DuckDBPyConnection, asked: Sequence[str], as_of: dt.datetime, run_id: str
) -> list[tuple[str, str, bool, str]]:
    """Record each confirmation asked for (`REGISTRY/DELIVERY`): effective when it names a held snapshot."""
    out: list[tuple[str, str, bool, str]] = []
    for item in asked:
        registry, _, delivery = item.strip().partition("/")
        status = con.execute(
            "SELECT status FROM rg_snapshot_status WHERE registry = ? AND delivery = ?", [registry, delivery]
        ).fetchall()
        if status and status[0][0] == "held":
            effective, outcome = True, "confirmed: the held snapshot is applied"
        elif status:
            effective, outcome = False, f"not held ({status[0][0]}): nothing to confirm"
        else:
            effective, outcome = False, "no such registry snapshot: nothing to confirm"
        con.execute(
            "INSERT INTO registry_confirmations VALUES (?, ?, ?, ?, ?, ?)",
            [registry, delivery, as_of, run_id, effective, outcome],
        )
        out.append((registry, delivery, effective, outcome))
    return out


def build_registry_status(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    as_of: dt.datetime,
    confirm: Sequence[str] = (),
    run_id: str = "",
) -> RegistryOutcome:
    """Write registry_snapshot_status and registry_status as of the run, after recording the operator's
    confirmations (`REGISTRY/DELIVERY`), in one transaction. The ingest tables and ref_registries must exist."""
    with transaction(con, "registries commit"):
        ensure_registry_tables(con)
        p = params(rules, as_of)
        run_steps(con, [*FACT_STEPS, KEPT_PAIRS], p)
        rounds = _decide(con, p)
        run_steps(con, [SNAPSHOT_STATUS], p)
        confirmed = _record_confirmations(con, confirm, as_of, run_id) if confirm else []
        if any(effective for _, _, effective, _ in confirmed):
            rounds += _decide(con, p)
            run_steps(con, [SNAPSHOT_STATUS], p)
        run_steps(con, [STATUS], p)
        timed(
            con,
            "write registry status",
            "CREATE OR REPLACE TABLE registry_snapshot_status AS SELECT * FROM rg_snapshot_status",
        )
        con.execute("CREATE OR REPLACE TABLE registry_status AS SELECT * FROM rg_status")
        con.execute(SAVE_PAIRS)
    pending = con.execute("SELECT count(*) FROM registry_snapshot_status WHERE pending").fetchall()[0][0]
    log.debug("registry status: %s rounds, %s pending", rounds, pending)
    return RegistryOutcome(rounds, pending, confirmed)
