"""An opt-out whose source gave no time takes effect at its delivery's time; one whose time is there but
wrong is quarantined like any bad time (core/ingest/event_times.py), in every feed alike."""

from __future__ import annotations

import datetime as dt

import pytest

S, D = "mailchimp", "2026-02-20T020000Z"
HEADER = '"Email Address","First Name",UNSUB_TIME,LEID\n'


@pytest.mark.parametrize(
    ("unsub_time", "estimated", "quarantined"),
    [
        ("", True, None),  # blank: the source gave no time
        ("########", True, None),  # a spreadsheet's too-narrow column: no time at all
        ("n/a", True, None),
        ("2026-02-30 10:00:00", False, "bad_timestamp"),  # a date that does not exist
        ("19/02/2026 10:00", False, "bad_timestamp"),  # a date in another format than the feed's
        ("2026-02-25 10:00:00", False, "future_timestamp"),  # after its delivery + 1 day
    ],
)
def test_opt_out_time(drop, read, unsub_time: str, estimated: bool, quarantined: str | None) -> None:
    drop(S, D, "unsubscribed_members_export_a1h0menews.csv", HEADER + f"a@x.com,Ann,{unsub_time},1\n")
    batch = read(S)
    events = batch.table("events")
    reasons = batch.rejects["reason"].to_list()
    if quarantined is None:
        assert events.select("event_ts", "event_ts_estimated").rows() == [(dt.datetime(2026, 2, 20, 2), True)]
        assert reasons == []
    else:
        assert events.height == 0 and set(reasons) == {quarantined}
