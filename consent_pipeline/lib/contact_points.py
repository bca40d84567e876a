"""The one place contact points are normalised (semantics §2).

Emails: trimmed, lower-cased, syntax-checked (no deliverability lookup). Phones: E.164, parsed with the
record's country as the default region, accepted when `phonenumbers` finds them *possible*. Postal
addresses: `LINE1, CITY, POSTCODE, CC` in upper case, runs of white space as one space, the postcode
without spaces.

Each function takes a column of raw values and works on the distinct values only: the common shapes
take a vectorised path and the libraries decide the rest. It returns, per input row, the normalised
value (null when invalid) and a reason for the invalid ones.
"""

from __future__ import annotations

import hashlib

import phonenumbers
import polars as pl
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

POSTAL_SEPARATOR = "\x1f"

# Plain ASCII addresses the library would accept too: dot-atoms, LDH labels, an alphabetic TLD.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SIMPLE_EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}$"
_SPECIAL_TLDS = "|".join(sorted(SPECIAL_USE_DOMAIN_NAMES))


def _email_slow(value: str) -> str | None:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def normalise_emails(raw: pl.Series) -> pl.DataFrame:
    """Columns `value` (normalised email or null) and `reason` (`invalid_email` or null), per row of raw."""
    frame = pl.DataFrame({"raw": raw.cast(pl.String)})
    distinct = frame.select(pl.col("raw").unique()).with_columns(
        pl.col("raw").str.strip_chars().str.to_lowercase().alias("clean")
    )
    fast_ok = (
        pl.col("clean").str.contains(_SIMPLE_EMAIL)
        & (pl.col("clean").str.len_bytes() <= 254)
        & (pl.col("clean").str.split("@").list.first().str.len_bytes() <= 64)
        & ~pl.col("clean").str.contains(rf"\.(?:{_SPECIAL_TLDS})$")
    )
    distinct = distinct.with_columns(fast_ok.fill_null(False).alias("fast"))
    slow = distinct.filter(~pl.col("fast") & pl.col("clean").is_not_null() & (pl.col("clean") != ""))
    slow_values = {v: _email_slow(v) for v in slow["clean"].to_list()}
    lookup = distinct.with_columns(
        pl.when(pl.col("fast"))
        .then(pl.col("clean"))
        .otherwise(pl.col("clean").replace_strict(slow_values, default=None, return_dtype=pl.String))
        .alias("value")
    )
    out = frame.join(
        lookup.select("raw", "value"), on="raw", how="left", nulls_equal=True, maintain_order="left"
    )
    return out.select(
        "value",
        pl.when(pl.col("raw").str.strip_chars().fill_null("") != "")
        .then(pl.when(pl.col("value").is_null()).then(pl.lit("invalid_email")))
        .alias("reason"),
    )


def _phone_slow(value: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(value, region if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phones(raw: pl.Series, region: pl.Series | None = None) -> pl.DataFrame:
    """Columns `value` (E.164 or null) and `reason` (`invalid_phone` or null), per row of raw.

    `region` is the ISO country used for numbers written in national format.
    """
    n = raw.len()
    region = region if region is not None else pl.Series([None] * n, dtype=pl.String)
    frame = pl.DataFrame(
        {"raw": raw.cast(pl.String), "region": region.cast(pl.String).str.strip_chars().str.to_uppercase()}
    ).with_columns(pl.col("raw").str.strip_chars().alias("clean"))
    distinct = (
        frame.select("clean", "region")
        .unique()
        .filter(pl.col("clean").is_not_null() & (pl.col("clean") != ""))
    )
    values = [
        _phone_slow(v, r)
        for v, r in zip(distinct["clean"].to_list(), distinct["region"].to_list(), strict=True)
    ]
    lookup = distinct.with_columns(pl.Series("value", values, dtype=pl.String))
    out = frame.join(lookup, on=["clean", "region"], how="left", nulls_equal=True, maintain_order="left")
    return out.select(
        "value",
        pl.when(pl.col("clean").fill_null("") != "")
        .then(pl.when(pl.col("value").is_null()).then(pl.lit("invalid_phone")))
        .alias("reason"),
    )


def postal_raw(line1: pl.Expr, city: pl.Expr, postcode: pl.Expr, country: pl.Expr) -> pl.Expr:
    """The raw form connectors hand over: the four parts joined by a unit separator."""
    return pl.concat_str(
        [line1.fill_null(""), city.fill_null(""), postcode.fill_null(""), country.fill_null("")],
        separator=POSTAL_SEPARATOR,
    )


def normalise_postal(raw: pl.Series) -> pl.DataFrame:
    """`LINE1, CITY, POSTCODE, CC`: upper case, white space collapsed, postcode without spaces.

    No parts at all is no address (null, no reason); a street line without a city or postcode, or a
    city/postcode without a street line, is `invalid_address`.
    """
    parts = (
        raw.cast(pl.String)
        .str.split_exact(POSTAL_SEPARATOR, 3)
        .struct.rename_fields(["line1", "city", "postcode", "cc"])
    )
    frame = pl.DataFrame({"p": parts}).unnest("p")

    def clean(col: str) -> pl.Expr:
        return pl.col(col).fill_null("").str.to_uppercase().str.replace_all(r"\s+", " ").str.strip_chars()

    frame = frame.select(
        clean("line1").alias("line1"),
        clean("city").alias("city"),
        clean("postcode").str.replace_all(" ", "").alias("postcode"),
        clean("cc").alias("cc"),
    )
    has_any = (pl.col("line1") != "") | (pl.col("city") != "") | (pl.col("postcode") != "")
    ok = (pl.col("line1") != "") & ((pl.col("city") != "") | (pl.col("postcode") != ""))
    joined = pl.concat_str(
        [pl.when(pl.col(c) != "").then(pl.col(c)) for c in ("line1", "city", "postcode", "cc")],
        separator=", ",
        ignore_nulls=True,
    )
    return frame.select(
        pl.when(ok).then(joined).alias("value"),
        pl.when(has_any & ~ok).then(pl.lit("invalid_address")).alias("reason"),
    )


def sha256_hex(value: str) -> str:
    """The SHA-256 (hex) of a normalised contact point: what an erased contact point is kept as."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def prospect_id(contact_point: str) -> str:
    """A prospect party's id: `P-` and the first 16 hex digits of the SHA-256 of its contact point."""
    return "P-" + sha256_hex(contact_point)[:16]
