"""Marketing's nightly extracts, one folder per run date (outputs.md): suppression per channel, one file per
campaign, the review queue and a manifest with row counts and SHA-256.

The folder is written whole under a temporary name beside it and swapped in with one rename: a reader, or a
run killed at any moment, sees the earlier complete folder or the new one, never a mix. Files a person put
in the folder (not in its manifest) are carried over, never deleted. Suppression lists come first and do not
depend on segments: a campaign that cannot be written is left out and named in the manifest, and the lists
still go out. No cell can start a spreadsheet formula (=, +, -, @, tab, CR) except a validated E.164 phone
number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import phonenumbers
import polars as pl

from consent_pipeline.config import Rules
from consent_pipeline.core.lib.sql import text, ts
from consent_pipeline.lib.faults import pause
from consent_pipeline.lib.phone_zones import phone_zones
from consent_pipeline.lib.safe_paths import UnsafePath, exchange, refuse_symlink, remove_file, write_new

log = logging.getLogger(__name__)

E164 = r"^\+[1-9][0-9]{6,14}$"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SUPPRESSION_COLUMNS = ["contact_point", "contact_point_sha256", "brand", "purpose", "reason", "since"]
CAMPAIGN_COLUMNS = [
    "contact_point",
    "party_id",
    "first_name",
    "segment",
    "region",
    "basis",
    "consent_event_id",
    "timezone",
]
REVIEW_COLUMNS = ["party_id", "reason", "last_reviewed_at"]


@dataclass
class ExtractFile:
    name: str
    rows: int
    sha256: str
    bytes: int


def _cell(name: str, dtype: str) -> str:
    """One column as its CSV cell: times as ISO-8601 UTC text; text that a spreadsheet would read as a
    formula prefixed with a quote, except a contact point that is a validated E.164 number."""
    col = f'"{name}"'
    if dtype.startswith("TIMESTAMP"):
        return f"strftime({col}, '%Y-%m-%dT%H:%M:%SZ') AS {col}"
    if dtype != "VARCHAR":
        return col
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_START)
    risky = f"left({col}, 1) IN ({starts})"
    if name == "contact_point":
        risky = f"{risky} AND NOT regexp_matches({col}, '{E164}')"
    return f"CASE WHEN {risky} THEN '''' || {col} ELSE {col} END AS {col}"


def write_csv(con: duckdb.DuckDBPyConnection, query: str, path: Path, order: list[str]) -> ExtractFile:
    """Write a query's rows as CSV with a header, sorted by `order` (columns of the query, as they are before
    any cell is quoted), atomically (temporary name, then rename), and describe it for the manifest. DuckDB
    writes the file straight from the query, on all cores. The sort is on the outermost query: an ORDER BY
    inside a subquery does not order the result."""
    started = time.perf_counter()
    rel = con.sql(query)
    cells = ", ".join(_cell(n, str(t)) for n, t in zip(rel.columns, rel.types, strict=True))
    by = ", ".join(f"q.{item}" for item in order)
    tmp = path.with_name(f".{path.name}.tmp")
    remove_file(tmp)  # a link planted at the temporary name is removed, never written through
    rows = con.execute(
        f"COPY (SELECT {cells} FROM ({query}) AS q ORDER BY {by}) TO {text(str(tmp))} (FORMAT csv, HEADER true)"
    ).fetchall()[0][0]
    digest = hashlib.sha256()
    with tmp.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    os.replace(tmp, path)
    log.debug("write %s: %.2fs", path.name, time.perf_counter() - started)
    return ExtractFile(path.name, int(rows), digest.hexdigest(), path.stat().st_size)


# Total orders of the files' rows (an erased and a re-established form of one contact point share a hash in
# the suppression list: the erased one, with no contact point, first).
SUPPRESSION_ORDER = ["contact_point_sha256", "brand", "purpose", "contact_point NULLS FIRST", "reason", "since"]
CAMPAIGN_ORDER = ["contact_point", "party_id", "segment", "basis", "consent_event_id"]
REVIEW_ORDER = ["party_id", "reason", "last_reviewed_at"]


def suppression_query(channel: str) -> str:
    """One channel's suppression list."""
    return (
        # In the file an erased contact point is its hash only: contact_point stays empty.
        "SELECT CASE WHEN contact_point LIKE 'sha256:%' THEN NULL ELSE contact_point END AS contact_point, "
        f"{', '.join(SUPPRESSION_COLUMNS[1:])} FROM x_suppression WHERE channel = {text(channel)}"
    )


