"""Legacy billing system flags (feeds.md §10): `LEGACY_FLAGS_*.DAT`, fixed width, CRLF, then a trailer.

Each `DTL` record names a customer (`customer_id`, columns 14-23) and carries five Y/N flags set on the
flag date (`DDMMYYYY`, day precision: 00:00 UTC) for the brand of its brand code. Every event is
party-level (the legacy system knows customers, not contact points), basis `legacy_flag`:

- NO_EMAIL=Y: opt-out of every purpose (`*`) by email; NO_PHONE=Y: the same by sms and voice;
  NO_MAIL=Y: the same by mail and door; DPA_NO_MARKETING=Y: opt-out of `marketing` on every channel;
  DPA_NO_FOLLOWUP=Y: opt-out of `marketing.service_reminders` on every channel.
- No flag set: the `legacy.no_flags` policy (rules/policies.yaml): `legitimate_interest` is an opt-in of
  `marketing` on every channel with basis `legitimate_interest`; `no_consent` skips the record
  (`no_flags`). Never a review.

The trailer (`TRL` + the count of DTL records, zero-padded to 10) is a skipped record (`trailer`). A
missing trailer, more than one, one that is not the last record, or a count that differs from the DTL
records read rejects every record of the file, the trailer included (`trailer_mismatch`): half a legacy
file is worse than none. Blank lines are skipped (`blank_line`) and play no part in the trailer check.
In a file whose trailer holds, a record of another type, too short or with characters past column 39,
or a flag other than Y/N is a `bad_record`; a blank customer id is `missing_value` (no subject), an
unknown brand code `unmapped_brand`, an impossible flag date `bad_timestamp`: each rejects that record
alone.

The flags' scopes, the brand codes and the no-flags policy come from rules/ (mappings/legacy.yaml,
policies.yaml).
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from source_connectors._common import (
    all_records_rejected,
    each_file,
    kinds_of,
    reject_where,
    skip_records,
    text,
    unexpected_files,
    with_lineage,
)
from source_connectors._time import ddmmyyyy
from source_connectors.readers import REC, Records, read_lines

SOURCE = "legacy"
KIND = "flags"  # its file patterns: rules/files.yaml
DETAIL, TRAILER = "DTL", "TRL"
WIDTH = 39  # the DTL layout ends with the brand code in columns 37-39
TRAILER_PATTERN = r"^TRL(\d{10}) *$"

# The DTL layout (feeds.md §10): field -> (0-based start, length).
FIELDS: dict[str, tuple[int, int]] = {
    "account_no": (3, 10),
    "customer_id": (13, 10),
    "NO_EMAIL": (23, 1),
    "NO_PHONE": (24, 1),
    "NO_MAIL": (25, 1),
    "DPA_NO_MARKETING": (26, 1),
    "DPA_NO_FOLLOWUP": (27, 1),
    "flag_date": (28, 8),
    "brand_code": (36, 3),
}
# The flag columns; what each opts out of is in rules/mappings/legacy.yaml (`flags`).
FLAGS = ("NO_EMAIL", "NO_PHONE", "NO_MAIL", "DPA_NO_MARKETING", "DPA_NO_FOLLOWUP")
YES, NO = "Y", "N"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    batch = Batch(SOURCE)
    files = kinds_of(delivery, rules, SOURCE, [KIND])[KIND]
    unexpected_files(batch, delivery, files)
    each_file(
        batch, delivery, files, read_lines, lambda part, rel, records: _records(part, delivery, rel, records, rules)
    )
    return batch


def _records(batch: Batch, delivery: Delivery, rel: str, records: Records, rules: Rules) -> None:
    rows = records.frame.with_columns(pl.col("line").str.slice(0, 3).alias("record_type"))
    problem = _trailer_problem(rows)
    if problem is not None:
        all_records_rejected(batch, rel, records, "trailer_mismatch", problem)
        return
    skip_records(batch, rel, rows.filter(pl.col("record_type") == TRAILER), "trailer")
    rows = rows.filter(pl.col("record_type") != TRAILER)
    if rows.height:
        _details(batch, delivery, rel, rows, rules)


def _trailer_problem(rows: pl.DataFrame) -> str | None:
    """Why the file's trailer does not vouch for it, or None when it does."""
    if rows.height == 0:
        return None  # an empty file: nothing to vouch for
    trailers = rows.filter(pl.col("record_type") == TRAILER)
    details = rows.filter(pl.col("record_type") == DETAIL).height
    if trailers.height == 0:
        return f"no trailer record ({details} DTL records read)"
    if trailers.height > 1:
        return f"{trailers.height} trailer records"
    if trailers[REC][0] != rows[REC].max():
        return f"the trailer is record {trailers[REC][0]}, not the last record"
    count = trailers.select(pl.col("line").str.extract(TRAILER_PATTERN, 1).cast(pl.Int64, strict=False))
    stated = count.item()
    if stated is None:
        return f"unreadable trailer: {trailers['line'][0]!r}"
    if stated != details:
        return f"trailer count {stated}, DTL records read {details}"
    return None


