"""Why a contact point may or may not be contacted: its owner, each key's state (and permission), and the
events behind it, oldest first, with their sources and files."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from consent_pipeline.lib.contact_points import normalise_emails, normalise_phones, sha256_hex


def normalise_query(text: str, regions: list[str] | None = None) -> list[str]:
    """The forms a user's input may take in the warehouse: an email, an E.164 phone, a postal address,
    or the hash an erased contact point is kept as. A phone in national format is tried in each of
    `regions` (the countries the warehouse knows, most common first)."""
    raw = text.strip()
    if raw.startswith("sha256:"):
        return [raw]
    forms: list[str] = []
    if "@" in raw:
        email = normalise_emails(pl.Series([raw]))["value"][0]
        if email:
            forms.append(email)
    else:
        tries = [None, *(regions or [])]
        phones = normalise_phones(pl.Series([raw] * len(tries)), pl.Series(tries, dtype=pl.String))["value"]
        forms += [p for p in phones.to_list() if p]
    forms.append(raw.upper() if "," in raw else raw)
    forms += [f"sha256:{sha256_hex(f)}" for f in list(forms)]
    return list(dict.fromkeys(forms))


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def explain(con: duckdb.DuckDBPyConnection, query: str) -> dict[str, Any]:
    """Everything the warehouse knows about one contact point, as plain data."""
    tables = _tables(con)
    regions = (
        [
            r[0]
            for r in con.execute(
                "SELECT country FROM parties WHERE country IS NOT NULL GROUP BY country ORDER BY count(*) DESC, country"
            ).fetchall()
        ]
        if "parties" in tables
        else []
    )
    forms = normalise_query(query, regions)
    found = None
    for form in forms:
        if "contact_point_owner" in tables and _rows(
            con, "SELECT 1 FROM contact_point_owner WHERE contact_point = ?", [form]
        ):
            found = form
            break
        if "consent_current" in tables and _rows(
            con, "SELECT 1 FROM consent_current WHERE contact_point = ? LIMIT 1", [form]
        ):
            found = form
            break
    cp = found or forms[0]
    out: dict[str, Any] = {"query": query, "contact_point": cp, "known": found is not None}
    owner = (
        _rows(
            con,
            "SELECT o.party_id, o.contact_point_type, o.household_id, o.rule, p.party_type, p.country, p.region "
            "FROM contact_point_owner o LEFT JOIN parties p USING (party_id) WHERE o.contact_point = ?",
            [cp],
        )
        if {"contact_point_owner", "parties"} <= tables
        else []
    )
    out["owner"] = owner[0] if owner else None
    out["associated_parties"] = (
        [
            r["party_id"]
            for r in _rows(
                con,
                "SELECT DISTINCT party_id FROM party_contact_points WHERE contact_point = ? ORDER BY 1",
                [cp],
            )
        ]
        if "party_contact_points" in tables
        else []
    )
    perm_join = (
        "LEFT JOIN contact_permission p ON p.contact_point = c.contact_point AND p.channel = c.channel "
        "AND p.purpose = c.purpose AND p.brand = c.brand"
        if "contact_permission" in tables
        else ""
    )
    perm_cols = ", p.allowed, p.reason, p.decided_by, p.valid_until AS permission_valid_until" if perm_join else ""
    out["keys"] = (
        _rows(
            con,
            f"SELECT c.channel, c.purpose, c.brand, c.status, c.basis, c.event_ts, c.source, c.event_id {perm_cols} "
            f"FROM consent_current c {perm_join} WHERE c.contact_point = ? ORDER BY c.channel, c.purpose, c.brand",
            [cp],
        )
        if "consent_current" in tables
        else []
    )
    if "contact_permission" in tables:
        # Keys with a permission but no consent state (a template decided on its own).
        out["permissions_without_state"] = _rows(
            con,
            "SELECT p.channel, p.purpose, p.brand, p.allowed, p.reason, p.decided_by, p.valid_until "
            "FROM contact_permission p WHERE p.contact_point = ? AND NOT EXISTS (SELECT 1 FROM consent_current c "
            "WHERE c.contact_point = p.contact_point AND c.channel = p.channel AND c.purpose = p.purpose "
            "AND c.brand = p.brand) ORDER BY p.channel, p.purpose, p.brand",
            [cp],
        )
    out["events"] = (
        _rows(
            con,
            """
        SELECT f.event_id, f.event_ts, f.received_ts, f.source, f.source_file, f.source_record,
            e.channel AS scope_channel,
               e.purpose AS scope_purpose, e.brand AS scope_brand, f.status, f.basis, e.party_id,
               e.contact_point IS NULL AS party_level, e.event_ts_estimated,
               count(*) AS keys, count(*) FILTER (WHERE h.event_id IS NOT NULL) AS keys_decided,
               count(*) FILTER (WHERE c.event_id IS NOT NULL) AS keys_current
        FROM consent_effects f
        JOIN consent_events e ON e.event_id = f.event_id
        LEFT JOIN consent_history h ON h.event_id = f.event_id AND h.contact_point = f.contact_point
             AND h.channel = f.channel AND h.purpose = f.purpose AND h.brand = f.brand
        LEFT JOIN consent_current c ON c.event_id = f.event_id AND c.contact_point = f.contact_point
             AND c.channel = f.channel AND c.purpose = f.purpose AND c.brand = f.brand
        WHERE f.contact_point = ?
        GROUP BY ALL
        ORDER BY f.event_ts, f.event_id
        """,
            [cp],
        )
        if {"consent_effects", "consent_history"} <= tables
        else []
    )
    return out
