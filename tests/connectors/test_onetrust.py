"""onetrust connector: consent receipts of the dealer web forms, a JSON array (feeds.md §9)."""

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
from tests.connectors.ledger import accounted
from tests.helpers import rows, run

S = "onetrust"
D = "2026-02-20T020000Z"
F = "receipts_0001.json"
OFFERS = "6f1f5c8e-0000-4000-8000-00000000a001"
REMINDERS = "6f1f5c8e-0000-4000-8000-00000000a002"
THIRD = "6f1f5c8e-0000-4000-8000-00000000a003"
UNKNOWN = "6f1f5c8e-0000-4000-8000-00000000a999"
WHEN = "2026-02-10T14:03:11Z"
AT = dt.datetime(2026, 2, 10, 14, 3, 11)
BRAND = "lakeside_motors"


def purpose(pid: str = OFFERS, tx: str = "CONFIRMED", **topics: str) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": pid, "Version": 3, "TransactionType": tx}
    if topics:
        out["Preferences"] = [{"TopicId": t, "TransactionType": v} for t, v in topics.items()]
    return out


def receipt(
    *purposes: dict[str, Any],
    identifier: str = "Jane@Example.co.uk",
    id_type: str = "Email",
    phone: str = "+44 7700 900123",
    customer: str = "C1",
    country: str = "GB",
    rid: str = "r-1",
    interaction: str | None = WHEN,
    consent: str | None = WHEN,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "receiptId": rid,
        "identifier": identifier,
        "identifierType": id_type,
        "collectionPointId": "cp-motors-uk-service",
        "language": "en-GB",
        "geoLocation": {"country": country},
        "dsDataElements": {"FirstName": "Jane", "LastName": "Doe", "Phone": phone, "CustomerId": customer},
        "purposes": list(purposes) or [purpose()],
    }
    if interaction is not None:
        out["interactionDate"] = interaction
    if consent is not None:
        out["consentDate"] = consent
    return out


def array(*receipts: object) -> str:  # receipts, or anything else an array may hold
    return json.dumps(list(receipts), indent=2)


def rejects(batch: Batch) -> list[tuple[int, str, str]]:
    return sorted(set(batch.rejects.select("source_record", "reason", "detail").iter_rows()))


def decided(batch: Batch) -> dict[int, dict[tuple[str, str], tuple[str, str]]]:
    """Per record: (purpose, channel) -> (status, basis)."""
    out: dict[int, dict[tuple[str, str], tuple[str, str]]] = {}
    for rec, p, ch, st, b in (
        batch.table("events").select("source_record", "purpose", "channel", "status", "basis").iter_rows()
    ):
        out.setdefault(rec, {})[(p, ch)] = (st, b)
    return out


def subjects(batch: Batch) -> list[tuple]:
    return (
        batch.table("events")
        .sort("source_record", "channel")
        .select("source_record", "channel", "party_id", "contact_point", "contact_point_type")
        .rows()
    )


ALL = ("email", "mail", "sms", "voice")


def each(status: str, basis: str, purpose_: str = "marketing.offers") -> dict[tuple[str, str], tuple[str, str]]:
    return {(purpose_, ch): (status, basis) for ch in ALL}


def test_purpose_level_transaction_types(drop, read):
    types = ["CONFIRMED", "WITHDRAWN", "OPT_OUT", "HARD_OPT_OUT", "EXPIRED", "PENDING"]
    types += ["NOTGIVEN", "NO_CHOICE", "CHANGE_PREFERENCES", "EXTEND", "CANCEL"]
    drop(S, D, F, array(*(receipt(purpose(tx=t), rid=f"r-{i}") for i, t in enumerate(types, 1))))
    batch = read(S)
    assert decided(batch) == {
        1: each("opt_in", "express"),
        2: each("opt_out", "express"),
        3: each("opt_out", "express"),
        4: each("opt_out", "express"),
        5: each("opt_out", "expired"),
        6: each("pending", "express"),
    }
    assert sorted(batch.skips.select("source_record", "reason").iter_rows()) == [
        (n, "no_decision") for n in range(7, 12)
    ]
    assert batch.rejects.height == 0
    assert accounted(batch) == {F: (6, 5, 0)}


