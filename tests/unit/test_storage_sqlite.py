"""What only the SQLite backend promises, beyond the conformance suite: group commit, WAL +
fsync settings, watch overflow, chunked and resumable compaction, time-based compaction."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from apiserver.storage import sqlite as sqlite_mod
from apiserver.storage.interface import KeyValue
from apiserver.storage.sqlite import SQLiteStorage, StorageClosed, WatchOverflow

P = "/registry/pods/default/"
GUARD = 30.0  # hang guard only


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


@pytest.fixture
async def store(path: str) -> AsyncIterator[SQLiteStorage]:
    s = SQLiteStorage(path, compaction_interval=0)
    await s.start()
    yield s
    await s.close()


def log_rows(path: str) -> list[tuple[int, str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT revision, key, type FROM log ORDER BY revision").fetchall()


async def test_file_is_wal_and_commits_are_fsynced(path: str) -> None:
    conn = SQLiteStorage(path)._open_writer()
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        conn.close()


async def test_writes_queued_during_a_commit_share_the_next_transaction(
    store: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    batches: list[list[str]] = []
    run_batch = store._run_batch
    apply = store._apply

    def recording_run_batch(conn, batch):  # type: ignore[no-untyped-def]
        batches.append([r.key for r in batch])
        return run_batch(conn, batch)

    def held_apply(conn, request, ts):  # type: ignore[no-untyped-def]
        if request.key == P + "first":
            release.wait(GUARD)  # the first transaction is "in flight" until released
        return apply(conn, request, ts)

    monkeypatch.setattr(store, "_run_batch", recording_run_batch)
    monkeypatch.setattr(store, "_apply", held_apply)
    first = asyncio.create_task(store.create(P + "first", b"x"))
    while not batches:
        await asyncio.sleep(0.001)
    others = [asyncio.create_task(store.create(P + f"k{i}", b"x")) for i in range(31)]
    while store._requests.qsize() < 31:
        await asyncio.sleep(0.001)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(first, *others), GUARD)
    assert [kv.mod_revision for kv in results] == list(range(1, 33))
    assert batches == [[P + "first"], [P + f"k{i}" for i in range(31)]]


async def test_a_refused_write_does_not_fail_its_batch(store: SQLiteStorage) -> None:
    await store.create(P + "a", b"1")
    results = await asyncio.gather(
        store.create(P + "b", b"1"),
        store.create(P + "a", b"again"),
        store.update(P + "a", b"2", expected_revision=1),
        return_exceptions=True,
    )
    assert results[0] == KeyValue(P + "b", b"1", 2, 2)
    assert type(results[1]).__name__ == "KeyExists"
    assert results[2] == KeyValue(P + "a", b"2", 1, 3)


async def test_slow_watcher_is_cut_off_with_watch_overflow(path: str) -> None:
    s = SQLiteStorage(path, compaction_interval=0, watch_queue_size=4)
    await s.start()
    try:
        await s.create(P + "p0", b"x")
        stalled = s.watch(P, after=0)
        await anext(stalled)
        for i in range(1, 10):
            await s.create(P + f"p{i}", b"x")
        got = []
        with pytest.raises(WatchOverflow):
            async for event in stalled:
                got.append(event.kv.mod_revision)
        assert got == [2, 3, 4, 5]  # the queue's worth, then the error
    finally:
        await s.close()


async def test_close_commits_writes_already_queued(path: str) -> None:
    s = SQLiteStorage(path, compaction_interval=0)
    await s.start()
    pending = [asyncio.create_task(s.create(P + f"k{i}", b"x")) for i in range(50)]
    await asyncio.sleep(0)  # let every task queue its request
    await s.close()
    assert len({kv.mod_revision for kv in await asyncio.gather(*pending)}) == 50
    with pytest.raises(StorageClosed):
        await s.create(P + "late", b"x")
    s = SQLiteStorage(path, compaction_interval=0)
    await s.start()
    try:
        assert len((await s.list(P)).items) == 50
    finally:
        await s.close()


async def test_compaction_cleans_the_log_in_chunks(
    store: SQLiteStorage, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_mod, "_COMPACT_CHUNK", 7)
    for i in range(5):
        await store.create(P + f"k{i}", b"0")
    for round_ in range(1, 20):
        for i in range(5):
            await store.update(P + f"k{i}", str(round_).encode())
    await store.delete(P + "k4")
    await store.create(P + "k5", b"new")  # revision 102
    before = await store.list(P, revision=101)
    await store.compact(101)
    # Left: the newest row at or below 101 of each live key, and the row above.
    assert [rev for rev, _, _ in log_rows(path)] == [96, 97, 98, 99, 102]
    assert await store.list(P, revision=101) == before
    assert kv_values(await store.list(P)) == [(P + f"k{i}", b"19") for i in range(4)] + [
        (P + "k5", b"new")
    ]


def kv_values(result) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    return [(kv.key, kv.value) for kv in result.items]


async def test_interrupted_compaction_resumes_at_next_start(path: str) -> None:
    s = SQLiteStorage(path, compaction_interval=0)
    await s.start()
    for i in range(10):
        await s.create(P + "k", b"x") if i == 0 else await s.update(P + "k", str(i).encode())
    await s.close()
    # What a crash right after recording the compaction (before the clean-up) leaves behind.
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO meta (name, value) VALUES ('compacted', 8)")
    s = SQLiteStorage(path, compaction_interval=0)
    await s.start()
    try:
        assert await s.compacted_revision() == 8
        await asyncio.wait_for(s.compact(8), GUARD)  # answered once the clean-up reached 8
        assert [rev for rev, _, _ in log_rows(path)] == [8, 9, 10]
        assert (await s.get(P + "k")) == KeyValue(P + "k", b"9", 1, 10)
    finally:
        await s.close()


async def test_newest_revision_before_a_time(store: SQLiteStorage) -> None:
    await store.create(P + "a", b"1")
    await store.create(P + "b", b"1")
    time.sleep(0.01)  # distinct clock readings on either side of the cut-off
    cutoff = time.time()
    time.sleep(0.01)
    await store.create(P + "c", b"1")
    assert await store._read(sqlite_mod._revision_before, cutoff) == 2
    assert await store._read(sqlite_mod._revision_before, 0.0) == 0
    assert await store._read(sqlite_mod._revision_before, time.time() + 1) == 3


async def test_background_compaction_keeps_live_keys(path: str) -> None:
    s = SQLiteStorage(path, compaction_interval=0.01, history_window=0.0)
    await s.start()
    try:
        await s.create(P + "a", b"1")
        await s.update(P + "a", b"2")
        await s.create(P + "b", b"1")
        await s.delete(P + "b")

        async def compacted() -> None:
            while await s.compacted_revision() < 4:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(compacted(), GUARD)
        await asyncio.wait_for(s.compact(4), GUARD)  # wait for the clean-up to finish
        assert await s.get(P + "a") == KeyValue(P + "a", b"2", 1, 2)
        assert [rev for rev, _, _ in log_rows(path)] == [2]
        assert await s.current_revision() == 4
    finally:
        await s.close()


@pytest.mark.parametrize(
    ("prefix", "end"),
    [("/registry/pods/", "/registry/pods0"), ("", None), ("a\U0010ffff", "b"),
     ("\U0010ffff", None), ("x\ud7ff", "x\ue000")],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert sqlite_mod._prefix_end(prefix) == end
