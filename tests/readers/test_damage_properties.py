"""Random byte damage never costs an undamaged record (feeds.md "Real files are messy").

Valid files of each format are built from records with unique ids, then damaged the way transfers and
tools damage files: bytes overwritten or inserted inside one record, or the file cut off. Whatever the
damage, the reader must not raise, must read every record whose bytes were not touched exactly as written,
and must account for every record it counts once: read, or rejected with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from source_connectors.readers import Records, parse_csv, parse_json, parse_lines

WARNINGS = {"undecodable_characters"}  # a row with a warning is still read


@dataclass
class Built:
    data: bytes
    spans: list[tuple[int, int]]  # each record's bytes, its separator included
    ids: list[str]
    sep_len: int = 0


def _build(header: bytes, pieces: list[bytes], ids: list[str], sep: bytes, tail: bytes = b"") -> Built:
    out, spans = bytearray(header), []
    for i, p in enumerate(pieces):
        start = len(out)
        out += p + (sep if i < len(pieces) - 1 else b"")
        spans.append((start, len(out)))
    out += tail
    return Built(bytes(out), spans, ids, len(sep))


def csv_file(ids: list[str], crlf: bool) -> Built:
    nl = b"\r\n" if crlf else b"\n"
    rows = [f'{i},"Name, {i}",{i}@example.com,STOP'.encode() for i in ids]
    return _build(b"id,name,email,body" + nl, rows, ids, nl, nl)


def jsonl_file(ids: list[str], crlf: bool) -> Built:
    nl = b"\r\n" if crlf else b"\n"
    rows = [json.dumps({"id": i, "email": f"{i}@example.com", "n": {"k": [1, 2]}}).encode() for i in ids]
    return _build(b"", rows, ids, nl, nl)


def json_array_file(ids: list[str], crlf: bool) -> Built:
    rows = [json.dumps({"id": i, "email": f"{i}@example.com", "n": {"k": [1, 2]}}).encode() for i in ids]
    sep = b",\r\n  " if crlf else b","
    return _build(b"[", rows, ids, sep, b"]")


def fixed_width_file(ids: list[str], crlf: bool) -> Built:
    nl = b"\r\n" if crlf else b"\n"
    rows = [f"DTL{i:<10}YNNNN".encode() for i in ids]
    return _build(b"", rows, ids, nl, nl)


Reader = Callable[[bytes], Records]
FORMATS: dict[str, tuple[Callable[[list[str], bool], Built], Reader]] = {
    "csv": (csv_file, lambda d: parse_csv(d, ["id", "name", "email", "body"])),
    "jsonl": (jsonl_file, lambda d: parse_json(d)),
    "json_array": (json_array_file, lambda d: parse_json(d)),
    "fixed_width": (fixed_width_file, lambda d: parse_lines(d)),
}


def _read_ids(fmt: str, records: Records) -> dict[str, dict[str, object]]:
    frame = records.frame
    if fmt == "fixed_width" and "line" in frame.columns:
        frame = frame.with_columns(pl.col("line").str.slice(3, 10).str.strip_chars().alias("id"))
    if "id" not in frame.columns:
        return {}
    return {r["id"]: r for r in frame.iter_rows(named=True) if isinstance(r["id"], str)}


damage = st.one_of(
    st.tuples(st.just("overwrite"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(b"")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    n=st.integers(1, 12),
    crlf=st.booleans(),
    hit=damage,
)
def test_damage_costs_only_the_damaged_records(fmt: str, n: int, crlf: bool, hit: tuple[str, int, bytes]) -> None:
    build, read = FORMATS[fmt]
    ids = [f"r{i:03d}" for i in range(n)]
    clean = build(ids, crlf)
    kind, at, junk = hit
    record = at % n
    start, end = clean.spans[record]
    if kind == "cut":
        cut = start + (at % max(end - start, 1))
        data = clean.data[:cut]
        content_end = [e - (clean.sep_len if i < n - 1 else 0) for i, (_, e) in enumerate(clean.spans)]
        # Whole when its content ends before the cut; damaged when cut inside; lost when after the cut.
        damaged = {i for i in range(n) if clean.spans[i][0] < cut < content_end[i]}
        lost_after = {i for i in range(n) if clean.spans[i][0] >= cut}
    else:
        pos = start + (at % max(end - start, 1))
        data = clean.data[:pos] + junk + clean.data[pos + (len(junk) if kind == "overwrite" else 0) :]
        damaged, lost_after = {record}, set()
        # Damage to the separator after a record also damages the next one: no reader can tell where it
        # starts once the line end (or comma) between them is gone.
        if record < n - 1 and pos + (len(junk) if kind == "overwrite" else 0) > end - clean.sep_len:
            damaged.add(record + 1)
    if fmt == "fixed_width" and kind != "cut" and any(b in junk for b in b"\r\n"):
        damaged |= {record}  # a line end inside a fixed-width record makes two lines of it

    records = read(data)  # never raises

    nums = set(records.frame["source_record"].to_list())
    hard = records.rejects.filter(~pl.col("reason").is_in(list(WARNINGS)))
    rejected = set(hard["source_record"].to_list())
    assert nums.isdisjoint(rejected), "a record is read and rejected at once"
    assert nums | rejected == set(range(1, records.count + 1)), "a record is neither read nor rejected"
    assert hard["reason"].is_not_null().all()

    got = _read_ids(fmt, records)
    clean_rows = _read_ids(fmt, read(clean.data))
    for i, rid in enumerate(ids):
        if i in damaged or i in lost_after:
            continue
        assert rid in got, f"undamaged record {rid} was not read ({kind} at record {record})"
        # Top-level fields: a damaged record may add a key to a nested struct, which polars then gives
        # every record (as null).
        want = {k: v for k, v in clean_rows[rid].items() if k != "source_record" and not isinstance(v, dict)}
        assert {k: got[rid].get(k) for k in want} == want, f"record {rid} read with other values"