def test_event_columns(drop, read):
    drop(S, D, F, array(receipt(purpose(REMINDERS), rid="r-77a1")))
    events = read(S).table("events").filter(pl.col("channel") == "email")
    assert events.select(
        "source_record_id",
        "party_id",
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
    ).rows() == [
        (
            "r-77a1",
            "C1",
            "jane@example.co.uk",
            "email",
            "email",
            "marketing.service_reminders",
            BRAND,
            "opt_in",
            "express",
            AT,
            None,
            False,
        )
    ]


def test_preferences_override_the_purpose_level_per_channel(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(purpose(tx="CONFIRMED", email="OPT_IN", sms="OPT_OUT")),
            # no decision at purpose level: only the topics decide
            receipt(purpose(tx="CHANGE_PREFERENCES", email="OPT_IN")),
            receipt(purpose(tx="WITHDRAWN", voice="opt_in")),
            receipt(purpose(THIRD, tx="NOTGIVEN", mail="OPT_OUT"), purpose(REMINDERS, tx="PENDING")),
        ),
    )
    batch = read(S)
    o = "marketing.offers"
    assert decided(batch) == {
        1: {
            (o, "email"): ("opt_in", "express"),
            (o, "sms"): ("opt_out", "express"),
            (o, "voice"): ("opt_in", "express"),
            (o, "mail"): ("opt_in", "express"),
        },
        2: {(o, "email"): ("opt_in", "express")},
        3: {
            (o, "email"): ("opt_out", "express"),
            (o, "sms"): ("opt_out", "express"),
            (o, "voice"): ("opt_in", "express"),
            (o, "mail"): ("opt_out", "express"),
        },
        4: {
            ("marketing.third_party", "mail"): ("opt_out", "express"),
            **each("pending", "express", "marketing.service_reminders"),
        },
    }
    assert accounted(batch) == {F: (4, 0, 0)}


def test_email_identifier_subjects(drop, read):
    drop(S, D, F, array(receipt(phone="07700 900123")))
    batch = read(S)
    assert subjects(batch) == [
        (1, "email", "C1", "jane@example.co.uk", "email"),  # the identifier
        (1, "mail", "C1", None, "postal"),  # the customer: party-level
        (1, "sms", "C1", "+447700900123", "phone"),  # the form's Phone, parsed in geoLocation.country
        (1, "voice", "C1", "+447700900123", "phone"),
    ]


def test_phone_identifier_subjects(drop, read):
    drop(
        S,
        D,
        F,
        array(receipt(identifier="0491 570 159", id_type="Phone", phone="+44 7700 900123", country="AU")),
    )
    batch = read(S)
    assert subjects(batch) == [
        (1, "email", "C1", None, "email"),  # the customer
        (1, "mail", "C1", None, "postal"),
        (1, "sms", "C1", "+61491570159", "phone"),  # the identifier wins over the form's Phone
        (1, "voice", "C1", "+61491570159", "phone"),
    ]


def test_without_customer_or_phone_parts_are_rejected(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(customer="", phone=""),  # a prospect known by email: only email has a subject
            receipt(identifier="", customer="", phone="", rid="r-2"),  # nobody
            receipt(customer="", phone="+1 415 555 0134", country="US", rid="r-3"),
        ),
    )
    batch = read(S)
    assert subjects(batch) == [
        (1, "email", None, "jane@example.co.uk", "email"),
        (3, "email", None, "jane@example.co.uk", "email"),
        (3, "sms", None, "+14155550134", "phone"),
        (3, "voice", None, "+14155550134", "phone"),
    ]
    detail = "marketing.offers {}: no identifier, Phone or CustomerId for it"
    assert rejects(batch) == [
        (1, "no_contact_point", detail.format("mail")),
        (1, "no_contact_point", detail.format("sms")),
        (1, "no_contact_point", detail.format("voice")),
        (2, "no_contact_point", detail.format("email")),
        (2, "no_contact_point", detail.format("mail")),
        (2, "no_contact_point", detail.format("sms")),
        (2, "no_contact_point", detail.format("voice")),
        (3, "no_contact_point", detail.format("mail")),
    ]
    assert accounted(batch) == {F: (2, 0, 1)}