def campaign_frame(con: duckdb.DuckDBPyConnection, rules: Rules, as_of: dt.datetime, campaign_id: str) -> pl.DataFrame:
    camp = rules.campaigns[campaign_id]
    cap = rules.policies.frequency_caps.per_channel.get(camp.channel)
    window = rules.policies.frequency_caps.window_days
    segments = ", ".join(text(s) for s in camp.segments)
    capped = (
        f"""
        AND p.contact_point NOT IN (
            SELECT s.contact_point FROM sends s JOIN ref_purposes rp ON rp.node = s.purpose AND rp.leaf = s.purpose
            WHERE rp.kind = 'marketing' AND s.channel = {text(camp.channel)}
              AND s.sent_at > {ts(as_of)} - INTERVAL {int(window)} DAY AND s.sent_at <= {ts(as_of)}
              AND s.contact_point IS NOT NULL
            GROUP BY s.contact_point HAVING count(*) >= {int(cap)})
        """
        if cap is not None
        else ""
    )
    frame = con.sql(
        f"""
        SELECT p.contact_point, p.party_id, pa.first_name, sg.segment, p.region, p.reason AS basis,
               CASE WHEN p.reason IN ('express_consent', 'third_party_consent', 'legitimate_interest')
                    THEN p.decided_by END AS consent_event_id,
               pa.country, p.contact_point_type
        FROM contact_permission p
        JOIN segments sg ON sg.party_id = p.party_id AND sg.brand = p.brand
        JOIN parties pa ON pa.party_id = p.party_id
        WHERE p.brand = {text(camp.brand)} AND p.channel = {text(camp.channel)} AND p.purpose = {text(camp.purpose)}
          AND p.allowed AND sg.segment IN ({segments}) AND p.contact_point NOT LIKE 'sha256:%' {capped}
        ORDER BY p.contact_point
        """
    ).pl()
    return _with_timezones(con, frame, rules).select(CAMPAIGN_COLUMNS)


# Each phone's time zone is looked up once and kept (`lib/phone_zones`: phonenumbers' own answer, decided over
# whole columns). The cache is keyed by the number's SHA-256, so it holds no
# contact point in the clear (erasure has nothing to scrub there), and by the library version, so an
# upgrade looks them up again.
TIMEZONE_CACHE = "phone_timezones"


def _phone_zones(con: duckdb.DuckDBPyConnection, phones: pl.Series) -> pl.DataFrame:
    """(contact_point, phone_zone) for the given phones: from the cache, the missing ones looked up."""
    version = text(phonenumbers.__version__)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TIMEZONE_CACHE} (phone_sha256 VARCHAR, library VARCHAR, timezone VARCHAR)"
    )
    con.register("_wanted_phones", pl.DataFrame({"phone": phones.unique()}))
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE x_wanted_phones AS
            SELECT w.phone, sha256(w.phone) AS phone_sha256, c.phone_sha256 IS NOT NULL AS cached, c.timezone
            FROM _wanted_phones w
            LEFT JOIN (SELECT * FROM {TIMEZONE_CACHE} WHERE library = {version}) c ON c.phone_sha256 = sha256(w.phone)
            """
        )
    finally:
        con.unregister("_wanted_phones")
    started = time.perf_counter()
    missing = con.sql("SELECT phone, phone_sha256 FROM x_wanted_phones WHERE NOT cached").pl()
    found = missing.select("phone_sha256", phone_zones(missing["phone"]).alias("timezone"))
    log.debug("phone time zones: %d looked up, %.2fs", found.height, time.perf_counter() - started)
    if found.height:
        con.register("_new_zones", found)
        try:
            con.execute(f"INSERT INTO {TIMEZONE_CACHE} SELECT phone_sha256, {version}, timezone FROM _new_zones")
            con.execute(
                "UPDATE x_wanted_phones AS w SET timezone = n.timezone, cached = true FROM _new_zones n "
                "WHERE n.phone_sha256 = w.phone_sha256"
            )
        finally:
            con.unregister("_new_zones")
    return con.sql("SELECT phone AS contact_point, timezone AS phone_zone FROM x_wanted_phones").pl()


def _with_timezones(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """A phone's own time zone when the number tells one; else the country's default; else the fallback."""
    phones = frame.filter(pl.col("contact_point_type") == "phone")["contact_point"]
    zones = _phone_zones(con, phones)
    by_country = rules.company.default_timezones
    return (
        frame.join(zones, on="contact_point", how="left")
        .with_columns(
            pl.coalesce(
                pl.col("phone_zone"),
                pl.col("country").replace_strict(by_country, default=None, return_dtype=pl.String),
                pl.lit(rules.company.fallback_timezone),
            ).alias("timezone")
        )
        .drop("phone_zone")
    )


@dataclass
class Extracts:
    """What a run's extract step wrote."""

    folder: Path
    files: list[ExtractFile]
    # Files that could not be written (name, why): the lists were published without them.
    not_written: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    # Files in the folder the pipeline did not write (not in the manifest): carried over, never deleted.
    foreign: list[str] = field(default_factory=list[str])


