"""Right to be forgotten (semantics §6).

An erasure request (or Salesforce ShouldForget) at time T erases the subject: its customer's names and every
contact point named by the request or associated with the customer up to T. Each erased contact point is
kept only as `sha256:<hex>` of its normalised form, in every table, so it stays suppressed without being
known. Erasure is sticky: a row whose source time is at or before T is scrubbed whenever it arrives (a
re-delivered old file brings nothing back). Only a new opt-in given after T by the contact point itself
re-establishes it in the clear, from that opt-in on.

The erasure register is rebuilt each run from the (hashed) requests; scrubbing is an UPDATE of the rows that
still hold an erased value in the clear.
"""

from __future__ import annotations

import duckdb
import phonenumbers

from consent_pipeline.core.invariants import Invariant, register
from consent_pipeline.core.sql import Step, run_steps, values_table

HASHED = "'sha256:' || sha256({col})"


def _hash(col: str) -> str:
    return HASHED.format(col=col)


def _hex(col: str) -> str:
    """The SHA-256 hex of a contact point column, whether it holds the clear value or its hash already."""
    return f"CASE WHEN {col} LIKE 'sha256:%' THEN substr({col}, 8) ELSE sha256({col}) END"


# Everything that ties a contact point to a customer, with the source time it did so.
ASSOCIATIONS = Step(
    "er_assoc",
    """
    SELECT customer_id AS party_id, email AS contact_point, 'email' AS contact_point_type, updated_at AS seen_at
    FROM customer_records WHERE email IS NOT NULL
    UNION ALL SELECT customer_id, mobile_phone, 'phone', updated_at FROM customer_records WHERE mobile_phone IS NOT NULL
    UNION ALL SELECT customer_id, home_phone, 'phone', updated_at FROM customer_records WHERE home_phone IS NOT NULL
    UNION ALL SELECT customer_id, postal_address, 'postal', updated_at FROM customer_records WHERE postal_address IS NOT NULL
    UNION ALL SELECT party_id, contact_point, contact_point_type, event_ts FROM consent_events
        WHERE party_id IS NOT NULL AND contact_point IS NOT NULL
    UNION ALL SELECT party_id, email, 'email', observed_ts FROM subject_profiles WHERE party_id IS NOT NULL AND email IS NOT NULL
    UNION ALL SELECT party_id, phone, 'phone', observed_ts FROM subject_profiles WHERE party_id IS NOT NULL AND phone IS NOT NULL
    UNION ALL SELECT party_id, contact_point, contact_point_type, evidence_ts FROM contact_evidence
        WHERE party_id IS NOT NULL AND contact_point IS NOT NULL
    """,
    view=True,
)

REQUESTS = Step(
    "er_requests",
    """
    SELECT request_id, party_id, contact_point, contact_point_type, requested_at FROM erasure_requests
    WHERE requested_at IS NOT NULL
    """,
)

# Erased contact points (as hex), the latest erasure of each, and the party it was erased for.
ERASED = Step(
    "er_erased",
    f"""
    SELECT hex, max(contact_point_type) AS contact_point_type, max(requested_at) AS erased_at,
           arg_max(request_id, requested_at) AS request_id, arg_max(party_id, requested_at) AS party_id
    FROM (
        SELECT {_hex("contact_point")} AS hex, contact_point_type, requested_at, request_id, party_id
        FROM er_requests WHERE contact_point IS NOT NULL
        UNION ALL
        SELECT {_hex("a.contact_point")}, a.contact_point_type, r.requested_at, r.request_id, r.party_id
        FROM er_requests r JOIN er_assoc a ON a.party_id = r.party_id AND a.seen_at <= r.requested_at
        WHERE r.party_id IS NOT NULL
    ) GROUP BY hex
    """,
)

