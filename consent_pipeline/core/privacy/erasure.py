"""Right to be forgotten (semantics §6).

An erasure request (or Salesforce ShouldForget) at time T erases the subject: its customer's names and every
contact point named by the request or associated with the customer up to T. Each erased contact point is
kept only as `sha256:<hex>` of its normalised form, in every table, so it stays suppressed without being
known. Erasure is sticky: a row whose source time is at or before T is scrubbed whenever it arrives (a
re-delivered old file brings nothing back). Only a new opt-in given after T by the contact point itself
re-establishes it in the clear, from that opt-in on.

The erasure register is rebuilt each run from the (hashed) requests; scrubbing is an UPDATE of the rows that
still hold an erased value in the clear. When the register is what it was after the last scrub, every row
stored then is clean, so only rows of runs not yet scrubbed are looked at (see `_scope`). The old values
stay in the blocks the UPDATE freed: a scrub that changed anything marks the file for a rewrite at the end
of the run (core/lib/rewrite.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import phonenumbers
import polars as pl

from consent_pipeline.core.identity import OBSERVED_ASSOCIATIONS
from consent_pipeline.core.lib import rewrite
from consent_pipeline.core.lib.build_state import BuildState, last_build, logic_version, record_build
from consent_pipeline.core.lib.invariant import Invariant
from consent_pipeline.core.lib.sql import SqlFolder, run_steps, text, timed, values_table, warehouse_tables
from consent_pipeline.core.lib.transaction import transaction
from consent_pipeline.lib import faults
from consent_pipeline.lib.contact_points import normalise_emails

log = logging.getLogger(__name__)

STAGE = "erasure"
SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
# Compared with the last scrub's: a change to how rows are scrubbed (its SQL files, and this module, which builds
# the scrubbing UPDATEs) makes the next run scrub every row.
LOGIC_VERSION = logic_version(STAGE, [*SQL.files(), Path(__file__)])

HASHED = "'sha256:' || sha256({col})"


def _hash(col: str) -> str:
    return HASHED.format(col=col)


ASSOCIATIONS = SQL.step("er_assoc")
REQUESTS = SQL.step("er_requests")
ERASED = SQL.step("er_erased")
REESTABLISHED = SQL.step("er_reestablished")
REGISTER = SQL.step("er_register")
ERASED_PARTIES = SQL.step("er_parties")

# (table, contact point column, source time column)
CONTACT_COLUMNS: list[tuple[str, str, str]] = [
    ("event_log", "contact_point", "event_ts"),
    ("contact_point_links", "contact_point", "linked_at"),
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


# Rows of the runs this pass looks at (all rows when it scrubs everything).
NEW_ROWS = "source_file IN (SELECT source_file FROM er_new_files)"


def _where(scoped: bool, alias: str = "") -> str:
    return f" AND {alias}{NEW_ROWS}" if scoped else ""


def _clear_values(con: duckdb.DuckDBPyConnection, scoped: bool) -> None:
    """er_clear: every distinct clear value of any contact column that is an erased contact point, with its
    register row. Each distinct value is hashed once, instead of every row of every table."""
    values = " UNION ALL ".join(
        f"SELECT {col} AS value FROM {table} WHERE true{_where(scoped)}" for table, col, _ in CONTACT_COLUMNS
    )
    timed(
        con,
        "erasure clear values",
        f"""
        CREATE OR REPLACE TEMP TABLE er_clear AS
        SELECT v.value, r.contact_point_sha256, r.contact_point_type, r.reestablished_at
        FROM (SELECT DISTINCT value FROM ({values}) WHERE value IS NOT NULL AND value NOT LIKE 'sha256:%') v
        JOIN erasure_register r ON sha256(v.value) = r.contact_point_sha256
        """,
    )


def _scrub_contact(con: duckdb.DuckDBPyConnection, table: str, col: str, time: str, scoped: bool) -> int:
    """Hash the clear values of erased contact points, except from their re-establishment on."""
    return timed(
        con,
        f"erasure scrub {table}.{col}",
        f"""
        UPDATE {table} AS t SET {col} = {_hash("t." + col)}
        FROM er_clear c
        WHERE t.{col} = c.value
          AND (c.reestablished_at IS NULL OR t.{time} IS NULL OR t.{time} < c.reestablished_at){_where(scoped, "t.")}
        """,
    ).fetchall()[0][0]


def _scrub_names(con: duckdb.DuckDBPyConnection, scoped: bool) -> int:
    """Names of erased customers, and of profiles of erased contact points, from before the erasure."""
    changed = 0
    for table, party, time, names in NAME_COLUMNS:
        sets = ", ".join(f"{n} = NULL" for n in names)
        any_name = " OR ".join(f"t.{n} IS NOT NULL" for n in names)
        changed += con.execute(
            f"""
            UPDATE {table} AS t SET {sets} FROM er_parties p
            WHERE t.{party} = p.party_id AND (t.{time} IS NULL OR t.{time} <= p.erased_at) AND ({any_name})
                  {_where(scoped, "t.")}
            """
        ).fetchall()[0][0]
    for col in ("email", "phone"):  # one equi-join each: a join on (email OR phone) is a nested loop
        changed += con.execute(
            f"""
            UPDATE subject_profiles AS t SET first_name = NULL, last_name = NULL
            FROM erasure_register r
            WHERE t.{col} = r.contact_point AND t.observed_ts <= r.erased_at
              AND (t.first_name IS NOT NULL OR t.last_name IS NOT NULL){_where(scoped, "t.")}
            """
        ).fetchall()[0][0]
    return changed


# Email-like and phone-like runs in quarantined text, to be hashed and looked up in the register: a record
# can name an erased contact point that no table holds in the clear any more (delivered after the scrub).
# Unicode letters too: an address with an internationalised domain (or local part) is a contact point too.
EMAIL_TOKEN = r"[\p{L}\p{N}!#$%&*+/=?^_`{|}~.-]+@[\p{L}\p{N}-]+(\.[\p{L}\p{N}-]+)+"
PHONE_TOKEN = r"\+?[0-9][0-9 ().-]{4,}[0-9]"


def _calling_codes(con: duckdb.DuckDBPyConnection, countries: list[str]) -> None:
    """er_calling_codes: the calling codes of the company's countries, to read national numbers."""
    codes = sorted({phonenumbers.country_code_for_region(c) for c in countries} - {0})
    values_table(con, "er_calling_codes", ["code"], [(str(c),) for c in codes])