MANIFEST = "manifest.json"
_WORK = re.compile(r"^\.(\d{4}-\d{2}-\d{2})\.[0-9A-Za-z-]+\.(tmp|old)$")


def write_extracts(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    as_of: dt.datetime,
    run_id: str,
    root: Path,
    campaigns_error: str | None = None,
) -> Extracts:
    """Write tonight's folder whole and swap it in (suppression must be built; segments too unless
    `campaigns_error` says why they could not be, then no campaign file is written)."""
    refuse_symlink(root, "extracts folder")
    root.mkdir(parents=True, exist_ok=True)
    folder = root / as_of.strftime("%Y-%m-%d")
    refuse_symlink(folder, "extract folder")
    if folder.exists() and not folder.is_dir():
        raise UnsafePath(f"extract folder {folder} is not a folder (move it away)")
    _clear_work_folders(root)
    work = root / f".{folder.name}.{run_id}.tmp"
    work.mkdir()  # new and ours: nothing in it but what this run writes
    # Held while the folder is written: another run on the same extracts folder (another warehouse) leaves
    # it alone (_clear_work_folders); the lock goes with the process if it is killed.
    held = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            out = _write_folder(con, rules, as_of, run_id, work, campaigns_error)
            out.folder = folder
            out.foreign = _carry_over(folder, work, {f.name for f in out.files} | {MANIFEST})
        except BaseException:
            with contextlib.suppress(OSError):  # a half-written folder never stays behind (nor swapped in)
                _remove_old(work, folder)
            raise
        pause("extracts:written")
        _swap_in(work, folder)
    finally:
        os.close(held)
    return out


def _write_folder(
    con: duckdb.DuckDBPyConnection,
    rules: Rules,
    as_of: dt.datetime,
    run_id: str,
    work: Path,
    campaigns_error: str | None,
) -> Extracts:
    out = Extracts(work, [])
    for channel in rules.channels:
        out.files.append(
            write_csv(con, suppression_query(channel), work / f"suppression_{channel}.csv", SUPPRESSION_ORDER)
        )
    for cid in rules.campaigns:
        name = f"campaign_{cid}.csv"
        if campaigns_error is not None:
            out.not_written.append((name, campaigns_error))
            continue
        try:
            con.register("_campaign", campaign_frame(con, rules, as_of, cid))
            try:
                out.files.append(write_csv(con, "SELECT * FROM _campaign", work / name, CAMPAIGN_ORDER))
            finally:
                con.unregister("_campaign")
        except (duckdb.Error, pl.exceptions.PolarsError) as exc:
            if _disk_full(exc):
                raise  # no room for one file: no room for the others either
            # One campaign that cannot be built never holds back the suppression lists.
            remove_file(work / f".{name}.tmp")
            out.not_written.append((name, _first_line(exc)))
    queue = f"SELECT {', '.join(REVIEW_COLUMNS)} FROM review_queue"
    out.files.append(write_csv(con, queue, work / "review_queue.csv", REVIEW_ORDER))
    manifest: dict[str, object] = {
        "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": run_id,
        "files": [{"name": f.name, "rows": f.rows, "sha256": f.sha256} for f in out.files],
    }
    if out.not_written:
        manifest["not_written"] = [{"name": n, "error": e} for n, e in out.not_written]
    write_new(work / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), "extract manifest")
    return out


