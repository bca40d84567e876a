"""A later run scrubs only what it must: with the erasure register unchanged, only rows of files ingested
since the last scrub are looked at, and the warehouse ends exactly as one run over all the files leaves it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.helpers import ROOT, run, table_hash, write

SCENARIO = ROOT / "tests" / "acceptance" / "scenarios" / "erasure" / "landing"
REDELIVERY = "mailchimp/2026-02-10T020000Z"  # the old export again, after the erasure
ERASED = ("eulalia.quarrington@example.co.uk", "+447700900456", "07700 900456", "quarrington")
SCRUBBED = [
    "event_log",
    "customer_records",
    "subject_profiles",
    "contact_evidence",
    "undeliverable",
    "registry_listings",
    "erasure_requests",
    "activity",
    "sends",
]
# A record that cannot be read (a bad date) from the erased phone, delivered after the erasure.
TWILIO = (
    "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
    '+447700900456,+447700900500,START,received,"Tue, 31 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM1,inbound,,\n'
)
# Truncated preference-centre lines: one naming her email, one her phone in national form.
ACCOUNTS = (
    '{"UID": "u9", "profile": {"email": "Eulalia.Quarrington@Example.co.uk", "firstName": "E"\n'
    '{"UID": "u8", "profile": {"phone": "07700 900456", "firstName": "E"\n'
)
LATER_REQUEST = (
    '{"request_id": "DSR-2026-0099", "received_at": "2026-02-25T11:00:00Z", "regulation": "GDPR", '
    '"type": "erasure", "subject": {"emails": ["ken.control@example.co.uk"]}}\n'
)


def _in_clear(warehouse: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) for every erased value still held in the clear in any text column."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE data_type = 'VARCHAR' AND NOT internal"
        ).fetchall()
        found = []
        for table, col in cols:
            for value in ERASED:
                hit = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE contains(lower("{col}"), $v)', {"v": value}
                ).fetchall()[0][0]
                if hit:
                    found.append((table, col, value))
        return found
    finally:
        con.close()


def test_a_later_run_scrubs_new_rows_only_and_ends_as_one_run_would(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(
        SCENARIO, landing, ignore=lambda d, names: ["2026-02-10T020000Z"] if str(d).endswith("mailchimp") else []
    )
    inc = tmp_path / "inc" / "w.duckdb"
    first = run(landing, inc, "2026-02-20T06:00:00Z")
    assert first.figures["erasure_scope"] == -1  # a first run scrubs everything

    shutil.copytree(SCENARIO / REDELIVERY, landing / REDELIVERY)
    write(landing, "twilio_sms", "2026-02-21T010000Z", "messages_1.csv", TWILIO)
    write(landing, "preference_centre", "2026-02-21T010000Z", "accounts_1.jsonl", ACCOUNTS)
    second = run(landing, inc, "2026-03-01T06:00:00Z")
    # The register did not change: only the files this run read (the three new ones, and the deliveries
    # the first run held because they are dated after its as-of).
    assert second.figures["files"] > 3
    assert second.figures["erasure_scope"] == second.figures["files"], "only the files this run read"
    # Nothing holds her values in the clear any more, so only their hashes can find them in the new records.
    assert second.figures["quarantined"] == 3
    assert _in_clear(inc) == []

    full = tmp_path / "full" / "w.duckdb"
    run(landing, full, "2026-03-01T06:00:00Z")
    assert [t for t in SCRUBBED if table_hash(inc, t) != table_hash(full, t)] == []
    assert table_hash(inc, "quarantine", exclude=("run_id",)) == table_hash(full, "quarantine", exclude=("run_id",))

    assert run(landing, inc, "2026-03-01T07:00:00Z").figures["erasure_scope"] == 0  # nothing new
    write(landing, "erasure_requests", "2026-02-26T120000Z", "requests_0002.jsonl", LATER_REQUEST)
    assert run(landing, inc, "2026-03-01T08:00:00Z").figures["erasure_scope"] == -1  # a new erasure: every row