def test_unmapped_purpose_is_one_part_per_purpose(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(purpose(UNKNOWN, tx="CHANGE_PREFERENCES", email="OPT_IN", sms="OPT_IN")),
            receipt(purpose(UNKNOWN), purpose(OFFERS, tx="OPT_OUT")),
        ),
    )
    batch = read(S)
    assert decided(batch) == {2: each("opt_out", "express")}
    assert rejects(batch) == [
        (1, "unmapped_purpose", f"purpose Id: {UNKNOWN}"),
        (2, "unmapped_purpose", f"purpose Id: {UNKNOWN}"),
    ]
    assert batch.rejects.height == 2
    assert accounted(batch) == {F: (1, 0, 1)}


def test_unmapped_topic_and_unknown_transaction_types(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(purpose(tx="CONFIRMED", fax="OPT_OUT")),
            receipt(purpose(tx="MAYBE")),
            receipt(purpose(tx="CONFIRMED", sms="PERHAPS")),
        ),
    )
    batch = read(S)
    o = "marketing.offers"
    assert decided(batch) == {
        # record 1: the unknown topic might have been any channel's: the purpose-level opt-in applies to no
        # channel without a mapped topic (fail safe), and there is none
        # the topic asked about sms: its unreadable answer is no decision for sms
        3: {
            (o, "email"): ("opt_in", "express"),
            (o, "voice"): ("opt_in", "express"),
            (o, "mail"): ("opt_in", "express"),
        },
    }
    assert rejects(batch) == [
        (1, "unmapped_topic", "TopicId: fax"),
        (2, "unknown_transaction_type", f"purpose {OFFERS} TransactionType: MAYBE"),
        (3, "unknown_transaction_type", "topic sms TransactionType: PERHAPS"),
    ]
    assert accounted(batch) == {F: (1, 0, 2)}


def test_source_time_falls_back_to_consent_date(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(interaction=None, consent="2026-02-11T08:00:00Z"),
            receipt(interaction="", consent="2026-02-12T09:30:00+01:00"),
            receipt(interaction="2026-02-13T10:00:00Z", consent="2026-02-01T10:00:00Z"),
            receipt(interaction=None, consent=None),
            receipt(interaction="13/02/2026 10:00", consent="2026-02-01T10:00:00Z"),
            receipt(interaction="2026-02-25T10:00:00Z"),
        ),
    )
    batch = read(S)
    times = batch.table("events").select("source_record", "event_ts").unique().sort("source_record").rows()
    assert times == [
        (1, dt.datetime(2026, 2, 11, 8)),
        (2, dt.datetime(2026, 2, 12, 8, 30)),
        (3, dt.datetime(2026, 2, 13, 10)),
    ]
    assert rejects(batch) == [
        # undated opt-ins: the core quarantines them (an undated opt-out would be kept, estimated)
        (4, "bad_timestamp", "interactionDate and consentDate are empty"),
        (5, "bad_timestamp", "interactionDate: 13/02/2026 10:00"),
        (6, "future_timestamp", "2026-02-25 10:00:00.000000"),
    ]
    assert accounted(batch) == {F: (3, 0, 3)}


