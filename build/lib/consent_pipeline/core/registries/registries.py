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
from consent_pipeline.core.lib.sql import Step, run_steps, text, timed, ts
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

# Files of each registry read whole, with their names inside the registry's folder.
FILES = Step(
    "rg_files",
    """
    SELECT s.registry, s.delivery, s.received_ts, s.source_file, s.file_sha256,
           substr(s.source_file, length('{source}/' || s.delivery || '/' || s.registry || '/') + 1) AS name
    FROM registry_snapshots s JOIN ref_registries r ON r.registry = s.registry
    WHERE s.delivery <= {as_of_delivery}
    """,
)

# Files in a registry's folder quarantined as files.
DAMAGED = Step(
    "rg_damaged",
    """
    SELECT DISTINCT r.registry, q.delivery, q.source_file, q.reason
    FROM quarantine q JOIN ref_registries r ON r.registry = split_part(q.source_file, '/', 3)
    WHERE q.source = '{source}' AND q.source_record IS NULL AND q.delivery <= {as_of_delivery}
      AND q.reason NOT IN ({not_damage})
      AND NOT (q.reason IN ({until_read}) AND q.source_file IN (SELECT source_file FROM registry_snapshots))
    """,
)

DELIVERIES = Step(
    "rg_deliveries",
    """
    WITH whole AS (
        SELECT registry, delivery, min(received_ts) AS received_ts, count(*) AS whole_files
        FROM rg_files GROUP BY registry, delivery
    ), damaged AS (
        SELECT registry, delivery, count(DISTINCT source_file) AS damaged_files, min(reason) AS problem
        FROM rg_damaged GROUP BY registry, delivery
    ), listed AS (  -- one row per number (the identity of a listing is registry, delivery, number)
        SELECT registry, delivery, count(*) AS listed FROM registry_listings
        WHERE delivery <= {as_of_delivery} GROUP BY registry, delivery
    ), deliveries AS (
        SELECT registry, delivery FROM whole UNION SELECT registry, delivery FROM damaged
    )
    SELECT k.registry, k.delivery, w.received_ts, coalesce(w.whole_files, 0) AS whole_files,
           coalesce(d.damaged_files, 0) AS damaged_files, d.problem, coalesce(l.listed, 0) AS listed
    FROM deliveries k
    LEFT JOIN whole w ON w.registry = k.registry AND w.delivery = k.delivery
    LEFT JOIN damaged d ON d.registry = k.registry AND d.delivery = k.delivery
    LEFT JOIN listed l ON l.registry = k.registry AND l.delivery = k.delivery
    """,
)

# A whole delivery holding exactly the files (names and bytes) of an earlier whole one: the earliest such.
REPEATS = Step(
    "rg_repeats",
    """
    WITH whole AS (
        SELECT registry, delivery, whole_files FROM rg_deliveries WHERE damaged_files = 0
    ), matched AS (
        SELECT a.registry, a.delivery AS earlier, b.delivery AS later, count(*) AS files
        FROM rg_files a JOIN rg_files b
            ON b.registry = a.registry AND b.name = a.name AND b.file_sha256 = a.file_sha256
           AND a.delivery < b.delivery
        GROUP BY a.registry, a.delivery, b.delivery
    )
    SELECT m.registry, m.later AS delivery, min(m.earlier) AS repeat_of
    FROM matched m
    JOIN whole e ON e.registry = m.registry AND e.delivery = m.earlier AND e.whole_files = m.files
    JOIN whole l ON l.registry = m.registry AND l.delivery = m.later AND l.whole_files = m.files
    GROUP BY m.registry, m.later
    """,
)

# Deliveries that may replace the snapshot in force: whole and new.
CANDIDATES = Step(
    "rg_candidates",
    """
    SELECT d.registry, d.delivery, d.listed, c.delivery IS NOT NULL AS confirmed
    FROM rg_deliveries d
    LEFT JOIN rg_repeats r ON r.registry = d.registry AND r.delivery = d.delivery
    LEFT JOIN (SELECT DISTINCT registry, delivery FROM registry_confirmations WHERE effective) c
        ON c.registry = d.registry AND c.delivery = d.delivery
    WHERE d.damaged_files = 0 AND r.repeat_of IS NULL
    """,
)

