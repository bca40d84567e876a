"""call_centre connector: agent guided-script captures (feeds.md §7)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from consent_pipeline.canonical import Batch
from consent_pipeline.config import Rules
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted, ingest

S = "call_centre"
D = "2026-02-20T020000Z"
F = "captures_0001.jsonl"
AT = dt.datetime(2026, 2, 18, 14, 15)  # 09:15 at -05:00
EVENT_COLS = (
    "source_record",
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
    "double_opt_in",
)


def capture(
    *answers: tuple[str, str] | dict,
    customer: Any = "C100023",
    verified: Any = True,
    when: Any = "2026-02-18T09:15:00-05:00",
    brand: str = "lakeside_energy",
    cid: str = "CC-1",
    **extra: Any,
) -> str:
    record: dict[str, Any] = {
        "capture_id": cid,
        "captured_at": when,
        "agent_id": "A042",
        "brand": brand,
        "customer_id": customer,
        "verified_identity": verified,
        "script": "consent_update_v3",
        "answers": [a if isinstance(a, dict) else {"question": a[0], "answer": a[1]} for a in answers],
    }
    record.update(extra)
    return json.dumps(record) + "\n"


def events(batch: Batch) -> list[tuple]:
    return sorted(batch.table("events").select(EVENT_COLS).rows(), key=repr)


def rejects(batch: Batch) -> list[tuple]:
    return sorted(set(batch.rejects.select("source_record", "reason", "detail").iter_rows()), key=repr)


def reviews(batch: Batch) -> list[tuple]:
    return batch.table("reviews").select("source_record", "party_id", "reviewed_at").sort("source_record").rows()


def test_answers_are_spoken_party_level_consents_for_the_captures_brand(drop, read):
    drop(
        S,
        D,
        F,
        capture(("email_offers", "yes"), ("sms_outage_alerts", " No "), ("mail_offers", "skip"))
        + capture(("phone_offers", "YES"), brand="lakeside_home", cid="CC-2", when="2026-02-18T14:15:00Z"),
    )
    batch = read(S)
    assert events(batch) == [
        (1, "CC-1", "C100023", None, "email", "email", "marketing.offers", "lakeside_energy", "opt_in",
         "express_verbal", AT, False),
        (1, "CC-1", "C100023", None, "phone", "sms", "service.outage", "lakeside_energy", "opt_out",
         "express_verbal", AT, False),
        (2, "CC-2", "C100023", None, "phone", "voice", "marketing.offers", "lakeside_home", "opt_in",
         "express_verbal", AT, False),
    ]  # fmt: skip
    assert accounted(batch) == {F: (2, 0, 0)}


def test_star_channel_question_is_every_contact_point_type(drop, read):
    drop(S, D, F, capture(("third_party", "no"), ("door_visits", "yes")))
    batch = read(S)
    assert [(r[4], r[5], r[6], r[8]) for r in events(batch)] == [
        ("postal", "door", "marketing.offers", "opt_in"),
        (None, "*", "marketing.third_party", "opt_out"),
    ]


def test_every_verified_capture_is_a_review_even_when_every_answer_is_skipped(drop, read):
    drop(
        S,
        D,
        F,
        capture(("email_offers", "skip"), ("sms_offers", "skip"))
        + capture(customer="C100024")  # no answers at all
        + capture(("email_offers", "no"), customer="C100025"),
    )
    batch = read(S)
    assert batch.table("events")["source_record"].to_list() == [3]
    assert reviews(batch) == [(1, "C100023", AT), (2, "C100024", AT), (3, "C100025", AT)]
    assert accounted(batch) == {F: (3, 0, 0)}


def test_unverified_caller_may_only_opt_out(drop, read):
    drop(
        S,
        D,
        F,
        capture(("email_offers", "yes"), ("email_newsletter", "no"), verified=False)
        + capture(("sms_offers", "yes"), verified=False)  # nothing applies: quarantined
        + capture(("sms_offers", "skip"), verified=False)  # nothing to apply: skipped
        + capture(("sms_offers", "yes"), verified=None),  # no verification said: not verified
    )
    batch = read(S)
    assert [(r[0], r[6], r[8]) for r in events(batch)] == [(1, "marketing.newsletter", "opt_out")]
    assert rejects(batch) == [
        (1, "unverified_opt_in", "email_offers: yes"),
        (2, "unverified_opt_in", "sms_offers: yes"),
        (4, "unverified_opt_in", "sms_offers: yes"),
    ]
    assert reviews(batch) == []  # an unverified capture is no review
    assert batch.skips.select("source_record", "reason").rows() == [(3, "no_decision")]
    assert accounted(batch) == {F: (1, 1, 2)}


def test_unknown_question_is_a_rejected_part(drop, read):
    drop(
        S,
        D,
        F,
        capture(("mail_offers", "yes"), ("fax_offers", "yes"))
        # a skipped answer changes nothing, whatever the question
        + capture(("fax_offers", "skip"), verified=False)
        + capture(("fax_offers", "no"), verified=False),
    )
    batch = read(S)
    assert [(r[0], r[5]) for r in events(batch)] == [(1, "mail")]
    assert rejects(batch) == [
        (1, "unmapped_question", "question: fax_offers"),
        (3, "unmapped_question", "question: fax_offers"),
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(2, "no_decision")]
    assert accounted(batch) == {F: (1, 1, 1)}


def test_answers_outside_yes_no_skip_are_rejected_parts(drop, read):
    drop(
        S,
        D,
        F,
        capture(("email_offers", "maybe"), ("sms_offers", "no"))
        + capture({"question": "email_offers"}, verified=False)
        + capture({"answer": "yes"}, verified=False),
    )
    batch = read(S)
    assert [(r[0], r[6]) for r in events(batch)] == [(1, "marketing.offers")]
    assert rejects(batch) == [
        (1, "unmapped_answer", "email_offers: maybe"),
        (2, "missing_value", "email_offers: "),
        (3, "missing_value", ": yes"),
    ]
    assert accounted(batch) == {F: (1, 0, 2)}


def test_missing_customer_rejects_the_whole_record(drop, read):
    drop(
        S,
        D,
        F,
        capture(("email_offers", "no"), customer=None) + capture(("email_offers", "no"), customer=" "),
    )
    batch = read(S)
    assert rejects(batch) == [
        (1, "missing_value", "customer_id is empty"),
        (2, "missing_value", "customer_id is empty"),
    ]
    assert batch.table("events").height == 0 and batch.table("reviews").height == 0
    assert accounted(batch) == {F: (0, 0, 2)}


def test_captured_at_offsets_and_bad_times(drop, read):
    drop(
        S,
        D,
        F,
        capture(("email_offers", "no"), when="2026-02-18T20:15:00+06:00")
        + capture(("email_offers", "no"), when="2026-02-30T09:00:00+00:00")
        + capture(("email_offers", "no"), when="2026-02-18T09:15:00")  # no offset: the agent's local time?
        + capture(("email_offers", "no"), when=None),
    )
    batch = read(S)
    assert [(r[0], r[10]) for r in events(batch)] == [(1, AT)]
    assert rejects(batch) == [
        (2, "bad_timestamp", "captured_at: 2026-02-30T09:00:00+00:00"),
        (3, "bad_timestamp", "captured_at: 2026-02-18T09:15:00"),
        (4, "bad_timestamp", "captured_at: "),
    ]
    assert accounted(batch) == {F: (1, 0, 3)}


def test_future_capture_is_quarantined_once_with_its_review(drop, read, tmp_path):
    future = "2026-02-25T09:00:00+00:00"  # > received_ts + 1 day: the core rejects events and review alike
    drop(
        S,
        D,
        F,
        capture(("email_offers", "yes"), ("sms_offers", "no"), when=future) + capture(("email_offers", "no")),
    )
    batch = read(S)
    assert reviews(batch) == [(2, "C100023", AT)]
    assert set(batch.rejects.select("source_record", "reason", "detail").iter_rows()) == {
        (1, "future_timestamp", "2026-02-25 09:00:00.000000")
    }
    assert accounted(batch) == {F: (1, 0, 1)}
    # the event log keeps one quarantine row for the record (parts with the same reason and value are one)
    assert ingest(batch, tmp_path) == ([(2, 1, 0, 0, 1)], [(1, "future_timestamp")])


def test_unknown_brand_rejects_the_answers_not_the_review(drop, read):
    drop(S, D, F, capture(("email_offers", "no"), brand="lakeside_pets"))
    batch = read(S)
    assert rejects(batch) == [(1, "unknown_brand", "lakeside_pets")]
    assert reviews(batch) == [(1, "C100023", AT)]
    assert accounted(batch) == {F: (1, 0, 0)}


def test_script_name_is_not_a_condition(drop, read):
    drop(S, D, F, capture(("email_offers", "no"), script="retention_v1"))
    assert [(r[0], r[8]) for r in events(read(S))] == [(1, "opt_out")]


def test_truncated_line_is_quarantined_and_the_rest_carries_on(drop, read):
    drop(S, D, F, capture(("email_offers", "no")) + '{"capture_id": "CC-2", "captured_at": "2026-02\n')
    batch = read(S)
    assert rejects(batch) == [(2, "invalid_json", "not a complete JSON object")]
    assert accounted(batch) == {F: (1, 0, 1)}


def test_unexpected_file_is_reported(drop, read):
    drop(S, D, "captures.csv", "capture_id\n1\n")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules: Rules, tmp_path: Path):
    expected = {
        "bad_input": (
            {F: (3, 0, 1)},
            [(2, "future_timestamp"), (3, "unmapped_question"), (4, "unverified_opt_in")],
        ),
        "erasure": ({F: (1, 0, 0)}, []),
        "formats_and_time": ({F: (1, 0, 0)}, []),
        "household_ownership": ({F: (1, 0, 0)}, []),
        "late_delivery": ({F: (1, 0, 0)}, []),
        "regional_templates": ({F: (1, 0, 0)}, []),
    }
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == sorted(expected)
    for name, (ledger, quarantined) in expected.items():
        batch = read_source(S, SCENARIOS / name / "landing", rules)
        assert accounted(batch) == ledger, name
        assert sorted(set(batch.rejects.select("source_record", "reason").iter_rows())) == quarantined, name
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    assert events(bad) == [
        (1, "CC-820001", "C820002", None, "phone", "sms", "service.outage", "lakeside_energy", "opt_out",
         "express_verbal", dt.datetime(2026, 2, 15, 14), False),
        (3, "CC-820003", "C820001", None, "postal", "mail", "marketing.offers", "lakeside_home", "opt_in",
         "express_verbal", dt.datetime(2026, 2, 15, 11), False),
        (4, "CC-820004", "C820005", None, "email", "email", "marketing.newsletter", "lakeside_energy",
         "opt_out", "express_verbal", dt.datetime(2026, 2, 16, 15), False),
    ]  # fmt: skip
    # expect.yaml: rows_read 4, accepted 3, quarantined 1; three quarantine rows
    assert ingest(bad, tmp_path) == (
        [(4, 3, 0, 0, 1)],
        [(2, "future_timestamp"), (3, "unmapped_question"), (4, "unverified_opt_in")],
    )
