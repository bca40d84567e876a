"""Audit (semantics §8): an opt-out partly taken back is honoured for the keys it still decides; a send after
an erasure is a violation only once the erasure was due."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import rows, run, write

CUSTOMERS = (
    "customer_id,household_id,is_primary_holder,first_name,last_name,email,mobile_phone,home_phone,address_line1,"
    "city,state_province,postal_code,country,customer_type,brands,created_at,updated_at\n"
    "C1,,true,Bob,Stone,bob.stone@example.com,,,2 Bay St,San Francisco,CA,94107,US,customer,"
    "lakeside_energy,2021-03-04T10:00:00Z,2026-01-30T08:00:00Z\n"
    "C2,,true,Cy,Lane,cy.lane@example.com,,,3 Bay St,San Francisco,CA,94107,US,customer,"
    "lakeside_energy,2021-03-04T10:00:00Z,2026-01-30T08:00:00Z\n"
)
# 2026-02-10 10:00 UTC: a global unsubscribe (all marketing by email); 2026-02-11: back to group 101 (offers).
GLOBAL = '[{"created": 1770717600, "email": "bob.stone@example.com"}]'
RESUBSCRIBE = (
    '{"email": "bob.stone@example.com", "timestamp": 1770804000, "event": "group_resubscribe", '
    '"sg_event_id": "e1", "asm_group_id": 101}\n'
)
ERASURE = (
    '{"request_id": "DSR-1", "received_at": "2026-02-16T09:00:00Z", "regulation": "CCPA", "type": "erasure", '
    '"subject": {"customer_id": "C2", "emails": ["cy.lane@example.com"], "phones": []}}\n'
)
# Two newsletter sends to Cy after the erasure: one within the 10 business days (due 2026-03-02), one after.
SENDS = (
    "send_id,channel,brand,campaign_id,purpose,contact_point,sent_at\n"
    "S1,email,lakeside_energy,c1,marketing.newsletter,cy.lane@example.com,2026-02-20T09:00:00Z\n"
    "S2,email,lakeside_energy,c1,marketing.newsletter,cy.lane@example.com,2026-03-03T09:00:00Z\n"
)


def test_partial_take_back_and_erasure_deadline(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    warehouse = tmp_path / "w.duckdb"
    write(landing, "customer_master", "2026-02-01T010000Z", "customers_1.csv", CUSTOMERS)
    write(landing, "sendgrid", "2026-02-12T010000Z", "global_unsubscribes.json", GLOBAL)
    write(landing, "sendgrid", "2026-02-12T010000Z", "events_1.jsonl", RESUBSCRIBE)
    write(landing, "erasure_requests", "2026-02-16T100000Z", "requests_1.jsonl", ERASURE)
    run(landing, warehouse, "2026-02-12T06:00:00Z")  # the first extract: offers is opted in again
    write(landing, "sends", "2026-03-04T010000Z", "sends_1.csv", SENDS)
    # S2 went to an erased address after the deadline: the audit check fails (it does not block)
    run(landing, warehouse, "2026-03-04T06:00:00Z", failing_checks={"no_send_after_optout"})

    sla = rows(
        warehouse,
        "SELECT state, breached, honoured_at FROM optout_sla WHERE contact_point = 'bob.stone@example.com'",
    )
    assert [(state, breached, str(at)) for state, breached, at in sla] == [("honoured", False, "2026-02-12 06:00:00")]
    assert rows(warehouse, "SELECT send_id, reason FROM violations ORDER BY send_id") == [("S2", "erased")]
