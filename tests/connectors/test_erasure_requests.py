"""erasure_requests connector: right-to-be-forgotten requests (feeds.md §15)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from consent_pipeline.canonical import Batch
from consent_pipeline.core.ingest.ingest import read_source
from tests.conftest import SCENARIOS
from tests.connectors.ledger import accounted

S = "erasure_requests"
D = "2026-03-02T120000Z"
AT = dt.datetime(2026, 3, 2, 11)


def request(
    request_id: str = "DSR-2026-0042",
    kind: object = "erasure",
    customer_id: object = "C100001",
    emails: str | Iterable[object] = ("ana@example.com",),  # a string: sent as one, not as a list
    phones: Iterable[object] = ("+447700900123",),
    received_at: object = "2026-03-02T11:00:00Z",
    regulation: str = "GDPR",
) -> str:
    subject = {
        "customer_id": customer_id,
        "emails": emails if isinstance(emails, str) else list(emails),
        "phones": list(phones),
    }
    line = {
        "request_id": request_id,
        "received_at": received_at,
        "regulation": regulation,
        "type": kind,
        "subject": subject,
    }
    return json.dumps(line) + "\n"


def erased(batch: Batch) -> list[tuple]:
    return (
        batch.table("erasure_requests")
        .select("source_record", "party_id", "contact_point", "contact_point_type")
        .rows()
    )


def rejects(batch: Batch) -> list[tuple]:
    return sorted(batch.rejects.select("source_record", "reason", "detail").rows(), key=str)


def test_one_row_per_identifier_of_the_subject(drop, read):
    drop(S, D, "requests_1.jsonl", request())
    batch = read(S)
    assert erased(batch) == [
        (1, "C100001", None, None),
        (1, "C100001", "ana@example.com", "email"),
        (1, "C100001", "+447700900123", "phone"),
    ]
    assert batch.table("erasure_requests").select(
        "source_record_id", "request_id", "regulation", "requested_at", "received_ts"
    ).unique().rows() == [("DSR-2026-0042", "DSR-2026-0042", "GDPR", AT, dt.datetime(2026, 3, 2, 12))]
    assert batch.rejects.height == 0
    assert accounted(batch) == {"requests_1.jsonl": (1, 0, 0)}


def test_contact_points_only_or_customer_only(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(customer_id=None, emails=[" ana@example.com ", "ana@example.com", ""], phones=[])
        + request(customer_id="C2", emails=[], phones=[])
        + request(customer_id="", emails=[], phones=["+1 415 555 0134", "+14155550135"]),
    )
    batch = read(S)
    assert erased(batch) == [
        (1, None, "ana@example.com", "email"),  # the same address twice, once
        (2, "C2", None, None),
        (3, None, "+14155550134", "phone"),
        (3, None, "+14155550135", "phone"),
    ]
    assert accounted(batch) == {"requests_1.jsonl": (3, 0, 0)}


def test_other_request_types_are_skipped(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(kind="access") + request(kind="Rectification") + request(kind=" ERASURE "),
    )
    batch = read(S)
    assert {r for r, *_ in erased(batch)} == {3}
    assert sorted(batch.skips.select("source_record", "reason").rows()) == [
        (1, "not_erasure"),
        (2, "not_erasure"),
    ]
    assert accounted(batch) == {"requests_1.jsonl": (1, 2, 0)}


def test_request_without_subject(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(customer_id=None, emails=[], phones=[])
        + request(customer_id=" ", emails=[" "], phones=[])
        + '{"request_id": "DSR-3", "received_at": "2026-03-02T11:00:00Z", "type": "erasure"}\n',
    )
    batch = read(S)
    assert batch.table("erasure_requests").height == 0
    detail = "subject names no customer_id, email or phone"
    assert rejects(batch) == [(1, "no_subject", detail), (2, "no_subject", detail), (3, "no_subject", detail)]
    assert accounted(batch) == {"requests_1.jsonl": (0, 0, 3)}


def test_truncated_line(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request() + '{"request_id": "DSR-2026-0822", "received_at": "2026-02-18T13:00:00Z", "type": "era\n',
    )
    batch = read(S)
    assert {r for r, *_ in erased(batch)} == {1}
    assert rejects(batch) == [(2, "invalid_json", "not a complete JSON object")]
    assert batch.rejects["raw"].to_list() == [
        '{"request_id": "DSR-2026-0822", "received_at": "2026-02-18T13:00:00Z", "type": "era'
    ]
    assert accounted(batch) == {"requests_1.jsonl": (1, 0, 1)}


def test_bad_received_at_and_missing_type_keep_the_subject_on_the_quarantine_row(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(received_at="2026-02-30T11:00:00Z", customer_id="C7")
        + request(received_at=None, customer_id="C8")
        + request(kind=None, customer_id="C9")
        + request(received_at="2026-03-04T11:00:00Z", customer_id="C10", emails=[], phones=[]),
    )
    batch = read(S)
    assert batch.table("erasure_requests").height == 0
    assert sorted(batch.rejects.select("source_record", "reason", "detail", "party_id").unique().rows(), key=str) == [
        (1, "bad_timestamp", "received_at: 2026-02-30T11:00:00Z", "C7"),
        (2, "bad_timestamp", "received_at: ", "C8"),
        (3, "missing_value", "type is empty", "C9"),
        (4, "future_timestamp", "2026-03-04 11:00:00.000000", "C10"),  # the core's future/past rule
    ]
    assert accounted(batch) == {"requests_1.jsonl": (0, 0, 4)}


def test_invalid_contact_point_is_a_rejected_part(drop, read):
    drop(S, D, "requests_1.jsonl", request(emails=["ana.example.com"], phones=["12"]))
    batch = read(S)
    assert erased(batch) == [(1, "C100001", None, None)]
    assert sorted(batch.rejects.select("source_record", "reason", "detail", "party_id").rows()) == [
        (1, "invalid_email", "ana.example.com", "C100001"),
        (1, "invalid_phone", "12", "C100001"),
    ]
    assert accounted(batch) == {"requests_1.jsonl": (1, 0, 0)}


def test_loose_json_types_are_coerced(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(customer_id=100001, emails="ana@example.com", phones=[]),
    )
    batch = read(S)
    # a number as the customer id, a single email not in a list
    assert erased(batch) == [(1, "100001", None, None), (1, "100001", "ana@example.com", "email")]


def test_mistyped_line_does_not_stop_the_file(drop, read):
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(request_id="DSR-1")
        + '{"request_id": "DSR-2", "type": "erasure", "subject": {"emails": {"primary": "x@example.com"}}}\n'
        + "not json\n"
        + request(request_id="DSR-4", kind="access"),
    )
    batch = read(S)
    assert batch.table("erasure_requests")["request_id"].unique().to_list() == ["DSR-1"]
    assert rejects(batch) == [
        (2, "bad_json_type", "a field holds another JSON type than expected"),
        (3, "invalid_json", "not a complete JSON object"),
    ]
    assert batch.skips.select("source_record", "reason").rows() == [(4, "not_erasure")]
    assert accounted(batch) == {"requests_1.jsonl": (1, 1, 2)}


def test_unexpected_file(drop, read):
    drop(S, D, "requests_1.xml", "<requests/>")
    batch = read(S)
    assert batch.rejects.select("source_record", "reason").rows() == [(None, "unexpected_file")]


def test_public_scenarios(rules):
    have = sorted(p.name for p in SCENARIOS.iterdir() if (p / "landing" / S).is_dir())
    assert have == ["bad_input", "erasure"]
    bad = read_source(S, SCENARIOS / "bad_input" / "landing", rules)
    assert accounted(bad) == {"requests_0001.jsonl": (1, 1, 1)}
    assert rejects(bad) == [(3, "invalid_json", "not a complete JSON object")]
    assert bad.skips.select("source_record", "reason").rows() == [(2, "not_erasure")]
    assert erased(bad) == [(1, "C820004", None, None), (1, "C820004", "eli.gone@example.co.uk", "email")]
    erasure = read_source(S, SCENARIOS / "erasure" / "landing", rules)
    assert accounted(erasure) == {"requests_0001.jsonl": (1, 0, 0)}
    assert erased(erasure) == [
        (1, "C830001", None, None),
        (1, "C830001", "eulalia.quarrington@example.co.uk", "email"),
        (1, "C830001", "+447700900456", "phone"),
    ]
    assert erasure.table("erasure_requests")["requested_at"].unique().to_list() == [dt.datetime(2026, 2, 1, 11)]


def test_only_known_request_types_are_skipped(drop, read):
    """Skipped must be earned: a type the portal is not known to send might be an erasure by another name."""
    drop(
        S,
        D,
        "requests_1.jsonl",
        request(request_id="DSR-1", kind="Erasure")
        + request(request_id="DSR-2", kind="access")
        + request(request_id="DSR-3", kind="delete_my_data"),
    )
    batch = read(S)
    assert batch.table("erasure_requests")["request_id"].unique().to_list() == ["DSR-1"]
    assert batch.skips.select("source_record", "reason").rows() == [(2, "not_erasure")]
    assert rejects(batch) == [(3, "unknown_request_type", "type: delete_my_data")]
    assert accounted(batch) == {"requests_1.jsonl": (1, 1, 1)}
