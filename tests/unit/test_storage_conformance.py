"""Conformance suite for apiserver.storage.interface.Storage backends.

Every backend (SQLite, etcd) runs the same tests through the ``backend`` fixture: to add one, add a
factory to ``_BACKENDS`` that opens the same data every time it is called and says how a child
process opens it (for the SIGKILL durability test).

Timeouts here are hang guards only; no test passes or fails on how fast something is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from apiserver.storage.interface import (
    Compacted,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    Storage,
    StorageError,
    WatchEvent,
)
from apiserver.storage.sqlite import SQLiteStorage

REPO = Path(__file__).resolve().parents[2]
GUARD = 30.0  # seconds before a stuck await is reported as a hang


@dataclasses.dataclass
class Backend:
    name: str
    make: Callable[..., Storage]  # a new, unstarted store over the same data on every call
    child_imports: str  # Python source a child process runs before opening the store
    child_open: str  # Python expression opening the same store in a child process
    slow_watch_queue: int  # events a watcher may fall behind by (make(slow=True))


def _sqlite_backend(tmp_path: Path) -> Backend:
    path = str(tmp_path / "store.db")

    def make(*, slow: bool = False) -> Storage:
        return SQLiteStorage(path, compaction_interval=0, watch_queue_size=16 if slow else 8192)

    return Backend(
        name="sqlite",
        make=make,
        child_imports="from apiserver.storage.sqlite import SQLiteStorage",
        child_open=f"SQLiteStorage({path!r}, compaction_interval=0)",
        slow_watch_queue=16,
    )


def _etcd_backend(tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    """A fresh etcd member per test (its revisions start over), stopped after the test."""
    from tests.etcd_harness import start_etcd

    server = start_etcd(tmp_path / "etcd")
    request.addfinalizer(server.stop)
    url = server.url

    def make(*, slow: bool = False) -> Storage:
        from apiserver.storage.etcd import EtcdStorage

        return EtcdStorage(url, compaction_interval=0, watch_queue_size=16 if slow else 8192)

    return Backend(
        name="etcd",
        make=make,
        child_imports="from apiserver.storage.etcd import EtcdStorage",
        child_open=f"EtcdStorage({url!r}, compaction_interval=0)",
        slow_watch_queue=16,
    )


_BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Backend]] = {
    "sqlite": lambda tmp_path, request: _sqlite_backend(tmp_path),
    "etcd": _etcd_backend,
}


@pytest.fixture(params=sorted(_BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _BACKENDS[request.param](tmp_path, request)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Storage]:
    s = backend.make()
    await s.start()
    yield s
    await s.close()


async def take(events: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    async def go() -> list[WatchEvent]:
        out = []
        while len(out) < n:
            out.append(await anext(events))
        return out

    return await asyncio.wait_for(go(), GUARD)


def kv_pairs(items: list[KeyValue]) -> list[tuple[str, bytes]]:
    return [(kv.key, kv.value) for kv in items]


P = "/registry/pods/default/"


# ---- single-key operations ----------------------------------------------------------------


async def test_empty_store_is_at_revision_zero(store: Storage) -> None:
    assert await store.current_revision() == 0
    assert await store.compacted_revision() == 0
    assert await store.get(P + "web-1") is None
    result = await store.list("/registry/")
    assert result.items == [] and result.revision == 0 and not result.more


async def test_create_get_and_exists(store: Storage) -> None:
    value = bytes(range(256))  # opaque bytes, not text
    kv = await store.create(P + "web-1", value)
    assert kv == KeyValue(P + "web-1", value, 1, 1)
    assert await store.get(P + "web-1") == kv
    with pytest.raises(KeyExists):
        await store.create(P + "web-1", b"other")
    assert await store.get(P + "web-1") == kv
    # A refused write takes no revision.
    assert await store.current_revision() == 1
    assert (await store.create(P + "web-2", b"")) == KeyValue(P + "web-2", b"", 2, 2)


async def test_update_with_and_without_expected_revision(store: Storage) -> None:
    await store.create(P + "a", b"v1")
    kv2 = await store.update(P + "a", b"v2")
    assert kv2 == KeyValue(P + "a", b"v2", 1, 2)
    kv3 = await store.update(P + "a", b"v3", expected_revision=2)
    assert kv3 == KeyValue(P + "a", b"v3", 1, 3)
    with pytest.raises(RevisionMismatch) as info:
        await store.update(P + "a", b"stale", expected_revision=2)
    assert info.value.current == kv3
    assert await store.get(P + "a") == kv3
    with pytest.raises(KeyNotFound):
        await store.update(P + "missing", b"x")
    with pytest.raises(KeyNotFound):
        await store.update(P + "missing", b"x", expected_revision=1)
    assert await store.current_revision() == 3


async def test_delete(store: Storage) -> None:
    await store.create(P + "a", b"v1")
    await store.update(P + "a", b"v2")
    with pytest.raises(RevisionMismatch) as info:
        await store.delete(P + "a", expected_revision=1)
    assert info.value.current == KeyValue(P + "a", b"v2", 1, 2)
    gone = await store.delete(P + "a", expected_revision=2)
    assert gone == KeyValue(P + "a", b"v2", 1, 3)
    assert await store.get(P + "a") is None
    with pytest.raises(KeyNotFound):
        await store.delete(P + "a")
    # A key created again starts a new life.
    assert await store.create(P + "a", b"v3") == KeyValue(P + "a", b"v3", 4, 4)


# ---- list -----------------------------------------------------------------------------------


async def test_list_by_prefix_in_key_order(store: Storage) -> None:
    for key in [P + "b", "/registry/podsx/default/a", P + "a", "/registry/pods/kube-system/c",
                "/registry/services/default/a", "/registry/pods"]:
        await store.create(key, key.encode())
    result = await store.list("/registry/pods/")
    assert [kv.key for kv in result.items] == [P + "a", P + "b", "/registry/pods/kube-system/c"]
    assert result.revision == 6 and not result.more
    assert [kv.key for kv in (await store.list(P)).items] == [P + "a", P + "b"]
    everything = await store.list("")
    assert [kv.key for kv in everything.items] == sorted(kv.key for kv in everything.items)
    assert len(everything.items) == 6


async def test_list_at_old_revisions_matches_history(store: Storage) -> None:
    rng = random.Random(7)
    model: dict[str, bytes] = {}
    snapshots: dict[int, dict[str, bytes]] = {}
    names = [P + f"p{i}" for i in range(12)] + ["/registry/podsx/x"]
    for step in range(150):
        key = rng.choice(names)
        value = f"{key}@{step}".encode()
        if key not in model:
            kv = await store.create(key, value)
            model[key] = value
        elif rng.random() < 0.3:
            kv = await store.delete(key)
            del model[key]
        else:
            kv = await store.update(key, value)
            model[key] = value
        snapshots[kv.mod_revision] = dict(model)
    for rev, state in snapshots.items():
        result = await store.list("/registry/pods/", revision=rev)
        expected = sorted((k, v) for k, v in state.items() if k.startswith("/registry/pods/"))
        assert kv_pairs(result.items) == expected, rev
        assert result.revision == rev


async def test_list_reports_revisions_of_each_key(store: Storage) -> None:
    await store.create(P + "a", b"1")
    await store.create(P + "b", b"2")
    await store.update(P + "a", b"3")
    result = await store.list(P, revision=2)
    assert result.items == [KeyValue(P + "a", b"1", 1, 1), KeyValue(P + "b", b"2", 2, 2)]
    result = await store.list(P)
    assert result.items == [KeyValue(P + "a", b"3", 1, 3), KeyValue(P + "b", b"2", 2, 2)]


async def test_pagination_with_limit_and_start_after(store: Storage) -> None:
    keys = [P + f"p{i:02d}" for i in range(10)]
    for key in reversed(keys):
        await store.create(key, b"x")
    pages, after, more = [], "", True
    while more:
        result = await store.list(P, limit=3, start_after=after)
        pages.append([kv.key for kv in result.items])
        more = result.more
        after = pages[-1][-1]
    assert pages == [keys[0:3], keys[3:6], keys[6:9], keys[9:10]]
    exact = await store.list(P, limit=10)
    assert len(exact.items) == 10 and not exact.more


async def test_pagination_at_a_fixed_revision_ignores_later_writes(store: Storage) -> None:
    # As Kubernetes' continue tokens do: every page is read at the first page's revision.
    keys = [P + f"p{i:02d}" for i in range(6)]
    for key in keys:
        await store.create(key, b"old")
    first = await store.list(P, limit=2)
    await store.delete(keys[3])
    await store.update(keys[4], b"new")
    await store.create(P + "p99", b"new")
    rest = await store.list(P, revision=first.revision, start_after=first.items[-1].key)
    assert kv_pairs(first.items + rest.items) == [(k, b"old") for k in keys]
    assert rest.revision == first.revision


async def test_count_per_prefix(store: Storage) -> None:
    # Kubernetes' per-resource object count (apiserver_storage_objects) reads it.
    for key in [P + "a", P + "b", "/registry/pods/kube-system/c", "/registry/podsx/default/a",
                "/registry/services/default/a"]:
        await store.create(key, b"x")
    await store.delete(P + "b")
    assert await store.count("/registry/pods/") == 2
    assert await store.count(P) == 1
    assert await store.count("/registry/") == 4
    assert await store.count("/registry/nothing/") == 0


# ---- watch ----------------------------------------------------------------------------------


async def test_watch_replays_history_then_live_events(store: Storage) -> None:
    await store.create(P + "a", b"1")
    await store.create("/registry/services/default/s", b"svc")
    await store.update(P + "a", b"2")
    events = store.watch("/registry/pods/", after=0)
    replay = await take(events, 2)
    assert [(e.type, e.kv) for e in replay] == [
        ("PUT", KeyValue(P + "a", b"1", 1, 1)),
        ("PUT", KeyValue(P + "a", b"2", 1, 3)),
    ]
    assert replay[0].prev is None and replay[1].prev == KeyValue(P + "a", b"1", 1, 1)
    await store.create("/registry/podsx/default/z", b"not mine")
    await store.delete(P + "a")
    (live,) = await take(events, 1)
    assert live.type == "DELETE"
    assert live.kv == KeyValue(P + "a", b"2", 1, 5)
    assert live.prev == KeyValue(P + "a", b"2", 1, 3)
    await events.aclose()


async def test_watch_after_a_revision_skips_older_events(store: Storage) -> None:
    for i in range(5):
        await store.create(P + f"p{i}", b"x")
    events = store.watch(P, after=3)
    got = await take(events, 2)
    assert [e.kv.mod_revision for e in got] == [4, 5]
    await store.create(P + "p5", b"x")
    assert [e.kv.mod_revision for e in await take(events, 1)] == [6]
    await events.aclose()


async def test_replayed_and_live_events_are_the_same(store: Storage) -> None:
    # A delete's replay must carry the same last value and prev as it did live.
    live = store.watch(P, after=0)
    await store.create(P + "a", b"1")
    await store.update(P + "a", b"2")
    await store.delete(P + "a")
    seen_live = await take(live, 3)
    replayed = await take(store.watch(P, after=0), 3)
    assert seen_live == replayed
    await live.aclose()


async def test_watch_started_during_writes_has_no_gap_and_no_duplicate(store: Storage) -> None:
    total = 400
    started = asyncio.Event()

    async def writer(n: int) -> None:
        for i in range(total // 8):
            await store.create(P + f"w{n}-{i}", b"x")
            if n == 0 and i == 10:
                started.set()

    writers = asyncio.gather(*(writer(n) for n in range(8)))
    await started.wait()
    events = store.watch(P, after=0)
    got = await take(events, total)  # the first iteration happens while writes go on
    await writers
    assert [e.kv.mod_revision for e in got] == list(range(1, total + 1))
    await events.aclose()


async def test_watch_from_compacted_revision_raises_compacted(store: Storage) -> None:
    for i in range(6):
        await store.create(P + f"p{i}", b"x")
    await store.update(P + "p0", b"y")  # revision 7
    await store.compact(4)
    assert await store.compacted_revision() == 4
    with pytest.raises(Compacted) as info:
        await anext(store.watch(P, after=3))
    assert info.value.requested == 3 and info.value.compacted == 4
    # Watching from the compacted revision itself still has everything after it.
    got = await take(store.watch(P, after=4), 3)
    assert [e.kv.mod_revision for e in got] == [5, 6, 7]
    assert got[2].prev == KeyValue(P + "p0", b"x", 1, 1)


async def test_list_at_compacted_revisions(store: Storage) -> None:
    await store.create(P + "a", b"1")  # 1
    await store.create(P + "b", b"1")  # 2
    await store.update(P + "a", b"2")  # 3
    await store.delete(P + "b")  # 4
    await store.create(P + "c", b"1")  # 5
    await store.update(P + "a", b"3")  # 6
    await store.compact(5)
    with pytest.raises(Compacted):
        await store.list(P, revision=4)
    # The state at the compacted revision is kept, and so is every later one.
    assert kv_pairs((await store.list(P, revision=5)).items) == [(P + "a", b"2"), (P + "c", b"1")]
    assert kv_pairs((await store.list(P, revision=6)).items) == [(P + "a", b"3"), (P + "c", b"1")]
    assert kv_pairs((await store.list(P)).items) == [(P + "a", b"3"), (P + "c", b"1")]


async def test_compaction_never_loses_current_values(store: Storage) -> None:
    await store.create(P + "a", b"1")
    await store.create(P + "b", b"1")
    await store.update(P + "a", b"2")
    await store.delete(P + "b")
    await store.create(P + "b", b"again")
    before = await store.list(P)
    await store.compact(await store.current_revision())
    assert await store.list(P) == before
    assert await store.get(P + "a") == KeyValue(P + "a", b"2", 1, 3)
    assert await store.current_revision() == 5
    # Compacting again at or below is harmless; compacting the future is refused.
    await store.compact(2)
    assert await store.compacted_revision() == 5
    with pytest.raises(StorageError):
        await store.compact(99)
    with pytest.raises(StorageError):
        await store.list(P, revision=99)
    # Writes and watches go on.
    events = store.watch(P, after=5)
    await store.update(P + "a", b"3", expected_revision=3)
    (event,) = await take(events, 1)
    assert event.kv == KeyValue(P + "a", b"3", 1, 6)
    assert event.prev == KeyValue(P + "a", b"2", 1, 3)
    await events.aclose()


async def test_watch_ends_when_the_store_closes(backend: Backend) -> None:
    s = backend.make()
    await s.start()
    await s.create(P + "a", b"1")
    events = s.watch(P, after=0)
    await take(events, 1)
    waiting = asyncio.create_task(anext(events))
    await asyncio.sleep(0)
    await s.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, GUARD)


# ---- concurrency ----------------------------------------------------------------------------


async def test_concurrent_writes_get_distinct_ordered_revisions(store: Storage) -> None:
    events = store.watch("/registry/", after=0)
    acked: dict[int, tuple[str, bytes]] = {}

    async def worker(n: int) -> None:
        key = P + f"w{n}"
        kv = await store.create(key, b"0")
        acked[kv.mod_revision] = (key, kv.value)
        for i in range(1, 10):
            kv = await store.update(key, str(i).encode())
            acked[kv.mod_revision] = (key, kv.value)

    await asyncio.gather(*(worker(n) for n in range(40)))
    assert sorted(acked) == list(range(1, 401))
    assert await store.current_revision() == 400
    seen = await take(events, 400)
    assert [e.kv.mod_revision for e in seen] == list(range(1, 401))
    assert all(acked[e.kv.mod_revision] == (e.kv.key, e.kv.value) for e in seen)
    assert kv_pairs((await store.list(P)).items) == sorted((P + f"w{n}", b"9") for n in range(40))
    await events.aclose()


async def test_compare_and_swap_increments_are_not_lost(store: Storage) -> None:
    await store.create(P + "counter", b"0")

    async def increment() -> None:
        while True:
            kv = await store.get(P + "counter")
            assert kv is not None
            try:
                await store.update(P + "counter", str(int(kv.value) + 1).encode(),
                                   expected_revision=kv.mod_revision)
                return
            except RevisionMismatch:
                continue

    await asyncio.gather(*(increment() for _ in range(30)))
    final = await store.get(P + "counter")
    assert final is not None and final.value == b"30"


async def test_slow_watcher_does_not_block_writers(backend: Backend) -> None:
    s = backend.make(slow=True)
    await s.start()
    try:
        total = backend.slow_watch_queue * 20
        await s.create(P + "p0000", b"x")
        stalled = s.watch(P, after=0)
        first = await anext(stalled)  # subscribed, then never read while writers run

        async def write_all() -> None:
            for i in range(1, total):
                await s.create(P + f"p{i:04d}", b"x")

        await asyncio.wait_for(write_all(), GUARD)  # would hang if writers waited on the watcher
        assert await s.current_revision() == total
        # What the stalled watcher gets is contiguous; it is either complete or ends with an
        # error the caller sees, never silently short.
        revisions = [first.kv.mod_revision]
        with pytest.raises(StorageError):
            async for event in stalled:
                revisions.append(event.kv.mod_revision)
        assert revisions == list(range(1, len(revisions) + 1))
        assert len(revisions) < total
        # Watching again from the last revision seen catches up.
        again = s.watch(P, after=revisions[-1])
        rest = await take(again, total - len(revisions))
        assert [e.kv.mod_revision for e in rest] == list(range(len(revisions) + 1, total + 1))
        await again.aclose()
    finally:
        await s.close()


# ---- durability -----------------------------------------------------------------------------


async def test_reopen_keeps_revision_history_and_data(backend: Backend) -> None:
    s = backend.make()
    await s.start()
    await s.create(P + "a", b"1")
    await s.create(P + "b", b"1")
    await s.update(P + "a", b"2")
    await s.delete(P + "b")  # the newest revision is a delete
    await s.compact(2)
    await s.close()

    s = backend.make()
    await s.start()
    try:
        assert await s.current_revision() == 4
        assert await s.compacted_revision() == 2
        assert await s.get(P + "a") == KeyValue(P + "a", b"2", 1, 3)
        assert await s.get(P + "b") is None
        assert kv_pairs((await s.list(P, revision=2)).items) == [(P + "a", b"1"), (P + "b", b"1")]
        got = await take(s.watch(P, after=2), 2)
        assert [(e.type, e.kv.mod_revision) for e in got] == [("PUT", 3), ("DELETE", 4)]
        assert (await s.create(P + "c", b"1")).mod_revision == 5
    finally:
        await s.close()


async def test_reopen_after_compacting_away_a_trailing_delete(backend: Backend) -> None:
    s = backend.make()
    await s.start()
    await s.create(P + "a", b"1")
    await s.delete(P + "a")
    await s.compact(2)  # nothing of the log may be left, yet the revision must not go back
    await s.close()
    s = backend.make()
    await s.start()
    try:
        assert await s.current_revision() == 2
        assert (await s.create(P + "a", b"2")).mod_revision == 3
    finally:
        await s.close()


_CHILD = """
import asyncio, sys
sys.path.insert(0, {repo!r})
{imports}

