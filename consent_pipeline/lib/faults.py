"""Faults: a fault-injection point for crash tests (with CONSENT_PAUSE_AT=<point>, a run announces it reached
the point on stderr and sleeps, so a test can kill it exactly there, or change the warehouse and let it go on
by creating the file CONSENT_PAUSE_UNTIL; nothing otherwise), a failure point (CONSENT_FAIL_AT=<point> raises
there), and the one line that names a failed step's
cause (a full disk, memory, a read-only folder) and what to do."""

from __future__ import annotations

import errno
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# (before, after) callbacks around a pause that a test releases: whatever holds a file open lets go of it while
# the test acts on the files (warehouse.database registers its held connections). A pause the test ends with a
# kill keeps everything open, as a real kill finds it.
_AROUND_PAUSE: list[tuple[Callable[[], object], Callable[[], object]]] = []


def around_pause(before: Callable[[], object], after: Callable[[], object]) -> None:
    _AROUND_PAUSE.append((before, after))


def pause(point: str) -> None:
    """Tests provoke faults at named points: the run waits here when CONSENT_PAUSE_AT names the point (for
    CONSENT_PAUSE_SECONDS, or until the file CONSENT_PAUSE_UNTIL exists: then holding no warehouse connection)."""
    if os.environ.get("CONSENT_PAUSE_AT") != point:
        return
    until = os.environ.get("CONSENT_PAUSE_UNTIL")
    around = _AROUND_PAUSE if until else []
    for before, _ in around:
        before()
    print(f"PAUSED AT {point}", file=sys.stderr, flush=True)
    seconds = float(os.environ.get("CONSENT_PAUSE_SECONDS", "60"))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and os.path.exists(until)):
        time.sleep(0.05 if until else min(1.0, seconds))
    for _, after in around:
        after()


class InjectedFault(RuntimeError):
    """Raised where CONSENT_FAIL_AT names the point: a test's stand-in for a bug (a connector that breaks)."""


def failing(point: str) -> bool:
    """Whether CONSENT_FAIL_AT names the point (for work sent elsewhere, which checks the answer there)."""
    return os.environ.get("CONSENT_FAIL_AT") == point


def fail(point: str) -> None:
    """Tests provoke a failure at a named point: with CONSENT_FAIL_AT=<point>, raise InjectedFault there."""
    if failing(point):
        raise InjectedFault(f"fault injected at {point} (CONSENT_FAIL_AT)")


# --- one line per fault -------------------------------------------------------------------------

ENOSPC_TEXT = "No space left on device"
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")
_ERRNO = re.compile(r"\[Errno (\d+)\]")


@dataclass(frozen=True)
class ErrorLink:
    """One exception of a failure's chain: its class name and message (from Dagster's error info)."""

    cls_name: str
    message: str


# Exceptions whose message already says what is wrong and what to do (set-up and environment, not bugs): the
# message alone, without the stack.
KNOWN_FAULTS = ("Failure", "WarehouseLocked", "UnsafePath", "DeliveryNotThere", "SparkUnavailable")


def describe(step: str, chain: list[ErrorLink], memory_limit: int | None, threads: int) -> tuple[str, bool]:
    """A failed step's cause as one line, and whether it is a known fault (not a bug). `chain` runs from the
    outermost exception to the innermost."""
    root = chain[-1] if chain else ErrorLink("Exception", "a step failed")
    text = root.message.strip()
    first = (text.splitlines() or [root.cls_name])[0]
    errno_match = _ERRNO.search(first)
    number = int(errno_match.group(1)) if errno_match else None
    path = _path_in(first)
    if root.cls_name in KNOWN_FAULTS:
        return first, True
    if ENOSPC_TEXT in text or number == errno.ENOSPC or "max_temp_directory_size" in text:
        where = path or "the warehouse, spill or extracts folder"
        free = free_bytes(Path(path).parent) if path else None
        needs = re.search(r"needs ([0-9.]+ [KMGT]?B)", text) or re.search(r"size ([0-9.]+ [KMGT]i?B)", text)
        parts = [f"disk full in step {step}: no space left writing {where}"]
        if needs:
            parts.append(f"it needed {needs.group(1)}")
        if free is not None:
            parts.append(f"{human_bytes(free)} free there now")
        return "; ".join(parts) + " (free space, or move the folder: see docs/operations.md)", True
    if root.cls_name == "OutOfMemoryException" or first.startswith("Out of Memory Error"):
        limit = f"CONSENT_MEMORY_LIMIT={human_bytes(memory_limit)}" if memory_limit else "CONSENT_MEMORY_LIMIT"
        return (
            f"out of memory in step {step}: DuckDB needed more than its cap ({limit}); raise "
            f"CONSENT_MEMORY_LIMIT (this machine has {human_bytes(_ram())} of memory) and run again",
            True,
        )
    if root.cls_name == "MemoryError":
        return (
            f"out of memory in step {step} (Python): free memory on this machine, or lower "
            f"CONSENT_PARSE_THREADS (now {threads}) or CONSENT_MEMORY_LIMIT",
            True,
        )
    if number in (errno.EROFS, errno.EACCES, errno.EPERM) or "Read-only file system" in text:
        why = os.strerror(number) if number else "Read-only file system"
        return f"cannot write in step {step}: {path or 'a file'}: {why}", True
    return f"step {step} failed: {root.cls_name}: {first}", False


def _path_in(line: str) -> str | None:
    match = _QUOTED_PATH.search(line)
    return match.group(1) if match else None


def _ram() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def free_bytes(folder: Path) -> int | None:
    """Bytes free to this user on the file system of `folder` or its nearest existing parent."""
    for candidate in (folder, *folder.parents):
        try:
            st = os.statvfs(candidate)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize
    return None


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