def _scrub_quarantine(con: duckdb.DuckDBPyConnection, scoped: bool) -> int:
    """Quarantined records of an erased subject lose their text: by party, by contact point, because their
    raw text mentions an erased email or the digits of an erased phone number found in the clear this run,
    or because an email or phone number in it hashes to an erased one (international form, or national form
    in one of the company's countries).

    A scoped pass looks only at rows of runs not yet scrubbed, unless it found clear forms to search for:
    those may be mentioned in any older record, as a full pass would find."""
    patterns = con.execute("SELECT count(*) FROM er_patterns").fetchall()[0][0]
    only_new = (
        " AND (run_id IS NULL OR run_id NOT IN (SELECT run_id FROM erasure_scanned_runs))"
        if scoped and not patterns
        else ""
    )
    # Each record's searchable forms are computed once, then matched against the (few) patterns.
    timed(
        con,
        "erasure quarantine candidates",
        f"""
        CREATE OR REPLACE TEMP TABLE er_open AS
        SELECT rowid AS rid, party_id, contact_point, lower(raw) AS low,
               regexp_replace(raw, '[^0-9]', '', 'g') AS digits
        FROM quarantine WHERE raw IS DISTINCT FROM '[erased]'{only_new}
        """,
    )
    timed(
        con,
        "erasure quarantine tokens",
        f"""
        CREATE OR REPLACE TEMP TABLE er_candidates AS
        WITH phone_digits AS (  -- a run of digits as long as a phone number can be
            SELECT rid, d FROM (
                SELECT rid, regexp_replace(unnest(regexp_extract_all(low, '{PHONE_TOKEN}')), '[^0-9]', '', 'g') AS d
                FROM er_open
            ) WHERE length(d) BETWEEN 5 AND 15
        )  -- as written (+...), or national in a company country, with or without a trunk 0
        SELECT rid, unnest(regexp_extract_all(low, '{EMAIL_TOKEN}')) AS token FROM er_open
        UNION ALL SELECT rid, '+' || d FROM phone_digits
        UNION ALL SELECT rid, '+' || c.code || d FROM phone_digits CROSS JOIN er_calling_codes c
            WHERE length(c.code) + length(d) <= 15
        UNION ALL SELECT rid, '+' || c.code || substr(d, 2) FROM phone_digits CROSS JOIN er_calling_codes c
            WHERE d LIKE '0%' AND length(c.code) + length(d) <= 16
        """,
    )
    _idn_tokens(con)
    timed(
        con,
        "erasure quarantine hits",
        f"""
        CREATE OR REPLACE TEMP TABLE er_quarantine_hits AS
        WITH normal AS (  -- an IDN address in its xn-- form is hashed in its canonical (Unicode) form
            SELECT c.rid, c.token, coalesce(i.canonical, c.token) AS canonical
            FROM er_candidates c LEFT JOIN er_idn i USING (token)
        ), erased_tokens AS (  -- each distinct candidate hashed once
            SELECT t.canonical FROM (SELECT DISTINCT canonical FROM normal) t JOIN erasure_register r
                ON r.reestablished_at IS NULL AND sha256(t.canonical) = r.contact_point_sha256
        )
        SELECT rid FROM er_open WHERE party_id IN (SELECT party_id FROM er_parties)
        UNION
        SELECT o.rid FROM er_open o JOIN erasure_register r
            ON r.reestablished_at IS NULL AND sha256(o.contact_point) = r.contact_point_sha256
        UNION
        SELECT rid FROM er_open WHERE {_mentions(con)}
        UNION
        SELECT rid FROM normal WHERE canonical IN (SELECT canonical FROM erased_tokens)
        """,
    )
    return con.execute(
        """
        UPDATE quarantine AS q SET raw = '[erased]', detail = '[erased]',
               contact_point = CASE WHEN q.contact_point IS NULL OR q.contact_point LIKE 'sha256:%' THEN q.contact_point
                                    ELSE 'sha256:' || sha256(q.contact_point) END
        WHERE q.rowid IN (SELECT rid FROM er_quarantine_hits)
        """
    ).fetchall()[0][0]


