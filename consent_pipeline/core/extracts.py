"""Marketing's nightly extracts, one folder per run date (outputs.md): suppression per channel, one file per
campaign, the review queue and a manifest with row counts and SHA-256.

Files are written under a temporary name and renamed, so no half-written file ever carries a final name.
No cell can start a spreadsheet formula (=, +, -, @, tab, CR) except a validated E.164 phone number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import phonenumbers
import polars as pl

from consent_pipeline.config import Rules
from consent_pipeline.core.permissions import params
from consent_pipeline.core.sql import text, ts
from consent_pipeline.lib.phone_zones import phone_zones

log = logging.getLogger(__name__)

E164 = r"^\+[1-9][0-9]{6,14}$"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SUPPRESSION_COLUMNS = ["contact_point", "contact_point_sha256", "brand", "purpose", "reason", "since"]
CAMPAIGN_COLUMNS = [
    "contact_point",
    "party_id",
    "first_name",
    "segment",
    "region",
    "basis",
    "consent_event_id",
    "timezone",
]
REVIEW_COLUMNS = ["party_id", "reason", "last_reviewed_at"]


@dataclass
class ExtractFile:
    name: str
    rows: int
    sha256: str
    bytes: int


def _cell(name: str, dtype: str) -> str:
    """One column as its CSV cell: times as ISO-8601 UTC text; text that a spreadsheet would read as a
    formula prefixed with a quote, except a contact point that is a validated E.164 number."""
    col = f'"{name}"'
    if dtype.startswith("TIMESTAMP"):
        return f"strftime({col}, '%Y-%m-%dT%H:%M:%SZ') AS {col}"
    if dtype != "VARCHAR":
        return col
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_START)
    risky = f"left({col}, 1) IN ({starts})"
    if name == "contact_point":
        risky = f"{risky} AND NOT regexp_matches({col}, '{E164}')"
    return f"CASE WHEN {risky} THEN '''' || {col} ELSE {col} END AS {col}"


def write_csv(con: duckdb.DuckDBPyConnection, query: str, path: Path, order: list[str]) -> ExtractFile:
    """Write a query's rows as CSV with a header, sorted by `order` (columns of the query, as they are before
    any cell is quoted), atomically (temporary name, then rename), and describe it for the manifest. DuckDB
    writes the file straight from the query, on all cores. The sort is on the outermost query: an ORDER BY
    inside a subquery does not order the result."""
    started = time.perf_counter()
    rel = con.sql(query)
    cells = ", ".join(_cell(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True))
    by = ", ".join(f"q.{item}" for item in order)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = con.execute(
        f"COPY (SELECT {cells} FROM ({query}) AS q ORDER BY {by}) TO {text(str(tmp))} (FORMAT csv, HEADER true)"
    ).fetchall()[0][0]
    digest = hashlib.sha256()
    with tmp.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    os.replace(tmp, path)
    log.debug("write %s: %.2fs", path.name, time.perf_counter() - started)
    return ExtractFile(path.name, int(rows), digest.hexdigest(), path.stat().st_size)


# Total orders of the files' rows (an erased and a re-established form of one contact point share a hash in
# the suppression list: the erased one, with no contact point, first).
SUPPRESSION_ORDER = ["contact_point_sha256", "brand", "purpose", "contact_point NULLS FIRST", "reason", "since"]
CAMPAIGN_ORDER = ["contact_point", "party_id", "segment", "basis", "consent_event_id"]
REVIEW_ORDER = ["party_id", "reason", "last_reviewed_at"]


def suppression_query(channel: str) -> str:
    """One channel's suppression list."""
    return (
        # In the file an erased contact point is its hash only: contact_point stays empty.
        "SELECT CASE WHEN contact_point LIKE 'sha256:%' THEN NULL ELSE contact_point END AS contact_point, "
        f"{', '.join(SUPPRESSION_COLUMNS[1:])} FROM x_suppression WHERE channel = {text(channel)}"
    )


def campaign_frame(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, campaign_id: str
) -> pl.DataFrame:
    camp = rules.campaigns[campaign_id]
    cap = rules.policies.frequency_caps.per_channel.get(camp.channel)
    window = rules.policies.frequency_caps.window_days
    segments = ", ".join(text(s) for s in camp.segments)
    capped = (
        f"""
        AND p.contact_point NOT IN (
            SELECT s.contact_point FROM sends s JOIN ref_purposes rp ON rp.node = s.purpose AND rp.leaf = s.purpose
            WHERE rp.kind = 'marketing' AND s.channel = {text(camp.channel)}
              AND s.sent_at > {ts(as_of)} - INTERVAL {int(window)} DAY AND s.sent_at <= {ts(as_of)}
              AND s.contact_point IS NOT NULL
            GROUP BY s.contact_point HAVING count(*) >= {int(cap)})
        """
        if cap is not None
        else ""
    )
    frame = con.sql(
        f"""
        SELECT p.contact_point, p.party_id, pa.first_name, sg.segment, p.region, p.reason AS basis,
               CASE WHEN p.reason IN ('express_consent', 'third_party_consent', 'legitimate_interest')
                    THEN p.decided_by END AS consent_event_id,
               pa.country, p.contact_point_type
        FROM contact_permission p
        JOIN segments sg ON sg.party_id = p.party_id AND sg.brand = p.brand
        JOIN parties pa ON pa.party_id = p.party_id
        WHERE p.brand = {text(camp.brand)} AND p.channel = {text(camp.channel)} AND p.purpose = {text(camp.purpose)}
          AND p.allowed AND sg.segment IN ({segments}) AND p.contact_point NOT LIKE 'sha256:%' {capped}
        ORDER BY p.contact_point
        """
    ).pl()
    return _with_timezones(con, frame, rules).select(CAMPAIGN_COLUMNS)


