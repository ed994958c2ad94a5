"""The apiserver's watch cache: one storage watch for every resource, fanned out to every client.

``WatchCache`` lists ``/registry/`` once at start, then follows one storage watch. It keeps, per
resource, the current objects (decoded, with ``metadata.resourceVersion`` set) and a bounded ring
of recent events, so that:

* lists are served from memory once the cache has caught up with the revision the request needs
  (:meth:`wait_fresh`), consistent with what the storage acknowledged;
* watches from a recent resourceVersion replay from the ring and then follow live events;
  an older one falls back to the storage's own history (or 410 Gone once compacted);
* each event is encoded to JSON at most once, however many clients receive it;
* a slow client never slows the others: each watcher has a bounded queue and is closed (the
  client re-watches from its last resourceVersion) when it overflows;
* Events, which Kubernetes keeps out of its watch cache altogether (``DefaultWatchCacheSizes``:
  ``events`` 0) because they are written far more than read, are decoded only while something
  follows them (a watch, an in-process listener) or when a list needs them: until then the
  cache keeps each one's stored bytes, as it does for every object, and its ring of events.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

import orjson

from apiserver.storage.interface import Storage, WatchEvent

log = logging.getLogger(__name__)

# How many events per resource the ring keeps for watch resumption, and how many bytes of
# stored objects at most: the ring holds the stored bytes of each event (decoded again only to
# replay a resumed watch), never the decoded dicts, which cost 5-8 times as much.
RING_SIZE = 20000
RING_BYTES = 16 * 1024 * 1024
# Per-watcher queue bound: past it the watcher is closed rather than slowing the fan-out.
WATCHER_QUEUE = 10000
# Resources whose objects are decoded on demand (see the module docstring): Kubernetes' watch
# cache leaves out exactly these. Half of the writes of a pod's start are its Events (Scheduled,
# Pulled, Created, Started), and a decoded Event kept in memory costs the decode and a few dozen
# objects the cyclic collector scans again and again.
DECODED_ON_DEMAND = frozenset({"events"})


class CacheEvent:
    """One change, as clients see it: type ADDED|MODIFIED|DELETED, the object, its previous
    state (for selector transitions) and the revision. ``encoded`` is built on first use."""

    __slots__ = ("type", "obj", "prev", "revision", "_encoded")

    def __init__(self, type_: str, obj: dict[str, Any], prev: dict[str, Any] | None, revision: int) -> None:
        self.type = type_
        self.obj = obj
        self.prev = prev
        self.revision = revision
        self._encoded: bytes | None = None

    def encoded(self) -> bytes:
        """``{"type":..,"object":..}\\n`` — shared by every plain-JSON watcher."""
        if self._encoded is None:
            self._encoded = orjson.dumps({"type": self.type, "object": self.obj}) + b"\n"
        return self._encoded


Filter = Callable[[dict[str, Any]], bool]


class EventQueue:
    """A bounded FIFO with one consumer: what ``asyncio.Queue`` does for a watcher, at a
    fraction of its cost per event (no task accounting, one waiter). Every event of a
    resource passes through the queue of every watcher of it, so this is the fan-out's
    inner loop. ``wake()`` lets a timer end the consumer's :meth:`wait` without an item."""

    __slots__ = ("_items", "_maxsize", "_waiter")

    def __init__(self, maxsize: int) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self._maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if len(self._items) >= self._maxsize:
            raise asyncio.QueueFull
        self._items.append(item)
        self.wake()

    def wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def wait(self) -> None:
        """Return once an item is queued (at once if one is) or :meth:`wake` was called."""
        if self._items:
            return
        w = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await w
        finally:
            if self._waiter is w:
                self._waiter = None

    async def get(self) -> Any:
        while not self._items:
            await self.wait()
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Watcher:
    """One client watch: a filter and a bounded queue of CacheEvents (None = closed).

    ``node`` is set when the watch's field selector pins ``spec.nodeName`` (every kubelet's pod
    watch): such watchers are indexed by node, so an event is offered only to the watchers of
    the nodes it concerns instead of to all of them — with a thousand nodes this is the
    difference between one and a thousand filter runs per pod event."""

    __slots__ = ("matches", "queue", "closed", "resource", "node")

    def __init__(self, resource: str, matches: Filter, *, node: str | None = None, initial: int = 0) -> None:
        self.resource = resource
        self.matches = matches
        self.node = node
        # room for the initial list on top of the usual bound: a watch that starts from a list
        # of more than WATCHER_QUEUE objects must not be closed before it sent one event
        self.queue = EventQueue(WATCHER_QUEUE + initial)
        self.closed = False

    def offer(self, ev: CacheEvent) -> None:
        """Deliver ``ev`` as this watcher sees it (selector transitions become ADDED/DELETED)."""
        if self.closed:
            return
        now = self.matches(ev.obj) if ev.type != "DELETED" else False
        before = ev.prev is not None and self.matches(ev.prev)
        if ev.type == "DELETED":
            if not before:
                return
        elif ev.type == "ADDED":
            if not now:
                return
        else:  # MODIFIED
            if now and not before and ev.prev is not None:
                ev = CacheEvent("ADDED", ev.obj, None, ev.revision)
            elif before and not now:
                ev = CacheEvent("DELETED", ev.obj, ev.prev, ev.revision)
            elif not now:
                return
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            # make room for the end marker: the client is being dropped anyway
            self.queue.get_nowait()
            self.queue.put_nowait(None)


