"""Agent guided-script captures (feeds.md §7): `captures_*.jsonl`, one capture a line.

Each answer is a party-level event for the customer (`customer_id`), the capture's `brand`, and the
channel / purpose of its question (`rules/mappings/call_centre.yaml`), at `captured_at` (which carries
its UTC offset; a time without one is not read as UTC, it is a bad timestamp). `yes` is an opt-in and `no`
an opt-out, both with basis `express_verbal` (spoken, not written); `skip` changes nothing. With
`verified_identity` not `true` (false or missing: the stricter reading) only opt-outs take effect and each
`yes` is a rejected part (`unverified_opt_in`). An unknown question is a rejected part
(`unmapped_question`), an answer other than yes / no / skip too (`unmapped_answer`); a skipped answer is
not checked any further (it changes nothing whatever the question).

Every verified capture is a review of the customer's preferences, even an all-skip one (accepted as a
review). An unverified capture with nothing to apply is skipped (`no_decision`). The script name is not
checked (feeds.md does not make it a condition). The channel implies the contact-point type of a
party-level event (`*`: every type).
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.config.rules import CallCentreMap
from source_connectors._common import (
    field,
    parse_files,
    reject_where,
    skip_records,
    text,
    with_lineage,
)
from source_connectors._time import iso8601
from source_connectors.readers import REC, read_json

SOURCE = "call_centre"
KIND = "captures"  # its file patterns: rules/files.yaml
# The script's answer words (the feed's vocabulary): answer -> status; skip decides nothing.
DECISIONS = {"yes": "opt_in", "no": "opt_out"}
SKIP = "skip"
BASIS = "express_verbal"

LINEAGE_COLS = ("source", "delivery", "received_ts", "source_file", REC, "source_record_id")


def parse(delivery: Delivery, rules: Rules) -> Batch:
    return parse_files(SOURCE, delivery, rules, KIND, read_json, _captures)


def _captures(batch: Batch, delivery: Delivery, rel: str, frame: pl.DataFrame, rules: Rules) -> None:
    rows = frame.select(
        REC,
        text(field(frame, "capture_id")).alias("capture_id"),
        text(field(frame, "customer_id")).alias("party_id"),
        text(field(frame, "brand")).alias("brand"),
        field(frame, "captured_at").alias("captured_at"),
        (text(field(frame, "verified_identity")).str.to_lowercase() == "true").fill_null(False).alias("verified"),
        _answers(frame),
    ).with_columns(iso8601(pl.col("captured_at"), naive_is_utc=False).alias("ts"))
    # Without a customer or a time nothing in the capture can apply: the whole record is rejected.
    rows = reject_where(batch, rel, rows, pl.col("party_id").is_null(), "missing_value", "customer_id is empty")
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("ts").is_null(),
        "bad_timestamp",
        pl.format("captured_at: {}", pl.col("captured_at").fill_null("")),
    )
    base = with_lineage(rows, delivery, rel, pl.col("capture_id"))
    answers = _decided(batch, rel, base, rules.mapping(SOURCE), rules)
    batch.add(
        "events",
        answers.select(
            *LINEAGE_COLS,
            "party_id",
            "contact_point_type",
            "channel",
            "purpose",
            "brand",
            "status",
            pl.lit(BASIS).alias("basis"),
            pl.col("ts").alias("event_ts"),
            pl.lit(False).alias("double_opt_in"),
        ),
    )
    verified = base.filter("verified")
    batch.add("reviews", verified.select(*LINEAGE_COLS, "party_id", pl.col("ts").alias("reviewed_at")))
    # Unverified and every answer skipped (or none given): nothing to record, by design.
    acts = pl.col("answers").list.eval(
        pl.element().struct.field("answer").str.strip_chars().str.to_lowercase().ne_missing(SKIP)
    )
    skip_records(batch, rel, base.filter(~pl.col("verified") & ~acts.list.any()), "no_decision")


def _answers(frame: pl.DataFrame) -> pl.Expr:
    """The answers as a list of {question, answer} text structs (an empty list when there are none)."""
    dtype = frame.schema.get("answers")
    if not isinstance(dtype, pl.List) or not isinstance(dtype.inner, pl.Struct):
        return pl.lit([], pl.List(pl.Struct({"question": pl.String, "answer": pl.String}))).alias("answers")
    names = {f.name for f in dtype.inner.fields}
    return (
        pl.col("answers")
        .list.eval(
            pl.struct(
                *[
                    (
                        pl.element().struct.field(n).cast(pl.String, strict=False)
                        if n in names
                        else pl.lit(None, pl.String)
                    ).alias(n)
                    for n in ("question", "answer")
                ]
            )
        )
        .alias("answers")
    )


def _decided(batch: Batch, rel: str, base: pl.DataFrame, m: CallCentreMap, rules: Rules) -> pl.DataFrame:
    """One row per answer that applies: its channel, purpose and status; the others are rejected parts."""
    questions = pl.DataFrame(
        [(q, s.channel, s.purpose) for q, s in m.questions.items()],
        schema={"question": pl.String, "channel": pl.String, "purpose": pl.String},
        orient="row",
    )
    rows = (
        base.explode("answers", keep_nulls=False)
        .unnest("answers")
        .with_columns(text("question").alias("question"), text("answer").str.to_lowercase().alias("answer"))
    )
    detail = pl.format("{}: {}", pl.col("question").fill_null(""), pl.col("answer").fill_null(""))
    rows = reject_where(batch, rel, rows, pl.col("answer").is_null(), "missing_value", detail)
    rows = reject_where(batch, rel, rows, ~pl.col("answer").is_in([*DECISIONS, SKIP]), "unmapped_answer", detail)
    rows = rows.filter(pl.col("answer") != SKIP)
    rows = reject_where(batch, rel, rows, pl.col("question").is_null(), "missing_value", detail)
    rows = rows.join(questions, on="question", how="left", maintain_order="left")
    rows = reject_where(
        batch,
        rel,
        rows,
        pl.col("channel").is_null(),
        "unmapped_question",
        pl.format("question: {}", pl.col("question")),
    )
    status = pl.col("answer").replace_strict(DECISIONS, return_dtype=pl.String)
    rows = rows.with_columns(status.alias("status"))
    # An unverified caller may only withdraw consent.
    rows = reject_where(
        batch, rel, rows, ~pl.col("verified") & (pl.col("status") == "opt_in"), "unverified_opt_in", detail
    )
    return rows.with_columns(
        pl.col("channel")
        .replace_strict(rules.channel_type, default=None, return_dtype=pl.String)
        .alias("contact_point_type")
    )
