"""The one place contact points are normalised (semantics §2).

Emails: trimmed, lower-cased, syntax-checked (no deliverability lookup); an internationalised domain is
kept in its Unicode form whichever way it was written (`user@xn--bcher-kva.de` is `user@bücher.de`), NFC,
so that one mailbox is one contact point, one SHA-256 and one prospect id (docs/decisions.md). Phones:
E.164, parsed with the record's country as the default region, accepted when `phonenumbers` finds them
*possible*; text with a letter in it (`07700 900ABC`, `ext. 12`) or an extension is `invalid_phone`, never
read as a vanity number, and a spreadsheet's scientific notation is `damaged_phone` unless every digit is
still there (`1.8885550100E+10`). Postal
addresses: `LINE1, CITY, POSTCODE, CC` in upper case, runs of white space as one space, the postcode
without spaces.

Each function takes a column of raw values and works on the distinct values only: the common shapes
take a vectorised path and the libraries decide the rest. It returns, per input row, the normalised
value (null when invalid) and a reason for the invalid ones.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import NamedTuple

import phonenumbers
import polars as pl
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

POSTAL_SEPARATOR = "\x1f"

# Plain ASCII addresses the library would accept too: dot-atoms, LDH labels, an alphabetic TLD.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SIMPLE_EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[a-z]{{2,63}}$"
_SPECIAL_TLDS = "|".join(sorted(SPECIAL_USE_DOMAIN_NAMES))
# An IDNA A-label (`xn--...`): the library decodes it to the Unicode form, so it never takes the fast path.
_A_LABEL = r"[@.]xn--"


def _email_slow(value: str) -> str | None:
    """The library's normalised form (domain in Unicode, IDNA-mapped; local part NFC), lower-cased, NFC."""
    try:
        normalized = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    return unicodedata.normalize("NFC", normalized.lower())


def _email_fast(clean: pl.Expr) -> pl.Expr:
    """The trimmed, lower-cased addresses that are their own normal form (plain ASCII the library would
    accept as it is); anything else (Unicode, an `xn--` label, an unusual shape) goes to the library."""
    return (
        clean.str.contains(_SIMPLE_EMAIL)
        & (clean.str.len_bytes() <= 254)
        & (clean.str.split("@").list.first().str.len_bytes() <= 64)
        & ~clean.str.contains(rf"\.(?:{_SPECIAL_TLDS})$")
        & ~clean.str.contains(_A_LABEL)
    ).fill_null(False)


def normalise_emails(raw: pl.Series) -> pl.DataFrame:
    """Columns `value` (normalised email or null) and `reason` (`invalid_email` or null), per row of raw."""
    frame = pl.DataFrame({"raw": raw.cast(pl.String)})
    distinct = frame.select(pl.col("raw").unique()).with_columns(
        pl.col("raw").str.strip_chars().str.to_lowercase().alias("clean")
    )
    distinct = distinct.with_columns(_email_fast(pl.col("clean")).alias("fast"))
    slow = distinct.filter(~pl.col("fast") & pl.col("clean").is_not_null() & (pl.col("clean") != ""))
    slow_values = {v: _email_slow(v) for v in slow["clean"].unique().to_list()}
    lookup = distinct.with_columns(
        pl.when(pl.col("fast"))
        .then(pl.col("clean"))
        .otherwise(pl.col("clean").replace_strict(slow_values, default=None, return_dtype=pl.String))
        .alias("value")
    )
    out = frame.join(lookup.select("raw", "value"), on="raw", how="left", nulls_equal=True, maintain_order="left")
    return out.select(
        "value",
        pl.when(pl.col("raw").str.strip_chars().fill_null("") != "")
        .then(pl.when(pl.col("value").is_null()).then(pl.lit("invalid_email")))
        .alias("reason"),
    )


# A letter anywhere (`07700 900ABC`, `ext. 12`, a full-width letter): the library would read vanity letters
# as digits (`+447700900222`), a contact point nobody gave us.
_LETTER = r"\p{L}"
# What a spreadsheet makes of a long number (`1.8885550100E+10`, `4,47700900123e11`).
_SCIENTIFIC = r"^[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+$"
_SCIENTIFIC_PARTS = r"^(?P<whole>[0-9]+)(?:[.,](?P<decimals>[0-9]*))?[eE]\+?(?P<exp>[0-9]+)$"