# The first opt-in given by the contact point itself after its erasure re-establishes it (in the clear).
REESTABLISHED = Step(
    "er_reestablished",
    """
    SELECT x.hex, min(e.event_ts) AS reestablished_at
    FROM er_erased x JOIN event_log e ON sha256(e.contact_point) = x.hex
    WHERE e.contact_point NOT LIKE 'sha256:%' AND e.status = 'opt_in' AND e.event_ts > x.erased_at
    GROUP BY x.hex
    """,
)

REGISTER = Step(
    "er_register",
    """
    SELECT 'sha256:' || x.hex AS contact_point, x.hex AS contact_point_sha256, x.contact_point_type, x.erased_at,
           x.request_id, x.party_id, r.reestablished_at
    FROM er_erased x LEFT JOIN er_reestablished r ON r.hex = x.hex
    """,
)

ERASED_PARTIES = Step(
    "er_parties",
    """
    SELECT party_id, max(requested_at) AS erased_at FROM er_requests WHERE party_id IS NOT NULL GROUP BY party_id
    """,
)

# (table, contact point column, source time column)
CONTACT_COLUMNS: list[tuple[str, str, str]] = [
    ("event_log", "contact_point", "event_ts"),
    ("customer_records", "email", "updated_at"),
    ("customer_records", "mobile_phone", "updated_at"),
    ("customer_records", "home_phone", "updated_at"),
    ("customer_records", "postal_address", "updated_at"),
    ("subject_profiles", "email", "observed_ts"),
    ("subject_profiles", "phone", "observed_ts"),
    ("contact_evidence", "contact_point", "evidence_ts"),
    ("undeliverable", "contact_point", "since_ts"),
    ("registry_listings", "contact_point", "snapshot_ts"),
    ("erasure_requests", "contact_point", "requested_at"),
    ("activity", "email", "occurred_at"),
    ("activity", "phone", "occurred_at"),
    ("sends", "contact_point", "sent_at"),
]
# (table, party column, source time column, name columns)
NAME_COLUMNS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("customer_records", "customer_id", "updated_at", ("first_name", "last_name")),
    ("subject_profiles", "party_id", "observed_ts", ("first_name", "last_name")),
]


def _clear_values(con: duckdb.DuckDBPyConnection) -> None:
    """er_clear: every distinct clear value of any contact column that is an erased contact point, with its
    register row. Each distinct value is hashed once, instead of every row of every table."""
    values = " UNION ALL ".join(f"SELECT {col} AS value FROM {table}" for table, col, _ in CONTACT_COLUMNS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE er_clear AS
        SELECT v.value, r.contact_point_sha256, r.contact_point_type, r.reestablished_at
        FROM (SELECT DISTINCT value FROM ({values}) WHERE value IS NOT NULL AND value NOT LIKE 'sha256:%') v
        JOIN erasure_register r ON sha256(v.value) = r.contact_point_sha256
        """
    )


def _scrub_contact(con: duckdb.DuckDBPyConnection, table: str, col: str, time: str) -> int:
    """Hash the clear values of erased contact points, except from their re-establishment on."""
    return con.execute(
        f"""
        UPDATE {table} AS t SET {col} = {_hash("t." + col)}
        FROM er_clear c
        WHERE t.{col} = c.value
          AND (c.reestablished_at IS NULL OR t.{time} IS NULL OR t.{time} < c.reestablished_at)
        """
    ).fetchall()[0][0]


def _scrub_names(con: duckdb.DuckDBPyConnection) -> int:
    """Names of erased customers, and of profiles of erased contact points, from before the erasure."""
    changed = 0
    for table, party, time, names in NAME_COLUMNS:
        sets = ", ".join(f"{n} = NULL" for n in names)
        any_name = " OR ".join(f"t.{n} IS NOT NULL" for n in names)
        changed += con.execute(
            f"""
            UPDATE {table} AS t SET {sets} FROM er_parties p
            WHERE t.{party} = p.party_id AND (t.{time} IS NULL OR t.{time} <= p.erased_at) AND ({any_name})
            """
        ).fetchall()[0][0]
    for col in ("email", "phone"):  # one equi-join each: a join on (email OR phone) is a nested loop
        changed += con.execute(
            f"""
            UPDATE subject_profiles AS t SET first_name = NULL, last_name = NULL
            FROM erasure_register r
            WHERE t.{col} = r.contact_point AND t.observed_ts <= r.erased_at
              AND (t.first_name IS NOT NULL OR t.last_name IS NOT NULL)
            """
        ).fetchall()[0][0]
    return changed


def _scrub_quarantine(con: duckdb.DuckDBPyConnection) -> int:
    """Quarantined records of an erased subject lose their text: by party, by contact point, or because
    their raw text mentions an erased email or the digits of an erased phone number."""
    # Each record's searchable forms are computed once, then matched against the (few) patterns.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE er_quarantine_hits AS
        WITH open AS (
            SELECT rowid AS rid, party_id, contact_point, lower(raw) AS low,
                   regexp_replace(raw, '[^0-9]', '', 'g') AS digits
            FROM quarantine WHERE raw IS DISTINCT FROM '[erased]'
        )
        SELECT rid FROM open WHERE party_id IN (SELECT party_id FROM er_parties)
        UNION
        SELECT o.rid FROM open o JOIN erasure_register r
            ON r.reestablished_at IS NULL AND sha256(o.contact_point) = r.contact_point_sha256
        UNION
        SELECT o.rid FROM open o JOIN er_patterns p
            ON (p.kind = 'text' AND contains(o.low, p.pattern)) OR (p.kind = 'digits' AND contains(o.digits, p.pattern))
        """
    )
    return con.execute(
        """
        UPDATE quarantine AS q SET raw = '[erased]', detail = '[erased]',
               contact_point = CASE WHEN q.contact_point IS NULL OR q.contact_point LIKE 'sha256:%' THEN q.contact_point
                                    ELSE 'sha256:' || sha256(q.contact_point) END
        WHERE q.rowid IN (SELECT rid FROM er_quarantine_hits)
        """
    ).fetchall()[0][0]


