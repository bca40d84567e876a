"""sendgrid connector: suppression API dumps and the Event Webhook log (feeds.md §4), in the shapes real
dumps take: pages back to back, API envelopes, POST bodies a line, one group's bare addresses."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "sendgrid"
D = "2026-02-20T020000Z"
RECEIVED = dt.datetime(2026, 2, 20, 2)
T1, T2 = 1770800400, 1770890400  # 2026-02-11T09:00:00Z, 2026-02-12T10:00:00Z
AT1, AT2 = dt.datetime(2026, 2, 11, 9), dt.datetime(2026, 2, 12, 10)
ENERGY = "lakeside_energy"


def reasons(batch: Batch) -> list[tuple[str, int, str]]:
    rows = batch.rejects.select(pl.col("source_file").str.split("/").list.last(), "source_record", "reason").unique()
    return sorted(rows.iter_rows())


def detail(batch: Batch, name: str, record: int) -> str:
    found = batch.rejects.filter(pl.col("source_file").str.ends_with("/" + name) & (pl.col("source_record") == record))[
        "detail"
    ].to_list()
    assert len(found) == 1, found
    return found[0]


def skips(batch: Batch) -> list[tuple[str, int, str]]:
    rows = batch.skips.select(pl.col("source_file").str.split("/").list.last(), "source_record", "reason")
    return sorted(rows.iter_rows())


def lines(*objects: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


EVENT_COLS = (
    "contact_point",
    "contact_point_type",
    "party_id",
    "channel",
    "purpose",
    "brand",
    "status",
    "basis",
    "event_ts",
)


def test_suppression_lists(drop, read):
    drop(S, D, "global_unsubscribes.json", json.dumps([{"created": T1, "email": "A@X.com"}]))
    drop(S, D, "spam_reports.json", json.dumps([{"created": T1, "email": "b@x.com", "ip": "10.63.202.100"}]))
    drop(
        S,
        D,
        "group_unsubscribes.json",
        json.dumps(
            [
                {"email": "c@x.com", "group_id": 101, "group_name": "Energy Offers", "created_at": T2},
                {"email": "c@x.com", "group_id": "201", "group_name": "Billing Notices", "created_at": T2},
            ]
        ),
    )
    drop(
        S,
        D,
        "bounces.json",
        json.dumps(
            [
                {
                    "created": T2,
                    "email": "d@x.com",
                    "reason": "550 5.1.1 The email account does not exist",
                    "status": "5.1.1",
                },
                {"created": T2, "email": "e@x.com", "reason": "452 4.2.2 Mailbox full", "status": "4.2.2"},
                # no status: the enhanced code of the SMTP reply decides
                {"created": T2, "email": "f@x.com", "reason": "550 5.1.10 RESOLVER.ADR.RecipientNotFound"},
            ]
        ),
    )
    drop(
        S,
        D,
        "invalid_emails.json",
        json.dumps(
            [
                {
                    "created": T1,
                    "email": "g@x.co",
                    "reason": "Mail domain mentioned in email address is unknown",
                }
            ]
        ),
    )
    drop(
        S,
        D,
        "blocks.json",
        json.dumps(
            [
                {
                    "created": T1,
                    "email": "h@x.com",
                    "reason": "550 5.7.1 blocked by policy",
                    "status": "5.7.1",
                },
                {"created": T1, "email": "i@x.com", "reason": "421 4.7.0 try again later", "status": "4.7.0"},
            ]
        ),
    )
    batch = read(S)
    events = batch.table("events").sort("source_file", "source_record")
    assert events.select(EVENT_COLS).rows() == [
        ("a@x.com", "email", None, "email", "marketing", ENERGY, "opt_out", "express", AT1),
        ("c@x.com", "email", None, "email", "marketing.offers", ENERGY, "opt_out", "express", AT2),
        ("c@x.com", "email", None, "email", "service.billing", ENERGY, "opt_out", "express", AT2),
        ("b@x.com", "email", None, "email", "marketing", ENERGY, "opt_out", "spam_report", AT1),
    ]
    assert not events["event_ts_estimated"].any()
    undeliverable = batch.table("undeliverable").sort("contact_point")
    assert undeliverable.select("contact_point", "since_ts", "reason", "detail").rows() == [
        ("d@x.com", AT2, "bounce", "5.1.1 550 5.1.1 The email account does not exist"),
        ("f@x.com", AT2, "bounce", "550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
        ("g@x.co", AT1, "invalid", "Mail domain mentioned in email address is unknown"),
    ]
    # blocks are temporary refusals by the receiving server, whatever their status: not consent
    assert skips(batch) == [
        ("blocks.json", 1, "block"),
        ("blocks.json", 2, "block"),
        ("bounces.json", 2, "soft_bounce"),
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {
        "global_unsubscribes.json": (1, 0, 0),
        "group_unsubscribes.json": (2, 0, 0),
        "bounces.json": (2, 1, 0),
        "spam_reports.json": (1, 0, 0),
        "invalid_emails.json": (1, 0, 0),
        "blocks.json": (0, 2, 0),
    }


def test_webhook_events(drop, read):
    drop(
        S,
        D,
        "events_0001.jsonl",
        lines(
            {"email": "a@x.com", "timestamp": T1, "event": "unsubscribe", "sg_event_id": "ev1"},
            {
                "email": "a@x.com",
                "timestamp": T1,
                "event": "group_unsubscribe",
                "asm_group_id": 102,
                "sg_event_id": "ev2",
            },
            {
                "email": "a@x.com",
                "timestamp": T2,
                "event": "group_resubscribe",
                "asm_group_id": 102,
                "sg_event_id": "ev3",
            },
            {"email": "b@x.com", "timestamp": T2, "event": "spamreport", "sg_event_id": "ev4"},
            {
                "email": "c@x.com",
                "timestamp": T2,
                "event": "bounce",
                "status": "5.0.0",
                "reason": "550 no such user",
                "type": "bounce",
                "sg_event_id": "ev5",
            },
            {"email": "d@x.com", "timestamp": T2, "event": "bounce", "status": "4.0.0", "sg_event_id": "ev6"},
            {"email": "e@x.com", "timestamp": T2, "event": "delivered", "sg_event_id": "ev7"},
            {"email": "e@x.com", "timestamp": T2, "event": "open", "sg_event_id": "ev8"},
            {
                "email": "e@x.com",
                "timestamp": T2,
                "event": "click",
                "url": "https://x.com",
                "sg_event_id": "ev9",
            },
            # a bounce of type `blocked` is a block: a temporary refusal, not an undeliverable address
            {
                "email": "f@x.com",
                "timestamp": T2,
                "event": "bounce",
                "type": "blocked",
                "status": "5.7.1",
                "reason": "550 5.7.1 rejected due to policy",
                "sg_event_id": "ev10",
            },
            {"email": "g@x.com", "timestamp": T2, "event": "processed", "sg_event_id": "ev11"},
            {"email": "g@x.com", "timestamp": T2, "event": "deferred", "attempt": "5", "sg_event_id": "ev12"},
            {
                "email": "g@x.com",
                "timestamp": T2,
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ev13",
            },
            {
                "timestamp": T2,
                "event": "account_status_change",
                "type": "compliance_suspend",
                "sg_event_id": "ev14",
            },
        ),
    )
    batch = read(S)
    events = batch.table("events").sort("source_record")
    assert events.select("source_record_id", "contact_point", "purpose", "status", "basis", "event_ts").rows() == [
        ("ev1", "a@x.com", "marketing", "opt_out", "express", AT1),
        ("ev2", "a@x.com", "marketing.newsletter", "opt_out", "express", AT1),
        ("ev3", "a@x.com", "marketing.newsletter", "opt_in", "express", AT2),
        ("ev4", "b@x.com", "marketing", "opt_out", "spam_report", AT2),
    ]
    assert batch.table("undeliverable").select("source_record_id", "contact_point", "detail").rows() == [
        ("ev5", "c@x.com", "5.0.0 550 no such user")
    ]
    ev = "events_0001.jsonl"
    assert skips(batch) == [
        (ev, 6, "soft_bounce"),
        (ev, 7, "not_consent"),
        (ev, 8, "not_consent"),
        (ev, 9, "not_consent"),
        (ev, 10, "block"),
        (ev, 11, "not_consent"),
        (ev, 12, "not_consent"),
        (ev, 13, "not_consent"),
        (ev, 14, "not_consent"),
    ]
    assert accounted(batch) == {ev: (5, 9, 0)}


def test_paged_dumps_and_api_envelopes(drop, read):
    # a paging script appending one array a page, and a page that kept the API's envelope
    drop(
        S,
        D,
        "global_unsubscribes.json",
        json.dumps([{"created": T1, "email": "a@x.com"}, {"created": T1, "email": "b@x.com"}])
        + "\n"
        + json.dumps([{"created": T2, "email": "c@x.com"}])
        + json.dumps({"result": [{"created": T2, "email": "d@x.com"}]}),
    )
    drop(
        S,
        D,
        "spam_reports.json",
        json.dumps({"results": [{"created": T1, "email": "e@x.com", "ip": "10.63.202.100"}]}, indent=2),
    )
    # a dump that saved the API's error response instead of a page
    drop(
        S,
        D,
        "bounces_page2.json",
        json.dumps([{"created": T2, "email": "f@x.com", "status": "5.1.1", "reason": "550 5.1.1 unknown"}])
        + json.dumps({"errors": [{"field": None, "message": "too many requests"}]}),
    )
    batch = read(S)
    events = batch.table("events").sort("source_file", "source_record")
    assert events.select("source_record", "contact_point", "purpose", "basis").rows() == [
        (1, "a@x.com", "marketing", "express"),
        (2, "b@x.com", "marketing", "express"),
        (3, "c@x.com", "marketing", "express"),
        (4, "d@x.com", "marketing", "express"),
        (1, "e@x.com", "marketing", "spam_report"),
    ]
    assert batch.table("undeliverable")["contact_point"].to_list() == ["f@x.com"]
    assert reasons(batch) == [("bounces_page2.json", 2, "api_error")]
    assert "too many requests" in detail(batch, "bounces_page2.json", 2)
    assert accounted(batch) == {
        "global_unsubscribes.json": (4, 0, 0),
        "spam_reports.json": (1, 0, 0),
        "bounces_page2.json": (1, 0, 1),
    }


def test_webhook_post_bodies_one_a_line(drop, read):
    # the webhook POSTs an array of events; a log that kept each body as it came holds one array a line
    body1 = [
        {"email": "a@x.com", "timestamp": T1, "event": "processed", "sg_event_id": "p1"},
        {"email": "a@x.com", "timestamp": T1, "event": "unsubscribe", "sg_event_id": "u1"},
    ]
    body2 = [{"email": "b@x.com", "timestamp": T2, "event": "spamreport", "sg_event_id": "s1"}]
    drop(S, D, "events_20260219.json", lines(body1, body2))
    drop(S, D, "events_20260220.jsonl", lines(body2[0], body1) + "\n\n")
    batch = read(S)
    events = batch.table("events").sort("source_file", "source_record")
    assert events.select("source_file", "source_record", "source_record_id").rows() == [
        (f"{S}/{D}/events_20260219.json", 2, "u1"),
        (f"{S}/{D}/events_20260219.json", 3, "s1"),
        (f"{S}/{D}/events_20260220.jsonl", 1, "s1"),
        (f"{S}/{D}/events_20260220.jsonl", 3, "u1"),
    ]
    assert accounted(batch) == {"events_20260219.json": (2, 1, 0), "events_20260220.jsonl": (2, 1, 0)}


def test_one_groups_bare_addresses_are_estimated_opt_outs(drop, read):
    # GET /v3/asm/groups/{group_id}/suppressions: addresses only, no times; paged, one array a page
    drop(S, D, "group_101_unsubscribes.json", json.dumps(["A@x.com", "b@x.com"]) + json.dumps(["c@x.com"]))
    drop(
        S,
        D,
        "group_202_unsubscribes.json",
        json.dumps(["d@x.com", {"email": "e@x.com", "created_at": T1}, "not an address"]),
    )
    drop(S, D, "group_999_unsubscribes.json", json.dumps(["f@x.com", "g@x.com"]))
    batch = read(S)
    events = batch.table("events").sort("contact_point")
    assert events.select(
        "contact_point",
        "purpose",
        "brand",
        "status",
        "basis",
        "event_ts",
        "event_ts_estimated",
        "first_sighting",
    ).rows() == [
        ("a@x.com", "marketing.offers", ENERGY, "opt_out", "express", RECEIVED, True, True),
        ("b@x.com", "marketing.offers", ENERGY, "opt_out", "express", RECEIVED, True, True),
        ("c@x.com", "marketing.offers", ENERGY, "opt_out", "express", RECEIVED, True, True),
        ("d@x.com", "service.outage", ENERGY, "opt_out", "express", RECEIVED, True, True),
    ]
    g202, g999 = "group_202_unsubscribes.json", "group_999_unsubscribes.json"
    assert reasons(batch) == [
        (g202, 2, "bad_json_type"),
        (g202, 3, "invalid_email"),
        (g999, 1, "unmapped_group"),
        (g999, 2, "unmapped_group"),
    ]
    assert detail(batch, g999, 1) == "group_id: 999"
    assert detail(batch, g202, 2) == f"{g202} lists bare addresses; this element is an object"
    assert accounted(batch) == {
        "group_101_unsubscribes.json": (3, 0, 0),
        g202: (1, 0, 2),
        g999: (0, 0, 2),
    }


def test_an_opt_out_without_a_usable_time_is_estimated_an_opt_in_is_not(drop, read):
    drop(
        S,
        D,
        "group_unsubscribes.json",
        json.dumps(
            [
                {"email": "a@x.com", "group_id": 101, "created_at": "yesterday"},
                {"email": "b@x.com", "group_id": 101},
                {"email": "c@x.com", "group_id": 101, "created_at": 1771848000},  # after delivery + 1 day
            ]
        ),
    )
    drop(
        S,
        D,
        "events_0001.jsonl",
        lines(
            {"email": "d@x.com", "timestamp": "", "event": "unsubscribe", "sg_event_id": "ev1"},
            {"email": "e@x.com", "event": "spamreport", "sg_event_id": "ev2"},
            {"email": "f@x.com", "event": "group_resubscribe", "asm_group_id": 102, "sg_event_id": "ev3"},
            {
                "email": "g@x.com",
                "timestamp": "x",
                "event": "bounce",
                "status": "5.1.1",
                "sg_event_id": "ev4",
            },
        ),
    )
    batch = read(S)
    events = batch.table("events").sort("contact_point")
    assert events.select("contact_point", "purpose", "status", "event_ts", "event_ts_estimated").rows() == [
        ("a@x.com", "marketing.offers", "opt_out", RECEIVED, True),
        ("b@x.com", "marketing.offers", "opt_out", RECEIVED, True),
        ("d@x.com", "marketing", "opt_out", RECEIVED, True),
        ("e@x.com", "marketing", "opt_out", RECEIVED, True),
    ]
    g, ev = "group_unsubscribes.json", "events_0001.jsonl"
    assert reasons(batch) == [
        (ev, 3, "bad_timestamp"),  # an opt-in needs its time
        (ev, 4, "bad_timestamp"),  # and so does an undeliverable address
        (g, 3, "future_timestamp"),  # a time that is there but wrong is bad input, opt-out or not
    ]
    assert detail(batch, ev, 3) == "timestamp is empty"
    assert detail(batch, ev, 4) == "timestamp: x"
    assert accounted(batch) == {g: (2, 0, 1), ev: (2, 0, 2)}


def test_bad_records_are_quarantined_and_the_rest_carries_on(drop, read):
    drop(
        S,
        D,
        "group_unsubscribes.json",
        json.dumps(
            [
                {"email": "a@x.com", "group_id": 999, "group_name": "Energy Rewards", "created_at": T2},
                {"email": "a@x.com", "group_name": "Energy Offers", "created_at": T2},
                {"email": "", "group_id": 101, "created_at": T2},
                {"email": "not-an-email", "group_id": 101, "created_at": T2},
                {"email": "ok@x.com", "group_id": 101, "created_at": T2},
                {
                    "id": 7,
                    "name": "Energy Offers",
                    "description": "offers",
                },  # an ASM group, not a suppression
                {"email": "ok2@x.com", "group_id": 101, "created_at": T2},
            ]
        ),
    )
    drop(
        S,
        D,
        "events_0001.jsonl",
        lines(
            {"email": "a@x.com", "timestamp": T1, "sg_event_id": "ev1"},
            {"email": "a@x.com", "timestamp": T1, "event": "open", "sg_event_id": "ev2"},
            {"email": "a@x.com", "timestamp": T1, "event": "unsubscribed", "sg_event_id": "ev3"},
            {"message": "webhook test"},
            {"email": "b@x.com", "timestamp": T1, "event": "bounce", "status": "", "sg_event_id": "ev5"},
        )
        + '{"email": "b@x.com", "timestamp": 1771236000, "event": "unsubscr\n',
    )
    batch = read(S)
    g, ev = "group_unsubscribes.json", "events_0001.jsonl"
    assert reasons(batch) == [
        (ev, 1, "missing_value"),
        (ev, 3, "unknown_event"),  # skipped must be earned: an event name SendGrid does not define
        (ev, 4, "unrecognised_record"),
        (ev, 5, "bad_value"),  # a bounce that says neither permanent nor temporary
        (ev, 6, "invalid_json"),
        (g, 1, "unmapped_group"),
        (g, 2, "missing_value"),
        (g, 3, "missing_value"),
        (g, 4, "invalid_email"),
        (g, 6, "unrecognised_record"),
    ]
    assert detail(batch, g, 1) == "group_id: 999"
    assert detail(batch, g, 2) == "group id is empty"
    assert detail(batch, ev, 1) == "event is empty"
    assert detail(batch, ev, 3) == "event: unsubscribed"
    assert detail(batch, ev, 5) == "a bounce without a status or an SMTP reply"
    assert batch.table("events")["contact_point"].to_list() == ["ok@x.com", "ok2@x.com"]
    assert accounted(batch) == {g: (2, 0, 5), ev: (0, 1, 5)}


def test_truncated_array_keeps_the_elements_before_the_break(drop, read):
    drop(S, D, "global_unsubscribes.json", f'[{{"created": {T1}, "email": "a@x.com"}}, {{"created": {T1}, "em')
    batch = read(S)
    assert batch.table("events")["contact_point"].to_list() == ["a@x.com"]
    assert batch.rejects.select("source_record", "reason").rows() == [(2, "truncated")]
    assert accounted(batch) == {"global_unsubscribes.json": (1, 0, 1)}


def test_null_and_nested_arrays_are_rejected_not_lost(drop, read):
    drop(S, D, "global_unsubscribes.json", json.dumps([{"created": T1, "email": "a@x.com"}, None, ["b@x.com"]]))
    drop(S, D, "group_101_unsubscribes.json", json.dumps(["c@x.com", None, ["d@x.com"]]))
    batch = read(S)
    assert reasons(batch) == [
        ("global_unsubscribes.json", 2, "bad_json_type"),
        ("global_unsubscribes.json", 3, "bad_json_type"),
        ("group_101_unsubscribes.json", 2, "bad_json_type"),
        ("group_101_unsubscribes.json", 3, "bad_json_type"),
    ]
    assert accounted(batch) == {
        "global_unsubscribes.json": (1, 0, 2),
        "group_101_unsubscribes.json": (1, 0, 2),
    }


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "suppressions_export.csv", "email\na@x.com\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": (
            {
                "events_0001.jsonl": (0, 1, 1),
                "group_unsubscribes.json": (1, 0, 1),
                # after its delivery + 1 day: the opt-out is kept at the delivery's time, and reported
                "global_unsubscribes.json": (0, 0, 1),
            },
            [(1, "future_timestamp"), (2, "invalid_json"), (2, "unmapped_group")],
        ),
        "campaigns_and_caps": ({"group_unsubscribes.json": (1, 0, 0)}, []),
        "formats_and_time": ({"group_unsubscribes.json": (1, 0, 0)}, []),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, rejects) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(batch.rejects.select("source_record", "reason").iter_rows()) == rejects, name
    epoch = read_source(S, SCENARIOS / "formats_and_time" / "landing", rules).table("events")
    assert epoch.select("contact_point", "purpose", "event_ts").rows() == [
        ("ellen.epoch@example.com", "marketing.newsletter", dt.datetime(2026, 3, 8, 7, 30))
    ]
