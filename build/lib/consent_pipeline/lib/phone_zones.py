"""The time zone of E.164 phone numbers, as phonenumbers' `time_zones_for_number` gives it (its first zone),
and their country (`region_code_for_number`, else the calling code's main country), decided over whole
columns.

The library looks a number up in about 45 µs, most of it deciding the number's type (fixed line, mobile,
...) from the numbering plan's patterns: 164,000 campaign phones took 13 s. Here the same patterns are
applied to whole columns, one numbering plan at a time, and the zone is then a longest-prefix lookup in the
library's own table. Anything that is not a plain E.164 number goes to the library. The result agrees with
the library number for number (tests/test_phone_zones.py).
"""

from __future__ import annotations

import phonenumbers
import polars as pl
from phonenumbers import REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata, PhoneNumberDesc, PhoneNumberType
from phonenumbers import timezone as phone_timezone
from phonenumbers.phonenumberutil import is_number_type_geographical
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

UNKNOWN_ZONE = "Etc/Unknown"
_E164 = r"^\+[1-9][0-9]{6,14}$"
_REGIONS = {str(cc): regions for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()}
# The order in which the library tries the types of a number (after its general pattern).
_SPECIAL_TYPES = [
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
]


def library_zone(phone: str) -> str | None:
    """One number through the library: its first time zone, or None when it has none."""
    try:
        zones = phone_timezone.time_zones_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return None
    return zones[0] if zones and zones[0] != UNKNOWN_ZONE else None


def _matches(desc: PhoneNumberDesc | None) -> pl.Expr:
    """The library's `_is_number_matching_desc` on the column `nsn`: a possible length, and a full match."""
    if desc is None or not desc.national_number_pattern:
        return pl.lit(False)
    match = pl.col("nsn").str.contains(f"^(?:{desc.national_number_pattern})$")
    lengths = [int(n) for n in desc.possible_length]
    if lengths:
        match = pl.col("nsn").str.len_chars().is_in(pl.Series(lengths, dtype=pl.UInt32).implode()) & match
    return match


def _number_type(meta: PhoneMetadata) -> pl.Expr:
    """The library's `_number_type_helper` as one expression over `nsn`."""
    fixed, mobile = _matches(meta.fixed_line), _matches(meta.mobile)
    same = bool(meta.same_mobile_and_fixed_line_pattern)
    expr = pl.when(~_matches(meta.general_desc)).then(pl.lit(PhoneNumberType.UNKNOWN))
    for attr, kind in _SPECIAL_TYPES:
        expr = expr.when(_matches(getattr(meta, attr))).then(pl.lit(kind))
    return (
        expr.when(fixed & (pl.lit(same) | mobile))
        .then(pl.lit(PhoneNumberType.FIXED_LINE_OR_MOBILE))
        .when(fixed)
        .then(pl.lit(PhoneNumberType.FIXED_LINE))
        .when(pl.lit(not same) & mobile)
        .then(pl.lit(PhoneNumberType.MOBILE))
        .otherwise(pl.lit(PhoneNumberType.UNKNOWN))
    )


def _metadata(cc: str, region: str) -> PhoneMetadata | None:
    if region == REGION_CODE_FOR_NON_GEO_ENTITY:
        return PhoneMetadata.metadata_for_nongeo_region(int(cc), None)
    return PhoneMetadata.metadata_for_region(region, None)


def _country_zone(cc: str) -> str:
    """The library's `_country_level_time_zones_for_number`, first zone."""
    for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        zones = TIMEZONE_DATA.get(cc[: 1 + length])
        if zones is not None:
            return zones[0]
    return UNKNOWN_ZONE


_FIRST_ZONES = {prefix: zones[0] for prefix, zones in TIMEZONE_DATA.items()}