def _disk_full(exc: BaseException) -> bool:
    return "No space left on device" in str(exc)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# The names the pipeline gives files in an extract folder (and their temporary names): a file so named is
# the pipeline's, replaced or removed by a later run; any other file there is a person's and is kept.
_OUR_NAMES = re.compile(
    r"^\.?(suppression_[0-9A-Za-z_-]+\.csv|campaign_[0-9A-Za-z_-]+\.csv|review_queue\.csv|manifest\.json)(\.tmp)?$"
)


def _listed(folder: Path) -> set[str]:
    """The files a folder's manifest lists, and the manifest."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return {MANIFEST} | {str(f["name"]) for f in data.get("files", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()


def _is_ours(name: str, listed: set[str]) -> bool:
    return name in listed or bool(_OUR_NAMES.match(name))


def _carry_over(folder: Path, work: Path, writing: set[str]) -> list[str]:
    """Hard-link (else copy) into the new folder every file of the old one the pipeline did not write; the
    names of those files. A name the new folder writes itself is the pipeline's and is replaced."""
    if not folder.is_dir():
        return []
    listed = _listed(folder)
    foreign: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        temporary = entry.name.startswith(".") and entry.name.endswith(".tmp") and _is_ours(entry.name, set())
        if entry.name in listed or entry.name in writing or temporary:
            continue
        foreign.append(entry.name)
        target = work / entry.name
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, target, symlinks=True)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        else:
            try:
                os.link(entry.path, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(entry.path, target, follow_symlinks=False)
    if foreign:  # the run's summary and the extracts asset name them
        log.info("%s holds files the pipeline did not write, kept as they are: %s", folder, ", ".join(foreign))
    return foreign


def _swap_in(work: Path, folder: Path) -> None:
    """Put the new folder in place in one rename; the old one (now at the work name) is removed."""
    if not folder.exists():
        os.rename(work, folder)
        return
    if not exchange(work, folder):
        # No atomic exchange on this file system: the old folder steps aside first. A run killed between the
        # two renames leaves no folder for the date; the next run restores it (_clear_work_folders).
        old = work.with_name(work.name[: -len(".tmp")] + ".old")
        os.rename(folder, old)
        os.rename(work, folder)
        work = old
    pause("extracts:swapped")
    _remove_old(work, folder)


def _remove_old(old: Path, folder: Path) -> None:
    """Remove an old extract folder: the pipeline's files, and files carried over into `folder` (the same
    file there); anything else is kept and named."""
    listed = _listed(old)
    left: list[str] = []
    for entry in os.scandir(old):
        carried = folder / entry.name
        if (_is_ours(entry.name, listed) and not entry.is_dir(follow_symlinks=False)) or _same_file(
            Path(entry.path), carried
        ):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        else:
            left.append(entry.name)
    if left:
        log.warning("%s holds files the pipeline did not write; left in place: %s", old, ", ".join(left))
        return
    os.rmdir(old)


def _same_file(a: Path, b: Path) -> bool:
    """b is a carried-over copy of a: the same inode, or the same kind with the same content."""
    try:
        sa, sb = a.lstat(), b.lstat()
    except OSError:
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    if a.is_dir() and b.is_dir():  # a copied folder: every entry the same, recursively
        names = {e.name for e in os.scandir(a)}
        return names == {e.name for e in os.scandir(b)} and all(_same_file(a / n, b / n) for n in names)
    if a.is_dir() or b.is_dir():
        return False
    return sa.st_size == sb.st_size and a.read_bytes() == b.read_bytes()


def _clear_work_folders(root: Path) -> None:
    """Folders left by a run killed while writing extracts: a half-written new folder is removed; an old one
    whose date has no folder (killed between the two renames of the fallback) is put back."""
    for entry in os.scandir(root):
        match = _WORK.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        folder = root / match.group(1)
        path = Path(entry.path)
        held = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a run writing it now
            if match.group(2) == "old" and not folder.exists():
                os.rename(path, folder)
            else:
                _remove_old(path, folder)
        finally:
            os.close(held)
