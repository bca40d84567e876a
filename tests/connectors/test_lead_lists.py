"""lead_lists connector: third-party leads, each consent channel an opt-in (feeds.md §12)."""

from __future__ import annotations

import datetime as dt

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "lead_lists"
D = "2026-02-20T020000Z"
HEADER = (
    "lead_id,vendor,brand,email,phone,first_name,last_name,country,postal_code,consent_channels,"
    "consent_text_version,consent_captured_at,ip_address\n"
)
AT = dt.datetime(2026, 2, 10, 12)


def lead(
    channels: str,
    email: str = "lia.lead@example.co.uk",
    phone: str = "07700 900829",
    country: str = "GB",
    brand: str = "lakeside_motors",
    when: str = "2026-02-10T12:00:00Z",
    lead_id: str = "L-1",
) -> str:
    return (
        f"{lead_id},LeadSpring,{brand},{email},{phone},Lia,Lead,{country},LS1 4AB,{channels},v2.1,{when},"
        "198.51.100.23\n"
    )


def events(batch: Batch) -> list[tuple]:
    return sorted(
        batch.table("events")
        .select("source_record", "channel", "contact_point", "contact_point_type", "party_id")
        .rows()
    )


def rejects(batch: Batch) -> list[tuple]:
    return sorted(batch.rejects.select("source_record", "reason", "detail").unique().rows())


def test_each_channel_is_a_third_party_opt_in(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead("email;sms;voice", lead_id="L-7"))
    batch = read(S)
    assert events(batch) == [
        (1, "email", "lia.lead@example.co.uk", "email", None),
        (1, "sms", "+447700900829", "phone", None),
        (1, "voice", "+447700900829", "phone", None),
    ]
    scope = batch.table("events").select(
        "source_record_id", "purpose", "brand", "status", "basis", "event_ts", "valid_until", "double_opt_in"
    )
    assert scope.unique().rows() == [
        ("L-7", "marketing.offers", "lakeside_motors", "opt_in", "third_party", AT, None, False)
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"leads_1.csv": (1, 0, 0)}


def test_channel_list_is_trimmed_case_insensitive_and_deduplicated(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead(" Email ; SMS;;email"))
    batch = read(S)
    assert [(r, ch) for r, ch, *_ in events(batch)] == [(1, "email"), (1, "sms")]


def test_phone_is_parsed_with_the_lead_country(drop, read):
    drop(
        S,
        D,
        "leads_1.csv",
        HEADER
        + lead("sms", phone="(415) 555-0134", country="us", brand="lakeside_energy")
        + lead("sms", phone="0491 570 159", country="AU"),
    )
    batch = read(S)
    assert [(r, cp) for r, _, cp, *_ in events(batch)] == [(1, "+14155550134"), (2, "+61491570159")]


def test_capture_time_is_iso_8601_in_utc(drop, read):
    drop(
        S,
        D,
        "leads_1.csv",
        HEADER + lead("email", when="2026-02-10T13:00:00+01:00") + lead("email", when="2026-02-11 08:30:00"),
    )
    batch = read(S)
    assert sorted(batch.table("events")["event_ts"].to_list()) == [AT, dt.datetime(2026, 2, 11, 8, 30)]


def test_channels_without_a_lead_contact_point_are_rejected_parts(drop, read):
    drop(
        S,
        D,
        "leads_1.csv",
        HEADER
        + lead("email;mail;door;push")  # accepted for email
        + lead("mail")  # nothing usable: quarantined
        + lead("sms;email", phone=""),  # no phone for the sms part
    )
    batch = read(S)
    assert [(r, ch) for r, ch, *_ in events(batch)] == [(1, "email"), (3, "email")]
    no_cp = "a lead has no contact point of this channel's type"
    assert rejects(batch) == [
        (1, "no_contact_point", f"consent_channels: door ({no_cp})"),
        (1, "no_contact_point", f"consent_channels: mail ({no_cp})"),
        (1, "no_contact_point", f"consent_channels: push ({no_cp})"),
        (2, "no_contact_point", f"consent_channels: mail ({no_cp})"),
        (3, "no_contact_point", "consent_channels: sms (phone is empty)"),
    ]
    # a lead with no usable channel leaves no profile
    assert sorted(batch.table("subject_profiles")["source_record"].to_list()) == [1, 3]
    assert accounted(batch) == {"leads_1.csv": (2, 0, 1)}