def test_party_id_on_every_event_and_profiles(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(customer="C9", rid="r-1"),
            receipt(identifier="+61 491 570 159", id_type="Phone", customer="", phone="", country="AU", rid="r-2"),
            receipt(purpose(tx="NOTGIVEN"), rid="r-3"),  # no decision: no profile either
        ),
    )
    batch = read(S)
    assert dict(batch.table("events").group_by("source_record").agg(pl.col("party_id").unique()).iter_rows()) == {
        1: ["C9"],
        2: [None],
    }
    assert batch.table("subject_profiles").sort("source_record").select(
        "source_record",
        "source_record_id",
        "party_id",
        "email",
        "phone",
        "country",
        "first_name",
        "last_name",
        "observed_ts",
    ).rows() == [
        (1, "r-1", "C9", "jane@example.co.uk", "+447700900123", "GB", "Jane", "Doe", AT),
        (2, "r-2", None, None, "+61491570159", "AU", "Jane", "Doe", AT),
    ]
    assert accounted(batch) == {F: (2, 1, 0)}


def test_malformed_email_identifier_is_rejected_by_the_core(drop, read):
    drop(
        S,
        D,
        F,
        array(receipt(purpose(tx="CHANGE_PREFERENCES", email="OPT_IN"), identifier="pat.example.co.uk")),
    )
    batch = read(S)
    assert batch.table("events").height == 0
    assert rejects(batch) == [(1, "invalid_email", "pat.example.co.uk")]
    assert accounted(batch) == {F: (0, 0, 1)}


def test_truncated_array_keeps_the_elements_before_the_break(drop, read):
    text = array(receipt(rid="r-1"), receipt(rid="r-2"))
    drop(S, D, F, text[: text.rindex('"purposes"')])
    batch = read(S)
    assert batch.table("events")["source_record_id"].unique().to_list() == ["r-1"]
    assert [(r, reason) for r, reason, _ in rejects(batch)] == [(2, "truncated")]
    assert accounted(batch) == {F: (1, 0, 1)}


def test_element_of_unexpected_shape_is_rejected_alone(drop, read):
    odd = receipt(rid="r-2")
    odd["purposes"] = "CONFIRMED"
    drop(S, D, F, array(receipt(rid="r-1"), odd, receipt(rid="r-3"), 42))
    batch = read(S)
    assert sorted(batch.table("events")["source_record_id"].unique().to_list()) == ["r-1", "r-3"]
    assert rejects(batch) == [
        (2, "bad_json_type", "a field holds another JSON type than expected"),
        (4, "bad_json_type", "not a JSON object"),
    ]
    assert accounted(batch) == {F: (2, 0, 2)}


def test_receipt_without_purposes_is_skipped(drop, read):
    bare = receipt()
    bare["purposes"] = []
    missing = receipt()
    del missing["purposes"]
    drop(S, D, F, array(bare, missing))
    batch = read(S)
    assert batch.skips.select("source_record", "reason").rows() == [(1, "no_decision"), (2, "no_decision")]
    assert accounted(batch) == {F: (0, 2, 0)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "receipts.csv", "a\n1\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    expected = {
        "bad_input": ({F: (1, 0, 2)}, [(2, "invalid_email"), (3, "unmapped_purpose")]),
        "formats_and_time": ({F: (1, 0, 0)}, []),
        "registry": ({F: (1, 0, 0)}, []),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, reasons) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(set(batch.rejects.select("source_record", "reason").iter_rows())) == reasons, name
    # the quarantine keeps one row per (record, reason, detail): 2 for bad_input
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    assert bad.rejects.unique(["source_record", "reason", "detail"]).height == 2
    assert bad.table("events").filter(pl.col("channel") == "email").select(
        "contact_point", "purpose", "brand", "status", "event_ts"
    ).rows() == [("dee.good@example.co.uk", "marketing.offers", BRAND, "opt_in", dt.datetime(2026, 2, 12, 10))]
    fallback = read_source(S, SCENARIOS / "formats_and_time" / "landing", rules).table("events")
    assert fallback.filter(pl.col("channel") == "email").select("contact_point", "purpose", "event_ts").rows() == [
        ("otto.trust@example.co.uk", "marketing.service_reminders", dt.datetime(2026, 3, 4, 8))
    ]
    registry = read_source(S, SCENARIOS / "registry" / "landing", rules).table("events")
    assert subjects_of(registry) == [
        ("email", "C840005", None),
        ("mail", "C840005", None),
        ("sms", "C840005", "+61491570159"),
        ("voice", "C840005", "+61491570159"),
    ]


