"""Twilio message log, Console CSV export (feeds.md §5): `messages_*.csv`.

Only inbound messages carry consent. A body that is exactly one keyword follows Twilio's rules (opt-out,
opt-in, help); a longer body that plainly asks to stop (an opt-out keyword as a word, or a revocation
phrase) is an opt-out in the sender's own words. The decision applies to every purpose the `To` number
sends, for its brand, on the `From` phone; an accepted inbound message also proves that phone works.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import TwilioMap
from consent_pipeline.lib.contact_points import spreadsheet_damaged, spreadsheet_digits
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
OPTIONAL = ("Sid",)
INBOUND = "inbound"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, lambda path: read_csv(path, REQUIRED, OPTIONAL), _messages)


def _any_word(items: Iterable[str]) -> str:
    """A case-insensitive regex matching any of `items` as whole words (escaped: they are data)."""
    alternatives = []
    for item in items:
        start = r"\b" if re.match(r"\w", item) else ""
        end = r"\b" if re.search(r"\w$", item) else ""
        alternatives.append(f"{start}{re.escape(item.lower())}{end}")
    return "(?i)(?:" + "|".join(alternatives) + ")" if alternatives else "(?!)"


def _decision(m: TwilioMap) -> pl.Expr:
    """opt_out / opt_in / revocation / help per body, null when the body decides nothing."""
    # Phones type a curly apostrophe ("don’t text").
    body = text("Body").str.replace_all("\u2019", "'", literal=True).str.to_lowercase()

    def exactly(words: list[str]) -> pl.Expr:
        return body.is_in([w.strip().lower() for w in words])

    free_text = body.str.contains(_any_word([*m.keywords.opt_out, *m.free_text_revocation_phrases]))
    return (
        pl.when(exactly(m.keywords.opt_out))
        .then(pl.lit("opt_out"))
        .when(exactly(m.keywords.opt_in))
        .then(pl.lit("opt_in"))
        .when(exactly(m.keywords.help))
        .then(pl.lit("help"))
        .when(free_text)
        .then(pl.lit("revocation"))
        .otherwise(pl.lit(None, pl.String))
    )


def _senders(m: TwilioMap) -> pl.DataFrame:
    """One row per sender number and purpose it sends."""
    rows = [(number, s.brand, purpose) for number, s in m.senders.items() for purpose in s.purposes]
    return pl.DataFrame(
        rows, schema={"to": pl.String, "brand": pl.String, "purpose": pl.String}, orient="row"
    )


def _messages(batch: Batch, delivery: Delivery, rel: str, rows: pl.DataFrame, rules: Rules) -> None:
    m: TwilioMap = rules.mapping(SOURCE)
    rows = _decisions(batch, rel, rows, m)
    rows = _checked(batch, rel, rows, m)
    # From is E.164 (no region needed): the core normalises and rejects it if it is not a possible number.
    base = with_lineage(rows, delivery, rel, text("Sid")).with_columns(
        _e164(pl.col("From")).alias("cp_raw"),
        pl.lit("phone").alias("contact_point_type"),
        pl.lit(None, pl.String).alias("cp_region"),
    )
    batch.add("events", _events(base.join(_senders(m), on="to", how="inner", maintain_order="left")))
    batch.add(
        "contact_evidence",
        base.select(
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
    rows = reject_where(
        batch, rel, rows, pl.col("direction").is_null(), "missing_value", "Direction is empty"
    )
    skip_records(batch, rel, rows.filter(pl.col("direction") != INBOUND), "outbound")
    rows = rows.filter(pl.col("direction") == INBOUND).with_columns(_decision(m).alias("decision"))
    # HELP, INFO and chatter change nothing: skipped before anything else about them matters.
    decides = pl.col("decision").is_in(["opt_out", "opt_in", "revocation"]).fill_null(False)
    skip_records(batch, rel, rows.filter(~decides), "no_decision")
    return rows.filter(decides)


def _e164(col: pl.Expr) -> pl.Expr:
    """Twilio writes every number in E.164; a spreadsheet round trip that kept all the digits is read back
    (`18885550100`, `1.8885550100E+10`, `+1 (888) 555-0100` are `+18885550100`). Anything else is left as it
    is, for the core to refuse (letters: `invalid_phone`; digits lost: `damaged_phone`)."""
    value = spreadsheet_digits(text(col))
    readable = value.str.contains(r"^\+?[0-9 ().\-]*[0-9][0-9 ().\-]*$").fill_null(False)
    return pl.when(readable).then(pl.lit("+") + value.str.replace_all(r"[^0-9]", "")).otherwise(value)


def _checked(batch: Batch, rel: str, rows: pl.DataFrame, m: TwilioMap) -> pl.DataFrame:
    """A known sender number (`to`), a From phone and a readable SentDate (`ts`), or rejected."""
    rows = rows.with_columns(_e164(pl.col("To")).alias("to"), rfc2822_or_iso(pl.col("SentDate")).alias("ts"))
    rows = reject_where(
        batch,
        rel,
        rows,
        spreadsheet_damaged(pl.col("to").fill_null("")),
        "damaged_phone",
        pl.format("To: {}", pl.col("To").fill_null("")),
    )
    rows = reject_where(
        batch,
        rel,
        rows,
        ~pl.col("to").is_in(list(m.senders)).fill_null(False),
        "unmapped_sender",
        pl.format("To: {}", pl.col("To").fill_null("")),
    )
    rows = reject_where(batch, rel, rows, text("From").is_null(), "missing_value", "From is empty")
    return reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("SentDate: {}", pl.col("SentDate").fill_null("")),
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
        pl.lit(False).alias("double_opt_in"),
    )
