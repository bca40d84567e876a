"""sends connector: messages actually sent (feeds.md §14)."""

from __future__ import annotations

import datetime as dt

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "sends"
D = "2026-02-20T020000Z"
HEADER = "send_id,channel,brand,campaign_id,purpose,contact_point,sent_at\n"
AT = dt.datetime(2026, 2, 16, 9)


def send(
    send_id: str = "SND-1",
    channel: str = "email",
    contact_point: str = "Gus.Mailchimp@Example.co.uk",
    when: str = "2026-02-16T09:00:00Z",
    brand: str = "lakeside_home",
    campaign: str = "home_feb_news",
    purpose: str = "marketing.newsletter",
) -> str:
    return f"{send_id},{channel},{brand},{campaign},{purpose},{contact_point},{when}\n"


def rejects(batch: Batch) -> list[tuple]:
    return sorted(batch.rejects.select("source_record", "reason", "detail").rows(), key=str)


def test_rows_become_sends_with_the_channel_contact_point_type(drop, read):
    drop(
        S,
        D,
        "sends_1.csv",
        HEADER
        + send()
        + send(
            "SND-2",
            "SMS",
            "+1 415 555 0134",
            "2026-02-16T04:00:00-05:00",
            "lakeside_energy",
            "",
            "service.outage",
        )
        + send(
            "SND-3",
            "voice",
            "+447700900321",
            "2026-02-16 09:00:00",
            "lakeside_motors",
            "motors_calls",
            "marketing.offers",
        ),
    )
    batch = read(S)
    assert batch.table("sends").select(
        "source_record_id", "send_id", "channel", "brand", "campaign_id", "purpose", "contact_point",
        "contact_point_type", "sent_at",
    ).rows() == [
        ("SND-1", "SND-1", "email", "lakeside_home", "home_feb_news", "marketing.newsletter",
         "gus.mailchimp@example.co.uk", "email", AT),
        ("SND-2", "SND-2", "sms", "lakeside_energy", None, "service.outage", "+14155550134", "phone", AT),
        ("SND-3", "SND-3", "voice", "lakeside_motors", "motors_calls", "marketing.offers", "+447700900321",
         "phone", AT),
    ]  # fmt: skip
    assert batch.rejects.height == 0
    assert accounted(batch) == {"sends_1.csv": (3, 0, 0)}


def test_unknown_channel_is_unmapped(drop, read):
    drop(S, D, "sends_1.csv", HEADER + send(channel="fax") + send(channel="") + send("SND-ok"))
    batch = read(S)
    assert batch.table("sends")["send_id"].to_list() == ["SND-ok"]
    # rejected by the connector: validation's unknown_channel never sees it
    assert rejects(batch) == [(1, "unmapped_channel", "channel: fax"), (2, "unmapped_channel", "channel: ")]
    assert accounted(batch) == {"sends_1.csv": (1, 0, 2)}


def test_bad_sent_at(drop, read):
    drop(
        S,
        D,
        "sends_1.csv",
        HEADER + send(when="2026-02-30T09:00:00Z") + send(when="yesterday") + send(when="2026-02-22T09:00:00Z"),
    )
    batch = read(S)
    assert batch.table("sends").height == 0
    assert rejects(batch) == [
        (1, "bad_timestamp", "sent_at: 2026-02-30T09:00:00Z"),
        (2, "bad_timestamp", "sent_at: yesterday"),
        (3, "future_timestamp", "2026-02-22 09:00:00.000000"),  # the core's future/past rule
    ]
    assert accounted(batch) == {"sends_1.csv": (0, 0, 3)}


