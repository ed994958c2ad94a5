"""What the watch cache keeps (issue #14's memory growth): the ring holds stored bytes within
RING_BYTES and replays them decoded, a list-started watch shares one ADDED event per object,
and a watch starting from a list larger than WATCHER_QUEUE is not closed before it begins."""

from __future__ import annotations

import orjson

from apiserver import watchcache
from apiserver.storage.interface import KeyValue, WatchEvent
from apiserver.watchcache import WATCHER_QUEUE, WatchCache


def _cm(name: str, payload: str = "") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "d"},
            "data": {"p": payload}}


def _event(cache: WatchCache, rev: int, name: str, payload: str = "", type_: str = "PUT") -> None:
    kv = KeyValue(f"/registry/configmaps/d/{name}", orjson.dumps(_cm(name, payload)), rev, rev)
    cache._apply(WatchEvent(type_, kv, None))


def test_ring_keeps_bytes_within_its_budget_and_replays_them(monkeypatch):
    monkeypatch.setattr(watchcache, "RING_BYTES", 20_000)
    cache = WatchCache(storage=None)  # type: ignore[arg-type]
    for rev in range(1, 101):
        _event(cache, rev, f"c{rev % 5}", "x" * 1000)
    rc = cache.resource("configmaps")
    assert rc.ring_bytes <= 20_000 and len(rc.ring) < 100
    assert all(isinstance(e.value, bytes) for e in rc.ring)  # bytes, no decoded dicts
    oldest = rc.ring[0].revision
    assert rc.start_revision == oldest - 1
    assert cache.subscribe("configmaps", lambda o: True, after=oldest - 2) is None  # older than the ring
    w = cache.subscribe("configmaps", lambda o: True, after=95)
    assert w is not None
    replayed = [w.queue.get_nowait() for _ in range(w.queue.qsize())]
    assert [(e.type, e.revision) for e in replayed] == [("MODIFIED", r) for r in range(96, 101)]
    assert replayed[-1].obj["metadata"]["resourceVersion"] == "100"
    assert replayed[-1].prev["metadata"]["resourceVersion"] == "95"


def test_watches_from_a_list_share_one_added_event_per_object():
    cache = WatchCache(storage=None)  # type: ignore[arg-type]
    for rev in range(1, 4):
        _event(cache, rev, f"c{rev}")
    objs, _ = cache.snapshot("configmaps", "/registry/configmaps/")
    a = cache.subscribe("configmaps", lambda o: True, after=None, initial=objs)
    b = cache.subscribe("configmaps", lambda o: True, after=None, initial=objs)
    assert a is not None and b is not None
    ea, eb = a.queue.get_nowait(), b.queue.get_nowait()
    assert ea is eb and ea.encoded() is eb.encoded()
    _event(cache, 4, "c1", "changed")  # a changed object gets a new ADDED event for later lists
    objs, _ = cache.snapshot("configmaps", "/registry/configmaps/")
    c = cache.subscribe("configmaps", lambda o: True, after=None, initial=objs)
    assert c is not None and c.queue.get_nowait().obj["data"] == {"p": "changed"}


def test_a_list_larger_than_the_watcher_queue_is_delivered_whole():
    cache = WatchCache(storage=None)  # type: ignore[arg-type]
    objs = [{**_cm(f"c{i}"), "metadata": {"name": f"c{i}", "namespace": "d", "resourceVersion": str(i + 1)}}
            for i in range(WATCHER_QUEUE + 50)]
    w = cache.subscribe("configmaps", lambda o: True, after=None, initial=objs)
    assert w is not None and not w.closed
    assert w.queue.qsize() == WATCHER_QUEUE + 50
