"""sendgrid connector: suppression API dumps and the Event Webhook log (feeds.md §4)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "sendgrid"
D = "2026-02-20T020000Z"
T1, T2 = 1770800400, 1770890400  # 2026-02-11T09:00:00Z, 2026-02-12T10:00:00Z
AT1, AT2 = dt.datetime(2026, 2, 11, 9), dt.datetime(2026, 2, 12, 10)



def reasons(batch: Batch) -> list[tuple[str, int, str]]:
    rows = batch.rejects.select(
        pl.col("source_file").str.split("/").list.last(), "source_record", "reason"
    ).unique()
    return sorted(rows.iter_rows())


def lines(*objects: dict[str, object]) -> str:
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
            ]
        ),
    )
    batch = read(S)
    e = "lakeside_energy"
    events = batch.table("events").sort("source_file", "source_record")
    assert events.select(EVENT_COLS).rows() == [
        ("a@x.com", "email", None, "email", "marketing", e, "opt_out", "express", AT1),
        ("c@x.com", "email", None, "email", "marketing.offers", e, "opt_out", "express", AT2),
        ("c@x.com", "email", None, "email", "service.billing", e, "opt_out", "express", AT2),
        ("b@x.com", "email", None, "email", "marketing", e, "opt_out", "spam_report", AT1),
    ]
    assert batch.table("undeliverable").select("contact_point", "since_ts", "reason", "detail").rows() == [
        ("d@x.com", AT2, "bounce", "5.1.1 550 5.1.1 The email account does not exist")
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(2, "soft_bounce")]
    assert batch.rejects.height == 0
    assert accounted(batch) == {
        "global_unsubscribes.json": (1, 0, 0),
        "group_unsubscribes.json": (2, 0, 0),
        "bounces.json": (1, 1, 0),
        "spam_reports.json": (1, 0, 0),
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
        ),
    )
    batch = read(S)
    events = batch.table("events").sort("source_record")
    assert events.select(
        "source_record_id", "contact_point", "purpose", "status", "basis", "event_ts"
    ).rows() == [
        ("ev1", "a@x.com", "marketing", "opt_out", "express", AT1),
        ("ev2", "a@x.com", "marketing.newsletter", "opt_out", "express", AT1),
        ("ev3", "a@x.com", "marketing.newsletter", "opt_in", "express", AT2),
        ("ev4", "b@x.com", "marketing", "opt_out", "spam_report", AT2),
    ]
    assert batch.table("undeliverable").select("source_record_id", "contact_point", "detail").rows() == [
        ("ev5", "c@x.com", "5.0.0 550 no such user")
    ]
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (6, "soft_bounce"),
        (7, "not_consent"),
        (8, "not_consent"),
        (9, "not_consent"),
    ]
    assert accounted(batch) == {"events_0001.jsonl": (5, 4, 0)}


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
                {"email": "a@x.com", "group_id": 101, "created_at": "yesterday"},
                {"email": "a@x.com", "group_id": 101},
                {
                    "email": "a@x.com",
                    "group_id": 101,
                    "created_at": 1771848000,
                },  # 2026-02-23: after delivery + 1 day
                {"email": "not-an-email", "group_id": 101, "created_at": T2},
                {"email": "ok@x.com", "group_id": 101, "created_at": T2},
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
        )
        + '{"email": "b@x.com", "timestamp": 1771236000, "event": "unsubscr\n',
    )
    batch = read(S)
    g, ev = "group_unsubscribes.json", "events_0001.jsonl"
    assert reasons(batch) == [
        (ev, 1, "missing_value"),
        (ev, 3, "invalid_json"),
        (g, 1, "unmapped_group"),
        (g, 2, "missing_value"),
        (g, 3, "missing_value"),
        (g, 4, "bad_timestamp"),
        (g, 5, "bad_timestamp"),
        (g, 6, "future_timestamp"),
        (g, 7, "invalid_email"),
    ]
    details = dict(
        batch.rejects.filter(pl.col("source_file").str.ends_with(g)).select("source_record", "detail").rows()
    )
    assert details[1] == "group_id: 999"
    assert details[4] == "created_at: yesterday"
    assert batch.table("events")["contact_point"].to_list() == ["ok@x.com"]
    assert accounted(batch) == {g: (1, 0, 7), ev: (0, 1, 2)}


def test_truncated_array_keeps_the_elements_before_the_break(drop, read):
    drop(
        S, D, "global_unsubscribes.json", f'[{{"created": {T1}, "email": "a@x.com"}}, {{"created": {T1}, "em'
    )
    batch = read(S)
    assert batch.table("events")["contact_point"].to_list() == ["a@x.com"]
    assert batch.rejects.select("source_record", "reason").rows() == [(2, "truncated")]
    assert accounted(batch) == {"global_unsubscribes.json": (1, 0, 1)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "blocks.json", "[]")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": (
            {
                "events_0001.jsonl": (0, 1, 1),
                "group_unsubscribes.json": (1, 0, 1),
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
