"""preference_centre connector: SAP Customer Data Cloud accounts export (feeds.md §6)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from consent_pipeline.canonical import Batch
from consent_pipeline.config import Rules, load_rules
from consent_pipeline.config.rules import RulesError
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import ROOT, SCENARIOS
from tests.connectors.ledger import accounted, ingest
from tests.helpers import rows, run

S = "preference_centre"
D = "2026-02-20T020000Z"
F = "accounts_0001.jsonl"
STATE = "2026-02-10T09:00:00.000Z"
SENT = "2026-02-10T09:00:01.000Z"
CONFIRM = "2026-02-10T09:12:44.000Z"
UPDATED = "2026-02-11T10:00:00.000Z"
EVENT_COLS = (
    "source_record",
    "party_id",
    "contact_point",
    "contact_point_type",
    "channel",
    "purpose",
    "brand",
    "status",
    "basis",
    "event_ts",
    "double_opt_in",
)


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "")).replace(microsecond=0)


def sub(subscribed: Any = True, status: str | None = "Confirmed", confirm: str | None = CONFIRM) -> dict:
    doi = None if status is None else {"status": status, "emailSentTime": SENT, "confirmTime": confirm}
    return {
        "email": {
            "isSubscribed": subscribed,
            "lastUpdatedSubscriptionState": STATE,
            "tags": None,
            "doubleOptIn": doi,
        }
    }


def pref(
    granted: Any = True, action: str | None = "2026-02-09T08:00:00.000Z", modified: str | int | None = UPDATED
) -> dict:
    out: dict[str, Any] = {"isConsentGranted": granted, "docVersion": 1.0}
    if modified is not None:
        out["lastConsentModified"] = modified
    if action is not None:
        out["actionTimestamp"] = action
    return out


def account(
    customer: str | None = "C100001",
    email: str | None = "Ana.Silva@Example.com",
    phones: list[dict] | None = None,
    subscriptions: dict | None = None,
    preferences: dict | None = None,
    full: bool = True,
    updated: str | None = UPDATED,
    uid: str = "U1",
    communications: dict | None = None,
    **extra: Any,
) -> str:
    profile: dict[str, Any] = {"email": email, "firstName": "Ana", "lastName": "Silva", "country": "GB"}
    if phones is not None:
        profile["phones"] = phones
    record: dict[str, Any] = {
        "UID": uid,
        "hasLiteAccount": not full,
        "hasFullAccount": full,
        "profile": profile,
        "data": {"customerId": customer} if customer else {},
        "subscriptions": subscriptions or {},
        "preferences": preferences or {},
    }
    if communications is not None:
        record["communications"] = communications
    if updated is not None:
        record["lastUpdated"] = updated
    record.update(extra)
    return json.dumps(record) + "\n"


def events(batch: Batch) -> list[tuple]:
    return sorted(batch.table("events").select(EVENT_COLS).rows(), key=repr)


def rejects(batch: Batch) -> list[tuple]:
    return sorted(set(batch.rejects.select("source_record", "reason", "detail").iter_rows()), key=repr)


# --- subscriptions --------------------------------------------------------------------------------


def test_confirmed_double_opt_in_is_an_opt_in_at_confirm_time_and_proof_of_control(drop, read):
    drop(S, D, F, account(subscriptions={"lakeside_home.newsletter": sub()}))
    batch = read(S)
    assert events(batch) == [
        (1, "C100001", "ana.silva@example.com", "email", "email", "marketing.newsletter", "lakeside_home",
         "opt_in", "express", t(CONFIRM), True),
    ]  # fmt: skip
    evidence = batch.table("contact_evidence").sort("kind")
    assert evidence.select("party_id", "contact_point", "contact_point_type", "kind", "evidence_ts").rows() == [
        # a full account tied to a customer id: its login email is the customer's (semantics §3 rule 1)
        ("C100001", "ana.silva@example.com", "email", "account_login", t(UPDATED)),
        ("C100001", "ana.silva@example.com", "email", "double_opt_in", t(CONFIRM)),
    ]
    assert batch.table("events")["source_record_id"].to_list() == ["U1"]
    assert accounted(batch) == {F: (1, 0, 0)}


def test_pending_and_not_confirmed_are_pending_at_the_state_time(drop, read):
    drop(
        S,
        D,
        F,
        account(subscriptions={"lakeside_home.newsletter": sub(status="Pending", confirm=None)})
        + account(customer=None, full=False, subscriptions={"lakeside_home.offers": sub(status="NotConfirmed")}),
    )
    batch = read(S)
    assert events(batch) == [
        (1, "C100001", "ana.silva@example.com", "email", "email", "marketing.newsletter", "lakeside_home",
         "pending", "express", t(STATE), False),
        (2, None, "ana.silva@example.com", "email", "email", "marketing.offers", "lakeside_home",
         "pending", "express", t(STATE), False),
    ]  # fmt: skip
    # no confirmation, no double-opt-in evidence (the login of the full account still proves control)
    assert batch.table("contact_evidence")["kind"].to_list() == ["account_login"]
    assert accounted(batch) == {F: (2, 0, 0)}


def test_subscribed_without_double_opt_in_is_a_plain_opt_in_at_the_state_time(drop, read):
    drop(S, D, F, account(subscriptions={"lakeside_energy.offers": sub(status=None)}))
    batch = read(S)
    assert events(batch) == [
        (1, "C100001", "ana.silva@example.com", "email", "email", "marketing.offers", "lakeside_energy",
         "opt_in", "express", t(STATE), False),
    ]  # fmt: skip


def test_unsubscribed_is_an_opt_out_at_the_state_time_whatever_the_old_confirmation(drop, read):
    drop(
        S,
        D,
        F,
        account(customer=None, full=False, subscriptions={"lakeside_home.offers": sub(subscribed=False)}),
    )
    batch = read(S)
    assert events(batch) == [
        (1, None, "ana.silva@example.com", "email", "email", "marketing.offers", "lakeside_home",
         "opt_out", "express", t(STATE), False),
    ]  # fmt: skip
    assert batch.table("contact_evidence").height == 0


def test_subscription_ids_with_dots_and_unknown_ids(drop, read):
    subs = {
        "lakeside_motors.offers": sub(),
        "lakeside_pets.offers": sub(),
        "lakeside_home.offers": sub(False),
    }
    drop(S, D, F, account(subscriptions=subs) + account(customer=None, subscriptions={"old.list": sub()}))
    batch = read(S)
    # the unknown subscription might have been about any key of the account: its readable opt-out applies,
    # its opt-in (lakeside_motors.offers) is held back (fail safe)
    assert sorted((r[0], r[5], r[6], r[7]) for r in events(batch)) == [
        (1, "marketing.offers", "lakeside_home", "opt_out"),
    ]
    assert rejects(batch) == [
        (1, "unmapped_subscription", "subscription id: lakeside_pets.offers"),
        (2, "unmapped_subscription", "subscription id: old.list"),
    ]
    assert accounted(batch) == {F: (1, 0, 1)}


def test_subscription_under_a_channel_the_mapping_does_not_give(drop, read):
    subs = {"lakeside_home.offers": {"sms": sub()["email"]}}
    drop(S, D, F, account(customer=None, subscriptions=subs))
    batch = read(S)
    assert rejects(batch) == [(1, "unmapped_subscription", "subscription lakeside_home.offers channel: sms")]
    assert accounted(batch) == {F: (0, 0, 1)}


def test_bad_subscription_values(drop, read):
    drop(
        S,
        D,
        F,
        account(customer=None, subscriptions={"lakeside_home.offers": sub(subscribed=None)})
        + account(customer=None, subscriptions={"lakeside_home.offers": sub(subscribed="maybe")})
        + account(customer=None, subscriptions={"lakeside_home.offers": sub(status="Bounced")})
        # an unsubscribed record's confirmation status does not matter
        + account(customer=None, subscriptions={"lakeside_home.offers": sub(subscribed=False, status="Bounced")}),
    )
    batch = read(S)
    assert rejects(batch) == [
        (1, "missing_value", "isSubscribed of lakeside_home.offers is empty"),
        (2, "bad_value", "isSubscribed of lakeside_home.offers: maybe"),
        (3, "bad_value", "doubleOptIn.status of lakeside_home.offers: Bounced"),
    ]
    assert [(r[0], r[7]) for r in events(batch)] == [(4, "opt_out")]
    assert accounted(batch) == {F: (1, 0, 3)}


# --- preferences ----------------------------------------------------------------------------------


def test_preferences_are_nested_statements_dated_by_the_action(drop, read):
    prefs = {
        "sms": {
            "lakeside_home": {"offers": pref(False)},
            "lakeside_energy": {"outage": pref(True, action=None)},  # server time only when no action time
        }
    }
    drop(S, D, F, account(phones=[{"number": "07700 900123", "type": "mobile"}], preferences=prefs))
    batch = read(S)
    assert events(batch) == [
        (1, "C100001", "+447700900123", "phone", "sms", "marketing.offers", "lakeside_home",
         "opt_out", "express", dt.datetime(2026, 2, 9, 8), False),
        (1, "C100001", "+447700900123", "phone", "sms", "service.outage", "lakeside_energy",
         "opt_in", "express", t(UPDATED), False),
    ]  # fmt: skip


def test_sms_preference_applies_to_mobile_phones_only(drop, read):
    phones = [
        {"number": "+44 7700 900123", "type": "mobile"},
        {"number": "020 7946 0000", "type": "home"},
        {"number": "07700 900456", "type": "Mobile"},
    ]
    drop(S, D, F, account(phones=phones, preferences={"sms": {"lakeside_home": {"offers": pref()}}}))
    batch = read(S)
    assert [(r[2], r[3]) for r in events(batch)] == [("+447700900123", "phone"), ("+447700900456", "phone")]
    profile = batch.table("subject_profiles")
    assert profile.select("party_id", "email", "phone", "country", "first_name", "last_name", "observed_ts").rows() == [
        ("C100001", "ana.silva@example.com", "+447700900123", "GB", "Ana", "Silva", t(UPDATED))
    ]


def test_sms_preference_without_a_mobile_is_the_customers_or_rejected(drop, read):
    home = [{"number": "020 7946 0000", "type": "home"}]
    offers = {"sms": {"lakeside_home": {"offers": pref()}}}
    drop(
        S,
        D,
        F,
        account(phones=home, preferences=offers) + account(customer=None, full=False, phones=home, preferences=offers),
    )
    batch = read(S)
    assert events(batch) == [
        (1, "C100001", None, "phone", "sms", "marketing.offers", "lakeside_home",
         "opt_in", "express", dt.datetime(2026, 2, 9, 8), False),
    ]  # fmt: skip
    assert rejects(batch) == [
        (2, "no_contact_point", "preference sms.lakeside_home.offers: no contact point for channel sms")
    ]
    assert accounted(batch) == {F: (1, 0, 1)}


def test_star_preference_is_the_customers_else_every_contact_point_of_the_account(drop, read):
    phones = [{"number": "+44 7700 900123", "type": "mobile"}, {"number": "020 7946 0000", "type": "home"}]
    third = {"thirdparty": {"all": pref()}}
    drop(
        S,
        D,
        F,
        account(phones=phones, preferences=third)
        + account(customer=None, full=False, phones=phones, preferences=third)
        + account(customer=None, full=False, email=None, phones=[], preferences=third),
    )
    batch = read(S)
    when = dt.datetime(2026, 2, 9, 8)
    assert events(batch) == [
        (1, "C100001", None, None, "*", "marketing.third_party", "*", "opt_in", "express", when, False),
        (2, None, "+442079460000", "phone", "*", "marketing.third_party", "*", "opt_in", "express", when,
         False),
        (2, None, "+447700900123", "phone", "*", "marketing.third_party", "*", "opt_in", "express", when,
         False),
        (2, None, "ana.silva@example.com", "email", "*", "marketing.third_party", "*", "opt_in", "express",
         when, False),
    ]  # fmt: skip
    assert rejects(batch) == [(3, "no_contact_point", "preference thirdparty.all: no contact point for channel *")]
    assert accounted(batch) == {F: (2, 0, 1)}


def test_unknown_preference_and_bad_preference_values(drop, read):
    prefs = {
        "sms": {"lakeside_motors": {"offers": pref()}, "lakeside_home": {"offers": pref(granted=None)}},
        "thirdparty": {"all": pref(granted="yes")},
    }
    drop(S, D, F, account(customer=None, preferences=prefs))
    batch = read(S)
    assert rejects(batch) == [
        (1, "bad_value", "isConsentGranted of thirdparty.all: yes"),
        (1, "missing_value", "isConsentGranted of sms.lakeside_home.offers is empty"),
        (1, "unmapped_preference", "preference id: sms.lakeside_motors.offers"),
    ]
    assert accounted(batch) == {F: (0, 0, 1)}


# --- times ----------------------------------------------------------------------------------------


def test_bad_timestamps_are_rejected_parts(drop, read):
    drop(
        S,
        D,
        F,
        account(customer=None, subscriptions={"lakeside_home.offers": sub(status=None)}, uid="a").replace(
            STATE, "10/02/2026"
        )
        # a confirmed opt-in without its confirmation time
        + account(customer=None, subscriptions={"lakeside_home.newsletter": sub(confirm=None)})
        # an action time that cannot be read does not fall back to the server time
        + account(customer=None, preferences={"thirdparty": {"all": pref(action="yesterday")}})
        # the account's own time: a rejected part; its facts take the latest statement time instead
        + account(subscriptions={"lakeside_home.offers": sub()}, updated="not a time"),
    )
    batch = read(S)
    assert rejects(batch) == [
        (
            1,
            "bad_timestamp",
            "subscriptions.lakeside_home.offers.email.lastUpdatedSubscriptionState: 10/02/2026",
        ),
        (2, "bad_timestamp", "subscriptions.lakeside_home.newsletter.email.confirmTime: "),
        (3, "bad_timestamp", "preferences.thirdparty.all.actionTimestamp: yesterday"),
        (4, "bad_timestamp", "lastUpdated: not a time"),
    ]
    assert batch.table("reviews").select("source_record", "party_id", "reviewed_at").rows() == [
        (4, "C100001", t(CONFIRM))
    ]
    assert accounted(batch) == {F: (1, 0, 3)}


def test_future_statement_is_quarantined_by_the_core(drop, read):
    late = "2026-02-25T10:00:00.000Z"  # > received_ts + 1 day
    drop(
        S,
        D,
        F,
        account(customer=None, subscriptions={"lakeside_home.offers": sub(status=None)}).replace(STATE, late),
    )
    batch = read(S)
    assert set(batch.rejects.select("source_record", "reason").iter_rows()) == {(1, "future_timestamp")}
    assert accounted(batch) == {F: (0, 0, 1)}


# --- facts, reviews and the ledger ----------------------------------------------------------------


def test_every_customer_capture_is_a_review_even_with_nothing_in_it(drop, read):
    drop(
        S,
        D,
        F,
        account()  # a customer: a review
        + account(customer=None, full=False)  # a lite account with nothing: nothing to record
        + account(updated=None, preferences={"thirdparty": {"all": pref(action=None, modified=CONFIRM)}})
        + account(updated=None),  # a customer capture that cannot be dated
    )
    batch = read(S)
    assert batch.table("reviews").select("source_record", "party_id", "reviewed_at").rows() == [
        (1, "C100001", t(UPDATED)),
        (3, "C100001", t(CONFIRM)),  # no lastUpdated: the latest statement time
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(2, "no_decision")]
    assert rejects(batch) == [
        (4, "missing_value", "lastUpdated is empty and no statement is dated: the review has no time")
    ]
    assert accounted(batch) == {F: (2, 1, 1)}


def test_login_evidence_needs_a_full_account_and_a_customer(drop, read):
    drop(
        S,
        D,
        F,
        account(full=False, subscriptions={"lakeside_home.offers": sub()})  # customer, no login: DOI only
        + account(customer=None, subscriptions={"lakeside_home.offers": sub()})  # login, no customer: nothing
        + account(email=None),  # no login email
    )
    batch = read(S)
    assert batch.table("contact_evidence").select("source_record", "kind").rows() == [(1, "double_opt_in")]
    assert accounted(batch) == {F: (3, 0, 0)}


def test_malformed_email_and_truncated_line(drop, read):
    good = account(
        customer=None,
        full=False,
        email="Ivy.Lite@Example.co.uk",
        subscriptions={"lakeside_home.newsletter": sub()},
    )
    bad = account(
        customer=None,
        full=False,
        email="sam@@example.co.uk",
        subscriptions={"lakeside_home.newsletter": sub()},
    )
    drop(S, D, F, good + '{"UID": "5a6b", "hasLiteAccount": true, "profile": {"email": "cut.off@exam\n' + bad)
    batch = read(S)
    assert [(r[0], r[2]) for r in events(batch)] == [(1, "ivy.lite@example.co.uk")]
    assert rejects(batch) == [
        (2, "invalid_json", "not a complete JSON object"),
        (3, "invalid_email", "sam@@example.co.uk"),
    ]
    assert accounted(batch) == {F: (1, 0, 2)}


def test_a_customer_with_a_malformed_email_is_still_a_review(drop, read):
    drop(S, D, F, account(email="sam@@example.co.uk", subscriptions={"lakeside_home.newsletter": sub()}))
    batch = read(S)
    assert batch.table("events").height == 0
    assert batch.table("reviews")["party_id"].to_list() == ["C100001"]
    assert rejects(batch) == [(1, "invalid_email", "sam@@example.co.uk")]
    assert accounted(batch) == {F: (1, 0, 0)}


def test_a_line_that_disagrees_on_json_types_is_quarantined_alone(drop, read):
    drop(S, D, F, account() + account().replace('"preferences": {}', '"preferences": 5') + account())
    drop(S, D, "accounts_0002.jsonl", account())
    batch = read(S)
    assert set(batch.rejects.select("source_file", "source_record", "reason").iter_rows()) == {
        (f"{S}/{D}/{F}", 2, "bad_json_type"),
    }
    assert accounted(batch) == {F: (2, 0, 1), "accounts_0002.jsonl": (1, 0, 0)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "accounts.csv", "UID\n1\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules: Rules, tmp_path: Path):
    expected = {
        "bad_input": {"accounts_0001.jsonl": (1, 0, 2)},
        "double_opt_in": {"accounts_20260210.jsonl": (4, 0, 0), "accounts_20260220.jsonl": (2, 0, 0)},
        "household_ownership": {"accounts_0001.jsonl": (1, 0, 0)},
        "formats_and_time": {"accounts_0001.jsonl": (1, 0, 0)},
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, ledger in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    # expect.yaml: rows_read 3, accepted 1, quarantined 2; two quarantine rows
    assert ingest(bad, tmp_path) == ([(3, 1, 0, 0, 2)], [(2, "invalid_json"), (3, "invalid_email")])
    doi = read_source(S, SCENARIOS / "double_opt_in" / "landing", rules).table("events")
    casey = doi.filter(pl.col("contact_point") == "casey.confirmed@example.co.uk").sort("event_ts", "purpose")
    assert casey.select("purpose", "brand", "status", "event_ts", "double_opt_in").rows() == [
        ("marketing.newsletter", "lakeside_home", "opt_in", dt.datetime(2026, 2, 7, 9, 12, 44), True),
        ("marketing.third_party", "*", "opt_in", dt.datetime(2026, 2, 7, 9, 14, 31), False),
        ("marketing.third_party", "*", "opt_in", dt.datetime(2026, 2, 7, 9, 14, 31), False),
        ("marketing.newsletter", "lakeside_home", "pending", dt.datetime(2026, 2, 18, 20), False),
    ]
    owner = read_source(S, SCENARIOS / "household_ownership" / "landing", rules).table("contact_evidence")
    assert sorted(owner.select("party_id", "contact_point", "kind").rows()) == [
        ("C200104", "okafor.home@example.com", "account_login"),
        ("C200104", "okafor.home@example.com", "double_opt_in"),
    ]


# --- real exports: accounts.search envelopes, communications, mandatory statements, numbers --------

RECEIVED = dt.datetime(2026, 2, 20, 2)


def envelope(*accounts: str, status: int = 200) -> str:
    """One accounts.search response, as a paging script logs it: one a line."""
    results = [json.loads(a) for a in accounts]
    body: dict[str, Any] = {
        "callId": "9f0c2e1d4b5a4c3e8a7b6c5d4e3f2a1b",
        "errorCode": 0,
        "apiVersion": 2,
        "statusCode": status,
        "statusReason": "OK",
        "time": "2026-02-20T01:59:59.123Z",
        "results": results,
        "objectsCount": len(results),
        "totalCount": 1043,
        "nextCursorId": "dXNlcnM6MjAyNi0wMi0yMA==",
    }
    return json.dumps(body) + "\n"


FAILED = (
    json.dumps(
        {
            "callId": "1e2d3c4b5a69788796a5b4c3d2e1f0a9",
            "errorCode": 403005,
            "errorDetails": "Unauthorized user",
            "errorMessage": "Unauthorized user",
            "apiVersion": 2,
            "statusCode": 403,
            "statusReason": "Forbidden",
            "time": "2026-02-20T01:59:59.456Z",
        }
    )
    + "\n"
)


def comm(topic: str, channel: str, status: str, modified: Any = UPDATED, action: Any = None) -> dict:
    out: dict[str, Any] = {"topic": topic, "channel": channel, "status": status, "lastModified": modified}
    if action is not None:
        out["userActionTimestamp"] = action
    return out


def test_search_response_envelopes_one_a_line(drop, read):
    bea = account(
        customer=None, full=False, email="bea@example.co.uk", uid="U-bea",
        subscriptions={"lakeside_home.offers": sub(subscribed=False)},
    )  # fmt: skip
    cal = account(email="cal@example.co.uk", uid="U-cal", subscriptions={"lakeside_home.newsletter": sub()})
    dan = account(
        customer=None, full=False, email="dan@example.co.uk", uid="U-dan",
        subscriptions={"lakeside_energy.offers": sub(subscribed=False)},
    )  # fmt: skip
    # a page with two accounts, a failed call (one record, quarantined whole), an empty last page, and a
    # plain account line: records 1 and 2 are the first page's results, 3 the failed call, 4 the account
    drop(S, D, F, envelope(bea, cal) + FAILED + envelope() + dan)
    # a file holding only a failed call (read as one object a line) is quarantined the same way
    drop(S, D, "accounts_0002.jsonl", FAILED)
    batch = read(S)
    assert sorted(set(batch.table("events").select("source_record_id", "contact_point", "status").rows())) == [
        ("U-bea", "bea@example.co.uk", "opt_out"),
        ("U-cal", "cal@example.co.uk", "opt_in"),
        ("U-dan", "dan@example.co.uk", "opt_out"),
    ]
    assert sorted(set(batch.rejects.select("source_file", "source_record", "reason").iter_rows())) == [
        (f"{S}/{D}/{F}", 3, "api_error"),
        (f"{S}/{D}/accounts_0002.jsonl", 1, "api_error"),
    ]
    assert "403" in batch.rejects["detail"][0] and "Unauthorized user" in batch.rejects["detail"][0]
    assert accounted(batch) == {F: (3, 0, 1), "accounts_0002.jsonl": (0, 0, 1)}


def test_an_object_that_is_no_account_is_quarantined_not_skipped(drop, read):
    ok_envelope_without_results = json.dumps({"callId": "x", "statusCode": 200, "errorCode": 0}) + "\n"
    drop(S, D, F, account() + '{"note": "export finished"}\n' + "{}\n" + ok_envelope_without_results)
    batch = read(S)
    assert rejects(batch) == [
        (n, "unrecognised_record", "an object with none of an account's fields") for n in (2, 3, 4)
    ]
    assert batch.skips.height == 0
    assert accounted(batch) == {F: (1, 0, 3)}


def test_communications_topics(drop, read):
    phones = [{"number": "+44 7700 900123", "type": "mobile"}]
    comms = {
        # the user's action time first, the server's time only when it is missing
        "lakeside_home_offers_email": comm("lakeside_home_offers", "email", "OptIn", action=SENT),
        "lakeside_home_offers_sms": comm("lakeside_home_offers", "sms", "OptOut"),
        "lakeside_energy_offers_email": comm("lakeside_energy_offers", "email", "NoConsent"),  # decides nothing
    }
    drop(
        S,
        D,
        F,
        account(phones=phones, communications=comms)
        # only NoConsent, no customer: recognised, nothing to record
        + account(
            customer=None,
            full=False,
            communications={"x": comm("lakeside_energy_offers", "email", "NoConsent")},
        ),
    )
    batch = read(S)
    assert events(batch) == [
        (1, "C100001", "+447700900123", "phone", "sms", "marketing.offers", "lakeside_home",
         "opt_out", "express", t(UPDATED), False),
        (1, "C100001", "ana.silva@example.com", "email", "email", "marketing.offers", "lakeside_home",
         "opt_in", "express", t(SENT), False),
    ]  # fmt: skip
    assert batch.skips.select("source_record", "reason").rows() == [(2, "no_decision")]
    assert batch.rejects.height == 0
    assert accounted(batch) == {F: (1, 1, 0)}


def test_unmapped_communication_topic_and_status(drop, read):
    comms = {
        "lakeside_home_offers_email": comm("lakeside_home_offers", "email", "OptIn"),
        "lakeside_home_offers_sms": comm("lakeside_home_offers", "sms", "OptOut"),
        "lakeside_pets_offers_email": comm("lakeside_pets_offers", "email", "OptIn"),
        "lakeside_motors_offers_whatsapp": comm("lakeside_motors_offers", "whatsapp", "OptOut"),
    }
    odd = {"lakeside_home_offers_email": comm("lakeside_home_offers", "email", "Maybe")}
    drop(
        S,
        D,
        F,
        account(phones=[{"number": "+44 7700 900123", "type": "mobile"}], communications=comms)
        + account(customer=None, communications=odd),
    )
    batch = read(S)
    # the unknown topics might have decided anything on the account: only its opt-out applies
    assert [(r[0], r[4], r[7]) for r in events(batch)] == [(1, "sms", "opt_out")]
    assert rejects(batch) == [
        (
            1,
            "unmapped_topic",
            "communications lakeside_motors_offers_whatsapp: topic lakeside_motors_offers, channel whatsapp",
        ),
        (
            1,
            "unmapped_topic",
            "communications lakeside_pets_offers_email: topic lakeside_pets_offers, channel email",
        ),
        (2, "bad_value", "status of lakeside_home_offers_email: Maybe"),
    ]
    assert accounted(batch) == {F: (1, 0, 1)}


def test_mandatory_statements_are_recognised_and_ignored(drop, read):
    mandatory = {
        "terms": {"tos": pref(True), "dealer": {"v2": pref("whatever", action="not a time")}},
        "privacy": {"policy": pref(False)},
    }
    drop(
        S,
        D,
        F,
        account(preferences={**mandatory, "thirdparty": {"all": pref(False)}})
        + account(customer=None, full=False, preferences=mandatory)  # nothing else: skipped
        + account(preferences=mandatory),  # a customer's capture: still a review
    )
    batch = read(S)
    assert [(r[0], r[5], r[7]) for r in events(batch)] == [(1, "marketing.third_party", "opt_out")]
    assert batch.rejects.height == 0
    assert batch.skips.select("source_record", "reason").rows() == [(2, "no_decision")]
    assert batch.table("reviews")["source_record"].to_list() == [1, 3]
    assert accounted(batch) == {F: (2, 1, 0)}


def test_numeric_customer_id_and_epoch_milliseconds(drop, read):
    ms = 1770714000000  # 2026-02-10T09:00:00Z
    when = dt.datetime(2026, 2, 10, 9)
    numeric = json.loads(
        account(
            customer=None,
            updated=None,
            phones=[{"number": "+44 7700 900123", "type": "mobile"}],
            subscriptions={"lakeside_home.offers": sub(subscribed=False)},
            preferences={"sms": {"lakeside_home": {"offers": pref(True, action=None, modified=ms)}}},
            communications={"e": comm("lakeside_energy_offers", "email", "OptOut", modified=ms + 1000)},
        )
    )
    numeric["data"] = {"customerId": 100001}
    numeric["lastUpdatedTimestamp"] = ms + 60_000
    numeric["subscriptions"]["lakeside_home.offers"]["email"]["lastUpdatedSubscriptionState"] = ms - 1000
    # another line of the same file with a text id and ISO times: both read
    drop(S, D, F, json.dumps(numeric) + "\n" + account(subscriptions={"lakeside_home.offers": sub(False)}))
    batch = read(S)
    assert sorted((r[0], r[1], r[4], r[6], r[7], r[9]) for r in events(batch)) == [
        (1, "100001", "email", "lakeside_energy", "opt_out", when + dt.timedelta(seconds=1)),
        (1, "100001", "email", "lakeside_home", "opt_out", when - dt.timedelta(seconds=1)),
        (1, "100001", "sms", "lakeside_home", "opt_in", when),
        (2, "C100001", "email", "lakeside_home", "opt_out", t(STATE)),
    ]
    assert batch.table("reviews").sort("source_record").select("party_id", "reviewed_at").rows() == [
        ("100001", when + dt.timedelta(minutes=1)),
        ("C100001", t(UPDATED)),
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {F: (2, 0, 0)}


def test_an_unreadable_statement_holds_back_the_opt_ins_it_might_have_decided(drop, read):
    phones = [{"number": "+44 7700 900123", "type": "mobile"}]
    drop(
        S,
        D,
        F,
        # an unknown preference: its scope is unknown, so no opt-in of the account applies; opt-outs do
        account(
            phones=phones,
            subscriptions={"lakeside_home.newsletter": sub(), "lakeside_energy.offers": sub(False)},
            preferences={"sms": {"lakeside_pets": {"offers": pref(True)}, "lakeside_home": {"offers": pref()}}},
        )
        # a mapped statement with an unreadable value might have decided its own scope only: the opt-in of
        # the same scope (lakeside_home offers by email) is held back, the others apply
        + account(
            customer=None,
            subscriptions={
                "lakeside_home.offers": sub(subscribed="maybe"),
                "lakeside_home.newsletter": sub(),
            },
            communications={
                "a": comm("lakeside_home_offers", "email", "OptIn"),
                "b": comm("lakeside_energy_offers", "email", "OptIn"),
            },
        ),
    )
    batch = read(S)
    assert [(r[0], r[5], r[6], r[7]) for r in events(batch)] == [
        (1, "marketing.offers", "lakeside_energy", "opt_out"),
        (2, "marketing.newsletter", "lakeside_home", "opt_in"),
        (2, "marketing.offers", "lakeside_energy", "opt_in"),
    ]
    assert rejects(batch) == [
        (1, "unmapped_preference", "preference id: sms.lakeside_pets.offers"),
        (2, "bad_value", "isSubscribed of lakeside_home.offers: maybe"),
    ]
    # the held-back confirmation still proves the customer controls the email
    assert sorted(batch.table("contact_evidence")["kind"].to_list()) == ["account_login", "double_opt_in"]
    assert accounted(batch) == {F: (2, 0, 0)}


def test_an_opt_out_without_a_usable_time_is_estimated(drop, read):
    drop(
        S,
        D,
        F,
        account(
            customer=None,
            subscriptions={
                "lakeside_home.offers": sub(subscribed=False),
                "lakeside_home.newsletter": sub(status=None),  # an opt-in: bad_timestamp
            },
            preferences={"thirdparty": {"all": pref(False, action=None, modified=None)}},
        ).replace(STATE, "yesterday"),
    )
    batch = read(S)
    assert batch.table("events").select("contact_point", "purpose", "status", "event_ts", "event_ts_estimated").sort(
        "purpose"
    ).rows() == [
        ("ana.silva@example.com", "marketing.offers", "opt_out", RECEIVED, True),
        ("ana.silva@example.com", "marketing.third_party", "opt_out", RECEIVED, True),
    ]
    assert rejects(batch) == [
        (
            1,
            "bad_timestamp",
            "subscriptions.lakeside_home.newsletter.email.lastUpdatedSubscriptionState: yesterday",
        )
    ]
    assert accounted(batch) == {F: (1, 0, 0)}


# --- through the whole pipeline ---------------------------------------------------------------------

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,"
    "address_line1,city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    "100002,,true,Cal,Lee,cal@example.co.uk,07700 900456,,1 High St,Leeds,,LS1 1AA,GB,customer,"
    "lakeside_home,2024-01-01T10:00:00Z,2026-01-05T10:00:00Z\n"
)


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_sap_export_through_the_pipeline(tmp_path: Path, landing: Path, drop):
    """A customer (numeric customerId in SAP) opts in by email and out of sms; a later capture holds an
    unknown statement, an sms OptIn (held back: the unknown statement might have been about it) and an
    email OptOut whose time is garbled (kept at the delivery's time, estimated)."""
    drop("customer_master", "2026-01-06T020000Z", "customers_0001.csv", CUSTOMERS)
    drop("dnc_registries", "2026-02-25T030000Z", "uk_tps/uk_tps_20260225.txt", "0113 4960000\n")
    phones = [{"number": "+44 7700 900456", "type": "mobile"}]

    def cal(updated: str, **kw: Any) -> str:
        record = json.loads(account(email="Cal@Example.co.uk", phones=phones, uid="U-cal", updated=None, **kw))
        record["data"] = {"customerId": 100002}
        record["lastUpdatedTimestamp"] = ms(updated)
        return json.dumps(record)

    first = cal(
        "2026-02-05T10:00:00",
        subscriptions={"lakeside_home.offers": sub()},
        communications={"s": comm("lakeside_home_offers", "sms", "OptOut", modified=ms("2026-02-05T10:00:00"))},
    )
    later = cal(
        "2026-02-19T10:00:00",
        preferences={"sms": {"lakeside_pets": {"offers": pref(True)}}, "terms": {"tos": pref(True)}},
        communications={
            "s": comm("lakeside_home_offers", "sms", "OptIn", action=ms("2026-02-18T10:00:00")),
            "e": comm("lakeside_home_offers", "email", "OptOut", modified="n/a"),
        },
    )
    drop(S, "2026-02-10T020000Z", "accounts_0001.jsonl", envelope(first))
    drop(S, D, "accounts_0002.jsonl", envelope(later) + FAILED)
    warehouse = tmp_path / "w.duckdb"
    run(landing, warehouse, "2026-03-01T06:00:00Z")
    permission = rows(
        warehouse,
        "SELECT channel, contact_point, allowed, reason FROM contact_permission WHERE party_id = '100002'"
        " AND purpose = 'marketing.offers' AND brand = 'lakeside_home' AND channel IN ('email', 'sms')"
        " ORDER BY channel",
    )
    assert permission == [
        ("email", "cal@example.co.uk", False, "opted_out"),
        ("sms", "+447700900456", False, "opted_out"),
    ]
    events = rows(
        warehouse,
        "SELECT channel, status, event_ts, event_ts_estimated FROM consent_events WHERE party_id = '100002'"
        " AND purpose = 'marketing.offers' ORDER BY event_ts, channel",
    )
    assert events == [
        ("sms", "opt_out", dt.datetime(2026, 2, 5, 10), False),
        ("email", "opt_in", t(CONFIRM), False),
        ("email", "opt_out", RECEIVED, True),  # the garbled lastModified: the delivery's time
    ]
    assert rows(warehouse, "SELECT source_record, reason FROM quarantine WHERE source = ? ORDER BY 1", [S]) == [
        (1, "unmapped_preference"),
        (2, "api_error"),
    ]
    ledger = rows(
        warehouse,
        "SELECT rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined FROM ingest_ledger"
        " WHERE source = ? ORDER BY source_file",
        [S],
    )
    assert ledger == [(1, 1, 0, 0, 0), (2, 1, 0, 0, 1)]


def test_a_mapped_preference_under_a_mandatory_prefix_is_a_rules_error(tmp_path: Path):
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    path = root / "mappings" / "preference_centre.yaml"
    path.write_text(
        path.read_text().replace(
            "preferences:\n",
            "preferences:\n  terms.tos: {channel: email, brand: lakeside_home, purpose: marketing.offers}\n",
        )
    )
    with pytest.raises(RulesError, match=r"preference_centre.yaml: preferences\.terms\.tos: is a mandatory statement"):
        load_rules(root)
