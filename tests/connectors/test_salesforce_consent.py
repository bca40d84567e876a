"""salesforce_consent connector: Individual and ContactPointTypeConsent exports (feeds.md §2)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from consent_pipeline.canonical import Batch
from consent_pipeline.config import load_rules
from consent_pipeline.config.rules import RulesError
from consent_pipeline.core.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted
from tests.test_rules import edited

S = "salesforce_consent"
D = "2026-02-20T020000Z"
IND = "Id,CustomerId__c,HasOptedOutSolicit,ShouldForget,LastModifiedDate\n"
CPTC = (
    "Id,Name,PartyId,ContactPointType,EngagementChannelType,DataUsePurpose,BusinessBrand,PrivacyConsentStatus,"
    "CaptureDate,CaptureSource,CaptureContactPointType,DoubleConsentCaptureDate,EffectiveFrom,EffectiveTo,"
    "LastModifiedDate\n"
)
T = "2026-02-10T10:00:00.000+0000"


def consent(
    party: str = "0PK1",
    cpt: str = "Email",
    channel: str = "Email",
    purpose: str = "Promotional Offers",
    brand: str = "Lakeside Home",
    status: str = "OptIn",
    capture: str = T,
    source: str = "Web Form",
    double: str = "",
    effective_to: str = "",
    rid: str = "0ZY1",
) -> str:
    return (
        f"{rid},n,{party},{cpt},{channel},{purpose},{brand},{status},{capture},{source},{cpt},{double},{capture},"
        f"{effective_to},{capture}\n"
    )



def reasons(batch: Batch) -> list[tuple[str, int, str]]:
    rows = batch.rejects.select(
        pl.col("source_file").str.split("/").list.last(), "source_record", "reason"
    ).unique()
    return sorted(rows.iter_rows())


EVENT_COLS = (
    "party_id",
    "party_ref",
    "contact_point",
    "contact_point_type",
    "channel",
    "purpose",
    "brand",
    "status",
    "basis",
    "event_ts",
    "valid_until",
    "double_opt_in",
)


def test_individual_links_party_and_says_dont_market_and_forget(drop, read):
    drop(S, D, "Individual_1.csv", IND + f"0PK1,C1,false,false,{T}\n0PK2,C2,true,TRUE,2026-02-11T09:00:00Z\n")
    batch = read(S)
    assert batch.table("party_links").select("source_party_id", "party_id", "linked_at").rows() == [
        ("0PK1", "C1", dt.datetime(2026, 2, 10, 10)),
        ("0PK2", "C2", dt.datetime(2026, 2, 11, 9)),
    ]
    assert batch.table("events").select(*EVENT_COLS, "source_record_id").rows() == [
        (
            "C2",
            "0PK2",
            None,
            None,
            "*",
            "marketing",
            "*",
            "opt_out",
            "express",
            dt.datetime(2026, 2, 11, 9),
            None,
            False,
            "0PK2",
        ),
    ]
    erasure = batch.table("erasure_requests")
    assert erasure.select("request_id", "party_id", "regulation", "contact_point", "requested_at").rows() == [
        ("0PK2", "C2", None, None, dt.datetime(2026, 2, 11, 9))
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"Individual_1.csv": (2, 0, 0)}


def test_consents_are_party_level_events_and_reviews(drop, read):
    drop(S, D, "Individual_1.csv", IND + f"0PK1,C1,false,false,{T}\n")
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        CPTC
        + consent()
        + consent(
            cpt="Phone",
            channel="SMS",
            purpose="Newsletter",
            brand="",
            status="OptOut",
            capture="2026-02-11T08:15:00Z",
        )
        + consent(cpt="MailingAddress", channel="", purpose="Marketing", brand="Lakeside Motors")
        + consent(cpt="Social", channel="Phone Call", purpose="Outage Alerts", brand="Lakeside Energy"),
    )
    batch = read(S)
    events = batch.table("events").filter(pl.col("source_file").str.contains("ContactPointTypeConsent"))
    t, t2 = dt.datetime(2026, 2, 10, 10), dt.datetime(2026, 2, 11, 8, 15)
    assert events.sort("source_record").select(*EVENT_COLS).rows() == [
        (
            "C1",
            "0PK1",
            None,
            "email",
            "email",
            "marketing.offers",
            "lakeside_home",
            "opt_in",
            "express",
            t,
            None,
            False,
        ),
        (
            "C1",
            "0PK1",
            None,
            "phone",
            "sms",
            "marketing.newsletter",
            "*",
            "opt_out",
            "express",
            t2,
            None,
            False,
        ),
        # A blank channel is every channel of the ContactPointType.
        (
            "C1",
            "0PK1",
            None,
            "postal",
            "*",
            "marketing",
            "lakeside_motors",
            "opt_in",
            "express",
            t,
            None,
            False,
        ),
        # A ContactPointType outside the map is fine when the channel says the type.
        (
            "C1",
            "0PK1",
            None,
            "phone",
            "voice",
            "service.outage",
            "lakeside_energy",
            "opt_in",
            "express",
            t,
            None,
            False,
        ),
    ]
    assert events["source_record_id"].unique().to_list() == ["0ZY1"]
    reviews = batch.table("reviews").sort("source_record")
    assert reviews.select("party_id", "party_ref", "reviewed_at").rows() == [
        ("C1", "0PK1", t),
        ("C1", "0PK1", t2),
        ("C1", "0PK1", t),
        ("C1", "0PK1", t),
    ]
    assert accounted(batch) == {"Individual_1.csv": (1, 0, 0), "ContactPointTypeConsent_1.csv": (4, 0, 0)}


def test_individual_of_an_earlier_delivery_is_resolved_later(drop, read):
    drop(S, D, "ContactPointTypeConsent_1.csv", CPTC + consent(party="0PK9"))
    batch = read(S)
    assert batch.table("events").select("party_id", "party_ref").rows() == [(None, "0PK9")]
    assert batch.table("reviews").select("party_id", "party_ref").rows() == [(None, "0PK9")]


def test_basis_double_opt_in_and_effective_to(drop, read):
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        CPTC
        + consent(source="Call Center")
        + consent(source="phone")
        + consent(double="2026-02-10T10:05:00.000+0000")
        # EffectiveTo may lie in the future: it ends the opt-in then.
        + consent(effective_to="2027-01-31T00:00:00Z"),
    )
    events = read(S).table("events").sort("source_record")
    assert events.select("basis", "double_opt_in", "valid_until").rows() == [
        ("express_verbal", False, None),
        ("express_verbal", False, None),
        ("express", True, None),
        ("express", False, dt.datetime(2027, 1, 31)),
    ]


def test_seen_and_not_seen_are_skipped_not_reviews(drop, read):
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        CPTC + consent(status="Seen") + consent(status="NotSeen", purpose="Loyalty Club") + consent(),
    )
    batch = read(S)
    assert batch.skips.sort("source_record").select("source_record", "reason").rows() == [
        (1, "no_decision"),
        (2, "no_decision"),
    ]
    assert batch.table("events")["source_record"].to_list() == [3]
    assert batch.table("reviews")["source_record"].to_list() == [3]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"ContactPointTypeConsent_1.csv": (1, 2, 0)}


def test_bad_consent_rows_are_quarantined_and_the_rest_carries_on(drop, read):
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        CPTC
        + consent(status="Maybe")
        + consent(status="")
        + consent(party="")
        + consent(channel="Fax")
        + consent(cpt="Web", channel="")
        + consent(cpt="Email", channel="SMS")
        + consent(purpose="Loyalty Club")
        + consent(purpose="")
        + consent(brand="Lakeside Boats")
        + consent(capture="10/02/2026 10:00")
        + consent(effective_to="31/01/2027")
        + consent(capture="2026-02-23T10:00:00Z")
        + consent(rid="0ZYgood"),
    )
    batch = read(S)
    f = "ContactPointTypeConsent_1.csv"
    assert reasons(batch) == [
        (f, 1, "bad_value"),
        (f, 2, "missing_value"),
        (f, 3, "missing_value"),
        (f, 4, "unmapped_channel"),
        (f, 5, "unmapped_contact_point_type"),
        (f, 6, "bad_value"),
        (f, 7, "unmapped_purpose"),
        (f, 8, "missing_value"),
        (f, 9, "unmapped_brand"),
        (f, 10, "bad_timestamp"),
        (f, 11, "bad_timestamp"),
        (f, 12, "future_timestamp"),
    ]
    details = dict(batch.rejects.select("source_record", "detail").iter_rows())
    assert details[4] == "EngagementChannelType: Fax"
    assert details[7] == "DataUsePurpose: Loyalty Club"
    assert details[10] == "CaptureDate: 10/02/2026 10:00"
    assert batch.table("events")["source_record_id"].to_list() == ["0ZYgood"]
    assert batch.table("reviews")["source_record"].to_list() == [13]
    assert accounted(batch) == {f: (1, 0, 12)}


def test_bad_individual_rows(drop, read):
    drop(
        S,
        D,
        "Individual_1.csv",
        IND
        + f"0PK1,,true,false,{T}\n"  # no customer: nothing to link
        + "0PK2,C2,false,false,yesterday\n"
        + f"0PK3,C3,maybe,true,{T}\n",  # a bad flag is a rejected part: the link and the erasure stand
    )
    drop(S, D, "ContactPointTypeConsent_1.csv", CPTC + consent(party="0PK2"))
    batch = read(S)
    assert reasons(batch) == [
        ("Individual_1.csv", 1, "missing_value"),
        ("Individual_1.csv", 2, "bad_timestamp"),
        ("Individual_1.csv", 3, "bad_value"),
    ]
    assert batch.rejects.filter(pl.col("source_record") == 3)["detail"].to_list() == [
        "HasOptedOutSolicit: maybe"
    ]
    assert batch.table("party_links")["source_party_id"].to_list() == ["0PK3"]
    assert batch.table("erasure_requests")["request_id"].to_list() == ["0PK3"]
    # The Individual's time is bad, but its customer id still names the party of its consents.
    assert batch.table("events").select("party_id", "party_ref").rows() == [("C2", "0PK2")]
    assert accounted(batch) == {"Individual_1.csv": (1, 0, 2), "ContactPointTypeConsent_1.csv": (1, 0, 0)}


def test_columns_by_name_extra_columns_and_missing_required_column(drop, read):
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        "IsDeleted,PrivacyConsentStatus,DataUsePurpose,Id,PartyId,EngagementChannelType,ContactPointType,"
        "BusinessBrand,CaptureDate,EffectiveTo,CaptureSource,SystemModstamp\n"
        f"false,OptOut,Newsletter,0ZY1,0PK1,Email,Email,Lakeside Home,{T},,Web Form,{T}\n",
    )
    drop(S, D, "Individual_1.csv", f"Id,CustomerId__c,LastModifiedDate\n0PK1,C1,{T}\n")
    batch = read(S)
    assert batch.table("events").select("party_ref", "purpose", "status", "double_opt_in").rows() == [
        ("0PK1", "marketing.newsletter", "opt_out", False)
    ]
    assert reasons(batch) == [("Individual_1.csv", 1, "missing_column")]
    assert batch.table("party_links").height == 0


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "Contact_1.csv", "Id\n1\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]
    # Its ledger row says so and counts no record: the first run whose rules name the file reads it.
    assert batch.files.select("rows_read", "file_status").rows() == [(0, "unexpected")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": (
            {"Individual_export.csv": (1, 0, 0), "ContactPointTypeConsent_export.csv": (1, 0, 2)},
            [(2, "bad_timestamp"), (3, "unmapped_purpose")],
        ),
        "late_delivery": (
            {"Individual_export.csv": (1, 0, 0), "ContactPointTypeConsent_export.csv": (2, 0, 0)},
            [],
        ),
        "formats_and_time": (
            {"Individual_export.csv": (1, 0, 0), "ContactPointTypeConsent_export.csv": (2, 0, 0)},
            [],
        ),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, rejects) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(batch.rejects.select("source_record", "reason").iter_rows()) == rejects, name
    late = read_source(S, SCENARIOS / "late_delivery" / "landing", rules).table("events").sort("event_ts")
    assert late.select("party_id", "purpose", "brand", "event_ts").rows() == [
        ("C100101", "marketing.offers", "lakeside_home", dt.datetime(2026, 2, 5, 10)),
        ("C100101", "marketing.newsletter", "lakeside_home", dt.datetime(2026, 2, 8, 9, 30)),
    ]


SF_RULES = "mappings/salesforce_consent.yaml"


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        # The 18-character form is not a key: ids match on their first 15 characters.
        (
            lambda d: d["record_ids"]["data_use_purposes"].update({"0ZW5e0000004AzZAAA": "Marketing"}),
            "record_ids.data_use_purposes",
            "15-character",
        ),
        (
            lambda d: d["record_ids"]["engagement_channels"].update({"0dB5e0000008Q-Z": "Email"}),
            "record_ids.engagement_channels",
            "15-character",
        ),
        (
            lambda d: d["record_ids"]["data_use_purposes"].update({"0ZW5e0000004AzZ": "Loyalty Club"}),
            "record_ids.data_use_purposes.0ZW5e0000004AzZ",
            "unknown name 'Loyalty Club'",
        ),
        (
            lambda d: d["record_ids"]["business_brands"].update({"0mB5e0000002LzZ": "lakeside_home"}),
            "record_ids.business_brands.0mB5e0000002LzZ",
            "unknown name 'lakeside_home'",
        ),
    ],
    ids=["18-characters", "not-alphanumeric", "unknown-purpose-name", "brand-id-not-display-name"],
)
def test_record_id_table_is_validated(tmp_path: Path, change, key: str, problem: str) -> None:
    root = edited(tmp_path, SF_RULES, change)
    with pytest.raises(RulesError) as err:
        load_rules(root)
    assert err.value.file == str(root / SF_RULES)
    assert key in err.value.key
    assert problem in err.value.problem
