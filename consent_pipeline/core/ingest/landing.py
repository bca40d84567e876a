"""Finding what to read in the landing tree: `<landing>/<source>/<YYYY-MM-DDTHHMMSSZ>/<files...>`.

Per file, the ledger of earlier runs decides: a file never read is read; one quarantined as unexpected, or
one the connector failed on, is looked at again; one read before is read again only when its bytes changed
(noted `changed`). A file that appears in a delivery read before is read too (noted `late`): deliveries
should be immutable, but an opt-out in a late file must not be lost.

Nothing here follows a symbolic link: a link inside the tree is quarantined (`symlink`) without looking at
what it points to, and FIFOs, sockets and devices are reported (`not_a_file`) and never opened. A delivery
folder dated after the run's as-of is held (not read) until the as-of reaches it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from consent_pipeline.canonical import REJECTS, Delivery, empty
from consent_pipeline.canonical.batch import LandedFile

DELIVERY_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
# Ledger statuses whose files are looked at again by the next run.
RETRY = ("unexpected", "failed")


def delivery_time(name: str) -> dt.datetime | None:
    """The received time a delivery folder name encodes (naive UTC), or None when it is not one."""
    m = DELIVERY_NAME.match(name)
    if not m:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in m.groups())
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


@dataclass(frozen=True)
class Known:
    """What the ledger knows of a file: its latest status and the bytes it had when read."""

    status: str
    sha256: str | None
    size: int | None
    mtime_ns: int | None


@dataclass
class Discovery:
    deliveries: list[Delivery] = field(default_factory=list[Delivery])  # with something to read, oldest first
    problems: pl.DataFrame = field(default_factory=lambda: empty(REJECTS))  # file-level quarantine rows
    # deliveries not read yet, and why
    held: list[dict[str, object]] = field(default_factory=list[dict[str, object]])


def discover(
    landing: Path,
    source: str,
    known: dict[str, Known] | None = None,
    as_of: dt.datetime | None = None,
) -> Discovery:
    """The source's deliveries with files to read this run, quarantine rows for entries that cannot be read
    (badly named folders, links, non-files), and the deliveries held because they are dated after as-of."""
    known = known or {}
    out = Discovery()
    problems: list[dict[str, object]] = []
    root = landing / source
    if root.is_symlink():
        problems.append(_problem(landing, root, "symlink", "the source folder is a symbolic link, not followed"))
    elif root.is_dir():
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_symlink():
                problems.append(_problem(landing, path, "symlink", "symbolic link, not followed"))
                continue
            if not entry.is_dir(follow_symlinks=False):
                kind = "a file" if entry.is_file(follow_symlinks=False) else "not a regular file"
                problems.append(_problem(landing, path, "not_a_delivery", f"{kind} directly in the source folder"))
                continue
            files, odd = _scan(landing, path)
            problems += odd
            received = delivery_time(entry.name)
            if received is None:
                problems += [
                    _problem(
                        landing,
                        f.path,
                        "bad_delivery_name",
                        f"delivery folder {entry.name!r} is not YYYY-MM-DDTHHMMSSZ",
                    )
                    for f in files
                ]
                continue
            if as_of is not None and received > as_of:
                out.held.append(
                    {
                        "source": source,
                        "delivery": entry.name,
                        "files": len(files),
                        "reason": "dated_after_as_of",
                        "detail": f"delivery dated {received:%Y-%m-%d %H:%M:%S} is after the run's as-of "
                        f"{as_of:%Y-%m-%d %H:%M:%S}: read when the as-of reaches it",
                    }
                )
                continue
            delivery = _to_read(Delivery(source, entry.name, received, path, landing, tuple(files)), known)
            if delivery is not None:
                out.deliveries.append(delivery)
    out.deliveries.sort(key=lambda d: (d.received_ts, d.name))
    out.problems = pl.DataFrame(problems, schema={k: REJECTS[k] for k in ("source_file", "reason", "raw", "detail")})
    return out


def _problem(landing: Path, path: Path, reason: str, detail: str) -> dict[str, object]:
    rel = path.relative_to(landing).as_posix()
    # raw is the path, never the content: a link to /etc/passwd must not bring the file into quarantine
    return {"source_file": rel, "reason": reason, "raw": rel, "detail": detail}


def _scan(landing: Path, folder: Path) -> tuple[list[LandedFile], list[dict[str, object]]]:
    """A delivery's regular files (any depth), and a problem row for every link or non-file in it."""
    files: list[LandedFile] = []
    problems: list[dict[str, object]] = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        base = Path(top)
        for name in sorted(dirs):
            if (base / name).is_symlink():  # os.walk lists links to folders as folders, never entering them
                problems.append(_problem(landing, base / name, "symlink", "symbolic link, not followed"))
        for name in sorted(names):
            path = base / name
            try:
                st = path.lstat()
            except OSError as exc:
                problems.append(_problem(landing, path, "unreadable_file", f"cannot stat: {exc.strerror}"))
                continue
            if stat.S_ISLNK(st.st_mode):
                problems.append(_problem(landing, path, "symlink", "symbolic link, not followed"))
            elif not stat.S_ISREG(st.st_mode):
                problems.append(_problem(landing, path, "not_a_file", "a FIFO, socket or device: never opened"))
            else:
                files.append(LandedFile(path, st.st_size, st.st_mtime_ns))
    return sorted(files, key=lambda f: f.path), problems


def _to_read(delivery: Delivery, known: dict[str, Known]) -> Delivery | None:
    """The delivery with the files to read this run, or None when there is none."""
    assert delivery.landed is not None
    only: set[str] = set()
    notes: list[tuple[str, str]] = []
    seen_before = any(delivery.relative(f.path) in known for f in delivery.landed)
    for f in delivery.landed:
        rel = delivery.relative(f.path)
        k = known.get(rel)
        if k is None:
            only.add(rel)
            if seen_before:
                notes.append((rel, "late"))
        elif k.status in RETRY:
            only.add(rel)
        elif (
            k.sha256 is not None  # a ledger row of an older version knows no hash: nothing to compare
            and (k.size, k.mtime_ns) != (f.size, f.mtime_ns)
            and _sha256(f.path) not in (k.sha256, None)
        ):
            only.add(rel)
            notes.append((rel, "changed"))
    if not only:
        return None
    if len(only) == len(delivery.landed):
        return (
            delivery
            if not notes
            else Delivery(
                delivery.source,
                delivery.name,
                delivery.received_ts,
                delivery.path,
                delivery.landing,
                delivery.landed,
                None,
                tuple(notes),
            )
        )
    return Delivery(
        delivery.source,
        delivery.name,
        delivery.received_ts,
        delivery.path,
        delivery.landing,
        delivery.landed,
        frozenset(only),
        tuple(notes),
    )


def _sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()