class RingEntry:
    """A past event as the ring keeps it: the stored bytes (shared with the cache's ``raw``
    map and with the next entry's ``prev``), decoded again only to replay it."""

    __slots__ = ("type", "revision", "value", "prev_value", "prev_revision")

    def __init__(self, type_: str, revision: int, value: bytes, prev: tuple[bytes, int] | None) -> None:
        self.type = type_
        self.revision = revision
        self.value = value
        self.prev_value: bytes | None = prev[0] if prev is not None else None
        self.prev_revision = prev[1] if prev is not None else 0

    def event(self) -> CacheEvent:
        prev = decode(self.prev_value, self.prev_revision) if self.prev_value is not None else None
        return CacheEvent(self.type, decode(self.value, self.revision), prev, self.revision)


class ResourceCache:
    """Current objects and recent events of one resource (one storage key prefix)."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.objects: dict[str, dict[str, Any]] = {}
        # the stored bytes and revision of each object: a consistent read decodes a fresh
        # copy from them instead of asking the storage (a thread hop and a query)
        self.raw: dict[str, tuple[bytes, int]] = {}
        self.ring: collections.deque[RingEntry] = collections.deque()
        self.ring_bytes = 0
        # the ADDED event of each current object (by id of the dict in ``objects``) that some
        # watch started from a list: encoded once for all of them, not once per watch
        self.added: dict[int, CacheEvent] = {}
        self.watchers: set[Watcher] = set()  # those not indexed by node
        self.by_node: dict[str, set[Watcher]] = {}
        # in-process followers (the RBAC and Node authorizers' indexes), called with every event
        self.listeners: list[Callable[[CacheEvent], None]] = []
        # every event with revision > start_revision is in the ring
        self.start_revision = 0
        # DECODED_ON_DEMAND: keys in ``raw`` whose decoded object is not in ``objects`` (yet)
        self.on_demand = resource in DECODED_ON_DEMAND
        self.undecoded: set[str] = set()

    def followed(self) -> bool:
        """Whether a watch or an in-process listener wants each event as it comes."""
        return bool(self.watchers or self.by_node or self.listeners)

    def decode_all(self) -> None:
        """Fill ``objects`` with every object held only as stored bytes (on-demand resources)."""
        for key in self.undecoded:
            self.objects[key] = decode(*self.raw[key])
        self.undecoded.clear()

    def added_event(self, obj: dict[str, Any]) -> CacheEvent:
        ev = self.added.get(id(obj))
        if ev is None or ev.obj is not obj:
            ev = self.added[id(obj)] = CacheEvent("ADDED", obj, None, int(obj["metadata"]["resourceVersion"]))
        return ev

    def record(self, entry: RingEntry) -> None:
        """Keep ``entry`` for resumption within RING_SIZE events and RING_BYTES bytes."""
        self.ring.append(entry)
        self.ring_bytes += len(entry.value)
        while len(self.ring) > RING_SIZE or (self.ring_bytes > RING_BYTES and len(self.ring) > 1):
            old = self.ring.popleft()
            self.ring_bytes -= len(old.value)
            self.start_revision = old.revision

    def apply(self, ev: CacheEvent) -> None:
        for fn in self.listeners:
            fn(ev)
        for w in tuple(self.watchers):
            w.offer(ev)
        if self.by_node:
            node = _node_of(ev.obj)
            for w in tuple(self.by_node.get(node, ())):
                w.offer(ev)
            if ev.prev is not None:
                prev_node = _node_of(ev.prev)
                if prev_node != node:
                    for w in tuple(self.by_node.get(prev_node, ())):
                        w.offer(ev)

    def add(self, w: Watcher) -> None:
        if w.node is None:
            self.watchers.add(w)
        else:
            self.by_node.setdefault(w.node, set()).add(w)

    def discard(self, w: Watcher) -> None:
        if w.node is None:
            self.watchers.discard(w)
            return
        ws = self.by_node.get(w.node)
        if ws is not None:
            ws.discard(w)
            if not ws:
                del self.by_node[w.node]

    def all_watchers(self) -> list[Watcher]:
        return [*self.watchers, *(w for ws in self.by_node.values() for w in ws)]


def _node_of(obj: dict[str, Any]) -> str:
    return (obj.get("spec") or {}).get("nodeName") or ""


def decode(value: bytes, revision: int) -> dict[str, Any]:
    """A stored object as clients see it: with its resourceVersion."""
    obj: dict[str, Any] = orjson.loads(value)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj


def resource_of(key: str) -> str:
    """``/registry/pods/default/x`` → ``pods``."""
    return key.split("/", 3)[2]


class WatchCache:
    def __init__(self, storage: Storage, *, prefix: str = "/registry/") -> None:
        self.storage = storage
        self.prefix = prefix
        self._resources: dict[str, ResourceCache] = {}
        self.revision = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def resource(self, name: str) -> ResourceCache:
        rc = self._resources.get(name)
        if rc is None:
            rc = self._resources[name] = ResourceCache(name)
            rc.start_revision = self.revision
        return rc

    async def start(self) -> None:
        listed = await self.storage.list(self.prefix)
        for kv in listed.items:
            rc = self.resource(resource_of(kv.key))
            rc.raw[kv.key] = (kv.value, kv.mod_revision)
            if rc.on_demand:
                rc.undecoded.add(kv.key)
            else:
                rc.objects[kv.key] = decode(kv.value, kv.mod_revision)
        self.revision = listed.revision
        for rc in self._resources.values():
            rc.start_revision = listed.revision
        self._ready.set()
        self._task = asyncio.create_task(self._follow(listed.revision), name="watchcache")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for rc in self._resources.values():
            for w in rc.all_watchers():
                w.close()

    async def _follow(self, after: int) -> None:
        while True:
            try:
                async for ev in self.storage.watch(self.prefix, after=after):
                    self._apply(ev)
                    after = ev.kv.mod_revision
            except asyncio.CancelledError:
                raise
            except Exception:  # the storage watch ended (overflow, restart): resume after the last event
                log.warning("storage watch ended; resuming after revision %d", after, exc_info=True)
                await asyncio.sleep(0.05)

    def _apply(self, sev: WatchEvent) -> None:
        if sev.type == "PROGRESS":  # nothing changed up to it: the cache is that fresh
            self._advance(sev.kv.mod_revision)
            return
        key = sev.kv.key
        rc = self.resource(resource_of(key))
        if rc.on_demand:
            if not rc.followed():
                self._keep_undecoded(rc, sev)
                return
            rc.decode_all()  # a watch or listener came since: events carry objects again
        rev = sev.kv.mod_revision
        prev = rc.objects.get(key)
        prev_raw = rc.raw.get(key)
        if prev is not None:
            rc.added.pop(id(prev), None)
        if sev.type == "DELETE":
            rc.objects.pop(key, None)
            rc.raw.pop(key, None)
            obj = decode(sev.kv.value, rev) if prev is None else dict(prev)
            if prev is not None:
                obj["metadata"] = {**prev["metadata"], "resourceVersion": str(rev)}
            ev = CacheEvent("DELETED", obj, prev, rev)
        else:
            obj = decode(sev.kv.value, rev)
            rc.objects[key] = obj
            rc.raw[key] = (sev.kv.value, rev)
            ev = CacheEvent("ADDED" if prev is None else "MODIFIED", obj, prev, rev)
        self.revision = rev
        rc.record(RingEntry(ev.type, rev, sev.kv.value, prev_raw))
        rc.apply(ev)
        self._advance(rev)

    def _keep_undecoded(self, rc: ResourceCache, sev: WatchEvent) -> None:
        """``_apply`` for an on-demand resource nobody follows: the stored bytes and the ring
        entry, the revision, no decoded object and no CacheEvent (nobody would receive it)."""
        key, rev = sev.kv.key, sev.kv.mod_revision
        prev = rc.objects.pop(key, None)  # decoded by a list before: stale from now on
        if prev is not None:
            rc.added.pop(id(prev), None)
        prev_raw = rc.raw.get(key)
        if sev.type == "DELETE":
            rc.raw.pop(key, None)
            rc.undecoded.discard(key)
            type_ = "DELETED"
        else:
            rc.raw[key] = (sev.kv.value, rev)
            rc.undecoded.add(key)
            type_ = "ADDED" if prev_raw is None else "MODIFIED"
        self.revision = rev
        rc.record(RingEntry(type_, rev, sev.kv.value, prev_raw))
        self._advance(rev)

    def _advance(self, rev: int) -> None:
        """Every write up to ``rev`` is in the cache: wake who waits for it."""
        if rev > self.revision:
            self.revision = rev
        if self._waiters:
            still = []
            for want, fut in self._waiters:
                if want <= rev:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((want, fut))
            self._waiters = still

    async def wait_fresh(self, revision: int, *, timeout: float = 3.0) -> None:
        """Return once every write up to ``revision`` is in the cache."""
        await self._ready.wait()
        if self.revision >= revision:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, fut))
        # A store whose revisions also count writes outside our prefix (a shared etcd) says how far
        # its watch has come when asked (a PROGRESS event), as Kubernetes' watch cache asks etcd.
        request = getattr(self.storage, "request_progress", None)
        if request is not None:
            await request()
        await asyncio.wait_for(fut, timeout)

    async def wait_current(self) -> None:
        """Catch up with everything the storage has acknowledged so far."""
        await self.wait_fresh(await self.storage.current_revision())

    async def read(self, key: str) -> dict[str, Any] | None:
        """The object at ``key`` as the storage has it now (None: there is none), as a fresh
        dict the caller may change: what ``storage.get`` answers, without leaving the loop.

        Consistent: the cache first catches up with every write the storage acknowledged
        before this call (TimeoutError when it cannot within the usual wait)."""
        await self.wait_current()
        rc = self._resources.get(resource_of(key))
        found = rc.raw.get(key) if rc is not None else None
        return None if found is None else decode(*found)

    def snapshot(self, resource: str, key_prefix: str) -> tuple[list[dict[str, Any]], int]:
        """The objects under ``key_prefix`` sorted by key, and the revision they are at."""
        rc = self.resource(resource)
        if rc.undecoded:
            rc.decode_all()
        if key_prefix.count("/") <= 3:  # the whole resource
            items = sorted(rc.objects.items())
        else:
            items = sorted((k, o) for k, o in rc.objects.items() if k.startswith(key_prefix))
        return [o for _, o in items], self.revision

    def subscribe(self, resource: str, matches: Filter, *, after: int | None,
                  initial: list[dict[str, Any]] | None = None, node: str | None = None) -> Watcher | None:
        """A watcher getting events after ``after`` (replayed from the ring), or with
        ``initial`` objects sent as ADDED first. None when ``after`` is older than the ring
        holds (the caller falls back to the storage history). ``node``: the watch only wants
        objects whose ``spec.nodeName`` is (or was) this node — ``matches`` must imply it."""
        rc = self.resource(resource)
        w = Watcher(resource, matches, node=node, initial=len(initial) if initial is not None else 0)
        if initial is not None:
            for o in initial:
                w.offer(rc.added_event(o))
        elif after is not None:
            if after < rc.start_revision:
                return None
            for entry in rc.ring:
                if entry.revision > after:
                    w.offer(entry.event())
        rc.add(w)
        return w

    def listen(self, resource: str, fn: Callable[[CacheEvent], None]) -> list[dict[str, Any]]:
        """Call ``fn`` synchronously with every later event of ``resource``; answer its current
        objects. For in-process indexes that must never lag the cache (authorization): no queue,
        no task, nothing between the cache's state and theirs. ``fn`` must not raise or block."""
        rc = self.resource(resource)
        rc.decode_all()
        rc.listeners.append(fn)
        return list(rc.objects.values())

    def unsubscribe(self, w: Watcher) -> None:
        rc = self._resources.get(w.resource)
        if rc is not None:
            rc.discard(w)
        w.closed = True

    def namespace_exists(self, name: str) -> dict[str, Any] | None:
        return self.resource("namespaces").objects.get(f"/registry/namespaces/{name}")