def subjects_of(events: pl.DataFrame) -> list[tuple]:
    return events.sort("channel").select("channel", "party_id", "contact_point").rows()


# --- real receipts: GUID topics, IMPLICIT, CustomPreferences, the profile export ------------------

EMAIL_T = "6f1f5c8e-0000-4000-8000-0000000b0e01"
SMS_T = "6f1f5c8e-0000-4000-8000-0000000b0e02"
VOICE_T = "6f1f5c8e-0000-4000-8000-0000000b0e03"
MAIL_T = "6f1f5c8e-0000-4000-8000-0000000b0e04"
ODD_T = "6f1f5c8e-0000-4000-8000-0000000b0e99"  # a topic added to the form, not to the rules
CONTACT_BY = "0c6ad3e2-5b1f-4c41-9d1e-6c3a2f0e7c10"  # a custom preference "How may we contact you?"
BY_SMS, BY_POST, BY_PIGEON = (
    "0c6ad3e2-5b1f-4c41-9d1e-6c3a2f0e7c11",
    "0c6ad3e2-5b1f-4c41-9d1e-6c3a2f0e7c12",
    "0c6ad3e2-5b1f-4c41-9d1e-6c3a2f0e7c19",
)
VEHICLE = "8b0f9a51-3e7d-4f0a-a1c2-2d9e4b6f8a20"  # "Vehicle of interest": no consent in it
VEHICLE_SUV = "8b0f9a51-3e7d-4f0a-a1c2-2d9e4b6f8a21"


