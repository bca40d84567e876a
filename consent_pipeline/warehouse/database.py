"""Connections to the warehouse file and the lock that keeps two runs apart."""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from consent_pipeline.config.settings import Settings, memory_limit_from_env, temp_directory_from_env
from consent_pipeline.lib import faults
from consent_pipeline.lib.safe_paths import open_nofollow, real_path, refuse_symlink


class _Unset(enum.Enum):
    """Not given (None is a value: DuckDB's default), so read from the environment."""

    UNSET = enum.auto()


_UNSET = _Unset.UNSET


# The folder beside the warehouse file where a Spark run keeps its Parquet tables (core/lib/parquet_tables.py).
PARQUET_SUFFIX = ".tables"


class WarehouseLocked(RuntimeError):
    """Another run, or another process's DuckDB session, holds the warehouse."""


class SpillDirectoryError(RuntimeError):
    """The spill directory cannot be made private to the pipeline."""


# Marks a spill folder the pipeline made: a run may remove the DuckDB temporary files in it (core/lib/orphans.py).
SPILL_MARKER = ".consent-pipeline-spill"


# Locks this process holds, by lock file: (fd, depth). Re-entrant, so the CLI and the run's resource can
# both "take" the lock in one process (flock would otherwise conflict with itself on a second fd).
_HELD: dict[str, list[int]] = {}


@dataclass
class _Held:
    """A connection a run keeps open from start to end (`hold_open`). While it is open, every `connect` is a new
    session on the same database instance, which takes half a millisecond instead of the tens of milliseconds
    DuckDB needs to open a file and load its catalog; a run makes about a hundred."""

    warehouse: Warehouse
    con: duckdb.DuckDBPyConnection
    closer: contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]
    sessions: int = 0  # open on it now: closing the database would close them too


_HELD_OPEN: dict[str, _Held] = {}  # by warehouse file
_PAUSED: list[Warehouse] = []  # let go of for a fault pause (lib.faults), held again after it


def _pause_begins() -> None:
    """Let go of every held database that no step is using (a pause inside a step keeps the step's session,
    and so the file, as before)."""
    _PAUSED.extend(held.warehouse for held in _HELD_OPEN.values() if not held.sessions)
    for wh in _PAUSED:
        wh.let_close()


def _pause_ends() -> None:
    for wh in _PAUSED:
        wh.hold_open()
    _PAUSED.clear()


faults.around_pause(_pause_begins, _pause_ends)