# Each phone's time zone is looked up once and kept (`lib/phone_zones`: phonenumbers' own answer, decided over
# whole columns). The cache is keyed by the number's SHA-256, so it holds no
# contact point in the clear (erasure has nothing to scrub there), and by the library version, so an
# upgrade looks them up again.
TIMEZONE_CACHE = "phone_timezones"


def _phone_zones(con: duckdb.DuckDBPyConnection, phones: pl.Series) -> pl.DataFrame:
    """(contact_point, phone_zone) for the given phones: from the cache, the missing ones looked up."""
    version = text(phonenumbers.__version__)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TIMEZONE_CACHE} (phone_sha256 VARCHAR, library VARCHAR, timezone VARCHAR)"
    )
    con.register("_wanted_phones", pl.DataFrame({"phone": phones.unique()}))
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE x_wanted_phones AS
            SELECT w.phone, sha256(w.phone) AS phone_sha256, c.phone_sha256 IS NOT NULL AS cached, c.timezone
            FROM _wanted_phones w
            LEFT JOIN (SELECT * FROM {TIMEZONE_CACHE} WHERE library = {version}) c ON c.phone_sha256 = sha256(w.phone)
            """
        )
    finally:
        con.unregister("_wanted_phones")
    started = time.perf_counter()
    missing = con.sql("SELECT phone, phone_sha256 FROM x_wanted_phones WHERE NOT cached").pl()
    found = missing.select("phone_sha256", phone_zones(missing["phone"]).alias("timezone"))
    log.debug("phone time zones: %d looked up, %.2fs", found.height, time.perf_counter() - started)
    if found.height:
        con.register("_new_zones", found)
        try:
            con.execute(
                f"INSERT INTO {TIMEZONE_CACHE} SELECT phone_sha256, {version}, timezone FROM _new_zones"
            )
            con.execute(
                "UPDATE x_wanted_phones AS w SET timezone = n.timezone, cached = true FROM _new_zones n "
                "WHERE n.phone_sha256 = w.phone_sha256"
            )
        finally:
            con.unregister("_new_zones")
    return con.sql("SELECT phone AS contact_point, timezone AS phone_zone FROM x_wanted_phones").pl()


def _with_timezones(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """A phone's own time zone when the number tells one; else the country's default; else the fallback."""
    phones = frame.filter(pl.col("contact_point_type") == "phone")["contact_point"]
    zones = _phone_zones(con, phones)
    by_country = rules.company.default_timezones
    return (
        frame.join(zones, on="contact_point", how="left")
        .with_columns(
            pl.coalesce(
                pl.col("phone_zone"),
                pl.col("country").replace_strict(by_country, default=None, return_dtype=pl.String),
                pl.lit(rules.company.fallback_timezone),
            ).alias("timezone")
        )
        .drop("phone_zone")
    )


def write_extracts(
    con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, run_id: str, root: Path
) -> tuple[Path, list[ExtractFile]]:
    """Write tonight's folder; returns it and what was written (suppression must be built)."""
    folder = root / as_of.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[ExtractFile] = []
    for channel in rules.channels:
        written.append(
            write_csv(con, suppression_query(channel), folder / f"suppression_{channel}.csv", SUPPRESSION_ORDER)
        )
    for cid in rules.campaigns:
        con.register("_campaign", campaign_frame(con, rules, as_of, cid))
        try:
            written.append(
                write_csv(con, "SELECT * FROM _campaign", folder / f"campaign_{cid}.csv", CAMPAIGN_ORDER)
            )
        finally:
            con.unregister("_campaign")
    queue = f"SELECT {', '.join(REVIEW_COLUMNS)} FROM review_queue"
    written.append(write_csv(con, queue, folder / "review_queue.csv", REVIEW_ORDER))
    names = {f.name for f in written}
    for stale in folder.glob("*.csv"):  # files of campaigns no longer in rules would contradict the manifest
        if stale.name not in names:
            stale.unlink()
    manifest = {
        "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": run_id,
        "files": [{"name": f.name, "rows": f.rows, "sha256": f.sha256} for f in written],
    }
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")
    return folder, written


__all__ = ["params"]