def guid_purpose(
    pid: str = OFFERS,
    tx: str = "CONFIRMED",
    topics: list[tuple[str, str]] | None = None,
    custom: list[tuple[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """A purpose as OneTrust's receipts API writes it: GUID topics, CustomPreferences of selected options."""
    out: dict[str, Any] = {"Id": pid, "Version": 3, "TransactionType": tx}
    if topics is not None:
        out["Preferences"] = [{"TopicId": t, "TransactionType": v} for t, v in topics]
    if custom is not None:
        out["CustomPreferences"] = [{"Id": c, "Options": opts} for c, opts in custom]
    return out


def test_guid_topic_ids_and_channel_names(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(guid_purpose(topics=[(EMAIL_T, "OPT_IN"), (SMS_T.upper(), "OPT_OUT")])),
            receipt(guid_purpose(REMINDERS, "WITHDRAWN", topics=[(VOICE_T, "OPT_IN"), ("Mail", "OPT_IN")])),
        ),
    )
    batch = read(S)
    r = "marketing.service_reminders"
    assert decided(batch) == {
        1: {
            ("marketing.offers", "email"): ("opt_in", "express"),
            ("marketing.offers", "sms"): ("opt_out", "express"),  # a GUID matched whatever its case
            ("marketing.offers", "voice"): ("opt_in", "express"),  # no topic: the purpose level
            ("marketing.offers", "mail"): ("opt_in", "express"),
        },
        2: {
            (r, "voice"): ("opt_in", "express"),
            (r, "mail"): ("opt_in", "express"),  # a channel name is that channel
            (r, "email"): ("opt_out", "express"),
            (r, "sms"): ("opt_out", "express"),
        },
    }
    assert batch.rejects.height == 0
    assert accounted(batch) == {F: (2, 0, 0)}


def test_implicit_decides_nothing_at_purpose_level(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(guid_purpose(tx="IMPLICIT"), rid="r-1"),  # implied agreement on a page: no consent
            receipt(guid_purpose(tx="IMPLICIT", topics=[(EMAIL_T, "OPT_IN")]), rid="r-2"),
            receipt(guid_purpose(tx="implicit", topics=[(SMS_T, "OPT_OUT")]), rid="r-3"),
        ),
    )
    batch = read(S)
    o = "marketing.offers"
    assert decided(batch) == {
        2: {(o, "email"): ("opt_in", "express")},
        3: {(o, "sms"): ("opt_out", "express")},
    }
    assert batch.skips.select("source_record", "reason").rows() == [(1, "no_decision")]
    assert batch.rejects.height == 0
    assert accounted(batch) == {F: (2, 1, 0)}


def test_an_unmapped_topic_keeps_the_purpose_level_opt_in_off_untopicked_channels(drop, read):
    drop(
        S,
        D,
        F,
        array(
            # the unknown topic might be sms: the purpose's opt-in reaches no channel without a mapped topic
            receipt(guid_purpose(topics=[(EMAIL_T, "OPT_IN"), (ODD_T, "OPT_IN")]), rid="r-1"),
            # ...while its opt-outs still apply to every channel the mapped topics do not decide
            receipt(guid_purpose(tx="WITHDRAWN", topics=[(EMAIL_T, "OPT_IN"), (ODD_T, "OPT_OUT")]), rid="r-2"),
            # a pending purpose is held back the same way; another purpose of the receipt is not affected
            receipt(
                guid_purpose(tx="PENDING", topics=[(ODD_T, "OPT_IN")]),
                guid_purpose(REMINDERS, "CONFIRMED"),
                rid="r-3",
            ),
        ),
    )
    batch = read(S)
    o = "marketing.offers"
    assert decided(batch) == {
        1: {(o, "email"): ("opt_in", "express")},
        2: {
            (o, "email"): ("opt_in", "express"),
            (o, "sms"): ("opt_out", "express"),
            (o, "voice"): ("opt_out", "express"),
            (o, "mail"): ("opt_out", "express"),
        },
        3: each("opt_in", "express", "marketing.service_reminders"),
    }
    assert rejects(batch) == [(n, "unmapped_topic", f"TopicId: {ODD_T}") for n in (1, 2, 3)]
    assert accounted(batch) == {F: (3, 0, 0)}


def test_an_unmapped_purpose_holds_back_every_opt_in_of_its_receipt(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(
                guid_purpose(UNKNOWN, "WITHDRAWN"),
                guid_purpose(OFFERS, "CONFIRMED", topics=[(SMS_T, "OPT_OUT")]),
            )
        ),
    )
    batch = read(S)
    # the unknown purpose might have been marketing.offers: only the readable opt-out applies
    assert decided(batch) == {1: {("marketing.offers", "sms"): ("opt_out", "express")}}
    assert rejects(batch) == [(1, "unmapped_purpose", f"purpose Id: {UNKNOWN}")]
    assert accounted(batch) == {F: (1, 0, 0)}


def test_unmapped_custom_preferences_are_rejected_parts_and_fail_safe(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(guid_purpose(topics=[(EMAIL_T, "OPT_IN")], custom=[(CONTACT_BY, [BY_SMS])]), rid="r-1"),
            receipt(guid_purpose(tx="OPT_OUT", custom=[(VEHICLE, [VEHICLE_SUV])]), rid="r-2"),
            receipt(guid_purpose(tx="CONFIRMED", custom=[(CONTACT_BY, [])]), rid="r-3"),
        ),
    )
    batch = read(S)
    o = "marketing.offers"
    assert decided(batch) == {
        1: {(o, "email"): ("opt_in", "express")},  # the preference might have said "not by sms"
        2: each("opt_out", "express"),
    }
    assert rejects(batch) == [
        (1, "unmapped_preference", f"CustomPreferences Id: {CONTACT_BY}"),
        (2, "unmapped_preference", f"CustomPreferences Id: {VEHICLE}"),
        (3, "unmapped_preference", f"CustomPreferences Id: {CONTACT_BY}"),
    ]
    assert accounted(batch) == {F: (2, 0, 1)}


def rules_with(tmp_path: Path, mapping: str) -> Rules:
    """The shipped rules with `custom_preferences` of mappings/onetrust.yaml replaced."""
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", root)
    path = root / "mappings" / "onetrust.yaml"
    text = path.read_text().replace("custom_preferences: {}", mapping)
    assert text != path.read_text()
    path.write_text(text)
    return load_rules(root)