def _patterns(con: duckdb.DuckDBPyConnection) -> None:
    """Clear forms of the contact points erased in this run's data (they are still in the clear somewhere:
    the rows scrubbed now), to find them in quarantined raw text."""
    clear = con.execute(
        "SELECT value, contact_point_type FROM er_clear WHERE reestablished_at IS NULL ORDER BY value"
    ).fetchall()
    rows = []
    for value, kind in clear:
        if kind == "phone":
            try:
                national = str(phonenumbers.parse(value, None).national_number)
            except phonenumbers.NumberParseException:
                continue
            if len(national) >= 6:  # too short a digit run would match unrelated records
                rows.append((national, "digits"))
        elif kind == "email":
            rows.append((value.lower(), "text"))
    values_table(con, "er_patterns", ["pattern", "kind"], rows)


STEPS = [ASSOCIATIONS, REQUESTS, ERASED, REESTABLISHED, REGISTER, ERASED_PARTIES]


def apply_erasures(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild the erasure register and scrub every table; returns rows changed per table."""
    run_steps(con, STEPS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TABLE erasure_register AS SELECT * FROM er_register ORDER BY contact_point"
        )
        _clear_values(con)
        _patterns(con)
        changed: dict[str, int] = {}
        for table, col, time in CONTACT_COLUMNS:
            changed[table] = changed.get(table, 0) + _scrub_contact(con, table, col, time)
        changed["names"] = _scrub_names(con)
        changed["quarantine"] = _scrub_quarantine(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return changed


register(
    Invariant(
        "erased_not_in_clear",
        "erasure_register",
        "no erased contact point is held in the clear in the event log (unless re-established)",
        """
        SELECT r.contact_point, r.erased_at FROM erasure_register r
        WHERE r.reestablished_at IS NULL AND EXISTS (
            SELECT 1 FROM event_log e WHERE e.contact_point NOT LIKE 'sha256:%' AND sha256(e.contact_point) = r.contact_point_sha256)
        """,
    )
)
