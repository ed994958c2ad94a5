"""SQLiteStorage: the embedded default Storage backend, one SQLite file on disk.

Place in the picture: apiserver registry → ``Storage`` interface → this module → SQLite file
(WAL mode, ``synchronous=FULL``: every COMMIT is fsynced before a write is acknowledged).

Tables
    ``log(revision PK, key, type, value, create_revision, prev_revision, ts)``
        one row per write: the history that watch replays and old-revision lists read.
        A DELETE row stores no value; its value is the row at ``prev_revision``.
    ``kv(key PK, create_revision, mod_revision)``
        the current state; a key's value is ``log[mod_revision].value`` (stored once).
    ``meta(name PK, value)``
        ``compacted``: the revision history was compacted at (what readers check);
        ``compact_scanned``: how far the physical clean-up of the log got.

The current revision is ``max(MAX(log.revision), compacted)`` and so survives restarts even
when compaction removed the newest row (a tombstone).

Threads
    One writer thread owns the only writing connection. Requests arrive through a
    thread-safe queue; whatever queued up while a COMMIT was in flight is committed together
    in the next transaction (group commit), and every caller is answered only after the
    COMMIT of its write returned. Reads run through ``asyncio.to_thread`` on pooled read
    connections (WAL readers see the last commit and never block the writer). The event loop
    only enqueues, publishes committed events to watchers and resolves futures.

Compaction (as etcd does it)
    ``compact(R)`` keeps, for every key, its newest row at or below R unless that row is a
    tombstone, and removes every other row at or below R; lists at revision R therefore still
    work, and the current row of a live key is never removed. ``compacted`` is recorded first,
    then the log is cleaned in chunks between write batches so writers never stall on a long
    delete; a crash in between leaves only rows the next start cleans up. A background task
    compacts every ``compaction_interval`` seconds to the newest revision older than
    ``history_window`` seconds.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from apiserver.storage import diskspace
from apiserver.storage.interface import (
    Compacted,
    DiskFull,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    Storage,
    StorageError,
    WatchEvent,
    as_bytes,
)
from apiserver.storage.memory_watch import WatchHub, WatchOverflow

__all__ = ["SQLiteStorage", "WatchOverflow", "FutureRevision", "StorageClosed"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_PENDING = object()  # a compaction answered once the log is cleaned up to its revision
_PUT = "PUT"
_DELETE = "DELETE"

# Writes taken into one transaction at most; more wait for the next commit.
_MAX_BATCH = 1000
# Revisions cleaned per compaction transaction; small enough that writers barely notice.
_COMPACT_CHUNK = 2000
# Events read from the log per replay query.
_REPLAY_CHUNK = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    value BLOB,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""


class FutureRevision(StorageError):
    """Raised when a list or compact names a revision newer than the store's."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


class StorageClosed(StorageError):
    """Raised by calls made before start() or after close()."""


@dataclasses.dataclass(slots=True)
class _Request:
    kind: str  # "create" | "update" | "delete" | "compact" | "probe" | "stop"
    future: asyncio.Future[Any]
    key: str = ""
    value: bytes = b""
    expected: int = 0


