"""twilio_sms connector: the Console message log (feeds.md §5)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.core.ingest import read_source
from source_connectors import twilio_sms
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "twilio_sms"
D = "2026-02-20T020000Z"
HEADER = (
    "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
)
WHEN = "Wed, 18 Feb 2026 15:00:00 +0000"
AT = dt.datetime(2026, 2, 18, 15)
ENERGY = "+18885550100"  # sends marketing.offers and marketing.newsletter for lakeside_energy
OUTAGE = "+18885550111"  # sends service.outage


def msg(
    body: str,
    frm: str = "+14155550121",
    to: str = ENERGY,
    when: str = WHEN,
    sid: str = "SM1",
    direction: str = "inbound",
) -> str:
    return f'{frm},{to},"{body}",received,"{when}",2010-04-01,1,,AC1,{sid},{direction},,USD\n'



def decisions(batch: Batch) -> dict[int, tuple[str, str]]:
    """Per record: the (status, basis) of its events, which must agree across the sender's purposes."""
    per_record = (
        batch.table("events")
        .group_by("source_record")
        .agg(pl.col("status").unique(), pl.col("basis").unique(), pl.len())
    )
    out = {}
    for record, status, basis, n in per_record.iter_rows():
        assert (len(status), len(basis), n) == (1, 1, 2), record
        out[record] = (status[0], basis[0])
    return out


def test_exact_keywords_any_case_trimmed(drop, read):
    bodies = ["STOP", " stop ", "Unsubscribe", "quit", "START", "yes", "Unstop", "HELP", "info"]
    drop(S, D, "messages_1.csv", HEADER + "".join(msg(b, sid=f"SM{i}") for i, b in enumerate(bodies, 1)))
    batch = read(S)
    out, opt_in = ("opt_out", "express"), ("opt_in", "express")
    assert decisions(batch) == {1: out, 2: out, 3: out, 4: out, 5: opt_in, 6: opt_in, 7: opt_in}
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (8, "no_decision"),
        (9, "no_decision"),
    ]
    assert accounted(batch) == {"messages_1.csv": (7, 2, 0)}


def test_event_scope_and_subject(drop, read):
    drop(
        S, D, "messages_1.csv", HEADER + msg("STOP", sid="SMa") + msg("STOP", to="+1 888 555 0111", sid="SMb")
    )
    batch = read(S)
    events = batch.table("events").sort("source_record", "purpose")
    assert events.select(
        "source_record_id",
        "contact_point",
        "contact_point_type",
        "party_id",
        "channel",
        "purpose",
        "brand",
        "event_ts",
    ).rows() == [
        ("SMa", "+14155550121", "phone", None, "sms", "marketing.newsletter", "lakeside_energy", AT),
        ("SMa", "+14155550121", "phone", None, "sms", "marketing.offers", "lakeside_energy", AT),
        # the To number compared without its spaces
        ("SMb", "+14155550121", "phone", None, "sms", "service.outage", "lakeside_energy", AT),
    ]


def test_free_text_revocations(drop, read):
    bodies = [
        "please stop texting me",
        "Remove me from this list",
        "Don’t text me again",  # a phone's curly apostrophe
        "I want to OPT OUT",
        "stopped by the shop, thanks",  # no opt-out keyword as a word
        "nonstop deals are great",
        "see you soon",
        "",
    ]
    drop(S, D, "messages_1.csv", HEADER + "".join(msg(b) for b in bodies))
    batch = read(S)
    revoke = ("opt_out", "revocation_free_text")
    assert decisions(batch) == {1: revoke, 2: revoke, 3: revoke, 4: revoke}
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (5, "no_decision"),
        (6, "no_decision"),
        (7, "no_decision"),
        (8, "no_decision"),
    ]


def test_keywords_are_data_not_regex(rules: Rules, landing: Path):
    m = rules.mapping(S)
    custom = m.model_copy(update={"free_text_revocation_phrases": ["no more (texts)"]})
    mine = copy.copy(rules)
    mine.mappings = rules.mappings.model_copy(update={S: custom})
    path = landing / S / D / "messages_1.csv"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + msg("no more texts") + msg("no more (texts) please"))
    delivery = Delivery(S, D, dt.datetime(2026, 2, 20, 2), path.parent, landing)
    batch = twilio_sms.parse(delivery, mine)
    assert batch.table("events")["source_record"].unique().to_list() == [2]
    assert batch.skips.select("source_record", "reason").rows() == [(1, "no_decision")]


def test_outbound_is_skipped_and_inbound_proves_the_phone(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", sid="SMin")
        + msg("HELP", frm="+14155550122")
        + msg("You are unsubscribed.", frm=ENERGY, to="+14155550121", direction="outbound-reply")
        + msg("Deals! Reply STOP to opt out", frm=ENERGY, to="+14155550121", direction="outbound-api"),
    )
    batch = read(S)
    evidence = batch.table("contact_evidence")
    assert evidence.select(
        "source_record_id", "contact_point", "contact_point_type", "party_id", "kind", "evidence_ts"
    ).rows() == [("SMin", "+14155550121", "phone", None, "inbound_message", AT)]
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (2, "no_decision"),
        (3, "outbound"),
        (4, "outbound"),
    ]
    assert accounted(batch) == {"messages_1.csv": (1, 3, 0)}