def _national_prefixes() -> dict[str, list[str]]:
    """Per calling code, the national-prefix-for-parsing patterns of its regions."""
    out: dict[str, list[str]] = {}
    for cc, regions in _REGIONS.items():
        for region in regions:
            meta = _metadata(cc, region)
            pattern = getattr(meta, "national_prefix_for_parsing", None) if meta is not None else None
            if pattern:
                out.setdefault(cc, []).append(pattern)
    return out


_PREFIXES = _national_prefixes()


def _plan_regions(part: pl.DataFrame, cc: str) -> pl.DataFrame:
    """The numbers of one calling code the vectorised path decides, with column `region`: the library's
    `region_code_for_number` (null when no region of the code claims the number)."""
    regions = _REGIONS[cc]
    if cc in _PREFIXES:  # parsing strips a national prefix written after the calling code (+49 0301...):
        # such numbers, never produced by our normalisation, are left to the library
        prefix = "|".join(f"(?:{p})" for p in _PREFIXES[cc])
        part = part.filter(~pl.col("nsn").str.contains(f"^(?:{prefix})"))
    part = part.with_columns(pl.lit(None, pl.String).alias("region"))
    if len(regions) == 1:
        return part.with_columns(pl.lit(regions[0]).alias("region"))
    # the library's `_region_code_for_number_from_list`: the first region that claims the number
    for region in regions:
        meta = PhoneMetadata.metadata_for_region(region.upper(), None)
        if meta is None:
            continue
        claims = (
            pl.col("nsn").str.contains(f"^(?:{meta.leading_digits})")
            if meta.leading_digits is not None
            else _number_type(meta) != PhoneNumberType.UNKNOWN
        )
        part = part.with_columns(
            pl.when(pl.col("region").is_null() & claims).then(pl.lit(region)).otherwise("region").alias("region")
        )
    return part


def _plan_zones(part: pl.DataFrame, cc: str) -> pl.DataFrame:
    """(i, zone) for the numbers of one calling code: region, then type, then zone as the library does."""
    part = _plan_regions(part, cc)
    first_zones = {k: v for k, v in _FIRST_ZONES.items() if k.startswith(cc) or cc.startswith(k)}
    geo_prefix = pl.coalesce(
        [
            pl.col("digits").str.slice(0, n).replace_strict(first_zones, default=None, return_dtype=pl.String)
            for n in range(TIMEZONE_LONGEST_PREFIX, 0, -1)
        ]
    ).fill_null(pl.lit(UNKNOWN_ZONE))
    country = pl.lit(_country_zone(cc))
    geo_types = [
        t
        for t in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.MOBILE)
        if is_number_type_geographical(t, int(cc))
    ]
    # A number no region claims has no metadata: the library calls it UNKNOWN.
    out = [part.filter(pl.col("region").is_null()).select("i", pl.lit(UNKNOWN_ZONE).alias("zone"))]
    for region in part["region"].drop_nulls().unique().sort().to_list():
        meta = _metadata(cc, region)
        rows = part.filter(pl.col("region") == region)
        if meta is None:  # no metadata: the library calls the number UNKNOWN
            out.append(rows.select("i", pl.lit(UNKNOWN_ZONE).alias("zone")))
            continue
        kind = _number_type(meta)
        zone = (
            pl.when(kind == PhoneNumberType.UNKNOWN)
            .then(pl.lit(UNKNOWN_ZONE))
            .when(kind.is_in(geo_types))
            .then(geo_prefix)
            .otherwise(country)
        )
        out.append(rows.select("i", zone.alias("zone")))
    return pl.concat(out)


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """The plain E.164 numbers of `frame` (i, phone) with a known calling code: digits, cc, nsn."""
    plain = frame.filter(pl.col("phone").str.contains(_E164).fill_null(False)).with_columns(
        pl.col("phone").str.slice(1).alias("digits")
    )
    cc = (
        pl.when(pl.col("digits").str.slice(0, 1).is_in(list(_REGIONS)))
        .then(pl.col("digits").str.slice(0, 1))
        .when(pl.col("digits").str.slice(0, 2).is_in(list(_REGIONS)))
        .then(pl.col("digits").str.slice(0, 2))
        .when(pl.col("digits").str.slice(0, 3).is_in(list(_REGIONS)))
        .then(pl.col("digits").str.slice(0, 3))
    )
    plain = plain.with_columns(cc.alias("cc")).filter(pl.col("cc").is_not_null())
    return plain.with_columns(pl.col("digits").str.slice(pl.col("cc").str.len_chars()).alias("nsn"))


