"""Backup and restore of the embedded SQLite store (``minik8s store snapshot save|restore``), as
``etcdctl snapshot save|restore`` does for etcd.

``save`` is a consistent online copy: SQLite's backup API reads one snapshot of the database
through a read connection, so a running apiserver keeps writing meanwhile (WAL readers never
block the writer) and the file holds exactly the state of one commit, history included. The copy
is written to a temporary file, fsynced, checked, then renamed into place, so a crash never
leaves a half snapshot under the name asked for.

``restore`` puts a snapshot in place as ``<data-dir>/store.db`` for an apiserver that is not
running; like etcdctl it refuses a data dir that already has a store, and it checks the file is
an intact minik8s store first. Revisions, history and compaction state are those of the snapshot.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3

from apiserver.storage.interface import StorageError

__all__ = ["save", "restore", "check", "SnapshotInfo"]

_TABLES = {"log", "kv", "meta"}


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotInfo:
    revision: int  # the newest revision the snapshot holds
    keys: int  # how many keys it holds now

def check(path: str) -> SnapshotInfo:
    """Whether ``path`` is an intact minik8s store: its revision and key count, else StorageError."""
    if not os.path.isfile(path):
        raise StorageError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if ok != "ok":
                raise StorageError(f"{path}: the snapshot is damaged: {ok}")
            if not _TABLES <= tables:
                raise StorageError(f"{path}: not a minik8s store (tables {sorted(tables)})")
            newest = conn.execute("SELECT MAX(revision) FROM log").fetchone()[0] or 0
            row = conn.execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()
            keys = conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise StorageError(f"{path}: not a minik8s store: {e}") from None
    return SnapshotInfo(max(newest, row[0] if row else 0), keys)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(store_path: str, dest: str) -> SnapshotInfo:
    """Write a consistent copy of the live store at ``store_path`` to ``dest`` (mode 0600)."""
    if not os.path.isfile(store_path):
        raise StorageError(f"{store_path}: no store there")
    tmp = f"{dest}.part"
    if os.path.exists(tmp):
        os.unlink(tmp)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        src = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
        out = sqlite3.connect(tmp)
        try:
            src.execute("PRAGMA busy_timeout = 10000")
            src.backup(out)  # one read transaction: the state of a single commit
            out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no WAL beside it
        finally:
            out.close()
            src.close()
        _fsync(tmp)
        info = check(tmp)
        os.replace(tmp, dest)
        _fsync(os.path.dirname(os.path.abspath(dest)))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return info


def restore(snapshot: str, data_dir: str) -> SnapshotInfo:
    """Put ``snapshot`` in place as ``data_dir``/store.db; refuses when a store is there."""
    info = check(snapshot)
    os.makedirs(data_dir, exist_ok=True)
    target = os.path.join(data_dir, "store.db")
    for p in (target, target + "-wal"):
        if os.path.exists(p):
            raise StorageError(f"{data_dir} already has a store ({os.path.basename(p)}); restore into a data dir "
                               f"without one (stop the apiserver and move the old store away first)")
    tmp = target + ".restore"
    with open(snapshot, "rb") as src, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    _fsync(data_dir)
    return info