def test_sent_date_formats(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", when="Tue, 10 Feb 2026 09:00:00 -0400")
        + msg("STOP", when="2026-02-12T08:00:00Z")
        + msg("STOP", when="12 Feb 2026 08:00:00 +0100"),
    )
    events = read(S).table("events").filter(pl.col("purpose") == "marketing.offers").sort("source_record")
    assert events["event_ts"].to_list() == [
        dt.datetime(2026, 2, 10, 13),
        dt.datetime(2026, 2, 12, 8),
        dt.datetime(2026, 2, 12, 7),
    ]


def test_bad_messages_are_quarantined_and_the_rest_carries_on(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", to="+18885550199")
        + msg("STOP", frm="+1415555")
        + msg("STOP", frm="")
        + msg("STOP", when="Mon, 30 Feb 2026 10:00:00 +0000")
        + msg("STOP", when="2026-02-25T10:00:00Z")
        + msg("STOP", direction="")
        + msg("HELP", to="+18885550199")  # no decision: the unknown sender does not matter
        + msg("STOP", sid="SMok"),
    )
    batch = read(S)
    assert sorted(batch.rejects.select("source_record", "reason").unique().iter_rows()) == [
        (1, "unmapped_sender"),
        (2, "invalid_phone"),
        (3, "missing_value"),
        (4, "bad_timestamp"),
        (5, "future_timestamp"),
        (6, "missing_value"),
    ]
    details = dict(batch.rejects.select("source_record", "detail").unique("source_record").iter_rows())
    assert details[1] == "To: +18885550199"
    assert details[2] == "+1415555"
    assert details[4] == "SentDate: Mon, 30 Feb 2026 10:00:00 +0000"
    assert batch.table("events")["source_record_id"].unique().to_list() == ["SMok"]
    assert batch.table("contact_evidence")["source_record_id"].to_list() == ["SMok"]
    assert accounted(batch) == {"messages_1.csv": (1, 1, 6)}


def test_spreadsheet_damaged_phones(drop, read):
    """feeds.md §5: a number that kept all its digits is read (the + restored); scientific notation that lost
    digits is damaged_phone; letters are never read as digits."""
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", frm="14155550121", to="18885550100", sid="SM1")
        + msg("STOP", frm="1.4155550122E+10", to="1.8885550100E+10", sid="SM2")
        + msg("STOP", frm="+1 (415) 555-0123", to="+1 (888) 555-0100", sid="SM3")
        + msg("STOP", frm="1.41556E+10", sid="SM4")
        + msg("STOP", to="1.88856E+10", sid="SM5")
        + msg("STOP", frm="+1415555CALL", sid="SM6"),
    )
    batch = read(S)
    events = batch.table("events").filter(pl.col("purpose") == "marketing.offers").sort("source_record")
    assert events.select("source_record_id", "contact_point").rows() == [
        ("SM1", "+14155550121"),
        ("SM2", "+14155550122"),
        ("SM3", "+14155550123"),
    ]
    assert sorted(batch.rejects.select("source_record", "reason", "detail").unique().iter_rows()) == [
        (4, "damaged_phone", "1.41556E+10"),
        (5, "damaged_phone", "To: 1.88856E+10"),
        (6, "invalid_phone", "+1415555CALL"),
    ]
    assert accounted(batch) == {"messages_1.csv": (3, 0, 3)}


def test_columns_by_name_and_missing_required_column(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        f'Direction,Sid,Body,To,From,SentDate\ninbound,SM9,STOP,{ENERGY},+14155550121,"{WHEN}"\n',
    )
    drop(S, D, "messages_2.csv", f"From,To,Body,SentDate\n+14155550121,{ENERGY},STOP,2026-02-12T08:00:00Z\n")
    batch = read(S)
    assert batch.table("events")["source_record_id"].unique().to_list() == ["SM9"]
    assert batch.rejects.select("source_record", "reason").rows() == [(1, "missing_column")]
    assert accounted(batch) == {"messages_1.csv": (1, 0, 0), "messages_2.csv": (0, 0, 1)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "calls_1.csv", "Sid\n1\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": ({"messages_0001.csv": (1, 0, 2)}, [(2, "invalid_phone"), (3, "bad_timestamp")]),
        "formats_and_time": ({"messages_0001.csv": (3, 0, 0)}, []),
        "sms_keywords": (
            {"messages_20260220.csv": (4, 2, 1), "messages_20260225.csv": (1, 1, 0)},
            [(5, "unmapped_sender")],
        ),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, rejects) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(set(batch.rejects.select("source_record", "reason").iter_rows())) == rejects, name
    keywords = read_source(S, SCENARIOS / "sms_keywords" / "landing", rules).table("events")
    first = keywords.filter(pl.col("source_file").str.ends_with("messages_20260220.csv"))
    assert decisions_of(first) == {
        1: ("opt_out", "express"),
        2: ("opt_out", "express"),
        3: ("opt_out", "revocation_free_text"),
        4: ("opt_in", "express"),
    }


def decisions_of(events: pl.DataFrame) -> dict[int, tuple[str, str]]:
    return dict(
        (r, (s, b)) for r, s, b in events.select("source_record", "status", "basis").unique().iter_rows()
    )