PATTERNS_PER_REGEX = 500  # alternatives in one regular expression (RE2 caps a compiled program's memory)


def _mentions(con: duckdb.DuckDBPyConnection) -> str:
    """The SQL condition on er_open that its text contains a pattern of er_patterns (an erased email in `low`,
    an erased number's digits in `digits`): the patterns as alternations of literal text, a few regular
    expressions matched over each record once, instead of a join testing every record against every pattern
    (thousands of patterns on a first run: 16 s against 64,000 quarantined records at scale 10)."""
    chunks = con.execute(
        f"""
        SELECT kind, string_agg(regexp_escape(pattern), '|' ORDER BY pattern)
        FROM (SELECT *, (row_number() OVER (PARTITION BY kind ORDER BY pattern) - 1) // {PATTERNS_PER_REGEX} AS n
              FROM er_patterns)
        GROUP BY kind, n ORDER BY kind, n
        """
    ).fetchall()
    column = {"text": "low", "digits": "digits"}
    terms = [f"regexp_matches({column[kind]}, {text(regex)})" for kind, regex in chunks]
    return " OR ".join(terms) if terms else "false"


def _idn_tokens(con: duckdb.DuckDBPyConnection) -> None:
    """er_idn(token, canonical): the canonical form (lib.contact_points) of the candidate addresses written
    with an `xn--` label, which SQL cannot decode; few, so they go through Python."""
    tokens = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT token FROM er_candidates WHERE token LIKE '%@%' AND token LIKE '%xn--%'"
        ).fetchall()
    ]
    canonical = normalise_emails(pl.Series(tokens, dtype=pl.String))["value"].to_list() if tokens else []
    values_table(con, "er_idn", ["token", "canonical"], [(t, c) for t, c in zip(tokens, canonical, strict=True) if c])


def _patterns(con: duckdb.DuckDBPyConnection) -> None:
    """Clear forms of the contact points erased in this run's data (they are still in the clear somewhere:
    the rows scrubbed now), to find them in quarantined raw text."""
    clear = con.execute(
        "SELECT value, contact_point_type FROM er_clear WHERE reestablished_at IS NULL ORDER BY value"
    ).fetchall()
    rows: list[tuple[str, str]] = []
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


# identity's observed associations first: er_assoc reads them (erasure runs before identity)
STEPS = [OBSERVED_ASSOCIATIONS, ASSOCIATIONS, REQUESTS, ERASED, REESTABLISHED, REGISTER, ERASED_PARTIES]

# What the last scrub was done against, and which runs' rows it covered.
STATE_TABLES = ("erasure_scanned_runs",)


@dataclass
class ErasureResult:
    changed: dict[str, int]  # rows changed per table
    new_files: int  # files whose rows were looked at; -1: every row (register changed, or asked for)


