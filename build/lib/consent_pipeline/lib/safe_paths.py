"""Files the pipeline writes are opened without following symbolic links, and folders are swapped in whole.

A symbolic link planted at the name of a lock, temporary or output file would otherwise make the pipeline
truncate or overwrite whatever it points at. Creating files with O_EXCL | O_NOFOLLOW refuses that; a path
the pipeline is given (the warehouse, its lock, the extracts folder) that is itself a link is refused with
one line (UnsafePath). Parent folders may be links: they are resolved (`real_path`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from pathlib import Path

from consent_pipeline.lib.faults import free_bytes, human_bytes


class UnsafePath(RuntimeError):
    """A path the pipeline would write through is a symbolic link or not the kind of file expected."""


def real_path(path: Path) -> Path:
    """The path with its parent folders resolved (links followed) and its last name kept as it is: two names
    of one warehouse through linked folders give one path (and so one lock)."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


def refuse_symlink(path: Path, what: str) -> None:
    """UnsafePath when `path` itself is a symbolic link (dangling or not)."""
    if path.is_symlink():
        raise UnsafePath(
            f"{what} {path} is a symbolic link: refusing to follow it (replace it by a real {_kind(what)})"
        )


def _kind(what: str) -> str:
    return "folder" if "folder" in what or "directory" in what else "file"


def open_nofollow(path: Path, flags: int, what: str, mode: int = 0o644) -> int:
    """os.open with O_NOFOLLOW | O_CLOEXEC (and O_NONBLOCK so a FIFO planted there cannot hang the run); a
    regular file only."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{what} {path} is a symbolic link: refusing to follow it (remove it)") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(f"{what} {path} is not a regular file (remove it)")
    os.set_blocking(fd, True)
    return fd


def write_new(path: Path, data: bytes, what: str = "temporary file") -> None:
    """Create `path` (it must not exist: a leftover is removed first, never followed) and write `data`."""
    remove_file(path)
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, what)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def remove_file(path: Path) -> None:
    """Remove a file or a symbolic link at `path` (a link itself, never its target); nothing if absent."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic rename (Linux renameat2 RENAME_EXCHANGE). False when the system or file
    system cannot (the caller falls back); OSError for any other failure."""
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def probe_writable(folder: Path, what: str) -> None:
    """Create the folder if needed and create and remove a file in it: OSError naming it when it cannot (a
    read-only file system, no permission, no space). Refuses a folder that is a symbolic link."""
    refuse_symlink(folder, what)
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(folder))
    probe = folder / f".consent-pipeline-probe-{os.getpid()}"
    fd = open_nofollow(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, f"{what} probe")
    os.close(fd)
    os.unlink(probe)


def copy_nofollow(src: Path, dst: Path, what: str = "temporary file") -> None:
    """Copy a file into a new file at `dst` (created, never followed), at disk speed (sendfile). OSError
    ENOSPC naming `dst`, the bytes it needs and those free when the file system has too little room."""
    size = src.stat().st_size
    free = free_bytes(dst.parent)
    if free is not None and free < size:
        raise OSError(
            errno.ENOSPC, f"No space left on device (needs {human_bytes(size)}, {human_bytes(free)} free)", str(dst)
        )
    remove_file(dst)
    out = open_nofollow(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, what)
    try:
        with open(src, "rb") as f:
            offset = 0
            while offset < size:
                sent = os.sendfile(out, f.fileno(), offset, min(size - offset, 1 << 30))
                if sent == 0:
                    break
                offset += sent
    finally:
        os.close(out)
