"""Shared by the erasure-on-disk tests: the erasure scenario's subject, the forms her data takes in the feeds,
and a search of every file the pipeline owns for them."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.helpers import ROOT, write

SCENARIO = ROOT / "tests" / "acceptance" / "scenarios" / "erasure" / "landing"
REDELIVERY = "mailchimp/2026-02-10T020000Z"  # her old export again, after the erasure
ERASURE = "erasure_requests/2026-02-01T120000Z"

# Her values in every form a feed gives them (the exports write the email in mixed case, the request in a
# third; the phone in national form with a space), as the warehouse normalises them, and her names and street.
# Searched case-insensitively, so "Eulalia.Quarrington@Example.co.uk" is covered by the first.
FORMS = (
    "eulalia.quarrington@example.co.uk",
    "+447700900456",
    "07700 900456",
    "7700900456",
    "quarrington",
    "eulalia",
    "1 mill lane",
)

# Records that cannot be read, delivered after the erasure: from her phone (a bad date) and two truncated
# preference-centre lines naming her email and her phone in national form. Quarantine keeps raw text.
TWILIO = (
    "From,To,Body,Status,SentDate,ApiVersion,NumSegments,ErrorCode,AccountSid,Sid,Direction,Price,PriceUnit\n"
    '+447700900456,+447700900500,STOP,received,"Tue, 31 Feb 2026 10:00:00 +0000",2010-04-01,1,,AC1,SM1,inbound,,\n'
)
ACCOUNTS = (
    '{"UID": "u9", "profile": {"email": "Eulalia.Quarrington@Example.co.uk", "firstName": "Eulalia"\n'
    '{"UID": "u8", "profile": {"phone": "07700 900456", "firstName": "Eulalia"\n'
)


def land_before_erasure(landing: Path) -> None:
    """Her customer record, her Mailchimp opt-in and her call-centre consent: no erasure yet."""
    shutil.copytree(
        SCENARIO,
        landing,
        ignore=lambda d, names: [n for n in names if n in ("2026-02-10T020000Z", "erasure_requests")],
    )


def land_erasure(landing: Path) -> None:
    shutil.copytree(SCENARIO / ERASURE, landing / ERASURE)


def land_after_erasure(landing: Path) -> None:
    """The old export again, and unreadable records naming her."""
    shutil.copytree(SCENARIO / REDELIVERY, landing / REDELIVERY)
    write(landing, "twilio_sms", "2026-02-21T010000Z", "messages_1.csv", TWILIO)
    write(landing, "preference_centre", "2026-02-21T010000Z", "accounts_1.jsonl", ACCOUNTS)


def files_under(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file())


def byte_hits(folders: list[Path], skip: tuple[Path, ...] = ()) -> list[tuple[str, str]]:
    """(file, form) for every file under the folders whose bytes hold a form of her data, in any case."""
    hits = []
    for path in files_under(*folders):
        if any(path == s or s in path.parents for s in skip):
            continue
        data = path.read_bytes().lower()
        hits += [(str(path), form) for form in FORMS if form.encode() in data]
    return hits


def table_hits(database: Path) -> list[tuple[str, str, str]]:
    """(table, column, form) for every text cell of a DuckDB file holding a form of her data: DuckDB may store
    a string compressed, where a byte search would not see it."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        cols = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE data_type = 'VARCHAR' AND NOT internal"
        ).fetchall()
        hits = []
        for table, col in cols:
            for form in FORMS:
                n = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE contains(lower("{col}"), $f)', {"f": form}
                ).fetchall()[0][0]
                if n:
                    hits.append((table, col, form))
        return hits
    finally:
        con.close()


def parquet_hits(*folders: Path) -> list[tuple[str, str, str]]:
    """(file, column, form) for every text cell of a Parquet file under the folders holding a form of her data:
    Parquet compresses its pages, where a byte search would not see it."""
    con = duckdb.connect()
    try:
        hits = []
        for path in (f for f in files_under(*folders) if f.suffix == ".parquet"):
            source = "read_parquet('" + str(path).replace("'", "''") + "')"
            for col, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall():
                if kind != "VARCHAR":
                    continue
                for form in FORMS:
                    sql = f'SELECT count(*) FROM {source} WHERE contains(lower("{col}"), $f)'
                    if con.execute(sql, {"f": form}).fetchall()[0][0]:
                        hits.append((str(path), col, form))
        return hits
    finally:
        con.close()
