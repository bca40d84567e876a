"""Connections to the warehouse file and the lock that keeps two runs apart."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb


class WarehouseLocked(RuntimeError):
    """Another run holds the warehouse."""


# Locks this process holds, by lock file: (fd, depth). Re-entrant, so the CLI and the run's resource can
# both "take" the lock in one process (flock would otherwise conflict with itself on a second fd).
_HELD: dict[str, list[int]] = {}


class Warehouse:
    """A DuckDB warehouse file. Connections are short-lived; a run holds `lock()` from start to end."""

    def __init__(self, path: Path | str, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.path = Path(path)
        self.threads = threads
        # DuckDB's own default is 80% of RAM; a run shares the machine with polars and Python, so it is capped
        # (CONSENT_MEMORY_LIMIT, e.g. "8GB"; empty for DuckDB's default). DuckDB spills to disk beyond it.
        self.memory_limit = (
            memory_limit if memory_limit is not None else os.environ.get("CONSENT_MEMORY_LIMIT", "4GB")
        )
        # Where DuckDB spills (default: beside the warehouse file). A large run can spill tens of GB: point it
        # at a disk with room (CONSENT_TEMP_DIR).
        self.temp_directory = os.environ.get("CONSENT_TEMP_DIR", "")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseLocked(f"warehouse {self.path} is in use by another process") from None
            raise
        try:
            con.execute("SET TimeZone = 'UTC'")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            if self.memory_limit:
                con.execute(f"SET memory_limit = '{self.memory_limit}'")
            if self.temp_directory and not read_only:
                con.execute("SET temp_directory = $dir", {"dir": self.temp_directory})
            yield con
        finally:
            con.close()

    # --- the run lock ---
    def acquire(self) -> None:
        """Take the run lock or raise WarehouseLocked at once (never wait behind another run)."""
        key = str(self.lock_path.resolve())
        if key in _HELD:
            _HELD[key][1] += 1
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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
        key = str(self.lock_path.resolve())
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
