"""salesforce_consent connector: Individual and ContactPointTypeConsent exports (feeds.md §2)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from consent_pipeline.canonical import Batch
from consent_pipeline.config import load_rules
from consent_pipeline.config.rules import RulesError
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted
from tests.helpers import rows, run, table_hash, write
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
    rows = batch.rejects.select(pl.col("source_file").str.split("/").list.last(), "source_record", "reason").unique()
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
    assert batch.rejects.filter(pl.col("source_record") == 3)["detail"].to_list() == ["HasOptedOutSolicit: maybe"]
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


# --- real Data Loader exports: record ids, relationship names, labels, deleted records ---------------

# Data Loader, "Export All" of ContactPointTypeConsent with the lookups as 18-character record ids, upper-case
# headers (some Data Loader versions), extra system columns and picklist labels.
DATA_LOADER = (
    "ID,ISDELETED,NAME,PARTYID,CONTACTPOINTTYPE,ENGAGEMENTCHANNELTYPEID,DATAUSEPURPOSEID,BUSINESSBRANDID,"
    "PRIVACYCONSENTSTATUS,CAPTUREDATE,CAPTURESOURCE,CAPTURECONTACTPOINTTYPE,DOUBLECONSENTCAPTUREDATE,"
    "EFFECTIVEFROM,EFFECTIVETO,CREATEDDATE,CREATEDBYID,LASTMODIFIEDDATE,LASTMODIFIEDBYID,SYSTEMMODSTAMP\n"
)
SYS = '"2026-02-10T10:00:00.000+0000","0055e000001AbCdAAK"'


def loader_row(
    rid: str,
    channel: str = "0dB5e0000008QaAEAU",
    purpose: str = "0ZW5e0000004AbBGAU",
    brand: str = "0mB5e0000002LbBCAU",
    status: str = "Opt In",
    capture: str = T,
    deleted: str = "false",
    effective_from: str = "",
    modified: str = T,
    cpt: str = "Email",
) -> str:
    return (
        f'"{rid}","{deleted}","Consent {rid}","0PK5e000000AbCdGAK","{cpt}","{channel}","{purpose}","{brand}",'
        f'"{status}","{capture}","Web Form","{cpt}","","{effective_from}","",{SYS},"{modified}",'
        f'"0055e000001AbCdAAK","{modified}"\n'
    )


def test_data_loader_export_with_record_ids_labels_and_deleted_records(drop, read):
    drop(S, D, "Individual_20260220.csv", IND + f"0PK5e000000AbCdGAK,C1,false,false,{T}\n")
    drop(
        S,
        D,
        "ContactPointTypeConsent_20260220.csv",
        DATA_LOADER
        + loader_row("0ZY1")  # 18-character ids
        + loader_row(
            "0ZY2",
            channel="0dB5e0000008QbB",
            purpose="0ZW5e0000004AcC",
            brand="",
            status="OPT OUT",
            cpt="Phone",
        )
        + loader_row("0ZY3", status="Not Seen")
        + loader_row("0ZY4", status="optout", deleted="true")  # an "Export All" deleted record
        + loader_row("0ZY5", purpose="0ZW5e0000004AzZAAA")  # an id the rules do not list
        + loader_row("0ZY6", purpose="0zw5E0000004abbGAU")  # ids are case-sensitive
        + loader_row("0ZY7", channel="0dB5e0000008Q")  # neither 15 nor 18 characters
        + loader_row("0ZY8", status="Opted In")  # not a PrivacyConsentStatus: quarantined, never skipped
        + loader_row("0ZY9", status="seen"),
    )
    batch = read(S)
    f = "ContactPointTypeConsent_20260220.csv"
    assert reasons(batch) == [
        (f, 5, "unmapped_value"),
        (f, 6, "unmapped_value"),
        (f, 7, "unmapped_value"),
        (f, 8, "bad_value"),
    ]
    details = dict(batch.rejects.select("source_record", "detail").iter_rows())
    assert details[5] == "DataUsePurposeId: 0ZW5e0000004AzZAAA"
    assert details[7] == "EngagementChannelTypeId: 0dB5e0000008Q"
    assert details[8] == "PrivacyConsentStatus: Opted In"
    events = batch.table("events").filter(pl.col("source_file").str.ends_with(f)).sort("source_record")
    assert events.select(
        "source_record_id",
        "party_id",
        "party_ref",
        "contact_point_type",
        "channel",
        "purpose",
        "brand",
        "status",
    ).rows() == [
        ("0ZY1", "C1", "0PK5e000000AbCd", "email", "email", "marketing.offers", "lakeside_home", "opt_in"),
        ("0ZY2", "C1", "0PK5e000000AbCd", "phone", "sms", "marketing.newsletter", "*", "opt_out"),
    ]
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (3, "no_decision"),
        (4, "deleted"),
        (9, "no_decision"),
    ]
    assert accounted(batch) == {"Individual_20260220.csv": (1, 0, 0), f: (2, 3, 4)}


def test_relationship_name_export_in_lower_case(drop, read):
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        "id,partyid,contactpointtype,engagementchanneltype.name,datausepurpose.name,businessbrand.name,"
        "privacyconsentstatus,capturedate,capturesource,effectiveto,isdeleted\n"
        f"0ZY1,0PK1,Phone,Phone Call,Service Reminders,Lakeside Motors,OptIn,{T},Call Center,,false\n"
        f"0ZY2,0PK1,MailingAddress,,Marketing,,Opt Out,{T},Web Form,,0\n"
        f"0ZY3,0PK1,Email,Email,Loyalty Club,Lakeside Home,OptIn,{T},Web Form,,false\n"
        f"0ZY4,0PK1,Email,Email,Newsletter,Lakeside Boats,OptIn,{T},Web Form,,false\n",
    )
    batch = read(S)
    assert batch.table("events").sort("source_record").select(
        "contact_point_type", "channel", "purpose", "brand", "status", "basis"
    ).rows() == [
        ("phone", "voice", "marketing.service_reminders", "lakeside_motors", "opt_in", "express_verbal"),
        ("postal", "*", "marketing", "*", "opt_out", "express"),
    ]
    assert reasons(batch) == [
        ("ContactPointTypeConsent_1.csv", 3, "unmapped_purpose"),
        ("ContactPointTypeConsent_1.csv", 4, "unmapped_brand"),
    ]
    details = dict(batch.rejects.select("source_record", "detail").iter_rows())
    assert details == {3: "DataUsePurpose.Name: Loyalty Club", 4: "BusinessBrand.Name: Lakeside Boats"}


def test_forms_may_be_mixed_and_must_agree(drop, read):
    # Ids and relationship names side by side (a SOQL export with both): they must name the same record.
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        "Id,PartyId,ContactPointType,EngagementChannelTypeId,EngagementChannelType.Name,DataUsePurposeId,"
        "BusinessBrand,PrivacyConsentStatus,CaptureDate,CaptureSource,EffectiveTo\n"
        f"0ZY1,0PK1,Email,0dB5e0000008QaAEAU,Email,0ZW5e0000004AbBGAU,Lakeside Home,OptIn,{T},Web,\n"
        f"0ZY2,0PK1,Email,0dB5e0000008QaAEAU,,0ZW5e0000004AbBGAU,Lakeside Home,OptIn,{T},Web,\n"
        f"0ZY3,0PK1,Phone,0dB5e0000008QaAEAU,SMS,0ZW5e0000004AbBGAU,Lakeside Home,OptIn,{T},Web,\n",
    )
    batch = read(S)
    assert batch.table("events").select("source_record", "channel", "purpose").rows() == [
        (1, "email", "marketing.offers"),
        (2, "email", "marketing.offers"),
    ]
    assert batch.rejects.select("source_record", "reason", "detail").rows() == [
        (3, "bad_value", "EngagementChannelTypeId: 0dB5e0000008QaAEAU, EngagementChannelType.Name: SMS")
    ]


def test_a_file_without_any_form_of_a_lookup_fails_safe(drop, read):
    # Without BusinessBrand in any form, every opt-in would read as every brand: the file is not read.
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        "Id,PartyId,ContactPointType,EngagementChannelTypeId,DataUsePurposeId,PrivacyConsentStatus,CaptureDate,"
        "CaptureSource,EffectiveTo\n"
        f"0ZY1,0PK1,Email,0dB5e0000008QaA,0ZW5e0000004AbB,OptIn,{T},Web,\n"
        f"0ZY2,0PK1,Email,0dB5e0000008QaA,0ZW5e0000004AbB,OptOut,{T},Web,\n",
    )
    batch = read(S)
    assert batch.table("events").height == 0
    assert sorted(batch.rejects.select("source_record", "reason").iter_rows()) == [
        (1, "missing_column"),
        (2, "missing_column"),
    ]
    assert "BusinessBrand or BusinessBrandId or BusinessBrand.Name" in batch.rejects["detail"][0]
    assert accounted(batch) == {"ContactPointTypeConsent_1.csv": (0, 0, 2)}


def test_capture_date_falls_back_and_an_opt_out_without_a_time_is_estimated(drop, read):
    t_from, t_mod = "2026-02-09T08:00:00Z", "2026-02-12T08:00:00Z"
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        CPTC_TIMES
        + times_row("0ZY1", "OptIn", "", t_from, t_mod)  # blank CaptureDate: EffectiveFrom
        + times_row("0ZY2", "OptIn", "", "", t_mod)  # then LastModifiedDate
        + times_row("0ZY3", "OptOut", "", "", "")  # none: at the delivery's time, estimated
        + times_row("0ZY4", "OptIn", "", "", "")  # an opt-in needs a time
        + times_row("0ZY5", "OptOut", "yesterday", t_from, t_mod)  # unreadable is not blank: estimated
        + times_row("0ZY6", "OptIn", "yesterday", t_from, t_mod)  # ... and quarantined for an opt-in
        + times_row("0ZY7", "OptOut", T, "", "", effective_to="soon")  # an opt-out has no end: it stands
        + times_row("0ZY8", "OptIn", T, "", "", effective_to="soon"),
    )
    batch = read(S)
    events = batch.table("events").sort("source_record")
    received = dt.datetime(2026, 2, 20, 2)
    assert events.select("source_record_id", "status", "event_ts", "event_ts_estimated").rows() == [
        ("0ZY1", "opt_in", dt.datetime(2026, 2, 9, 8), False),
        ("0ZY2", "opt_in", dt.datetime(2026, 2, 12, 8), False),
        ("0ZY3", "opt_out", received, True),
        ("0ZY5", "opt_out", received, True),
        ("0ZY7", "opt_out", dt.datetime(2026, 2, 10, 10), False),
    ]
    f = "ContactPointTypeConsent_1.csv"
    assert reasons(batch) == [
        (f, 4, "bad_timestamp"),
        (f, 6, "bad_timestamp"),
        (f, 7, "bad_timestamp"),
        (f, 8, "bad_timestamp"),
    ]
    details = dict(batch.rejects.select("source_record", "detail").iter_rows())
    assert details[4] == "CaptureDate, EffectiveFrom, LastModifiedDate: all empty"
    assert details[6] == "CaptureDate: yesterday"
    assert details[7] == details[8] == "EffectiveTo: soon"
    # No review without a time.
    assert batch.table("reviews")["source_record"].to_list() == [1, 2, 7]
    assert accounted(batch) == {f: (5, 0, 3)}


CPTC_TIMES = (
    "Id,PartyId,ContactPointType,EngagementChannelType,DataUsePurpose,BusinessBrand,PrivacyConsentStatus,"
    "CaptureDate,CaptureSource,EffectiveFrom,EffectiveTo,LastModifiedDate\n"
)


def times_row(rid: str, status: str, capture: str, effective_from: str, modified: str, effective_to: str = "") -> str:
    return (
        f"{rid},0PK1,Email,Email,Newsletter,Lakeside Home,{status},{capture},Web Form,{effective_from},"
        f"{effective_to},{modified}\n"
    )


def test_deleted_individuals_and_dont_market_without_a_time(drop, read):
    drop(
        S,
        D,
        "Individual_1.csv",
        "Id,IsDeleted,CustomerId__c,HasOptedOutSolicit,ShouldForget,LastModifiedDate,SystemModstamp\n"
        f"0PK1,true,C1,true,true,{T},{T}\n"  # deleted: nothing of it counts
        "0PK2,false,C2,true,false,,\n"  # Don't Market without a time: estimated at the delivery's time
        f"0PK3,maybe,C3,true,true,{T},{T}\n"  # may be deleted: only its opt-out is read
        f"0PK4,maybe,C4,false,true,{T},{T}\n",
    )
    batch = read(S)
    assert batch.table("events").sort("source_record").select(
        "party_id", "status", "event_ts", "event_ts_estimated"
    ).rows() == [
        ("C2", "opt_out", dt.datetime(2026, 2, 20, 2), True),
        ("C3", "opt_out", dt.datetime(2026, 2, 10, 10), False),
    ]
    assert batch.table("erasure_requests").height == 0
    assert batch.table("party_links").height == 0  # the link needs its time (as before)
    assert reasons(batch) == [
        ("Individual_1.csv", 2, "bad_timestamp"),
        ("Individual_1.csv", 3, "bad_value"),
        ("Individual_1.csv", 4, "bad_value"),
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(1, "deleted")]
    assert accounted(batch) == {"Individual_1.csv": (2, 1, 1)}


def test_unreadable_is_deleted_keeps_an_opt_out_only(drop, read):
    drop(
        S,
        D,
        "ContactPointTypeConsent_1.csv",
        "Id,IsDeleted,PartyId,ContactPointType,EngagementChannelType,DataUsePurpose,BusinessBrand,"
        "PrivacyConsentStatus,CaptureDate,CaptureSource,EffectiveTo\n"
        f"0ZY1,yes?,0PK1,Email,Email,Newsletter,,OptOut,{T},Web,\n"
        f"0ZY2,yes?,0PK1,Email,Email,Newsletter,,OptIn,{T},Web,\n",
    )
    batch = read(S)
    assert batch.table("events").select("source_record", "status").rows() == [(1, "opt_out")]
    assert reasons(batch) == [
        ("ContactPointTypeConsent_1.csv", 1, "bad_value"),
        ("ContactPointTypeConsent_1.csv", 2, "bad_value"),
    ]
    assert accounted(batch) == {"ContactPointTypeConsent_1.csv": (1, 0, 1)}


# --- ContactPointConsent with ContactPointEmail / ContactPointPhone ---------------------------------

POINT_CONSENT = (
    "Id,Name,ContactPointId,DataUsePurposeId,PrivacyConsentStatus,CaptureDate,CaptureSource,"
    "DoubleConsentCaptureDate,EffectiveFrom,EffectiveTo,LastModifiedDate,IsDeleted,SystemModstamp\n"
)
POINT_EMAIL = "Id,IsDeleted,ParentId,EmailAddress,IsPrimary,EmailLatestBounceDateTime,LastModifiedDate\n"
POINT_PHONE = "Id,IsDeleted,ParentId,TelephoneNumber,PhoneType,IsSmsCapable,LastModifiedDate\n"


def test_contact_point_consents_name_their_contact_point_by_id(drop, read):
    drop(S, D, "Individual_1.csv", IND + f"0PK5e000000AbCdGAK,C1,false,false,{T}\n")
    drop(
        S,
        D,
        "ContactPointEmail_1.csv",
        POINT_EMAIL
        + f"9PE5e000000AbCdEAK,false,0PK5e000000AbCdGAK,Ana.Silva@Example.com,true,,{T}\n"
        + f"9PE5e000000AbCeEAK,true,0PK5e000000AbCdGAK,old@example.com,false,,{T}\n"  # deleted
        + f"9PE5e000000AbCfEAK,false,0PK5e000000AbCdGAK,not-an-address,false,,{T}\n"
        + f"9PE5e000000AbCgEAK,false,,orphan@example.com,false,,{T}\n",  # no Individual: a rejected part
    )
    drop(
        S,
        D,
        "ContactPointPhone_1.csv",
        POINT_PHONE + f"0OW5e000000AbCdEAK,false,0PK5e000000AbCdGAK,+1 415 555 0134,Mobile,true,{T}\n",
    )
    drop(
        S,
        D,
        "ContactPointConsent_1.csv",
        POINT_CONSENT
        + f"0ZC1,c1,9PE5e000000AbCdEAK,0ZW5e0000004AbBGAU,OptIn,{T},Web Form,{T},,,{T},false,{T}\n"
        # 15-character ContactPointId, picklist label, blank CaptureDate and EffectiveFrom: LastModifiedDate
        + "0ZC2,c2,0OW5e000000AbCd,0ZW5e0000004AcC,Opt Out,,Web Form,,,,2026-02-11T09:00:00Z,false,\n"
        + f"0ZC3,c3,9PE5e000000ZzZzEAK,0ZW5e0000004AbB,OptOut,{T},Web Form,,,,{T},false,{T}\n"  # waits
        + f"0ZC4,c4,,0ZW5e0000004AbB,OptOut,{T},Web Form,,,,{T},false,{T}\n"
        + f"0ZC5,c5,9PE5e000000AbCdEAK,0ZW5e0000004AbB,OptOut,{T},Web Form,,,,{T},true,{T}\n",
    )
    batch = read(S)
    links = batch.table("contact_point_links").sort("source_record", "source_file")
    assert links.select("source_point_id", "party_ref", "contact_point", "contact_point_type").rows() == [
        ("9PE5e000000AbCd", "0PK5e000000AbCd", "ana.silva@example.com", "email"),
        ("0OW5e000000AbCd", "0PK5e000000AbCd", "+14155550134", "phone"),
        ("9PE5e000000AbCg", None, "orphan@example.com", "email"),
    ]
    events = batch.table("events").filter(pl.col("contact_point_ref").is_not_null()).sort("source_record")
    assert events.select(
        "contact_point_ref",
        "contact_point",
        "party_id",
        "party_ref",
        "channel",
        "purpose",
        "brand",
        "status",
        "event_ts",
        "double_opt_in",
    ).rows() == [
        (
            "9PE5e000000AbCd",
            None,
            None,
            None,
            "*",
            "marketing.offers",
            "*",
            "opt_in",
            dt.datetime(2026, 2, 10, 10),
            True,
        ),
        (
            "0OW5e000000AbCd",
            None,
            None,
            None,
            "*",
            "marketing.newsletter",
            "*",
            "opt_out",
            dt.datetime(2026, 2, 11, 9),
            False,
        ),
        (
            "9PE5e000000ZzZz",
            None,
            None,
            None,
            "*",
            "marketing.offers",
            "*",
            "opt_out",
            dt.datetime(2026, 2, 10, 10),
            False,
        ),
    ]
    # Reviews of the party this delivery names.
    assert batch.table("reviews").filter(pl.col("source_file").str.contains("ContactPointConsent")).select(
        "source_record", "party_id", "party_ref"
    ).sort("source_record").rows() == [(1, "C1", "0PK5e000000AbCd"), (2, "C1", "0PK5e000000AbCd")]
    assert reasons(batch) == [
        ("ContactPointConsent_1.csv", 4, "missing_value"),
        ("ContactPointEmail_1.csv", 3, "invalid_email"),
        ("ContactPointEmail_1.csv", 4, "missing_value"),
    ]
    assert accounted(batch) == {
        "Individual_1.csv": (1, 0, 0),
        "ContactPointEmail_1.csv": (2, 1, 1),
        "ContactPointPhone_1.csv": (1, 0, 0),
        "ContactPointConsent_1.csv": (3, 1, 1),
    }


def test_contact_point_consent_without_a_purpose_column_fails_safe(drop, read):
    drop(
        S,
        D,
        "ContactPointConsent_1.csv",
        "Id,ContactPointId,PrivacyConsentStatus,CaptureDate,CaptureSource,EffectiveTo\n"
        f"0ZC1,9PE5e000000AbCd,OptIn,{T},Web,\n",
    )
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(1, "missing_column")]


# --- through the pipeline (real Dagster run, real DuckDB) -------------------------------------------

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,"
    "address_line1,city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    "C1,,true,Ana,Silva,ana@example.co.uk,07700 900456,,1 High St,Leeds,,LS1 1AA,GB,customer,lakeside_home,"
    "2019-04-02T10:11:12Z,2026-01-27T08:00:00Z\n"
)
D1, D2, D3 = "2026-02-10T020000Z", "2026-02-20T020000Z", "2026-02-25T020000Z"


def _individual(landing: Path, delivery: str) -> None:
    ind = IND + "0PK5e000000AbCdGAK,C1,false,false,2026-02-09T10:00:00Z\n"
    write(landing, S, delivery, "Individual_1.csv", ind)


def _contact_points(landing: Path, delivery: str) -> None:
    write(
        landing,
        S,
        delivery,
        "ContactPointEmail_1.csv",
        POINT_EMAIL + "9PE5e000000AbCdEAK,false,0PK5e000000AbCdGAK,Ana@Example.co.uk,true,,2026-02-09T10:00:00Z\n",
    )
    write(
        landing,
        S,
        delivery,
        "ContactPointPhone_1.csv",
        POINT_PHONE + "0OW5e000000AbCdEAK,false,0PK5e000000AbCdGAK,+447700900456,Mobile,true,2026-02-09T10:00:00Z\n",
    )


def _consents(landing: Path, delivery: str) -> None:
    write(
        landing,
        S,
        delivery,
        "ContactPointConsent_1.csv",
        POINT_CONSENT + "0ZC1,c1,9PE5e000000AbCdEAK,0ZW5e0000004AbBGAU,Opt In,2026-02-15T10:00:00.000+0000,Web Form,"
        "2026-02-15T10:05:00.000+0000,,,2026-02-15T10:05:00.000+0000,false,\n"
        # an opt-out without any time: it takes effect at the delivery's time
         + "0ZC2,c2,0OW5e000000AbCdEAK,0ZW5e0000004AcCGAU,OptOut,,Web Form,,,,,false,\n",
    )
    write(
        landing,
        S,
        delivery,
        "ContactPointTypeConsent_1.csv",
        DATA_LOADER + loader_row("0ZY1", capture="2026-02-16T09:00:00.000+0000", brand="0mB5e0000002LbBCAU"),
    )


SF_KEYS = (
    "SELECT contact_point, channel, purpose, brand, status, basis, event_ts FROM consent_current"
    " WHERE source = 'salesforce_consent' AND brand = 'lakeside_home' ORDER BY ALL"
)


def _ledger_balanced(warehouse: Path) -> None:
    bad = rows(
        warehouse,
        "SELECT source_file FROM ingest_ledger"
        " WHERE rows_read <> rows_accepted + rows_skipped + rows_duplicate + rows_quarantined",
    )
    assert bad == []


BREACH = {"no_optout_breach"}


def test_contact_point_consents_reach_consent_current_in_either_delivery_order(tmp_path: Path) -> None:
    as_of = "2026-02-26T06:00:00Z"
    expected = [
        (
            "+447700900456",
            "sms",
            "marketing.newsletter",
            "lakeside_home",
            "opt_out",
            "express",
            dt.datetime(2026, 2, 20, 2),
        ),
        (
            "+447700900456",
            "voice",
            "marketing.newsletter",
            "lakeside_home",
            "opt_out",
            "express",
            dt.datetime(2026, 2, 20, 2),
        ),
        (
            "ana@example.co.uk",
            "email",
            "marketing.offers",
            "lakeside_home",
            "opt_in",
            "express",
            dt.datetime(2026, 2, 16, 9),
        ),
    ]
    # In order: the contact points come with an earlier delivery than their consents.
    ordered, w1 = tmp_path / "ordered", tmp_path / "w1" / "w.duckdb"
    write(ordered, "customer_master", "2026-02-01T020000Z", "customers_1.csv", CUSTOMERS)
    _individual(ordered, D1)
    _contact_points(ordered, D1)
    run(ordered, w1, "2026-02-11T06:00:00Z")
    _consents(ordered, D2)
    # The opt-outs of 02-20 are first honoured by this run, six days later: the audit reports the breach.
    run(ordered, w1, as_of, failing_checks=BREACH)
    assert rows(w1, SF_KEYS) == expected
    assert rows(
        w1,
        "SELECT event_ts, event_ts_estimated, received_ts FROM consent_events WHERE source_record_id = '0ZC2'",
    ) == [(dt.datetime(2026, 2, 20, 2), True, dt.datetime(2026, 2, 20, 2))]
    permission = (
        "SELECT allowed, reason FROM contact_permission WHERE contact_point = ? AND channel = ?"
        " AND purpose = ? AND brand = 'lakeside_home'"
    )
    assert rows(w1, permission, ["ana@example.co.uk", "email", "marketing.offers"]) == [(True, "express_consent")]
    assert rows(w1, permission, ["+447700900456", "sms", "marketing.newsletter"]) == [(False, "opted_out")]
    _ledger_balanced(w1)

    # Re-delivered the next week: duplicates, and the estimated opt-out keeps the time it was first seen at.
    _consents(ordered, D3)
    run(ordered, w1, "2026-02-26T06:00:00Z", failing_checks=BREACH)
    assert rows(w1, SF_KEYS) == expected
    assert rows(
        w1,
        "SELECT sum(rows_duplicate) FROM ingest_ledger WHERE delivery = ? AND source = 'salesforce_consent'",
        [D3],
    ) == [(3,)]
    _ledger_balanced(w1)

    # Reverse: the contact-point consents arrive first and wait; their contact points come later (an earlier
    # delivery landed late). The incremental run then leaves what one full run over everything leaves.
    late, w2 = tmp_path / "late", tmp_path / "w2" / "w.duckdb"
    write(late, "customer_master", "2026-02-01T020000Z", "customers_1.csv", CUSTOMERS)
    _individual(late, "2026-02-09T120000Z")
    _consents(late, D2)
    run(late, w2, "2026-02-21T06:00:00Z")
    assert rows(w2, SF_KEYS) == [expected[2]]  # the type consent needs only its Individual
    waiting = rows(w2, "SELECT count(*) FROM waiting_events WHERE source = 'salesforce_consent'")
    assert waiting == [(2,)]
    _contact_points(late, D1)
    outcome = run(late, w2, as_of, failing_checks=BREACH)
    assert outcome.figures["golden_scope"] > 0, "the golden stage did not run incrementally"
    assert rows(w2, SF_KEYS) == expected
    assert rows(w2, "SELECT count(*) FROM waiting_events") == [(0,)]
    full = tmp_path / "w3" / "w.duckdb"
    run(late, full, as_of)  # no earlier extract to have missed the opt-outs: no breach
    for table in ("consent_current", "consent_history", "contact_permission"):
        assert table_hash(w2, table) == table_hash(full, table), table
    _ledger_balanced(w2)