class SQLiteStorage(Storage):
    """The Storage interface on one SQLite file. Bound to the event loop that calls start()."""

    def __init__(
        self,
        path: str,
        *,
        compaction_interval: float = 60.0,
        history_window: float = 300.0,
        watch_queue_size: int = 8192,
    ) -> None:
        self._path = path
        self._compaction_interval = compaction_interval
        self._history_window = history_window
        self._watch_queue_size = watch_queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._hub: WatchHub | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._open = False
        # Owned by the writer thread once started (plain ints: reads from the loop are safe).
        self._rev = 0
        self._compacted = 0
        self._scanned = 0
        self._compact_waiters: list[tuple[int, asyncio.Future[Any]]] = []
        # Why the last write failed for lack of disk space; None once one succeeds (readyz).
        self.disk_full: str | None = None

    # ---- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._open:
            return
        self._loop = asyncio.get_running_loop()
        conn = await asyncio.to_thread(self._open_writer)
        self._hub = WatchHub(revision=self._rev, queue_size=self._watch_queue_size)
        self._writer = threading.Thread(
            target=self._writer_main, args=(conn,), name=f"sqlite-writer:{self._path}", daemon=True
        )
        self._open = True
        self._writer.start()
        if self._compaction_interval > 0:
            self._compactor = asyncio.create_task(self._compact_periodically())

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
            self._compactor = None
        assert self._loop is not None and self._writer is not None and self._hub is not None
        # Writes queued before close are still committed and answered: the stop request
        # is behind them in the queue. The writer's last answers are posted to the loop
        # before join() returns, so they run before the watchers are ended below.
        self._requests.put(_Request("stop", self._loop.create_future()))
        await asyncio.to_thread(self._writer.join)
        self._hub.close()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()

    # ---- reads ------------------------------------------------------------------------

    async def current_revision(self) -> int:
        self._check_open()
        assert self._hub is not None
        # Every acknowledged write has been published before its caller was answered.
        return self._hub.revision

    async def compacted_revision(self) -> int:
        self._check_open()
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        return await self._read(_get, key)

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        if revision < 0 or limit < 0:
            raise ValueError("revision and limit must not be negative")
        return await self._read(_list, prefix, revision, limit, start_after)

    async def count(self, prefix: str) -> int:
        return await self._read(_count, prefix)

    # ---- writes -----------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._write(_Request("create", self._new_future(), key, as_bytes(value)))

    async def update(self, key: str, value: bytes, *, expected_revision: int = 0) -> KeyValue:
        request = _Request("update", self._new_future(), key, as_bytes(value), expected_revision)
        return await self._write(request)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        return await self._write(
            _Request("delete", self._new_future(), key, expected=expected_revision)
        )

    async def compact(self, revision: int) -> None:
        await self._write(_Request("compact", self._new_future(), expected=revision))

    async def probe_write(self) -> None:
        """Write a marker through the writer (fsynced, no revision): raises DiskFull while the
        disk has no room. ``disk_full`` says why the last write failed for lack of space (None
        once one succeeds)."""
        await self._write(_Request("probe", self._new_future()))

    # ---- watch ------------------------------------------------------------------------

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[WatchEvent]:
        return self._watch(prefix, after)

    async def _watch(self, prefix: str, after: int) -> AsyncIterator[WatchEvent]:
        self._check_open()
        assert self._hub is not None
        # Subscribe first, then replay up to the revision published at that instant: live
        # events are exactly those above it, so replay and live neither overlap nor leave a gap.
        sub = self._hub.subscribe(prefix, after=after)
        try:
            upto = self._hub.revision
            position = after
            # The first read checks compaction even when there is nothing to replay.
            first = True
            while first or position < upto:
                first = False
                events, position = await self._read(_history, prefix, position, upto)
                for event in events:
                    yield event
                if not self._open:
                    return
            while True:
                live = await sub.next()
                if live is None:
                    return
                yield live
        finally:
            self._hub.unsubscribe(sub)

    # ---- loop-side plumbing -----------------------------------------------------------

    def _check_open(self) -> None:
        if not self._open:
            raise StorageClosed(f"storage {self._path} is not open")

    def _new_future(self) -> asyncio.Future[Any]:
        self._check_open()
        assert self._loop is not None
        return self._loop.create_future()

    async def _write(self, request: _Request) -> KeyValue:
        if not isinstance(request.key, str):
            raise TypeError(f"key must be str, not {type(request.key).__name__}")
        self._requests.put(request)
        written: KeyValue = await request.future
        return written

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        self._check_open()
        return await asyncio.to_thread(self._run_read, fn, *args)

    def _run_read(self, fn: Callable[..., T], *args: Any) -> T:
        with self._readers_lock:
            conn = self._readers.pop() if self._readers else None
        if conn is None:
            conn = _connect(self._path)
            conn.execute("PRAGMA query_only = ON")
        try:
            return fn(conn, *args)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with self._readers_lock:
                if self._open:
                    self._readers.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    def _deliver(
        self, events: builtins.list[WatchEvent], outcomes: builtins.list[tuple[asyncio.Future[Any], Any]]
    ) -> None:
        """On the loop, after a commit: publish first, so a caller that was answered can
        rely on watchers having been handed its event."""
        assert self._hub is not None
        if events:
            self._hub.publish(events, events[-1].kv.mod_revision)
        for future, outcome in outcomes:
            if future.done():  # the caller was cancelled; the write stands regardless
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _post(
        self, events: builtins.list[WatchEvent], outcomes: builtins.list[tuple[asyncio.Future[Any], Any]]
    ) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._deliver, events, outcomes)
        except RuntimeError:  # the loop is gone; nobody is left to answer
            pass

    async def _compact_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._compaction_interval)
            try:
                cutoff = time.time() - self._history_window
                target = await self._read(_revision_before, cutoff)
                if target > self._compacted:
                    await self.compact(target)
                    log.debug("compacted %s at revision %d", self._path, target)
            except StorageClosed:
                return
            except Exception:  # keep compacting later; the store itself is still fine
                log.exception("background compaction of %s failed", self._path)

    # ---- writer thread ----------------------------------------------------------------

    def _open_writer(self) -> sqlite3.Connection:
        _private_files(self._path)
        conn = _connect(self._path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StorageError(f"{self._path}: cannot use WAL mode (got {mode})")
        # FULL: the WAL is fsynced at every COMMIT, so an acknowledged write survives power loss.
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(_SCHEMA)
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        self._compacted = meta.get("compacted", 0)
        self._scanned = meta.get("compact_scanned", 0)
        newest = conn.execute("SELECT MAX(revision) FROM log").fetchone()[0] or 0
        self._rev = max(newest, self._compacted)
        return conn

    def _writer_main(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                cleaning = self._scanned < self._compacted
                try:
                    first = self._requests.get(block=not cleaning)
                except queue.Empty:
                    first = None
                if first is not None:
                    batch = [first]
                    while len(batch) < _MAX_BATCH:
                        try:
                            batch.append(self._requests.get_nowait())
                        except queue.Empty:
                            break
                    if self._run_batch(conn, batch):
                        return
                if self._scanned < self._compacted:
                    # One chunk between write batches keeps writers moving during a big compaction.
                    self._compact_chunk(conn)
        except Exception as exc:
            log.exception("storage writer for %s died", self._path)
            self._refuse_until_stopped(StorageError(f"storage writer for {self._path} died: {exc}"))
        finally:
            conn.close()

    def _refuse_until_stopped(self, error: StorageError) -> None:
        """After an unexpected writer failure, answer every request with the error instead
        of leaving callers waiting forever."""
        while True:
            request = self._requests.get()
            self._post([], [(request.future, None if request.kind == "stop" else error)])
            if request.kind == "stop":
                return

    def _run_batch(self, conn: sqlite3.Connection, batch: builtins.list[_Request]) -> bool:
        """Commit the writes of a batch in one transaction, then handle compact/stop requests.
        Returns True when a stop request was seen."""
        writes = [r for r in batch if r.kind in ("create", "update", "delete")]
        outcomes: builtins.list[tuple[asyncio.Future[Any], Any]] = []
        events: builtins.list[WatchEvent] = []
        if writes:
            start_rev = self._rev
            ts = time.time()
            try:
                conn.execute("BEGIN IMMEDIATE")
                for request in writes:
                    outcome, event = self._apply(conn, request, ts)
                    outcomes.append((request.future, outcome))
                    if event is not None:
                        events.append(event)
                conn.execute("COMMIT")
            except Exception as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._rev = start_rev
                log.error("write transaction on %s failed: %s", self._path, exc)
                error = self._write_error(exc)
                outcomes = [(r.future, error) for r in writes]
                events = []
            else:
                self.disk_full = None
        stop: _Request | None = None
        for request in batch:
            if request.kind == "probe":
                outcomes.append((request.future, self._probe(conn)))
            elif request.kind == "compact":
                outcome = self._begin_compaction(conn, request)
                if outcome is not _PENDING:
                    outcomes.append((request.future, outcome))
            elif request.kind == "stop":
                stop = request
        if stop is not None:
            # The rest of the clean-up resumes at the next start; logically it is done.
            outcomes.extend((future, None) for _, future in self._compact_waiters)
            self._compact_waiters.clear()
            outcomes.append((stop.future, None))
        self._post(events, outcomes)
        return stop is not None

    def _write_error(self, exc: Exception) -> StorageError:
        """The error a failed write answers: DiskFull (and the store marked full until a write
        succeeds again) when the disk had no room, else a StorageError."""
        if diskspace.is_full(exc, os.path.dirname(self._path) or "."):
            self.disk_full = diskspace.full_message(os.path.dirname(self._path) or ".") or \
                f"the disk holding {self._path} is full"
            return DiskFull(f"write to {self._path} failed: {self.disk_full} ({exc})")
        return StorageError(f"write to {self._path} failed: {exc}")

    def _probe(self, conn: sqlite3.Connection) -> StorageError | None:
        """A real, fsynced write outside the revisioned data (the meta table): does the store
        take writes again?"""
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('write_probe', ?)",
                             (int(time.time()),))
        except sqlite3.Error as exc:
            return self._write_error(exc)
        self.disk_full = None
        return None

    def _apply(
        self, conn: sqlite3.Connection, request: _Request, ts: float
    ) -> tuple[Any, WatchEvent | None]:
        """One write inside the open transaction. Checks come before any change, so a
        refused write leaves nothing behind and the rest of the batch goes on."""
        key = request.key
        if request.kind == "create":
            rev = self._rev + 1
            inserted = conn.execute(
                "INSERT OR IGNORE INTO kv (key, create_revision, mod_revision) VALUES (?, ?, ?)",
                (key, rev, rev),
            ).rowcount
            if not inserted:
                return KeyExists(key), None
            conn.execute(
                "INSERT INTO log (revision, key, type, value, create_revision, prev_revision, ts)"
                " VALUES (?, ?, 'PUT', ?, ?, NULL, ?)",
                (rev, key, request.value, rev, ts),
            )
            self._rev = rev
            kv = KeyValue(key, request.value, rev, rev)
            return kv, WatchEvent(_PUT, kv, None)

        current = _get(conn, key)
        if current is None:
            return KeyNotFound(key), None
        if request.expected and request.expected != current.mod_revision:
            return RevisionMismatch(key, current), None
        rev = self._rev + 1
        if request.kind == "update":
            conn.execute(
                "INSERT INTO log (revision, key, type, value, create_revision, prev_revision, ts)"
                " VALUES (?, ?, 'PUT', ?, ?, ?, ?)",
                (rev, key, request.value, current.create_revision, current.mod_revision, ts),
            )
            conn.execute("UPDATE kv SET mod_revision = ? WHERE key = ?", (rev, key))
            self._rev = rev
            kv = KeyValue(key, request.value, current.create_revision, rev)
            return kv, WatchEvent(_PUT, kv, current)

        conn.execute(
            "INSERT INTO log (revision, key, type, value, create_revision, prev_revision, ts)"
            " VALUES (?, ?, 'DELETE', NULL, ?, ?, ?)",
            (rev, key, current.create_revision, current.mod_revision, ts),
        )
        conn.execute("DELETE FROM kv WHERE key = ?", (key,))
        self._rev = rev
        kv = KeyValue(key, current.value, current.create_revision, rev)
        return kv, WatchEvent(_DELETE, kv, current)

    def _begin_compaction(self, conn: sqlite3.Connection, request: _Request) -> Any:
        """Record a compaction; returns its outcome now, or _PENDING while the log is cleaned."""
        target = request.expected
        if target > self._rev:
            return FutureRevision(target, self._rev)
        if target > self._compacted:
            try:
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?)",
                        (target,),
                    )
            except sqlite3.Error as exc:
                return StorageError(f"compaction of {self._path} failed: {exc}")
            self._compacted = target
        if target <= self._scanned:
            return None
        self._compact_waiters.append((target, request.future))
        return _PENDING

    def _compact_chunk(self, conn: sqlite3.Connection) -> None:
        low = self._scanned
        high = min(low + _COMPACT_CHUNK, self._compacted)
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                # Chunks go upwards: a row is removed when a newer row of its key at or below
                # the compacted revision exists...
                conn.execute(
                    "DELETE FROM log WHERE revision IN ("
                    " SELECT old.revision FROM log AS new"
                    " JOIN log AS old ON old.key = new.key AND old.revision < new.revision"
                    " WHERE new.revision > ? AND new.revision <= ?)",
                    (low, high),
                )
                # ...and a tombstone goes once the rows below it are gone (same chunk, above).
                conn.execute(
                    "DELETE FROM log WHERE revision > ? AND revision <= ? AND type = 'DELETE'",
                    (low, high),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('compact_scanned', ?)",
                    (high,),
                )
        except sqlite3.Error as exc:
            # Leave the rows; the next round tries again. Readers are unaffected.
            log.error("compaction clean-up of %s failed: %s", self._path, exc)
            time.sleep(0.1)
            return
        self._scanned = high
        done = [(f, None) for target, f in self._compact_waiters if target <= high]
        if done:
            self._compact_waiters = [(t, f) for t, f in self._compact_waiters if t > high]
            self._post([], done)


