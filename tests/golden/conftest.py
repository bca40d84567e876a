"""A small world in the feed formats: one GB and one US customer, deliveries over February 2026, one of
them late (Salesforce, received 02-20 with consents captured 02-05 and 02-08)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,address_line1,"
    "city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    "C1,,true,Ana,Silva,Ana.Silva@Example.co.uk,07700 900111,,1 Mill Lane,Leeds,,LS1 4AB,GB,customer,"
    "lakeside_home;lakeside_motors,2021-03-04T10:00:00Z,2025-12-30T08:00:00Z\n"
    "C2,,true,Bob,Stone,bob.stone@example.com,(415) 555-0101,,2 Bay St,San Francisco,CA,94107,US,customer,"
    "lakeside_energy,2021-03-04T10:00:00Z,2025-12-30T08:00:00Z\n"
)
MC_HEADER = (
    '"Email Address","First Name","Last Name","Phone Number",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,'
    "CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,{tail},LEID,EUID,NOTES,TAGS\n"
)
MC_SUBSCRIBED = MC_HEADER.format(tail="LAST_CHANGED") + (
    "ana.silva@example.co.uk,Ana,Silva,,2,2026-02-01 07:55:00,203.0.113.7,2026-02-01 08:00:00,203.0.113.7,,,,,,GB,,"
    "2026-02-01 08:00:00,1001,aa01,,\n"
)
MC_UNSUBSCRIBED = MC_HEADER.format(
    tail="UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER"
) + (
    "ana.silva@example.co.uk,Ana,Silva,,2,2025-06-01 10:00:00,203.0.113.7,2025-06-01 10:05:00,203.0.113.7,,,,,,GB,,"
    "2026-02-09 18:00:00,Weekly picks,c0ffee,NORMAL,,1002,aa01,,\n"
)
SF_INDIVIDUAL = (
    "Id,CustomerId__c,HasOptedOutSolicit,ShouldForget,LastModifiedDate\n"
    "0PK1,C1,false,false,2026-02-19T16:00:00.000+0000\n"
)
SF_CONSENT = (
    "Id,Name,PartyId,ContactPointType,EngagementChannelType,DataUsePurpose,BusinessBrand,PrivacyConsentStatus,"
    "CaptureDate,CaptureSource,CaptureContactPointType,DoubleConsentCaptureDate,EffectiveFrom,EffectiveTo,"
    "LastModifiedDate\n"
    "0ZY1,Offers,0PK1,Email,Email,Promotional Offers,Lakeside Home,OptIn,2026-02-05T10:00:00.000+0000,Web Form,"
    "Email,,,,2026-02-19T16:00:00.000+0000\n"
    "0ZY2,News,0PK1,Email,Email,Newsletter,Lakeside Home,OptIn,2026-02-08T09:30:00.000+0000,Web Form,Email,,,,"
    "2026-02-19T16:00:00.000+0000\n"
)
SG_GROUP = (
    '[{"email": "Bob.Stone@Example.com", "group_id": 101, "group_name": "Energy Offers", "created_at": 1770804000}]'
)
SG_EVENTS = (
    '{"email": "bob.stone@example.com", "timestamp": 1771063200, "event": "group_resubscribe", '
    '"asm_group_id": 101, "sg_event_id": "sg-1"}\n'
    '{"email": "bob.stone@example.com", "timestamp": 1771063300, "event": "open", "sg_event_id": "sg-2"}\n'
)
TW_HEADER = "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
TW_STOP = (
    TW_HEADER
    + '+14155550101,+18885550100,STOP,received,"Sun, 15 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM1,inbound,,\n'
)
TW_START = (
    TW_HEADER
    + '+14155550101,+18885550100,START,received,"Sat, 21 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM2,inbound,,\n'
)

# (source, delivery, file name, content)
DELIVERIES: list[tuple[str, str, str, str]] = [
    ("customer_master", "2026-01-05T020000Z", "customers_1.csv", CUSTOMERS),
    ("mailchimp", "2026-02-10T020000Z", "subscribed_members_export_a1h0menews.csv", MC_SUBSCRIBED),
    ("mailchimp", "2026-02-10T020000Z", "unsubscribed_members_export_a1h0meoffr.csv", MC_UNSUBSCRIBED),
    ("sendgrid", "2026-02-12T020000Z", "group_unsubscribes.json", SG_GROUP),
    ("sendgrid", "2026-02-15T020000Z", "events_1.jsonl", SG_EVENTS),
    ("twilio_sms", "2026-02-16T020000Z", "messages_1.csv", TW_STOP),
    ("salesforce_consent", "2026-02-20T020000Z", "Individual_1.csv", SF_INDIVIDUAL),
    ("salesforce_consent", "2026-02-20T020000Z", "ContactPointTypeConsent_1.csv", SF_CONSENT),
    ("twilio_sms", "2026-02-22T020000Z", "messages_2.csv", TW_START),
    # the next night's full Mailchimp snapshot: the same members again
    ("mailchimp", "2026-02-25T020000Z", "subscribed_members_export_a1h0menews.csv", MC_SUBSCRIBED),
]
AS_OF = "2026-03-01T06:00:00Z"


def land(landing: Path, deliveries: list[tuple[str, str, str, str]]) -> None:
    for source, delivery, name, content in deliveries:
        write(landing, source, delivery, name, content)


@pytest.fixture()
def world(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    land(landing, DELIVERIES)
    return landing