def library_country(phone: str) -> str | None:
    """One number through the library: the region that claims it, else its calling code's main country
    (a fictional or unallocated range is still that country's: +44 7700 900123 is GB); None for a
    non-geographic code (+800) or text that is not a number."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(
        number.country_code or 0
    )
    return None if region in (REGION_CODE_FOR_NON_GEO_ENTITY, phonenumbers.UNKNOWN_REGION) else region


_MAIN_COUNTRY = {cc: regions[0] for cc, regions in _REGIONS.items() if regions[0] != REGION_CODE_FOR_NON_GEO_ENTITY}


def phone_countries(phones: pl.Series) -> pl.Series:
    """Each number's country as `library_country` gives it, decided over whole columns (one numbering plan at
    a time, with the plans' own patterns); anything that is not plain E.164 goes to the library."""
    frame = pl.DataFrame({"phone": phones.cast(pl.String)}).with_row_index("i")
    plain = _plain(frame)
    decided = [
        _plan_regions(plain.filter(pl.col("cc") == code), code).select(
            "i",
            pl.coalesce(pl.col("region"), pl.lit(_MAIN_COUNTRY.get(code))).alias("country"),
            pl.lit(True).alias("decided"),
        )
        for code in plain["cc"].unique().sort().to_list()  # a loop over numbering plans
    ]
    found = (
        pl.concat(decided)
        if decided
        else pl.DataFrame(schema={"i": pl.UInt32, "country": pl.String, "decided": pl.Boolean})
    )
    out = frame.join(found, on="i", how="left").sort("i")
    rest = out.filter(pl.col("decided").is_null() & pl.col("phone").is_not_null())
    if rest.height:  # rare: the library, number by number
        slow = pl.DataFrame({"i": rest["i"], "slow": [library_country(p) for p in rest["phone"].to_list()]})
        out = out.join(slow, on="i", how="left").with_columns(pl.coalesce("country", "slow").alias("country"))
    return out["country"].replace(REGION_CODE_FOR_NON_GEO_ENTITY, None).alias(phones.name)


def phone_zones(phones: pl.Series) -> pl.Series:
    """Each number's first time zone as the library gives it, or null (no zone, or not a number)."""
    frame = pl.DataFrame({"phone": phones.cast(pl.String)}).with_row_index("i")
    plain = _plain(frame)
    decided = [
        _plan_zones(plain.filter(pl.col("cc") == code), code)
        for code in plain["cc"].unique().sort().to_list()  # a loop over numbering plans
    ]
    zones = pl.concat(decided) if decided else pl.DataFrame(schema={"i": pl.UInt32, "zone": pl.String})
    out = frame.join(zones, on="i", how="left").sort("i")
    # Anything else (not plain E.164, an unknown calling code): the library, number by number (rare).
    rest = out.filter(pl.col("zone").is_null() & pl.col("phone").is_not_null())
    if rest.height:
        fallback = pl.DataFrame(
            {"i": rest["i"], "slow": [library_zone(p) or UNKNOWN_ZONE for p in rest["phone"].to_list()]}
        )
        out = out.join(fallback, on="i", how="left").with_columns(pl.coalesce("zone", "slow").alias("zone"))
    return (
        out.select(pl.when(pl.col("zone") == UNKNOWN_ZONE).then(None).otherwise(pl.col("zone")).alias("zone"))
        .to_series()
        .alias(phones.name)
    )
