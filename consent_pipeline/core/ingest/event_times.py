"""Events whose source gave no time (feeds.md "Real files are messy"): an opt-out is never dropped.

A connector hands over an event whose source time is blank (a Mailchimp member unsubscribed without an
UNSUB_TIME, a SendGrid group list of bare addresses) with a null `event_ts`, and what it looked at in
`time_detail`. An opt-out then takes effect at its delivery's `received_ts`, the latest moment it can have
been given, marked `event_ts_estimated` and dated at its first sighting (the same record in a later
delivery is a duplicate, not a later opt-out). An opt-in or pending consent without a time is quarantined
(`bad_timestamp`).

A time that is there but wrong (an impossible date, one in another format than the feed's, one after its
delivery or before 1990) is bad input: quarantined, opt-out or not (the public bad_input scenario
quarantines a STOP dated 30 February); it is kept with its raw text for repair, never applied at a guessed
time. What the connector read is in `time_detail` (`FIELD: value`): a value that looks like a date counts
as there.
"""

from __future__ import annotations

import polars as pl

from consent_pipeline.canonical import REJECTS, Batch, conform

OPT_OUT = "opt_out"
DATE_LIKE = (
    r"(?:^|\D)\d{4}\D+\d{1,2}\D+\d{1,2}(?:\D|$)|(?:^|\D)\d{1,2}\D+\d{1,2}\D+\d{4}(?:\D|$)|[A-Za-z]{3,}\.?\s+\d{4}"
)


def settle_event_times(batch: Batch) -> None:
    if "events" not in batch.table_names:
        return
    frame = batch.table("events")
    # A time that is there and looks like a date (three runs of digits, one of them a year) but could not be
    # read is a damaged record (`2026-02-30`, `10/02/2026 10:00` in a feed that writes ISO): quarantined,
    # opt-out or not. Blank, or no date at all (`########`, `n/a`): the source gave no time.
    value = pl.col("time_detail").str.splitn(": ", 2).struct.field("field_1")
    dated = value.str.contains(DATE_LIKE).fill_null(False)
    missing = pl.col("event_ts").is_null()
    opt_out = ((pl.col("status") == OPT_OUT) & ~dated).fill_null(False)
    no_time = frame.filter(missing & ~opt_out)
    if no_time.height:
        batch.reject(
            conform(
                no_time.select(
                    "source_file",
                    "source_record",
                    pl.lit("bad_timestamp").alias("reason"),
                    pl.coalesce(pl.col("time_detail"), pl.lit("the event's time is empty")).alias("detail"),
                    pl.col("party_id"),
                ),
                REJECTS,
            )
        )
    estimate = missing & opt_out
    frame = frame.filter(~(missing & ~opt_out)).with_columns(
        pl.when(estimate).then(pl.col("received_ts")).otherwise(pl.col("event_ts")).alias("event_ts"),
        (estimate | pl.col("event_ts_estimated").fill_null(False)).alias("event_ts_estimated"),
        (estimate | pl.col("first_sighting").fill_null(False)).alias("first_sighting"),
    )
    batch.set_table("events", frame)