def spreadsheet_digits(text: pl.Expr) -> pl.Expr:
    """A number a spreadsheet wrote in scientific notation, as its digits when every digit is still there
    (as many decimals as the exponent: `1.8885550100E+10` is `18885550100`); any other text unchanged. One
    with digits lost (`1.88856E+10`) stays as it is and is `damaged_phone`."""
    parts = text.str.strip_chars().str.extract_groups(_SCIENTIFIC_PARTS)
    decimals = parts.struct.field("decimals").fill_null("")
    exact = decimals.str.len_chars().cast(pl.Int64) == parts.struct.field("exp").cast(pl.Int64, strict=False)
    return pl.when(exact.fill_null(False)).then(pl.concat_str([parts.struct.field("whole"), decimals])).otherwise(text)


def spreadsheet_damaged(text: pl.Expr) -> pl.Expr:
    """Scientific notation left in a phone field (after `spreadsheet_digits`: its digits are lost)."""
    return text.str.strip_chars().str.contains(_SCIENTIFIC).fill_null(False)


def _phone_slow(value: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(value, region if region else None)
    except phonenumbers.NumberParseException:
        return None
    # E.164 has no extension: a switchboard line with `#12` is not the person's number (docs/decisions.md)
    if number.extension or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Phone text the vectorised path reads: digits and the usual separators, an optional leading +.
_PHONE_SHAPE = r"^\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*$"
_CODES = {str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


class _Plan(NamedTuple):
    """What the vectorised path needs of a region's numbering plan."""

    cc: str
    np: str
    npfp: str
    lengths: list[int]
    pattern: str


def _metadata(region: str) -> _Plan | None:
    """A region's numbering plan for the vectorised path, or None when it should not try."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = meta.general_desc if meta is not None else None
    if meta is None or general is None or meta.national_prefix_transform_rule or not general.possible_length:
        return None
    return _Plan(
        cc=str(meta.country_code),
        np=meta.national_prefix or "",
        npfp=meta.national_prefix_for_parsing or "",
        lengths=[int(n) for n in general.possible_length],
        pattern=general.national_number_pattern or "",
    )


def _phones_fast(distinct: pl.DataFrame) -> pl.Series:
    """E.164 for the common shapes, decided with the numbering plan's own patterns over whole columns; null
    where the library must decide (anything unusual: letters, extensions, a national prefix after +, a
    number that does not fit the plan). It agrees with `_phone_slow` wherever it decides (tested)."""
    frame = distinct.with_row_index("i").with_columns(
        pl.col("clean").str.contains(_PHONE_SHAPE).fill_null(False).alias("shape"),
        pl.col("clean").str.starts_with("+").fill_null(False).alias("plus"),
        pl.col("clean").str.replace_all(r"\D", "").alias("digits"),
    )
    codes = pl.Series(sorted(_CODES)).implode()
    cc_intl = (
        pl.when(pl.col("digits").str.slice(0, 1).is_in(codes))
        .then(pl.col("digits").str.slice(0, 1))
        .when(pl.col("digits").str.slice(0, 2).is_in(codes))
        .then(pl.col("digits").str.slice(0, 2))
        .when(pl.col("digits").str.slice(0, 3).is_in(codes))
        .then(pl.col("digits").str.slice(0, 3))
    )
    main_region = {str(cc): regions[0] for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()}
    frame = frame.filter(pl.col("shape")).with_columns(
        pl.when(pl.col("plus"))
        .then(cc_intl.replace_strict(main_region, default=None, return_dtype=pl.String))
        .otherwise(pl.col("region"))
        .alias("plan")
    )
    out = pl.Series("value", [None] * distinct.height, dtype=pl.String)
    for plan in frame["plan"].drop_nulls().unique().sort().to_list():  # a loop over numbering plans
        meta = _metadata(plan)
        if meta is None:
            continue
        cc, np_, npfp = meta.cc, meta.np, meta.npfp
        part = frame.filter(pl.col("plan") == plan).with_columns(
            pl.when(pl.col("plus")).then(pl.col("digits").str.slice(len(cc))).otherwise(pl.col("digits")).alias("natl")
        )
        prefix = pl.col("natl").str.extract(f"^({npfp})", 0) if npfp else pl.lit(None, pl.String)
        part = part.with_columns(prefix.fill_null("").alias("prefix"))
        nsn = (
            pl.when(pl.col("prefix") == "")
            .then(pl.col("natl"))
            # a national prefix is stripped only in national form, and only when it is the plain prefix
            .when(~pl.col("plus") & (pl.col("prefix") == np_) & (np_ != ""))
            .then(pl.col("natl").str.slice(len(np_)))
        )
        part = part.with_columns(nsn.alias("nsn")).with_columns(
            pl.when(
                pl.col("nsn").str.len_chars().is_in(pl.Series(meta.lengths, dtype=pl.UInt32).implode())
                & pl.col("nsn").str.contains(f"^(?:{meta.pattern})$")
            )
            .then(pl.concat_str([pl.lit("+" + cc), pl.col("nsn")]))
            .alias("value")
        )
        hit = part.filter(pl.col("value").is_not_null())
        out = out.scatter(hit["i"], hit["value"])
    return out


def normalise_phones(raw: pl.Series, region: pl.Series | None = None) -> pl.DataFrame:
    """Columns `value` (E.164 or null) and `reason` (`invalid_phone`, `damaged_phone` or null), per row of raw.

    `region` is the ISO country used for numbers written in national format. Text with a letter in it or
    an extension is `invalid_phone`; scientific notation that lost digits is `damaged_phone`.
    """
    n = raw.len()
    region = region if region is not None else pl.Series([None] * n, dtype=pl.String)
    frame = pl.DataFrame(
        {"raw": raw.cast(pl.String), "region": region.cast(pl.String).str.strip_chars().str.to_uppercase()}
    ).with_columns(pl.col("raw").str.strip_chars().alias("clean"))
    distinct = frame.select("clean", "region").unique().filter(pl.col("clean").is_not_null() & (pl.col("clean") != ""))
    # Scientific notation only where there is an `E` (the regular expressions cost time on every value).
    has_e = distinct["clean"].str.contains("[eE]")
    distinct = pl.concat(
        [
            distinct.filter(~has_e).with_columns(pl.col("clean").alias("text")),
            distinct.filter(has_e).with_columns(spreadsheet_digits(pl.col("clean")).alias("text")),
        ]
    ).with_columns(
        pl.when(pl.col("text").str.contains(_LETTER))
        .then(
            pl.when(pl.col("text").str.contains(_SCIENTIFIC))
            .then(pl.lit("damaged_phone"))
            .otherwise(pl.lit("invalid_phone"))
        )
        .alias("refused")
    )
    # Refused text never reaches either path (the library would map its letters to digits).
    readable = distinct.filter(pl.col("refused").is_null())
    parse = readable.select(pl.col("text").alias("clean"), "region")
    fast = _phones_fast(parse)
    # The library decides the rest (distinct values only).
    todo = fast.is_null().arg_true()
    if todo.len():
        slow = [
            _phone_slow(v, r)
            for v, r in zip(parse["clean"].gather(todo).to_list(), parse["region"].gather(todo).to_list(), strict=True)
        ]
        fast = fast.scatter(todo, pl.Series(slow, dtype=pl.String))
    lookup = pl.concat(
        [
            readable.select("clean", "region", fast.alias("value"), "refused"),
            distinct.filter(pl.col("refused").is_not_null()).select(
                "clean", "region", pl.lit(None, pl.String).alias("value"), "refused"
            ),
        ]
    )
    out = frame.join(lookup, on=["clean", "region"], how="left", nulls_equal=True, maintain_order="left")
    return out.select(
        "value",
        pl.when(pl.col("clean").fill_null("") != "")
        .then(pl.when(pl.col("value").is_null()).then(pl.coalesce("refused", pl.lit("invalid_phone"))))
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
