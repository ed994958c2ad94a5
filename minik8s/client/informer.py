"""Informers: a local, watch-fed copy of one resource, and handlers told of every change.

As client-go's shared informer (reflector + store + handlers in one): ``run()`` lists, fills
the :class:`~minik8s.client.cache.Store`, then watches from the list's resourceVersion with
bookmarks and a server-side timeout of 5–10 minutes, resuming from the last resourceVersion
seen whenever a stream ends. A 410 (history compacted) triggers a relist, diffed against the
store into adds, updates and deletes, so handlers miss nothing. An unreachable apiserver is
retried with jittered exponential backoff and reported once, not once per attempt.

Handlers are plain callables run on the event loop; they must be cheap (enqueue a key and
return). An update whose resourceVersion did not change is not delivered — except by the
periodic resync (``resync_period > 0``), which hands every cached object to ``on_update(obj,
obj)`` as client-go does; handlers that want no resyncs compare resourceVersions. A delete seen
only on relist hands ``on_delete`` the last state the cache held.

:class:`SharedInformerFactory` gives every controller of a process the same informer for the
same (resource, namespace, selectors), so one watch feeds them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from minik8s import errors, taskgroup
from minik8s.api.resources import ResourceType, object_key
from minik8s.client.cache import DEFAULT_INDEXERS, IndexFunc, Store

if TYPE_CHECKING:
    from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

AddHandler = Callable[[dict[str, Any]], None]
UpdateHandler = Callable[[dict[str, Any], dict[str, Any]], None]
DeleteHandler = Callable[[dict[str, Any]], None]

# client-go: a watch lasts minWatchTimeout * (1 + rand) so that watches spread their relists.
_MIN_WATCH_TIMEOUT = 300
# client-go's reflector backoff: 800 ms doubling to 30 s, full jitter on top.
_BACKOFF_BASE, _BACKOFF_CAP = 0.8, 30.0
_LIST_PAGE = 500


def _rv(obj: dict[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


class _Handler:
    __slots__ = ("on_add", "on_update", "on_delete")

    def __init__(self, on_add: AddHandler | None, on_update: UpdateHandler | None,
                 on_delete: DeleteHandler | None) -> None:
        self.on_add, self.on_update, self.on_delete = on_add, on_update, on_delete


class Informer:
    """List-then-watch one resource into a Store, calling handlers on each change."""

    def __init__(
        self,
        client: ApiClient,  # imported for the type checker only: this module stays free of HTTP
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> None:
        self.client = client
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.store = Store(indexers={**DEFAULT_INDEXERS, **(indexers or {})})
        self._handlers: list[_Handler] = []
        self._synced = asyncio.Event()
        self._last_rv: str | None = None
        self._unreachable_since_logged = False
        self._failures = 0
        self._stopped = False

    def __repr__(self) -> str:
        return f"Informer({self.rt.group_resource}, namespace={self.namespace!r})"

    # setup

    def add_handler(self, *, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                    on_delete: DeleteHandler | None = None) -> None:
        """Register handlers. Added after the first sync, ``on_add`` is replayed for every cached
        object, so a late handler sees the same world as an early one."""
        handler = _Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if self.has_synced and on_add is not None:
            for obj in self.store.list():
                self._call(on_add, obj)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        self.store.add_indexers(indexers)

    @property
    def has_synced(self) -> bool:
        """True once the first list is in the store and its adds were delivered."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    @property
    def last_sync_resource_version(self) -> str | None:
        return self._last_rv

    def stop(self) -> None:
        """Make ``run`` return after its current watch; cancel the run task to stop at once."""
        self._stopped = True

    # the loop

    async def run(self) -> None:
        """List and watch until cancelled (or ``stop()``); never raises for server trouble."""
        resync_task = None
        if self.resync_period > 0:
            resync_task = asyncio.create_task(self._resync_loop(), name=f"resync {self!r}")
        need_list = True
        try:
            while not self._stopped:
                try:
                    if need_list:
                        await self._list()
                        need_list = False
                    if await self._watch():
                        self._recovered()
                    else:
                        # A stream the server ends at once, again and again, must not spin.
                        await self._backoff()
                except errors.Gone:
                    # History before our resourceVersion is gone: only a fresh list can catch up.
                    log.info("%r: resourceVersion %s expired, relisting", self, self._last_rv)
                    need_list = True
                    self._last_rv = None
                except errors.ConnectionFailed as e:
                    self._report_unreachable(e)
                    await self._backoff()
                except errors.ApiError as e:
                    # 403/5xx/429...: server trouble worth one line each, then a fresh start.
                    log.warning("%r: %s; retrying", self, e)
                    need_list = need_list or not self._last_rv
                    await self._backoff()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%r: unexpected error; retrying", self)
                    need_list = True
                    await self._backoff()
        finally:
            if resync_task is not None:
                resync_task.cancel()

    async def _list(self) -> None:
        lst = await self.client.list_all(
            self.rt, namespace=self.namespace, label_selector=self.label_selector,
            field_selector=self.field_selector, limit=_LIST_PAGE,
        )
        self._recovered()
        self._replace(lst.get("items") or [])
        self._last_rv = (lst.get("metadata") or {}).get("resourceVersion") or None
        self._synced.set()

    async def _watch(self) -> bool:
        """One watch stream to its end; False if it ended at once without delivering anything."""
        started = asyncio.get_running_loop().time()
        timeout = int(_MIN_WATCH_TIMEOUT * (1 + random.random()))
        stream = self.client.watch(
            self.rt, namespace=self.namespace, resource_version=self._last_rv,
            label_selector=self.label_selector, field_selector=self.field_selector,
            allow_bookmarks=True, timeout_seconds=timeout,
        )
        delivered = False
        async with contextlib.aclosing(stream):
            async for ev in stream:
                if not delivered:
                    self._recovered()
                    delivered = True
                self._apply(ev.type, ev.object)
                if self._stopped:
                    break
        return delivered or asyncio.get_running_loop().time() - started > 1.0

    # applying changes

    def _apply(self, etype: str, obj: dict[str, Any]) -> None:
        rv = _rv(obj)
        if etype == "BOOKMARK":
            pass
        elif etype in ("ADDED", "MODIFIED"):
            old = self.store.add(obj)
            if old is None:
                self._dispatch_add(obj)
            elif _rv(old) != rv:
                self._dispatch_update(old, obj)
        elif etype == "DELETED":
            self.store.delete(obj)
            self._dispatch_delete(obj)
        else:
            log.warning("%r: unknown watch event type %r ignored", self, etype)
        if rv:
            self._last_rv = rv

    def _replace(self, items: list[dict[str, Any]]) -> None:
        """Make the store equal to a fresh list, telling handlers what changed."""
        old = {k: self.store.get(k) for k in self.store.keys()}
        self.store.replace(items)
        for obj in items:
            prev = old.pop(object_key(obj), None)
            if prev is None:
                self._dispatch_add(obj)
            elif _rv(prev) != _rv(obj):
                self._dispatch_update(prev, obj)
        for gone in old.values():
            if gone is not None:
                self._dispatch_delete(gone)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            if self.has_synced:
                for obj in self.store.list():
                    self._dispatch_update(obj, obj)

    def _dispatch_add(self, obj: dict[str, Any]) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _dispatch_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _dispatch_delete(self, obj: dict[str, Any]) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, fn: Callable[..., Any], *args: dict[str, Any]) -> None:
        # One bad handler must not stop the cache (and every other handler) from updating.
        try:
            fn(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, fn)

    # trouble

    def _report_unreachable(self, e: Exception) -> None:
        if not self._unreachable_since_logged:
            log.warning("%r: cannot reach the apiserver (%s); retrying with backoff", self, e)
            self._unreachable_since_logged = True
        else:
            log.debug("%r: still cannot reach the apiserver: %s", self, e)

    def _recovered(self) -> None:
        if self._unreachable_since_logged:
            log.info("%r: apiserver reachable again", self)
            self._unreachable_since_logged = False
        self._failures = 0

    async def _backoff(self) -> None:
        delay = min(_BACKOFF_CAP, _BACKOFF_BASE * (2 ** min(self._failures, 10)))
        self._failures += 1
        await asyncio.sleep(delay * (0.5 + random.random()))


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors) for the whole process."""

    def __init__(self, client: ApiClient, *, resync_period: float = 0.0) -> None:
        self.client = client
        self.resync_period = resync_period
        self._informers: dict[tuple[Any, ...], Informer] = {}
        self._tasks: dict[tuple[Any, ...], asyncio.Task[Any]] = {}
        self._removed: set[asyncio.Task[Any]] = set()  # removed informers' tasks, cancelled, maybe not ended

    def informer(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> Informer:
        """The shared informer; a later caller's extra indexers are added to it."""
        key = (rt, namespace, label_selector or None, field_selector or None)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(
                self.client, rt, namespace=namespace, label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.resync_period if resync_period is None else resync_period,
                indexers=indexers,
            )
            self._informers[key] = inf
        elif indexers:
            inf.add_indexers({k: v for k, v in indexers.items() if k not in inf.store.indexers})
        return inf

    def start(self) -> None:
        """Run every informer not yet running (call again after asking for more)."""
        for key, inf in self._informers.items():
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(inf.run(), name=f"informer {inf!r}")

    async def wait_for_sync(self, *, timeout: float | None = None) -> bool:
        """Wait until every started informer has listed; False if ``timeout`` ran out first."""
        waits = [inf.wait_synced() for key, inf in self._informers.items() if key in self._tasks]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            return False
        return True

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def remove(self, informer: Informer) -> None:
        """Stop one informer and forget it (a custom resource that is no longer served).

        Called from event handlers, which cannot wait: the informer's task is cancelled here and
        :meth:`shutdown` waits for it with the others."""
        for key, inf in list(self._informers.items()):
            if inf is informer:
                del self._informers[key]
                task = self._tasks.pop(key, None)
                if task is not None:
                    task.cancel()
                    self._removed.add(task)
                    task.add_done_callback(self._removed.discard)

    async def shutdown(self) -> None:
        """Stop and wait until every informer task (removed ones too) has ended."""
        tasks = [*self._tasks.values(), *self._removed]
        self._tasks.clear()
        await taskgroup.cancel_and_wait(tasks)