MAPPED_CUSTOM = f"""custom_preferences:
  {CONTACT_BY.upper()}:
    options:
      {BY_SMS}: {{channel: sms, status: opt_in}}
      {BY_POST}: {{channel: mail, status: opt_out}}
  {VEHICLE}: ignore
"""


def test_mapped_custom_preferences_decide_their_channels(tmp_path: Path, landing: Path, drop):
    rules = rules_with(tmp_path, MAPPED_CUSTOM)
    drop(
        S,
        D,
        F,
        array(
            # selected options decide their channel, overriding the purpose level as a topic does
            receipt(guid_purpose(tx="WITHDRAWN", custom=[(CONTACT_BY, [BY_SMS, BY_POST.upper()])]), rid="r-1"),
            # a preference mapped `ignore` decides nothing and doubts nothing
            receipt(guid_purpose(tx="CONFIRMED", custom=[(VEHICLE, [VEHICLE_SUV])]), rid="r-2"),
            # an option the rules do not know is a rejected part: the purpose's opt-in is held back
            receipt(guid_purpose(tx="CONFIRMED", custom=[(CONTACT_BY, [BY_POST, BY_PIGEON])]), rid="r-3"),
        ),
    )
    batch = read_source(S, landing, rules)
    o = "marketing.offers"
    assert decided(batch) == {
        1: {
            (o, "sms"): ("opt_in", "express"),
            (o, "mail"): ("opt_out", "express"),
            (o, "email"): ("opt_out", "express"),
            (o, "voice"): ("opt_out", "express"),
        },
        2: each("opt_in", "express"),
        3: {(o, "mail"): ("opt_out", "express")},
    }
    assert rejects(batch) == [(3, "unmapped_preference", f"CustomPreferences {CONTACT_BY} option: {BY_PIGEON}")]
    assert accounted(batch) == {F: (3, 0, 0)}


def test_custom_preference_rules_are_checked(tmp_path: Path):
    with pytest.raises(RulesError, match=r"onetrust.yaml: custom_preferences\.X\.options\.Y\.channel: unknown"):
        rules_with(tmp_path, "custom_preferences: {X: {options: {Y: {channel: fax, status: opt_in}}}}")


def test_data_subject_profile_export_envelope(drop, read):
    export = {
        "content": [
            receipt(guid_purpose(tx="WITHDRAWN"), rid="r-1", identifier="ann@example.co.uk"),
            receipt(guid_purpose(REMINDERS, "CONFIRMED"), rid="r-2", identifier="bob@example.co.uk"),
        ],
        "pageable": {"pageNumber": 0, "pageSize": 20},
        "totalElements": 2,
        "totalPages": 1,
        "last": True,
    }
    drop(S, D, F, json.dumps(export, indent=2))
    drop(S, D, "receipts_0002.json", json.dumps({"content": [], "totalElements": 0}) + "\n")
    batch = read(S)
    email = batch.table("events").filter(pl.col("channel") == "email")
    assert sorted(email.select("source_record_id", "contact_point", "status").rows()) == [
        ("r-1", "ann@example.co.uk", "opt_out"),
        ("r-2", "bob@example.co.uk", "opt_in"),
    ]
    assert accounted(batch) == {F: (2, 0, 0), "receipts_0002.json": (0, 0, 0)}


def test_an_object_that_is_no_receipt_is_quarantined_not_skipped(drop, read):
    drop(S, D, F, array(receipt(rid="r-1"), {"status": 500, "error": "Internal Server Error"}, {}))
    batch = read(S)
    assert rejects(batch) == [
        (2, "unrecognised_record", "an object with none of a receipt's fields"),
        (3, "unrecognised_record", "an object with none of a receipt's fields"),
    ]
    assert batch.skips.height == 0
    assert accounted(batch) == {F: (1, 0, 2)}