# ---- read functions (run in a worker thread with a read connection) ------------------------


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN/COMMIT), never implicit.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _private_files(path: str) -> None:
    """The store, its WAL and shared-memory index are readable by their owner only (0600): they
    hold every object, Secrets included. SQLite creates the WAL and SHM with the database's mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for p in (path, path + "-wal", path + "-shm"):
        try:
            os.chmod(p, 0o600)
        except FileNotFoundError:
            pass




def _prefix_end(prefix: str) -> str | None:
    """The smallest string above every string that starts with prefix (None: no bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates cannot be stored as UTF-8; skip them
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _key_range(prefix: str, start_after: str, column: str) -> tuple[str, list[str]]:
    """SQL condition and parameters for keys under prefix and after start_after."""
    if start_after >= prefix:
        clauses, params = [f"{column} > ?"], [start_after]
    else:
        clauses, params = [f"{column} >= ?"], [prefix]
    end = _prefix_end(prefix)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return " AND ".join(clauses), params


def _store_state(conn: sqlite3.Connection) -> tuple[int, int]:
    """(current revision, compacted revision) as of the open read transaction."""
    newest = conn.execute("SELECT MAX(revision) FROM log").fetchone()[0] or 0
    row = conn.execute("SELECT value FROM meta WHERE name = 'compacted'").fetchone()
    compacted = row[0] if row else 0
    return max(newest, compacted), compacted


def _get(conn: sqlite3.Connection, key: str) -> KeyValue | None:
    row = conn.execute(
        "SELECT kv.create_revision, kv.mod_revision, log.value FROM kv"
        " JOIN log ON log.revision = kv.mod_revision WHERE kv.key = ?",
        (key,),
    ).fetchone()
    return None if row is None else KeyValue(key, row[2], row[0], row[1])


def _count(conn: sqlite3.Connection, prefix: str) -> int:
    cond, params = _key_range(prefix, "", "key")
    count: int = conn.execute(f"SELECT COUNT(*) FROM kv WHERE {cond}", params).fetchone()[0]
    return count


def _list(
    conn: sqlite3.Connection, prefix: str, revision: int, limit: int, start_after: str
) -> ListResult:
    conn.execute("BEGIN")
    current, compacted = _store_state(conn)
    if revision > current:
        raise FutureRevision(revision, current)
    if revision and revision < compacted:
        raise Compacted(revision, compacted)
    cap = f" LIMIT {int(limit) + 1}" if limit else ""
    if revision == 0 or revision == current:
        cond, params = _key_range(prefix, start_after, "kv.key")
        rows = conn.execute(
            "SELECT kv.key, log.value, kv.create_revision, kv.mod_revision FROM kv"
            f" JOIN log ON log.revision = kv.mod_revision WHERE {cond} ORDER BY kv.key{cap}",
            params,
        ).fetchall()
        at = current
    else:
        # The state at `revision`: each key's newest row at or below it, if that is not a delete.
        cond, params = _key_range(prefix, start_after, "key")
        rows = conn.execute(
            "SELECT l.key, l.value, l.create_revision, l.revision FROM"
            f" (SELECT key, MAX(revision) AS rev FROM log WHERE {cond} AND revision <= ?"
            "  GROUP BY key) AS newest"
            f" JOIN log AS l ON l.revision = newest.rev WHERE l.type = 'PUT' ORDER BY l.key{cap}",
            [*params, revision],
        ).fetchall()
        at = revision
    conn.execute("COMMIT")
    more = bool(limit) and len(rows) > limit
    if more:
        rows = rows[:limit]
    return ListResult([KeyValue(r[0], r[1], r[2], r[3]) for r in rows], at, more)


def _history(
    conn: sqlite3.Connection, prefix: str, after: int, upto: int
) -> tuple[list[WatchEvent], int]:
    """Events under prefix in (after, upto], at most one chunk; returns them and the
    revision the next chunk starts after."""
    conn.execute("BEGIN")
    _, compacted = _store_state(conn)
    if after < compacted:
        raise Compacted(after, compacted)
    if after >= upto:
        conn.execute("COMMIT")
        return [], after
    cond, params = _key_range(prefix, "", "l.key")
    rows = conn.execute(
        "SELECT l.revision, l.key, l.type, l.value, l.create_revision, l.prev_revision,"
        " p.value, p.create_revision FROM log AS l"
        " LEFT JOIN log AS p ON p.revision = l.prev_revision"
        f" WHERE l.revision > ? AND l.revision <= ? AND {cond} ORDER BY l.revision LIMIT ?",
        [after, upto, *params, _REPLAY_CHUNK],
    ).fetchall()
    conn.execute("COMMIT")
    events = []
    for rev, key, typ, value, create_rev, prev_rev, prev_value, prev_create in rows:
        prev = None
        if prev_rev is not None:
            if prev_value is None:  # cannot happen while rows above `compacted` are intact
                raise StorageError(f"history of {key} at {rev} lost its previous value")
            prev = KeyValue(key, prev_value, prev_create, prev_rev)
        if typ == _DELETE:
            assert prev is not None
            events.append(WatchEvent(_DELETE, KeyValue(key, prev.value, create_rev, rev), prev))
        else:
            events.append(WatchEvent(_PUT, KeyValue(key, value, create_rev, rev), prev))
    next_after = upto if len(rows) < _REPLAY_CHUNK else rows[-1][0]
    return events, next_after


def _revision_before(conn: sqlite3.Connection, cutoff: float) -> int:
    """The newest revision written before ``cutoff`` (epoch seconds), at least the compacted one.

    Rows above the compacted revision are all present and their timestamps grow with the
    revision, so a binary search over revisions finds it in a few lookups.
    """
    conn.execute("BEGIN")
    low, compacted = _store_state(conn)
    low, high = compacted, low
    while low < high:
        mid = (low + high + 1) // 2
        row = conn.execute("SELECT ts FROM log WHERE revision = ?", (mid,)).fetchone()
        if row is not None and row[0] < cutoff:
            low = mid
        else:
            high = mid - 1
    conn.execute("COMMIT")
    return low