def test_contact_point_problems(drop, read):
    drop(
        S,
        D,
        "sends_1.csv",
        HEADER
        + send(contact_point="")
        + send(contact_point="gus.example.co.uk")
        + send(channel="sms", contact_point="0113 496 0000")  # national: a send log names no country
        + send(channel="push", contact_point="device-token-1", purpose="marketing.offers"),
    )
    batch = read(S)
    # push has no contact-point type: the send is kept without one
    assert batch.table("sends").select("source_record", "channel", "contact_point", "contact_point_type").rows() == [
        (4, "push", None, None)
    ]
    assert rejects(batch) == [
        (1, "missing_value", "contact_point is empty"),
        (2, "invalid_email", "gus.example.co.uk"),
        (3, "invalid_phone", "0113 496 0000"),
    ]
    assert accounted(batch) == {"sends_1.csv": (1, 0, 3)}


def test_unknown_brand_purpose_and_empty_send_id_are_left_to_validation(drop, read):
    drop(
        S,
        D,
        "sends_1.csv",
        HEADER + send(brand="lakeside_boats") + send(purpose="marketing") + send(send_id=""),
    )
    batch = read(S)
    assert rejects(batch) == [
        (1, "unknown_brand", "lakeside_boats"),
        (2, "unknown_purpose", "marketing"),  # a parent: a send has one leaf purpose
        (3, "missing_send_id", "send_id is empty"),
    ]
    assert accounted(batch) == {"sends_1.csv": (0, 0, 3)}


def test_columns_by_name_and_missing_column(drop, read):
    drop(
        S,
        D,
        "sends_1.csv",
        "sent_at,contact_point,purpose,brand,channel,send_id,esp\n"
        "2026-02-16T09:00:00Z,gus@example.co.uk,marketing.offers,lakeside_home,email,SND-9,acme\n",
    )
    drop(
        S,
        D,
        "sends_2.csv",
        "send_id,channel,brand,purpose,sent_at\nSND-8,email,lakeside_home,marketing.offers,x\n",
    )
    batch = read(S)
    assert batch.table("sends").select("send_id", "campaign_id").rows() == [("SND-9", None)]
    assert batch.rejects.select("source_record", "reason", "detail").rows() == [
        (1, "missing_column", "missing column(s): contact_point")
    ]
    assert accounted(batch) == {"sends_1.csv": (1, 0, 0), "sends_2.csv": (0, 0, 1)}


def test_unexpected_file(drop, read):
    drop(S, D, "opens_1.csv", HEADER)
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": ({"sends_0001.csv": (1, 0, 1)}, [(2, "bad_timestamp", "sent_at: 2026-02-30T09:00:00Z")]),
        "campaigns_and_caps": ({"sends_0001.csv": (7, 0, 0)}, []),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, bad) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert rejects(batch) == bad, name
    caps = read_source(S, SCENARIOS / "campaigns_and_caps" / "landing", rules).table("sends")
    assert caps.filter(caps["send_id"] == "SND-1001")["contact_point"].to_list() == ["kai.capped@example.com"]
    assert caps.filter(caps["purpose"] == "service.billing")["campaign_id"].to_list() == [None, None]


def test_postal_contact_point_is_read_in_the_warehouse_form(drop, read):
    drop(
        S,
        D,
        "sends_1.csv",
        HEADER
        + send("SND-1", "mail", '"12 Mill  Lane, Leeds, LS1 4AB, GB"', purpose="marketing.offers")
        + send("SND-2", "mail", '"Flat 2, 12 Mill Lane, Leeds, LS1 4AB, GB"', purpose="marketing.offers")
        + send("SND-3", "mail", '"Leeds, LS1 4AB, GB"', purpose="marketing.offers"),
    )
    batch = read(S)
    got = sorted(batch.table("sends").select("send_id", "contact_point", "contact_point_type").rows())
    assert got == [
        ("SND-1", "12 MILL LANE, LEEDS, LS14AB, GB", "postal"),
        ("SND-2", "FLAT 2, 12 MILL LANE, LEEDS, LS14AB, GB", "postal"),
    ]
    assert [(r, reason) for r, reason, _ in rejects(batch)] == [(3, "invalid_address")]