def test_unknown_channel_is_an_unmapped_part(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead("email;fax") + lead("whatsapp"))
    batch = read(S)
    assert [(r, ch) for r, ch, *_ in events(batch)] == [(1, "email")]
    assert rejects(batch) == [
        (1, "unmapped_channel", "consent_channels: fax"),
        (2, "unmapped_channel", "consent_channels: whatsapp"),
    ]
    assert accounted(batch) == {"leads_1.csv": (1, 0, 1)}


def test_subject_profile_gives_the_prospect_a_region(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead("email", email=" Lia.Lead@Example.co.uk", lead_id="L-9"))
    profiles = read(S).table("subject_profiles")
    assert profiles.select(
        "source_record_id", "party_id", "email", "phone", "country", "first_name", "last_name", "observed_ts"
    ).rows() == [("L-9", None, "lia.lead@example.co.uk", "+447700900829", "GB", "Lia", "Lead", AT)]


def test_bad_capture_time_rejects_the_whole_lead(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead("email;sms", when="last tuesday") + lead("email", when=""))
    batch = read(S)
    assert batch.table("events").height == 0
    assert batch.table("subject_profiles").height == 0
    assert rejects(batch) == [
        (1, "bad_timestamp", "consent_captured_at: last tuesday"),
        (2, "bad_timestamp", "consent_captured_at: "),
    ]
    assert accounted(batch) == {"leads_1.csv": (0, 0, 2)}


def test_future_capture_time_is_rejected_by_the_core(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead("email", when="2026-02-22T12:00:00Z"))
    batch = read(S)
    assert {r for r, reason, _ in rejects(batch)} == {1}
    assert {reason for _, reason, _ in rejects(batch)} == {"future_timestamp"}
    assert accounted(batch) == {"leads_1.csv": (0, 0, 1)}


def test_malformed_email_of_an_email_only_lead(drop, read):
    drop(S, D, "leads_1.csv", HEADER + lead("email", email="kim.example.com", phone=""))
    batch = read(S)
    # the event and the profile name the same bad value: one rejected part
    assert rejects(batch) == [(1, "invalid_email", "kim.example.com")]
    assert accounted(batch) == {"leads_1.csv": (0, 0, 1)}


def test_unknown_or_empty_brand_and_no_channels(drop, read):
    drop(
        S,
        D,
        "leads_1.csv",
        HEADER + lead("email", brand="lakeside_boats") + lead("email", brand="") + lead("") + lead(" ; "),
    )
    batch = read(S)
    assert batch.table("events").height == 0
    assert batch.table("subject_profiles").height == 0
    assert rejects(batch) == [
        (1, "unknown_brand", "brand: lakeside_boats"),
        (2, "missing_value", "brand is empty"),
        (3, "missing_value", "consent_channels is empty"),
        (4, "missing_value", "consent_channels is empty"),
    ]
    assert accounted(batch) == {"leads_1.csv": (0, 0, 4)}


def test_columns_by_name_optional_and_missing_required(drop, read):
    drop(
        S,
        D,
        "leads_2.csv",
        "consent_captured_at,brand,email,consent_channels,score\n"
        "2026-02-10T12:00:00Z,lakeside_home,ana@example.com,email;sms,7\n",
    )
    drop(S, D, "leads_3.csv", "lead_id,brand,email,consent_channels\nL-1,lakeside_home,ana@example.com,email\n")
    batch = read(S)
    assert [(r, ch) for r, ch, *_ in events(batch)] == [(1, "email")]
    assert rejects(batch) == [
        (1, "missing_column", "missing column(s): consent_captured_at"),
        (1, "no_contact_point", "consent_channels: sms (phone is empty)"),
    ]
    assert accounted(batch) == {"leads_2.csv": (1, 0, 0), "leads_3.csv": (0, 0, 1)}


def test_unexpected_file(drop, read):
    drop(S, D, "vendors.csv", "vendor\nLeadSpring\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == ["bad_input", "regional_templates"]
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    assert accounted(bad) == {"leads_0001.csv": (1, 0, 2)}
    assert rejects(bad) == [
        (2, "invalid_email", "kim.example.com"),
        (3, "bad_timestamp", "consent_captured_at: last tuesday"),
    ]
    assert bad.table("events").select("contact_point", "channel", "brand", "basis").rows() == [
        ("+447700900829", "sms", "lakeside_motors", "third_party")
    ]
    regional = read_source(S, SCENARIOS / "regional_templates" / "landing", rules)
    assert accounted(regional) == {"leads_0001.csv": (1, 0, 0)}
    assert events(regional) == [(1, "email", "quinn.nowhere@example.net", "email", None)]
    assert regional.table("subject_profiles").select("email", "country").rows() == [("quinn.nowhere@example.net", None)]