# Each candidate's baseline: the latest candidate before it assumed applied in this round.
BASELINE = Step(
    "rg_baseline",
    """
    SELECT c.registry, c.delivery, c.listed, c.confirmed,
           max(CASE WHEN a.applied THEN c.delivery END) OVER (
               PARTITION BY c.registry ORDER BY c.delivery ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS baseline
    FROM rg_candidates c JOIN rg_applied a ON a.registry = c.registry AND a.delivery = c.delivery
    """,
)

# Numbers of each baseline that a candidate no longer lists, for the pairs not counted yet.
NEW_PAIRS = """
    INSERT INTO rg_pairs
    WITH need AS (
        SELECT DISTINCT b.registry, b.baseline, b.delivery AS candidate FROM rg_baseline b
        WHERE b.baseline IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM rg_pairs p
            WHERE p.registry = b.registry AND p.baseline = b.baseline AND p.candidate = b.delivery)
    ), gone AS (
        SELECT n.registry, n.baseline, n.candidate, l.contact_point
        FROM need n JOIN registry_listings l ON l.registry = n.registry AND l.delivery = n.baseline
        EXCEPT
        SELECT n.registry, n.baseline, n.candidate, l.contact_point
        FROM need n JOIN registry_listings l ON l.registry = n.registry AND l.delivery = n.candidate
    )
    SELECT n.registry, n.baseline, n.candidate, count(g.contact_point) AS unlisted
    FROM need n
    LEFT JOIN gone g ON g.registry = n.registry AND g.baseline = n.baseline AND g.candidate = n.candidate
    GROUP BY n.registry, n.baseline, n.candidate
"""

# This round's decisions: a candidate is applied when it is the registry's first, was confirmed, or un-lists
# at most the share of its baseline's numbers.
DECIDE = Step(
    "rg_decided",
    """
    SELECT b.registry, b.delivery,
           b.baseline IS NULL OR b.confirmed OR coalesce(p.unlisted, 0) <= {share} * d.listed AS applied
    FROM rg_baseline b
    LEFT JOIN rg_pairs p ON p.registry = b.registry AND p.baseline = b.baseline AND p.candidate = b.delivery
    LEFT JOIN rg_deliveries d ON d.registry = b.registry AND d.delivery = b.baseline
    """,
)