def _fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """Everything a scrub depends on: the register's erased values, their erasure and re-establishment
    times, the erased parties, and the countries whose national numbers are searched for."""
    return con.execute(
        """
        SELECT sha256(concat_ws('|',
            (SELECT coalesce(string_agg(concat_ws(',', contact_point_sha256, contact_point_type, erased_at,
                                                  coalesce(CAST(reestablished_at AS VARCHAR), '-')),
                                        ';' ORDER BY contact_point_sha256), '') FROM er_register),
            (SELECT coalesce(string_agg(concat_ws(',', party_id, erased_at), ';' ORDER BY party_id), '')
             FROM er_parties),
            (SELECT coalesce(string_agg(code, ',' ORDER BY code), '') FROM er_calling_codes)))
        """
    ).fetchall()[0][0]


def _scope(con: duckdb.DuckDBPyConnection, fingerprint: str, full: bool) -> bool:
    """Whether this pass may look only at new rows: the register is the one the last scrub used (so every
    row stored then is clean). New rows are those of files ingested by runs not yet scrubbed (er_new_files);
    an ingested file never changes, and every row of the scrubbed tables comes from one."""
    con.execute("CREATE OR REPLACE TEMP TABLE er_new_files (source_file VARCHAR)")
    if full or not set(STATE_TABLES) <= warehouse_tables(con):
        return False
    last = last_build(con, STAGE)
    if last is None or (last.logic_version, last.inputs_fingerprint) != (LOGIC_VERSION, fingerprint):
        return False
    con.execute(
        """
        INSERT INTO er_new_files SELECT source_file FROM ingest_ledger
        WHERE run_id IS NULL OR run_id NOT IN (SELECT run_id FROM erasure_scanned_runs)
        """
    )
    return True


def _record(con: duckdb.DuckDBPyConnection, fingerprint: str, new_files: int) -> None:
    """Every run's rows are scrubbed against this register now (and how this pass went: -1 every row, else
    the number of new files looked at)."""
    record_build(con, BuildState(STAGE, LOGIC_VERSION, inputs_fingerprint=fingerprint, recomputed=new_files))
    con.execute(
        """
        CREATE OR REPLACE TABLE erasure_scanned_runs AS
        SELECT run_id FROM ingest_ledger WHERE run_id IS NOT NULL
        UNION SELECT run_id FROM quarantine WHERE run_id IS NOT NULL
        """
    )


def apply_erasures(con: duckdb.DuckDBPyConnection, countries: list[str], full: bool = False) -> ErasureResult:
    """Rebuild the erasure register and scrub every table (only new rows when the register is unchanged,
    unless `full`). `countries`: the company's, whose national phone numbers quarantined text may hold."""
    run_steps(con, STEPS)
    _calling_codes(con, countries)
    fingerprint = _fingerprint(con)
    with transaction(con, "erasure commit"):
        scoped = _scope(con, fingerprint, full)
        new_files = con.execute("SELECT count(*) FROM er_new_files").fetchall()[0][0] if scoped else -1
        log.debug("erasure: %s", f"rows of {new_files} new files" if scoped else "every row")
        con.execute("CREATE OR REPLACE TABLE erasure_register AS SELECT * FROM er_register ORDER BY contact_point")
        _clear_values(con, scoped)
        _patterns(con)
        changed: dict[str, int] = {}
        for table, col, time in CONTACT_COLUMNS:
            changed[table] = changed.get(table, 0) + _scrub_contact(con, table, col, time, scoped)
        changed["names"] = _scrub_names(con, scoped)
        changed["quarantine"] = _scrub_quarantine(con, scoped)
        if sum(changed.values()):
            rewrite.request(con, f"erasure scrubbed {sum(changed.values())} rows")
        _record(con, fingerprint, new_files)
        faults.pause("erasure:scrubbed")
    return ErasureResult(changed, new_files)


INVARIANTS = [
    Invariant(
        "erased_not_in_clear",
        "erasure_register",
        "no erased contact point is held in the clear in the event log (unless re-established)",
        """
        SELECT r.contact_point, r.erased_at FROM erasure_register r
        WHERE r.reestablished_at IS NULL AND EXISTS (
            SELECT 1 FROM event_log e WHERE e.contact_point NOT LIKE 'sha256:%'
                AND sha256(e.contact_point) = r.contact_point_sha256)
        """,
        blocking=True,
    ),
]