def test_an_undated_opt_out_is_kept_at_the_delivery_time(drop, read):
    drop(
        S,
        D,
        F,
        array(
            receipt(guid_purpose(tx="WITHDRAWN"), interaction=None, consent=None, rid="r-1"),
            receipt(guid_purpose(tx="CONFIRMED", topics=[(SMS_T, "OPT_OUT")]), interaction="########", rid="r-2"),
        ),
    )
    batch = read(S)
    received = dt.datetime(2026, 2, 20, 2)
    events = batch.table("events").sort("source_record", "channel")
    assert events.select("source_record", "channel", "status", "event_ts", "event_ts_estimated").rows() == [
        (1, "email", "opt_out", received, True),
        (1, "mail", "opt_out", received, True),
        (1, "sms", "opt_out", received, True),
        (1, "voice", "opt_out", received, True),
        (2, "sms", "opt_out", received, True),
    ]
    # the undated opt-ins of r-2 are quarantined; its profile and r-1's are observed at the delivery
    assert rejects(batch) == [(2, "bad_timestamp", "interactionDate: ########")]
    assert batch.table("subject_profiles")["observed_ts"].to_list() == [received, received]
    assert accounted(batch) == {F: (2, 0, 0)}


# --- through the whole pipeline ---------------------------------------------------------------------

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,"
    "address_line1,city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    "C1,,true,Jane,Doe,jane@example.co.uk,07700 900123,,1 High St,Leeds,,LS1 1AA,GB,customer,"
    "lakeside_motors,2024-01-01T10:00:00Z,2026-01-05T10:00:00Z\n"
)


def test_an_unmapped_topic_never_turns_an_sms_opt_out_into_a_permission(tmp_path: Path, landing: Path, drop):
    drop("customer_master", "2026-01-06T020000Z", "customers_0001.csv", CUSTOMERS)
    # a fresh TPS snapshot: without it every GB sms key would be registry_stale whatever the consent
    drop("dnc_registries", "2026-02-25T030000Z", "uk_tps/uk_tps_20260225.txt", "0113 4960000\n")
    sms_out = receipt(
        guid_purpose(tx="CHANGE_PREFERENCES", topics=[(SMS_T, "OPT_OUT")]),
        rid="r-1",
        interaction="2026-02-09T10:00:00Z",
    )
    later = receipt(
        guid_purpose(tx="CONFIRMED", topics=[(EMAIL_T, "OPT_IN"), (ODD_T, "OPT_IN")]),
        rid="r-2",
        interaction="2026-02-19T10:00:00Z",
    )
    drop(S, "2026-02-10T020000Z", F, array(sms_out))
    drop(S, D, "receipts_0002.json", array(later))
    warehouse = tmp_path / "w.duckdb"
    run(landing, warehouse, "2026-03-01T06:00:00Z")
    key = ("C1", "marketing.offers", BRAND)
    permission = rows(
        warehouse,
        "SELECT channel, contact_point, allowed, reason FROM contact_permission"
        " WHERE party_id = ? AND purpose = ? AND brand = ? AND channel IN ('email', 'sms') ORDER BY channel",
        list(key),
    )
    assert permission == [
        ("email", "jane@example.co.uk", True, "express_consent"),  # the mapped topic's own opt-in
        ("sms", "+447700900123", False, "opted_out"),  # the purpose-level opt-in does not reach sms
    ]
    current = rows(
        warehouse,
        "SELECT channel, status, event_ts FROM consent_current"
        " WHERE contact_point = '+447700900123' AND purpose = 'marketing.offers' ORDER BY channel",
    )
    assert current == [("sms", "opt_out", dt.datetime(2026, 2, 9, 10))]
    assert rows(warehouse, "SELECT source_record, reason FROM quarantine WHERE source = 'onetrust'") == [
        (1, "unmapped_topic")
    ]
    ledger = rows(
        warehouse,
        "SELECT source_file, rows_read, rows_accepted, rows_skipped, rows_duplicate, rows_quarantined"
        " FROM ingest_ledger WHERE source = 'onetrust' ORDER BY source_file",
    )
    assert [r[1:] for r in ledger] == [(1, 1, 0, 0, 0), (1, 1, 0, 0, 0)]