SNAPSHOT_STATUS = Step(
    "rg_snapshot_status",
    """
    WITH in_force AS (
        SELECT registry, max(delivery) AS delivery FROM rg_applied WHERE applied GROUP BY registry
    ), st AS (
        SELECT d.registry, r.region, d.delivery, d.received_ts, d.whole_files + d.damaged_files AS files,
               d.damaged_files, d.problem, d.listed, rp.repeat_of, b.baseline, bd.listed AS baseline_listed,
               p.unlisted, coalesce(b.confirmed, false) AS confirmed,
               CASE WHEN d.damaged_files > 0 THEN 'damaged'
                    WHEN rp.repeat_of IS NOT NULL THEN 'repeat'
                    WHEN NOT a.applied THEN 'held'
                    WHEN b.baseline IS NULL THEN 'first'
                    WHEN b.confirmed AND p.unlisted > {share} * bd.listed THEN 'confirmed'
                    ELSE 'applied' END AS status,
               d.delivery = f.delivery AS in_force,
               f.delivery IS NULL OR d.delivery > f.delivery AS after_in_force
        FROM rg_deliveries d
        JOIN ref_registries r ON r.registry = d.registry
        LEFT JOIN rg_repeats rp ON rp.registry = d.registry AND rp.delivery = d.delivery
        LEFT JOIN rg_applied a ON a.registry = d.registry AND a.delivery = d.delivery
        LEFT JOIN rg_baseline b ON b.registry = d.registry AND b.delivery = d.delivery
        LEFT JOIN rg_pairs p ON p.registry = b.registry AND p.baseline = b.baseline AND p.candidate = b.delivery
        LEFT JOIN rg_deliveries bd ON bd.registry = b.registry AND bd.delivery = b.baseline
        LEFT JOIN in_force f ON f.registry = d.registry
    )
    SELECT registry, region, delivery, received_ts, files, damaged_files, listed, repeat_of, baseline,
           baseline_listed, unlisted, status, coalesce(in_force, false) AS in_force,
           -- newer than the snapshot in force and not applied: what the operator is told about
           status IN ('damaged', 'repeat', 'held') AND after_in_force AS pending,
           CASE status
               WHEN 'damaged' THEN CAST(damaged_files AS VARCHAR) || ' of ' || CAST(files AS VARCHAR)
                    || ' files not read whole (' || problem || '): the snapshot in force stays, with its freshness'
               WHEN 'repeat' THEN 'the same files as ' || repeat_of || ': refreshes nothing'
               WHEN 'held' THEN 'would un-list ' || CAST(unlisted AS VARCHAR) || ' of the '
                    || CAST(baseline_listed AS VARCHAR) || ' numbers of ' || baseline
                    || ' (more than the share {share}): awaiting confirmation'
               WHEN 'confirmed' THEN 'un-lists ' || CAST(unlisted AS VARCHAR) || ' of the '
                    || CAST(baseline_listed AS VARCHAR) || ' numbers of ' || baseline || ': confirmed by an operator'
               WHEN 'first' THEN 'the registry''s first snapshot'
               ELSE 'un-lists ' || CAST(coalesce(unlisted, 0) AS VARCHAR) || ' of the '
                    || CAST(baseline_listed AS VARCHAR) || ' numbers of ' || baseline
           END AS detail
    FROM st
    """,
)

STATUS = Step(
    "rg_status",
    """
    SELECT r.registry, r.region, r.max_age_days, r.required, s.delivery, s.received_ts AS snapshot_ts,
           s.delivery IS NOT NULL AND s.received_ts >= {as_of} - (r.max_age_days) * INTERVAL 1 DAY AS fresh,
           n.newest_delivery, CAST(coalesce(n.pending, 0) AS BIGINT) AS pending
    FROM ref_registries r
    LEFT JOIN rg_snapshot_status s ON s.registry = r.registry AND s.in_force
    LEFT JOIN (
        SELECT registry, max(delivery) AS newest_delivery,
               sum(CASE WHEN pending THEN 1 ELSE 0 END) AS pending
        FROM rg_snapshot_status GROUP BY registry
    ) n ON n.registry = r.registry
    """,
)

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
        "source": SOURCE,
        "as_of": ts(as_of),
        "as_of_delivery": text(delivery_name(as_of)),
        "share": repr(float(rules.policies.registry_snapshots.max_unlisted_share)),
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


# Comparisons of earlier runs, kept where both deliveries still list as many numbers as then: a delivery that
# can be compared was read whole, and its listings do not change after (erasure replaces a number by its hash
# in every delivery alike), so a pair is counted once, not every night.
KEPT_PAIRS = Step(
    "rg_pairs",
    """
    SELECT c.registry, c.baseline, c.candidate, c.unlisted
    FROM registry_comparisons c
    JOIN rg_deliveries b ON b.registry = c.registry AND b.delivery = c.baseline AND b.listed = c.baseline_listed
    JOIN rg_deliveries d ON d.registry = c.registry AND d.delivery = c.candidate AND d.listed = c.candidate_listed
    """,
)
SAVE_PAIRS = """
    CREATE OR REPLACE TABLE registry_comparisons AS
    SELECT p.registry, p.baseline, p.candidate, b.listed AS baseline_listed, d.listed AS candidate_listed, p.unlisted
    FROM rg_pairs p
    JOIN rg_deliveries b ON b.registry = p.registry AND b.delivery = p.baseline
    JOIN rg_deliveries d ON d.registry = p.registry AND d.delivery = p.candidate
"""


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