class Warehouse:
    """A DuckDB warehouse file. A run holds `lock()` from start to end, and the database open (`hold_open`)
    so that its many short connections are cheap."""

    def __init__(
        self,
        path: Path | str,
        threads: int | None = None,
        memory_limit: int | _Unset | None = _UNSET,
        temp_directory: Path | _Unset | None = _UNSET,
    ) -> None:
        self.path = Path(path)  # as given, for messages
        # Parent folders resolved: a warehouse reached through a linked folder takes the same lock.
        self.real = real_path(self.path)
        self.threads = threads
        # DuckDB's own default is 80% of RAM; a run shares the machine with polars and Python, so it is capped
        # (CONSENT_MEMORY_LIMIT, bytes, parsed and checked by config.settings; None for DuckDB's default).
        # DuckDB spills to disk beyond it.
        self.memory_limit = memory_limit_from_env() if memory_limit is _UNSET else memory_limit
        # Where DuckDB spills (default: beside the warehouse file). A large run can spill tens of GB: point it
        # at a disk with room (CONSENT_TEMP_DIR). The run spills into its own private folder inside it.
        self.temp_directory = temp_directory_from_env() if temp_directory is _UNSET else temp_directory

    @classmethod
    def of(cls, settings: Settings) -> Warehouse:
        """The warehouse of a run's Settings (its checked memory cap and spill folder)."""
        return cls(settings.warehouse, memory_limit=settings.memory_limit, temp_directory=settings.temp_directory)

    @property
    def lock_path(self) -> Path:
        return self.real.with_name(self.real.name + ".lock")

    def exists(self) -> bool:
        return self.real.exists()

    def refuse_links(self) -> None:
        """UnsafePath when the warehouse file, its write-ahead log, its lock file or the folder of its Parquet
        tables is a symbolic link: DuckDB, the lock and the Parquet writes would write through it into whatever
        it points at."""
        refuse_symlink(self.real, "warehouse")
        refuse_symlink(self.real.with_name(self.real.name + ".wal"), "warehouse log")
        refuse_symlink(self.lock_path, "lock file")
        refuse_symlink(self.real.with_name(self.real.name + PARQUET_SUFFIX), "Parquet tables folder")
        if self.temp_directory is None:  # the spill folder beside the file (private_spill_dir checks it too)
            refuse_symlink(self.spill_dir, "spill folder")

    @property
    def spill_dir(self) -> Path:
        """DuckDB's spill folder for this warehouse: `<warehouse>.spill` beside the file, or in CONSENT_TEMP_DIR
        a folder named after the warehouse's path (two warehouses may share that directory; one run at a time
        uses each folder, so a run can remove what an earlier, killed run left there)."""
        if self.temp_directory:
            tag = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:12]
            return Path(self.temp_directory) / f"consent-pipeline-{tag}.spill"
        return self.path.with_name(self.path.name + ".spill")

    def private_spill_dir(self) -> Path:
        """The spill folder, created if needed, owned by this user, mode 0700, marked as the pipeline's: spilled
        rows hold personal data in the clear."""
        folder = self.spill_dir
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise SpillDirectoryError(
                f"spill folder {folder} is not a directory of this user (a symlink or another user's): remove it"
            )
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(folder, 0o700)
        marker = folder / SPILL_MARKER
        if not marker.exists():
            marker.write_text(f"DuckDB spill files of {self.path.resolve()}\n", encoding="utf-8")
        return folder

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        key = str(self.real)
        held = _HELD_OPEN.get(key)
        if held is not None:
            # A session on the instance the run holds open (read-only or not: the run holds the lock, and DuckDB
            # refuses a second instance of one file with another configuration). Its settings are global.
            con = held.con.cursor()
            held.sessions += 1
            try:
                con.execute("SET TimeZone = 'UTC'")
                yield con
            finally:
                held.sessions -= 1
                con.close()
            return
        self.refuse_links()
        if not read_only:
            self.real.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.real), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseLocked(self._in_use(str(exc))) from None
            raise
        try:
            con.execute("SET TimeZone = 'UTC'")
            # Typed values as parameters: nothing an operator sets is ever part of the SQL text.
            if self.threads:
                con.execute("SET threads = ?", [int(self.threads)])
            if self.memory_limit:
                con.execute("SET memory_limit = ?", [f"{int(self.memory_limit)}B"])
            if not read_only:
                con.execute("SET temp_directory = ?", [str(self.private_spill_dir())])
            yield con
        finally:
            con.close()

    def hold_open(self) -> None:
        """Keep the database open until `let_close` (the caller holds the run lock). Not while the file may be
        replaced or copied: core/lib/rewrite.py and snapshots need every connection closed (`let_close` first)."""
        key = str(self.real)
        if key in _HELD_OPEN:
            return
        opened = self.connect()
        _HELD_OPEN[key] = _Held(self, opened.__enter__(), opened)

    def let_close(self) -> None:
        """Close the connection `hold_open` kept: DuckDB writes its log into the file when the last one closes."""
        held = _HELD_OPEN.get(str(self.real))
        if held is None:
            return
        if held.sessions:
            raise RuntimeError(f"{self.path}: let_close while {held.sessions} session(s) are open on it")
        del _HELD_OPEN[str(self.real)]
        held.closer.__exit__(None, None, None)

    def _in_use(self, error: str) -> str:
        """WarehouseLocked's message: DuckDB names the process that holds the file (`... (PID 123)`)."""
        pid = re.search(r"PID (\d+)", error)
        who = f" (pid {pid.group(1)})" if pid else ""
        return (
            f"warehouse {self.path} is open in another process{who}, e.g. a DuckDB session: "
            "close it and run again (auditors can read the run snapshots instead)"
        )

    def check_not_in_use(self) -> None:
        """WarehouseLocked now, before any feed is read, when another process has the file open (an auditor's
        DuckDB session holds it until closed; a read-only one too). Creates an empty warehouse if none."""
        with self.connect():
            pass

    # --- the run lock ---
    def acquire(self) -> None:
        """Take the run lock or raise WarehouseLocked at once (never wait behind another run)."""
        key = str(self.lock_path)
        if key in _HELD:
            _HELD[key][1] += 1
            return
        self.refuse_links()
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_nofollow(self.lock_path, os.O_RDWR | os.O_CREAT, "lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip()
            os.close(fd)
            who = f" ({holder})" if holder else ""
            raise WarehouseLocked(f"warehouse {self.path} is locked by another run{who}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        _HELD[key] = [fd, 1]

    def release(self) -> None:
        key = str(self.lock_path)
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            fcntl.flock(held[0], fcntl.LOCK_UN)
            os.close(held[0])
            del _HELD[key]

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