async def main():
    store = {open}
    await store.start()
    print("ready", flush=True)

    async def writer(n):
        i = 0
        while True:
            key = f"/registry/pods/default/w{{n}}-{{i}}"
            await store.create(key, b"v" * 512)
            print(key, flush=True)  # printed only once the store acknowledged it
            i += 1

    await asyncio.gather(*(writer(n) for n in range(8)))

asyncio.run(main())
"""


async def test_sigkill_mid_stream_loses_no_acknowledged_write(backend: Backend) -> None:
    code = _CHILD.format(repo=str(REPO), imports=backend.child_imports, open=backend.child_open)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=str(REPO),
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        async def read_until(n: int) -> None:
            while len(acked) < n:
                line = await child.stdout.readline()
                if not line:
                    raise AssertionError(f"child exited early with {await child.wait()}")
                if line.strip() != b"ready":
                    acked.append(line.decode().strip())

        await asyncio.wait_for(read_until(500), GUARD)
        os.kill(child.pid, signal.SIGKILL)
        # Lines already in the pipe were acknowledged too: read to the end.
        rest = await asyncio.wait_for(child.stdout.read(), GUARD)
        acked.extend(line for line in rest.decode().split("\n") if line.strip())
        assert await child.wait() == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()

    s = backend.make()
    await s.start()
    try:
        stored = {kv.key for kv in (await s.list(P)).items}
        missing = [key for key in acked if key not in stored]
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}"
        # Revisions are dense: whatever committed after the last acknowledgement is there too.
        assert await s.current_revision() == len(stored) >= len(acked)
    finally:
        await s.close()
