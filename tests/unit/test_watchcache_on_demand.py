"""Events in the watch cache are decoded on demand (watchcache.DECODED_ON_DEMAND, as Kubernetes
keeps them out of its watch cache): whatever the sequence of writes, deletes, lists, reads,
watches from a list or from a resourceVersion, and watches ending, clients see exactly what a
cache that decodes every object at once shows them."""

from __future__ import annotations

import asyncio
import random

import orjson
import pytest

from apiserver import watchcache
from apiserver.storage.interface import KeyValue, WatchEvent
from apiserver.watchcache import WatchCache


def _ev(name: str, reason: str, count: int) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "Event",
                         "metadata": {"name": name, "namespace": "d"},
                         "involvedObject": {"kind": "Pod", "name": name.split(".")[0]},
                         "reason": reason, "count": count})


class _Store:
    """What WatchCache.read asks a storage: the revision it acknowledged last."""

    def __init__(self) -> None:
        self.revision = 0

    async def current_revision(self) -> int:
        return self.revision


def _drain(w: watchcache.Watcher) -> list[tuple]:
    out = []
    while not w.queue.empty():
        ev = w.queue.get_nowait()
        out.append(None if ev is None else (ev.type, ev.revision, orjson.dumps(ev.obj),
                                            None if ev.prev is None else orjson.dumps(ev.prev)))
    return out


def _watch_filter(reason: str):
    return lambda o: o.get("reason") == reason


@pytest.mark.parametrize("seed", range(6))
def test_on_demand_decoding_shows_clients_what_eager_decoding_does(seed, monkeypatch):
    rnd = random.Random(seed)
    eager, lazy = WatchCache(storage=_Store()), WatchCache(storage=_Store())  # type: ignore[arg-type]
    monkeypatch.setattr(watchcache, "DECODED_ON_DEMAND", frozenset())
    eager.resource("events")  # made while nothing is on demand: decodes everything
    monkeypatch.undo()
    assert not eager.resource("events").on_demand and lazy.resource("events").on_demand
    for c in (eager, lazy):
        c._ready.set()  # as start() leaves it (nothing listed: the store starts empty)
    watches: list[tuple[watchcache.Watcher, watchcache.Watcher]] = []
    live: dict[str, int] = {}
    last: dict[str, bytes] = {}
    for rev in range(1, 400):
        op = rnd.random()
        name = f"p{rnd.randrange(12)}.{rnd.randrange(3)}"
        key = f"/registry/events/d/{name}"
        if op < 0.55 or not live:  # a write
            live[key] = live.get(key, 0) + 1
            last[key] = _ev(name, rnd.choice(["Pulled", "Started"]), live[key])
            sev = WatchEvent("PUT", KeyValue(key, last[key], rev, rev), None)
        elif op < 0.7:  # a delete of an object that exists
            key = rnd.choice(sorted(live))
            del live[key]
            # as the storages report it (storage/interface.py): the last value the key had
            sev = WatchEvent("DELETE", KeyValue(key, last.pop(key), rev, rev), None)
        else:
            sev = None
        if sev is not None:
            for c in (eager, lazy):
                c._apply(sev)
                c.storage.revision = rev
            continue
        if op < 0.78:  # a list, then reads of every object
            a, b = eager.snapshot("events", "/registry/events/"), lazy.snapshot("events", "/registry/events/d/")
            assert [orjson.dumps(o) for o in a[0]] == [orjson.dumps(o) for o in b[0]] and a[1] == b[1]
            for k in live:
                assert (asyncio.run(eager.read(k)) == asyncio.run(lazy.read(k))) and asyncio.run(lazy.read(k))
        elif op < 0.86:  # a watch from a list
            reason = rnd.choice(["Pulled", "Started"])
            pair = []
            for c in (eager, lazy):
                objs, _ = c.snapshot("events", "/registry/events/")
                w = c.subscribe("events", _watch_filter(reason), after=None,
                                initial=[o for o in objs if _watch_filter(reason)(o)])
                assert w is not None
                pair.append(w)
            watches.append((pair[0], pair[1]))
        elif op < 0.93:  # a watch from a recent resourceVersion (replayed from the ring)
            after = max(0, rev - rnd.randrange(1, 30))
            pair = [c.subscribe("events", lambda o: True, after=after) for c in (eager, lazy)]
            assert pair[0] is not None and pair[1] is not None
            watches.append((pair[0], pair[1]))
        elif watches:  # a watch ends
            we, wl = watches.pop(rnd.randrange(len(watches)))
            assert _drain(we) == _drain(wl)
            eager.unsubscribe(we)
            lazy.unsubscribe(wl)
        for we, wl in watches:
            assert _drain(we) == _drain(wl)
    for we, wl in watches:
        assert _drain(we) == _drain(wl)
    a, b = eager.snapshot("events", "/registry/events/"), lazy.snapshot("events", "/registry/events/")
    assert [orjson.dumps(o) for o in a[0]] == [orjson.dumps(o) for o in b[0]]
    assert [(e.type, e.revision, e.value, e.prev_value) for e in eager.resource("events").ring] == \
        [(e.type, e.revision, e.value, e.prev_value) for e in lazy.resource("events").ring]


def test_an_unfollowed_event_is_kept_as_bytes_only():
    cache = WatchCache(storage=_Store())  # type: ignore[arg-type]
    cache._ready.set()
    for rev in range(1, 6):
        cache._apply(WatchEvent("PUT", KeyValue(f"/registry/events/d/e{rev}", _ev(f"e{rev}", "Pulled", 1),
                                                rev, rev), None))
    rc = cache.resource("events")
    assert rc.objects == {} and len(rc.raw) == 5 and len(rc.undecoded) == 5 and cache.revision == 5
    objs, rev = cache.snapshot("events", "/registry/events/")
    assert [o["metadata"]["resourceVersion"] for o in objs] == ["1", "2", "3", "4", "5"] and rev == 5
    assert not rc.undecoded
    # a change after the list leaves the listed object stale: it is dropped, its bytes kept
    cache._apply(WatchEvent("PUT", KeyValue("/registry/events/d/e1", _ev("e1", "Pulled", 2), 6, 6), None))
    assert "/registry/events/d/e1" not in rc.objects and rc.undecoded == {"/registry/events/d/e1"}
    assert asyncio.run(cache.read("/registry/events/d/e1"))["count"] == 2
