"""Parties and who owns each contact point (semantics §3).

Customers come from the master (latest `updated_at` wins). Every (party, contact point) pair the data names
is an association; the owner of a contact point is decided by the four rules of §3, in order:
proof of control, the sole personal holder, the household's primary holder (only when the holders are one
household), the most recent association (ties: smallest party id).
Contact points no customer holds belong to prospects (`P-` + 16 hex of the SHA-256 of the key contact
point: a phone seen with an email joins that email's prospect).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from consent_pipeline.core.lib.engine import DUCKDB, Engine
from consent_pipeline.core.lib.sql import SqlFolder, values_table
from consent_pipeline.lib.phone_zones import phone_countries

SQL = SqlFolder.beside(__file__)  # one step a file, in sql/ (each file says what its step does)
# What identity decides from: its steps and this module (part of the golden build's logic version).
LOGIC_FILES = [*SQL.files(), Path(__file__)]
CUSTOMERS = SQL.step("id_customers")
OBSERVED_ASSOCIATIONS = SQL.step("id_observed_assoc")
ASSOCIATIONS_RAW = SQL.step("id_assoc_raw")
ASSOCIATIONS = SQL.step("id_assoc")
PROOFS = SQL.step("id_proofs")
CANDIDATES = SQL.step("id_candidates")
OWNERS = SQL.step("id_owner_customer")
SEEN = SQL.step("id_seen")
PROSPECT_POINTS = SQL.step("id_prospect_points")
PHONE_EMAIL = SQL.step("id_phone_email")
PROSPECT_OWNERS = SQL.step("id_owner_prospect")
OWNERS_ALL = SQL.step("id_owner_all")
PAIRS_ALL = SQL.step("id_pairs_all")
OWNER = SQL.step("id_owner")
PARTY_POINTS = SQL.step("id_party_points")
PROSPECT_PROFILE = SQL.step("id_prospect_profile")
PARTIES_BASE = SQL.step("id_parties_base")
PARTIES = SQL.step("id_parties")
WAITING = SQL.step("id_waiting")

CUSTOMER_OWNERS = [CUSTOMERS, OBSERVED_ASSOCIATIONS, ASSOCIATIONS_RAW, ASSOCIATIONS, PROOFS, CANDIDATES, OWNERS]
# An incremental build decides the customer owners of the touched contact points only, and takes the last
# build's owners and associations for the others (the caller has checked those tables are as it left them).
KEPT = [OWNERS_ALL, PAIRS_ALL]
PROSPECTS = [SEEN, PROSPECT_POINTS, PHONE_EMAIL, PROSPECT_OWNERS, OWNER, PARTY_POINTS, PROSPECT_PROFILE, PARTIES_BASE]
BEFORE_PHONES = [*CUSTOMER_OWNERS, *PROSPECTS]
AFTER_PHONES = [PARTIES, WAITING]


def _phone_countries(con: duckdb.DuckDBPyConnection) -> None:
    """The country of each phone of a party with no country (company.md Regions): the region the numbering
    plan gives it, else its calling code's country, so that a fictional or unallocated range (+44 7700
    900123) is still GB. Decided over the distinct numbers at once (lib/phone_zones)."""
    phones = con.sql(
        "SELECT DISTINCT phone FROM id_parties_base WHERE country IS NULL AND phone IS NOT NULL ORDER BY phone"
    ).pl()["phone"]
    found = pl.DataFrame({"phone": phones, "country": phone_countries(phones)}).filter(pl.col("country").is_not_null())
    values_table(con, "id_phone_country", ["phone", "country"], found.rows())


def params(touched: str | None) -> dict[str, str]:
    """The steps' parameters: every contact point decided again, or (`touched`: a table of contact points)
    those, with the last build's customer owners and associations (contact_point_owner,
    party_contact_points) for the rest."""
    if touched is None:
        return {"points": "true", "owners": "id_owner_customer", "pairs": "id_assoc"}
    return {
        "points": f"contact_point IN (SELECT contact_point FROM {touched})",
        "owners": "id_owner_all",
        "pairs": "id_pairs_all",
    }


def build_identity(con: duckdb.DuckDBPyConnection, engine: Engine = DUCKDB, touched: str | None = None) -> None:
    """Temp tables id_parties, id_owner, id_party_points, id_waiting (reference tables must be loaded).
    `touched`: see `params`."""
    steps = [*CUSTOMER_OWNERS, *(KEPT if touched else []), *PROSPECTS]
    engine.run_steps(con, steps, params(touched))
    _phone_countries(con)
    engine.run_steps(con, AFTER_PHONES)