def _details(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("record_type") != DETAIL,
        "bad_record",
        pl.format("record type: {}", pl.col("record_type")),
    )
    length = pl.col("line").str.len_chars()
    rows = reject_where(
        batch,
        rel,
        rows,
        length < WIDTH,
        "bad_record",
        pl.format(f"{{}} characters, a DTL record has {WIDTH}", length),
    )
    # Spaces past the last column are padding; anything else means the columns are not where they should be.
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("line").str.slice(WIDTH).str.strip_chars(" ") != "",
        "bad_record",
        pl.format(f"characters after column {WIDTH}: {{}}", pl.col("line").str.slice(WIDTH)),
    )
    rows = rows.with_columns(
        pl.col("line").str.slice(start, size).alias(name) for name, (start, size) in FIELDS.items()
    )
    for flag in FLAGS:
        rows = reject_where(
            batch,
            rel,
            rows,
            ~pl.col(flag).is_in([YES, NO]),
            "bad_record",
            pl.format(f"{flag}: '{{}}'", pl.col(flag)),
        )
    rows = rows.with_columns(
        text("customer_id").alias("party_id"),
        pl.col("brand_code").replace_strict(rules.mapping(SOURCE).brand_codes, default=None).alias("brand"),
        ddmmyyyy(pl.col("flag_date")).alias("event_ts"),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("party_id").is_null(),
        "missing_value",
        "customer_id (columns 14-23) is blank",
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("brand").is_null(),
        "unmapped_brand",
        pl.format("brand code: '{}'", pl.col("brand_code")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("event_ts").is_null(),
        "bad_timestamp",
        pl.format("flag date: '{}'", pl.col("flag_date")),
    )
    base = with_lineage(rows, delivery, rel, pl.col("account_no").str.strip_chars())
    m = rules.mapping(SOURCE)
    scopes = {flag: [(x.channel, x.purpose) for x in opts_out] for flag, opts_out in m.flags.by_flag().items()}
    events = [_flag_events(base, flag, scopes[flag], rules) for flag in FLAGS]
    no_flag = ~pl.any_horizontal(pl.col(flag) == YES for flag in FLAGS)
    if rules.policies.legacy.no_flags == "legitimate_interest":
        channel, purpose = m.no_flags_scope.channel, m.no_flags_scope.purpose
        events.append(_events(base.filter(no_flag), channel, purpose, "opt_in", "legitimate_interest", rules))
    else:  # no_consent: a record without flags says nothing
        skip_records(batch, rel, base.filter(no_flag), "no_flags")
    for frame in events:
        batch.add("events", frame)


def _flag_events(base: pl.DataFrame, flag: str, scopes: list[tuple[str, str]], rules: Rules) -> pl.DataFrame:
    flagged = base.filter(pl.col(flag) == YES)
    return pl.concat(
        [_events(flagged, channel, purpose, "opt_out", "legacy_flag", rules) for channel, purpose in scopes]
    )


def _events(rows: pl.DataFrame, channel: str, purpose: str, status: str, basis: str, rules: Rules) -> pl.DataFrame:
    """Party-level events of one scope; the contact-point type is the channel's when the channel names one."""
    return rows.select(
        *LINEAGE_COLS,
        "party_id",
        pl.lit(None, pl.String).alias("cp_raw"),
        pl.lit(rules.channel_type.get(channel), pl.String).alias("contact_point_type"),
        pl.lit(channel).alias("channel"),
        pl.lit(purpose).alias("purpose"),
        "brand",
        pl.lit(status).alias("status"),
        pl.lit(basis).alias("basis"),
        "event_ts",
        pl.lit(False).alias("double_opt_in"),
    )
