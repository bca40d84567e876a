"""Twilio message log, Console CSV export (feeds.md §5): `messages_*.csv`.

Only inbound messages carry consent; Twilio's outbound directions are skipped, any other direction is
quarantined. What a message decides: Advanced Opt-Out's `OptOutType` when the export has it and it is set
(Twilio's own decision, whatever the body and its language); otherwise a body that is exactly one keyword
(trimmed, any case, accents and trailing punctuation ignored: rules/mappings/twilio_sms.yaml) follows
Twilio's rules (opt-out, opt-in, help), and a longer body that plainly asks to stop (an opt-out keyword as a
word, or a revocation phrase) is an opt-out in the sender's own words. The decision applies to every
purpose the `To` number sends, for its brand, on the `From` phone; an accepted inbound message with a time
also proves that phone works.

Phone columns that went through a spreadsheet are read when their digits survived: `+1 (888) 555-0100`,
`18885550100` (the `+` lost: restored; for a `From`, only when the digits are a possible number that way and
not another one in the sender's country), `18885550100.0`, `1.8885550100E+10` (every digit kept); `1.88856E+10` has
lost some to scientific notation (`damaged_phone`). An opt-out whose `SentDate` is blank or no date at all goes to
the core without a time (estimated at the delivery's time); an opt-in without one is quarantined there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import TwilioMap
from consent_pipeline.lib.contact_points import normalise_phones, spreadsheet_digits
from source_connectors._common import (
    parse_files,
    reject_where,
    skip_records,
    text,
    with_lineage,
)
from source_connectors._time import rfc2822_or_iso
from source_connectors.readers import REC, read_csv

SOURCE = "twilio_sms"
KIND = "messages"  # its file patterns: rules/files.yaml
REQUIRED = ("From", "To", "Body", "SentDate", "Direction")
OPTIONAL = ("Sid", "OptOutType")
# The Message resource's `direction` values: only inbound messages are the customer's.
INBOUND = ("inbound",)
OUTBOUND = ("outbound-api", "outbound-call", "outbound-reply")
# Advanced Opt-Out's `OptOutType` -> the decision it stands for.
OPT_OUT_TYPES = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}
DECIDES = ("opt_out", "opt_in", "revocation")

# Phone text: digits and the usual separators, an optional leading +; a float's `.0` a spreadsheet added;
# scientific notation, which keeps only as many digits as it displays.
PHONE_TEXT = r"^\+?[0-9][0-9 ().\-/]*$"
FLOAT_TAIL = r"^(\+?[0-9]{7,})\.0+$"
SCIENTIFIC = r"^[+-]?[0-9]+(?:[.,][0-9]+)?[eE]\+?[0-9]+$"
# The shapes of the SentDate formats the feed uses (RFC 2822, ISO 8601): a text in one of them that names no
# real time (30 February, month 13) is a damaged record, not a missing time.
DATE_SHAPES = (
    r"^(?:[A-Za-z]{3},\s*)?[0-9]{1,2}\s+[A-Za-z]{3}\s+[0-9]{4}\s+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\s+[+-][0-9]{4}$",
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?$",
)

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, lambda path: read_csv(path, REQUIRED, OPTIONAL), _messages)


def keyword_form(expr: pl.Expr) -> pl.Expr:
    """A body as keywords are compared (config.rules.twilio_keyword_form, over a column): compatibility
    forms and accents dropped, a phone's curly apostrophe as `'`, lower case, trimmed, trailing punctuation
    ignored."""
    return (
        expr.str.replace_all("\u2019", "'", literal=True)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}+", "")
        .str.to_lowercase()
        .str.strip_chars()
        .str.replace(r"[\s\p{P}]+$", "")
    )


def _forms(words: Iterable[str]) -> list[str]:
    return pl.Series(list(words), dtype=pl.String).to_frame("w").select(keyword_form(pl.col("w")))["w"].to_list()


def _any_word(items: Iterable[str]) -> str:
    """A regex matching any of `items` as whole words (escaped: they are data)."""
    alternatives = []
    for item in dict.fromkeys(items):
        start = r"\b" if re.match(r"\w", item) else ""
        end = r"\b" if re.search(r"\w$", item) else ""
        alternatives.append(f"{start}{re.escape(item)}{end}")
    return "(?:" + "|".join(alternatives) + ")" if alternatives else "(?!)"


def _body_decision(m: TwilioMap) -> pl.Expr:
    """opt_out / opt_in / revocation / help per body, null when the body decides nothing."""
    body = keyword_form(text("Body"))
    opt_out, opt_in, help_ = (_forms(w) for w in (m.keywords.opt_out, m.keywords.opt_in, m.keywords.help))
    free_text = body.str.contains(_any_word([*opt_out, *_forms(m.free_text_revocation_phrases)]))
    return (
        pl.when(body.is_in(opt_out))
        .then(pl.lit("opt_out"))
        .when(body.is_in(opt_in))
        .then(pl.lit("opt_in"))
        .when(body.is_in(help_))
        .then(pl.lit("help"))
        .when(free_text)
        .then(pl.lit("revocation"))
        .otherwise(pl.lit(None, pl.String))
    )


def _senders(m: TwilioMap) -> pl.DataFrame:
    """One row per sender number and purpose it sends."""
    rows = [(number, s.brand, purpose) for number, s in m.senders.items() for purpose in s.purposes]
    return pl.DataFrame(rows, schema={"to": pl.String, "brand": pl.String, "purpose": pl.String}, orient="row")


def _sender_regions(m: TwilioMap) -> dict[str, str]:
    """Each sender number's country (one look-up per sender in the rules, not per record)."""
    out = {}
    for number in m.senders:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
        if region:
            out[number] = region
    return out


def _messages(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    m = rules.mapping(SOURCE)
    rows = _decisions(batch, rel, rows, m)
    rows = _checked(batch, rel, rows, m)
    base = with_lineage(rows, delivery, rel, text("Sid")).with_columns(
        pl.col("from").alias("cp_raw"),
        pl.lit("phone").alias("contact_point_type"),
        pl.lit(None, pl.String).alias("cp_region"),
    )
    batch.add("events", _events(base.join(_senders(m), on="to", how="inner", maintain_order="left")))
    # Proof the phone works needs the time it was shown: a message without one proves nothing datable.
    batch.add(
        "contact_evidence",
        base.filter(pl.col("ts").is_not_null()).select(
            *LINEAGE_COLS,
            "cp_raw",
            "contact_point_type",
            "cp_region",
            pl.lit("inbound_message").alias("kind"),
            pl.col("ts").alias("evidence_ts"),
        ),
    )


def _decisions(batch: Batch, rel: str, rows: pl.DataFrame, m: TwilioMap) -> pl.DataFrame:
    """The inbound messages that decide something; outbound ones and the rest are skipped."""
    rows = rows.with_columns(text("Direction").str.to_lowercase().alias("direction"))
    rows = reject_where(batch, rel, rows, pl.col("direction").is_null(), "missing_value", "Direction is empty")
    skip_records(batch, rel, rows.filter(pl.col("direction").is_in(OUTBOUND)), "outbound")
    rows = rows.filter(~pl.col("direction").is_in(OUTBOUND))
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("direction").is_in(INBOUND),
        "unknown_direction",
        pl.format("Direction: {}", pl.col("Direction")),
    )
    opt_type = text(pl.col("OptOutType") if "OptOutType" in rows.columns else pl.lit(None, pl.String))
    rows = rows.with_columns(
        opt_type.str.to_uppercase().alias("opt_type"), _body_decision(m).alias("body_decision")
    ).with_columns(
        pl.when(pl.col("opt_type").is_null())
        .then(pl.col("body_decision"))
        .otherwise(pl.col("opt_type").replace_strict(OPT_OUT_TYPES, default=None, return_dtype=pl.String))
        .alias("decision")
    )
    # An OptOutType Twilio does not define is an unreadable part: the body's opt-out still takes effect
    # (fail safe), never its opt-in; without an opt-out in the body the record is quarantined.
    unknown_type = pl.col("opt_type").is_not_null() & pl.col("decision").is_null()
    body_opts_out = pl.col("body_decision").is_in(["opt_out", "revocation"]).fill_null(False)
    reject_where(
        batch,
        rel,
        rows.filter(unknown_type),
        pl.lit(True),
        "bad_value",
        pl.format("OptOutType: {}", pl.col("OptOutType")),
    )
    rows = rows.filter(~unknown_type | body_opts_out).with_columns(
        pl.when(unknown_type).then(pl.col("body_decision")).otherwise(pl.col("decision")).alias("decision")
    )
    # HELP, INFO and chatter change nothing: skipped before anything else about them matters.
    decides = pl.col("decision").is_in(DECIDES).fill_null(False)
    skip_records(batch, rel, rows.filter(~decides), "no_decision")
    return rows.filter(decides)


def _phone_parts(col: str) -> list[pl.Expr]:
    """`<col>_text` (trimmed, a float's `.0` dropped), `<col>_damaged` (scientific notation), `<col>_shaped`
    (digits and separators only), `<col>_plus` (written with its +) and `<col>_e164` (+ and the digits)."""
    # Scientific notation that kept every digit is read back (lib.contact_points); what stays in it lost some.
    t = spreadsheet_digits(text(col)).str.replace(FLOAT_TAIL, "${1}")
    return [
        t.alias(f"{col}_text"),
        t.str.contains(SCIENTIFIC).fill_null(False).alias(f"{col}_damaged"),
        t.str.contains(PHONE_TEXT).fill_null(False).alias(f"{col}_shaped"),
        t.str.starts_with("+").fill_null(False).alias(f"{col}_plus"),
        pl.concat_str(pl.lit("+"), t.str.replace_all(r"[^0-9]", "")).alias(f"{col}_e164"),
    ]


def _damaged(col: str) -> pl.Expr:
    return pl.format(col + ": {} (its digits were lost to scientific notation)", pl.col(col))


def _checked(batch: Batch, rel: str, rows: pl.DataFrame, m: TwilioMap) -> pl.DataFrame:
    """A known sender number (`to`), a From phone (`from`) and the SentDate (`ts`, null when it could not
    be read), or rejected."""
    rows = rows.with_columns(*_phone_parts("To"), *_phone_parts("From"))
    rows = reject_where(batch, rel, rows, pl.col("To_damaged"), "damaged_phone", _damaged("To"))
    # The + a spreadsheet dropped is restored: a sender is always a full international number.
    rows = rows.with_columns(
        pl.when(pl.col("To_shaped")).then(pl.col("To_e164")).otherwise(pl.col("To_text")).alias("to")
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("to").is_in(list(m.senders)).fill_null(False),
        "unmapped_sender",
        pl.format("To: {}", pl.col("To").fill_null("")),
    )
    rows = reject_where(batch, rel, rows, pl.col("From_text").is_null(), "missing_value", "From is empty")
    rows = reject_where(batch, rel, rows, pl.col("From_damaged"), "damaged_phone", _damaged("From"))
    rows = _from_phone(batch, rel, rows, m)
    rows = rows.with_columns(rfc2822_or_iso(pl.col("SentDate")).alias("ts"), text("SentDate").alias("_sent"))
    shaped = pl.any_horizontal([pl.col("_sent").str.contains(s) for s in DATE_SHAPES]).fill_null(False)
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null() & shaped,
        "bad_timestamp",
        pl.format("SentDate: {} (no such date)", pl.col("_sent")),
    )
    return rows.with_columns(
        pl.when(pl.col("ts").is_not_null())
        .then(None)
        .when(pl.col("_sent").is_null())
        .then(pl.lit("SentDate is empty"))
        .otherwise(pl.format("SentDate: {}", pl.col("_sent")))
        .alias("time_detail")
    )


def _from_phone(batch: Batch, rel: str, rows: pl.DataFrame, m: TwilioMap) -> pl.DataFrame:
    """The From as the core should read it (`from`). Twilio writes E.164, so a From that lost its `+` is
    read as E.164 digits, when that is a possible number, unless the same digits are another possible
    number in the sender's own country (`4155550123` to a US sender: a national number, not +41): then the
    record cannot say whose phone it is (`damaged_phone`). Any other text goes to the core as it is."""
    bare = pl.col("From_shaped") & ~pl.col("From_plus")
    candidates = rows.filter(bare)
    if candidates.height == 0:
        return rows.with_columns(pl.col("From_text").alias("from"))
    regions = _sender_regions(m)
    as_e164 = normalise_phones(candidates["From_e164"])["value"]
    national = normalise_phones(
        candidates["From_e164"].str.slice(1),
        candidates["to"].replace_strict(regions, default=None, return_dtype=pl.String),
    )["value"]
    read = candidates.select(REC, as_e164.alias("_e164"), national.alias("_national"))
    rows = rows.join(read, on=REC, how="left", maintain_order="left")
    rows = reject_where(
        batch,
        rel,
        rows,
        bare & pl.col("_e164").is_null(),
        "invalid_phone",
        pl.format("From: {} (no +, and not a possible number with one)", pl.col("From")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        bare & pl.col("_national").is_not_null() & (pl.col("_national") != pl.col("_e164")),
        "damaged_phone",
        pl.format(
            "From: {} (no +: {} or, in the sender's country, {})",
            pl.col("From"),
            pl.col("_e164"),
            pl.col("_national"),
        ),
    )
    return rows.with_columns(pl.when(bare).then(pl.col("_e164")).otherwise(pl.col("From_text")).alias("from")).drop(
        "_e164", "_national"
    )


def _events(rows: pl.DataFrame) -> pl.DataFrame:
    revocation = pl.col("decision") == "revocation"
    return rows.select(
        *LINEAGE_COLS,
        "cp_raw",
        "contact_point_type",
        "cp_region",
        pl.lit("sms").alias("channel"),
        "purpose",
        "brand",
        pl.when(revocation).then(pl.lit("opt_out")).otherwise(pl.col("decision")).alias("status"),
        pl.when(revocation).then(pl.lit("revocation_free_text")).otherwise(pl.lit("express")).alias("basis"),
        pl.col("ts").alias("event_ts"),
        "time_detail",
        pl.lit(False).alias("double_opt_in"),
    )
