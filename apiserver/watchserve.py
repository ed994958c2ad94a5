"""Serving a watch (Kubernetes' ``handlers/watch.go``): from a list request with ``watch=true``
(or a legacy ``/watch/`` path) to a stream of ``{"type": ..., "object": ...}`` events.

:func:`watch` subscribes to the watch cache (:mod:`apiserver.watchcache`): from its current
state when the request names no resourceVersion (or ``0``, or asks for the initial events,
which then end with a bookmark annotated ``k8s.io/initial-events-end``), else from the
revision after the one named. A revision older than the cache's ring is replayed from the
storage's own history (:func:`_pump_storage`); one older than the storage's compaction ends
the watch with an ERROR event carrying a 410 Gone Status, as Kubernetes does.

:func:`_stream` writes the events as newline-delimited JSON (a one-row meta/v1 Table per
event when the client asked for Tables, the column definitions in the first only; a custom
resource in the version asked for), batching what is queued into one chunk, sends a BOOKMARK
when the stream was idle for :data:`BOOKMARK_INTERVAL` and the client allows them, and ends at
``timeoutSeconds`` (by default a random 30-60 minutes, as Kubernetes spreads its watches' ends).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from apiserver import errors, params, printers
from apiserver.metrics import cache as watch_metrics
from apiserver.registry.table import Entry
from apiserver.responses import JSON, wants_table
from apiserver.rest import ListOptions, parse_resource_version, storage_key
from apiserver.scope import Server
from apiserver.storage.interface import Compacted
from apiserver.watchcache import CacheEvent, Watcher, decode
from minik8s.api import resources as rs

__all__ = ["BOOKMARK_INTERVAL", "watch"]

log = logging.getLogger(__name__)

#: Seconds a watch stream may be idle before it sends a BOOKMARK (when the client allows them).
BOOKMARK_INTERVAL = 5.0


async def watch(server: Server, request: Request, entry: Entry, ns: str | None, opts: ListOptions,
                lq: params.ListQuery) -> Response:
    """The streamed answer to a watch of ``entry`` (in ``ns``) with ``opts``."""
    cache = server.cache
    matches = server.rest.matcher(entry, ns if entry.type.namespaced else None, opts)
    plural = entry.resource
    node = _pinned_node(entry, opts.field_selector)
    rv = opts.resource_version
    send_initial = bool(lq.send_initial_events)
    pump: asyncio.Task[None] | None = None
    if rv in (None, "", "0") or send_initial:
        if rv in (None, ""):
            await cache.wait_current()
        objs, rev = cache.snapshot(plural, storage_key(entry, ns if entry.type.namespaced else None))
        watcher = cache.subscribe(plural, matches, after=None, initial=[o for o in objs if matches(o)], node=node)
        assert watcher is not None
        if send_initial:
            watcher.queue.put_nowait(CacheEvent("BOOKMARK", _bookmark(entry, rev, initial_end=True), None, rev))
    else:
        after = parse_resource_version(rv)
        subscribed = cache.subscribe(plural, matches, after=after, node=node)
        if subscribed is None:  # older than the ring: replay from the storage's history
            watcher = Watcher(plural, matches)
            pump = asyncio.create_task(_pump_storage(server, entry, ns, after, watcher))
        else:
            watcher = subscribed
    timeout = float(lq.timeout_seconds or random.uniform(1800, 3600))
    bookmarks = lq.allow_bookmarks
    table = wants_table(request)
    return StreamingResponse(_stream(server, request, entry, watcher, timeout, bookmarks, table, pump),
                             media_type=JSON)


def _bookmark(entry: Entry, rev: int, *, initial_end: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"resourceVersion": str(rev)}
    if initial_end:
        md["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": entry.type.kind, "apiVersion": entry.type.group_version, "metadata": md}


async def _pump_storage(server: Server, entry: Entry, ns: str | None, after: int, watcher: Watcher) -> None:
    """Feed ``watcher`` from the storage's own watch (a revision the cache's ring no longer has)."""
    prefix = storage_key(entry, ns if entry.type.namespaced else None)
    try:
        async for sev in server.storage.watch(prefix, after=after):
            if sev.type == "PROGRESS":  # no change: the stream's own bookmarks say the revision
                continue
            prev = decode(sev.prev.value, sev.prev.mod_revision) if sev.prev else None
            if sev.type == "DELETE":
                ev = CacheEvent("DELETED", decode(sev.kv.value, sev.kv.mod_revision), prev, sev.kv.mod_revision)
            else:
                ev = CacheEvent("ADDED" if prev is None else "MODIFIED",
                                decode(sev.kv.value, sev.kv.mod_revision), prev, sev.kv.mod_revision)
            watcher.offer(ev)
            if watcher.closed:
                return
    except Compacted as e:
        err = errors.Gone(f"too old resource version: {after} ({e.compacted})")
        watcher.queue.put_nowait(CacheEvent("ERROR", err.status(), None, 0))
        watcher.close()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.warning("storage watch for %s ended", prefix, exc_info=True)
        watcher.close()


async def _stream(server: Server, request: Request, entry: Entry, watcher: Watcher, timeout: float,
                  bookmarks: bool, table: bool, pump: asyncio.Task[None] | None) -> AsyncIterator[bytes]:
    cache = server.cache
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    queue = watcher.queue
    first_table = True
    last_rev = 0
    # One timer per stream wakes it when it has been idle for BOOKMARK_INTERVAL or its
    # time is up; a timeout armed and cancelled around every wait cost more than the
    # rest of delivering an event.
    idle_since = loop.time()
    timer: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal timer
        now = loop.time()
        if now >= deadline:
            queue.wake()  # once: the stream ends as soon as it looks
            timer = None
            return
        due = idle_since + BOOKMARK_INTERVAL
        if now >= due:
            queue.wake()
            due = now + BOOKMARK_INTERVAL
        timer = loop.call_at(min(due, deadline), tick)

    timer = loop.call_at(min(idle_since + BOOKMARK_INTERVAL, deadline), tick)
    try:
        while True:
            if loop.time() >= deadline:  # the timer's last wake may have come while we sent
                return
            await queue.wait()
            now = loop.time()
            if now >= deadline:
                return
            if queue.empty():  # the timer: idle for BOOKMARK_INTERVAL
                idle_since = now
                if bookmarks and pump is None:
                    yield orjson.dumps({"type": "BOOKMARK", "object": _bookmark(entry, cache.revision)}) + b"\n"
                continue
            idle_since = now
            ev = queue.get_nowait()
            chunks: list[bytes] = []
            while ev is not None:
                if ev.type in ("BOOKMARK", "ERROR"):
                    if ev.type == "ERROR" or bookmarks:
                        chunks.append(orjson.dumps({"type": ev.type, "object": ev.obj}) + b"\n")
                elif table:
                    t = printers.table(entry.printer, [ev.obj], include_object="Object" if request.query_params.get("includeObject") == "Object" else "Metadata",
                                       resource_version=str(ev.revision), with_columns=first_table)
                    first_table = False
                    chunks.append(orjson.dumps({"type": ev.type, "object": t}) + b"\n")
                elif entry.custom is not None:
                    chunks.append(orjson.dumps({"type": ev.type, "object": entry.custom.convert_out(ev.obj)})
                                  + b"\n")
                else:
                    chunks.append(ev.encoded())
                last_rev = ev.revision
                if queue.empty() or len(chunks) >= 256:
                    break
                ev = queue.get_nowait()
            if chunks:
                yield b"".join(chunks)
                watch_metrics.SENT[entry.type] += len(chunks)
            if ev is None:
                return
    finally:
        if timer is not None:
            timer.cancel()
        cache.unsubscribe(watcher)
        if pump is not None:
            pump.cancel()
        del last_rev


def _pinned_node(entry: Entry, field_selector: str | None) -> str | None:
    """The node a pod watch is pinned to by ``spec.nodeName=X`` (the watch cache indexes those)."""
    if entry.type is not rs.PODS or not field_selector or "spec.nodeName" not in field_selector:
        return None
    from minik8s import fields
    try:
        return fields.parse(field_selector).requires_exact_match("spec.nodeName")
    except ValueError:
        return None
