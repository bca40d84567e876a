"""twilio_sms connector: the Console message log (feeds.md §5)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from consent_pipeline.canonical import Batch, Delivery
from consent_pipeline.config import Rules
from consent_pipeline.core.ingest.ingest import read_source
from source_connectors import twilio_sms
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "twilio_sms"
D = "2026-02-20T020000Z"
HEADER = "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
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
    drop(S, D, "messages_1.csv", HEADER + msg("STOP", sid="SMa") + msg("STOP", to="+1 888 555 0111", sid="SMb"))
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
        + msg("STOP", when="2026-02-25T10:00:00Z", sid="SMlate")
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
    assert details[4] == "SentDate: Mon, 30 Feb 2026 10:00:00 +0000 (no such date)"
    # a time that is there but wrong (after its delivery + 1 day) is bad input, opt-out or not (core/event_times)
    assert batch.table("events")["source_record_id"].unique().to_list() == ["SMok"]
    assert batch.table("contact_evidence")["source_record_id"].to_list() == ["SMok"]
    assert accounted(batch) == {"messages_1.csv": (1, 1, 6)}


def test_keywords_in_other_languages_accents_and_trailing_punctuation(drop, read):
    bodies = [
        "Stop.",
        "ARRÊT",
        "arret!",
        "Arrête",
        "Désabonner",
        "Baja",
        "cancelar ",
        "OPT-OUT",
        "Remove",
        "ＳＴＯＰ",  # full-width, as some keyboards type it
        "Inicio",
        "COMMENCER !",
        "Yes!!",
        "¿Alto?",  # a leading mark is no trailing punctuation: not exactly a keyword, but `alto` as a word
        "arrêt de bus",  # `arret` as a word: the free-text rule takes it as a request to stop
        "Arrêtez svp",  # no keyword as a word: nothing (Advanced Opt-Out may say otherwise: OptOutType)
    ]
    drop(S, D, "messages_1.csv", HEADER + "".join(msg(b, sid=f"SM{i}") for i, b in enumerate(bodies, 1)))
    batch = read(S)
    out, opt_in, revoke = ("opt_out", "express"), ("opt_in", "express"), ("opt_out", "revocation_free_text")
    assert decisions(batch) == {
        **{i: out for i in range(1, 11)},
        11: opt_in,
        12: opt_in,
        13: opt_in,
        14: revoke,
        15: revoke,
    }
    assert batch.skips.select("source_record", "reason").rows() == [(16, "no_decision")]
    assert accounted(batch) == {"messages_1.csv": (15, 1, 0)}


OPT_OUT_HEADER = HEADER.rstrip("\n") + ",OptOutType\n"


def with_type(line: str, opt_out_type: str) -> str:
    return line.rstrip("\n") + f",{opt_out_type}\n"


def test_advanced_opt_out_type_decides_whatever_the_body(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        OPT_OUT_HEADER
        + with_type(msg("Arrêtez svp"), "STOP")
        + with_type(msg("oui je veux bien"), "START")
        + with_type(msg("aide"), "HELP")
        + with_type(msg("STOP"), "")  # empty: the body decides
        + with_type(msg("Baja por favor"), "stop")
        + with_type(msg("STOP"), "REVOKE")  # not a type Twilio defines: the body's opt-out still counts
        + with_type(msg("START"), "RESTART")  # ... but never its opt-in
        + with_type(msg("hello"), "OPTIN"),
    )
    batch = read(S)
    out, opt_in = ("opt_out", "express"), ("opt_in", "express")
    assert decisions(batch) == {1: out, 2: opt_in, 4: out, 5: out, 6: out}
    assert batch.skips.select("source_record", "reason").rows() == [(3, "no_decision")]
    assert sorted(batch.rejects.select("source_record", "reason", "detail").iter_rows()) == [
        (6, "bad_value", "OptOutType: REVOKE"),
        (7, "bad_value", "OptOutType: RESTART"),
        (8, "bad_value", "OptOutType: OPTIN"),
    ]
    assert accounted(batch) == {"messages_1.csv": (5, 1, 2)}


def test_directions_as_twilio_exports_them(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", direction="inbound")
        + msg("STOP", direction="Inbound")
        + msg("Reply STOP to stop", direction="outbound-api")
        + msg("Reply STOP to stop", direction="outbound-call")
        + msg("You are unsubscribed", direction="outbound-reply")
        + msg("STOP", direction="incoming"),  # not a direction Twilio writes: never skipped
    )
    batch = read(S)
    assert decisions(batch) == {1: ("opt_out", "express"), 2: ("opt_out", "express")}
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (3, "outbound"),
        (4, "outbound"),
        (5, "outbound"),
    ]
    assert batch.rejects.select("source_record", "reason", "detail").rows() == [
        (6, "unknown_direction", "Direction: incoming")
    ]
    assert accounted(batch) == {"messages_1.csv": (2, 3, 1)}


def test_spreadsheet_damaged_phone_columns(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", frm="14155550121", to="18885550100", sid="SM1")  # the + lost from both
        + msg("STOP", frm='"+1 (415) 555-0122"', to='"+1 (888) 555-0100"', sid="SM2")
        + msg("STOP", frm="14155550123.0", to="18885550100.0", sid="SM3")  # written back as a float
        + msg("STOP", frm="447700900124", to="447700900500", sid="SM4")
        + msg("STOP", frm="1.41556E+10", sid="SM5")  # digits lost to scientific notation
        + msg("STOP", to="1.88856E+10", sid="SM6")
        + msg("STOP", frm="4155550127", sid="SM7")  # no country code: not a number with a + added
        + msg("STOP", frm="2025550128", sid="SM8")  # +20 (Egypt) or, in the sender's US, +1 202
        + msg("STOP", to="18885550199", sid="SM9"),
    )
    batch = read(S)
    events = batch.table("events").unique(["source_record_id", "contact_point"]).sort("source_record_id")
    assert events.select("source_record_id", "contact_point", "brand").rows() == [
        ("SM1", "+14155550121", "lakeside_energy"),
        ("SM2", "+14155550122", "lakeside_energy"),
        ("SM3", "+14155550123", "lakeside_energy"),
        ("SM4", "+447700900124", "lakeside_motors"),
    ]
    rejects = sorted(batch.rejects.select("source_record", "reason", "detail").iter_rows())
    assert rejects == [
        (5, "damaged_phone", "From: 1.41556E+10 (its digits were lost to scientific notation)"),
        (6, "damaged_phone", "To: 1.88856E+10 (its digits were lost to scientific notation)"),
        (7, "invalid_phone", "From: 4155550127 (no +, and not a possible number with one)"),
        (
            8,
            "damaged_phone",
            "From: 2025550128 (no +: +2025550128 or, in the sender's country, +12025550128)",
        ),
        (9, "unmapped_sender", "To: 18885550199"),
    ]
    assert accounted(batch) == {"messages_1.csv": (4, 0, 5)}


def test_a_stop_without_a_usable_sent_date_is_estimated_a_start_is_not(drop, read):
    drop(
        S,
        D,
        "messages_1.csv",
        HEADER
        + msg("STOP", frm="+14155550121", when="", sid="SM1")
        + msg("please stop texting", frm="+14155550122", when="########", sid="SM2")
        + msg("START", frm="+14155550123", when="", sid="SM3")
        + msg("START", frm="+14155550124", when="24/02/2026 08:00", sid="SM4")
        + msg("STOP", frm="+14155550125", when="2026-02-30T10:00:00Z", sid="SM5")  # written as a date: none
        + msg("STOP", frm="+14155550126", sid="SM6"),
    )
    batch = read(S)
    received = dt.datetime(2026, 2, 20, 2)
    events = batch.table("events").unique(["source_record_id"]).sort("source_record_id")
    assert events.select("source_record_id", "status", "basis", "event_ts", "event_ts_estimated").rows() == [
        ("SM1", "opt_out", "express", received, True),
        ("SM2", "opt_out", "revocation_free_text", received, True),
        ("SM6", "opt_out", "express", AT, False),
    ]
    # a message without a time proves nothing datable about the phone
    assert batch.table("contact_evidence")["source_record_id"].to_list() == ["SM6"]
    assert sorted(batch.rejects.select("source_record", "reason", "detail").unique().iter_rows()) == [
        (3, "bad_timestamp", "SentDate is empty"),
        (4, "bad_timestamp", "SentDate: 24/02/2026 08:00"),
        (5, "bad_timestamp", "SentDate: 2026-02-30T10:00:00Z (no such date)"),
    ]
    assert accounted(batch) == {"messages_1.csv": (3, 0, 3)}


def test_keyword_rules_are_validated(tmp_path: Path):
    from consent_pipeline.config import load_rules
    from consent_pipeline.config.rules import RulesError
    from tests.test_rules import edited

    clash = edited(tmp_path / "a", "mappings/twilio_sms.yaml", lambda d: d["keywords"]["opt_in"].append("Arrêt"))
    with pytest.raises(RulesError) as err:
        load_rules(clash)
    assert err.value.file.endswith("twilio_sms.yaml") and "keywords" in err.value.key
    assert "opt_in.5: 'Arrêt' is already in opt_out" in err.value.problem
    national = edited(
        tmp_path / "b",
        "mappings/twilio_sms.yaml",
        lambda d: d["senders"].update({"18885550122": d["senders"]["+18885550111"]}),
    )
    with pytest.raises(RulesError) as err:
        load_rules(national)
    assert err.value.key == "senders.18885550122" and "not an E.164 number" in err.value.problem


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
        (4, "damaged_phone", "From: 1.41556E+10 (its digits were lost to scientific notation)"),
        (5, "damaged_phone", "To: 1.88856E+10 (its digits were lost to scientific notation)"),
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
    return dict((r, (s, b)) for r, s, b in events.select("source_record", "status", "basis").unique().iter_rows())
