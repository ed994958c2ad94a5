"""Telling a full disk from other storage failures, as a person needs to hear it, and when
the store takes writes again (readiness).

SQLite reports a full disk as SQLITE_FULL ("database or disk is full") when it cannot grow a
file, but as a generic SQLITE_IOERR ("disk I/O error") when the write or fsync of its WAL fails
with ENOSPC. :func:`is_full` accepts either when the file system indeed has (almost) no room
left, so a real I/O fault is still reported as one.
"""

from __future__ import annotations

import os
import sqlite3

# Below this many free bytes the data dir counts as full (SQLite needs room for its WAL).
MIN_FREE = 1024 * 1024
_SQLITE_FULL = 13
_SQLITE_IOERR = 10


def free_bytes(path: str) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def full_message(path: str) -> str | None:
    """Why ``path``'s disk counts as full, or None while it has room."""
    try:
        free = free_bytes(path)
    except OSError:
        return None
    if free >= MIN_FREE:
        return None
    return f"the disk holding {path} is full ({free} bytes free)"


def is_full(exc: BaseException, path: str) -> bool:
    """Whether ``exc`` (from SQLite or the OS) is a write refused for lack of space."""
    if isinstance(exc, OSError) and exc.errno == 28:  # ENOSPC
        return True
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code == _SQLITE_FULL:
            return True
        if code == _SQLITE_IOERR or "disk I/O error" in str(exc):
            return full_message(path) is not None
    return False


async def still_full(storage: object) -> str | None:
    """Why ``storage`` cannot take writes for lack of space, or None. A store marked full by a
    failed write is probed with a real write, so readiness returns as soon as one succeeds."""
    if getattr(storage, "disk_full", None) is None:
        return None
    from apiserver.storage.interface import DiskFull
    try:
        await storage.probe_write()  # type: ignore[attr-defined]
    except DiskFull:
        return getattr(storage, "disk_full", None) or "the disk is full"
    return None
