"""Serving a watch (Kubernetes' ``handlers/watch.go``): from a list request with ``watch=true``
(or a legacy ``/watch/`` path) to a stream of ``{"type": ..., "object": ...}`` events, over
chunked HTTP or over a WebSocket.

:func:`watch` subscribes to the watch cache (:mod:`apiserver.watchcache`): from its current
state when the request names no resourceVersion (or ``0``, or asks for the initial events,
which then end with a bookmark annotated ``k8s.io/initial-events-end``), else from the
revision after the one named. A revision older than the cache's ring is replayed from the
storage's own history (:func:`_pump_storage`); one older than the storage's compaction ends
the watch with an ERROR event carrying a 410 Gone Status, as Kubernetes does.

:func:`_events` encodes the events (a one-row meta/v1 Table per event when the client asked
for Tables, the column definitions in the first only; a custom resource in the version asked
for), a batch at a time of what is queued, sends a BOOKMARK when the stream was idle for
:data:`BOOKMARK_INTERVAL` and the client allows them, and ends at ``timeoutSeconds`` (by
default a random 30-60 minutes, as Kubernetes spreads its watches' ends). Over HTTP each batch
is one chunk of newline-delimited JSON; over WebSocket each line is a message.

Over WebSocket (how a browser watches: one connection per watch, outside the six HTTP/1.1
connections a page may hold per origin), :func:`websocket` takes the upgrade of any resource
path and, when it is a watch, runs it through the apiserver's usual request handling with the
scope marked :data:`UPGRADE_KEY`: the same path parsing, authentication (the filters ran on
the handshake; a browser's bearer token travels in a subprotocol,
:mod:`apiserver.auth.websocket_protocol`), RBAC verb ``watch``, audit and metrics, and errors
before the upgrade answer the handshake with their meta/v1 Status. :func:`watch` then answers a
:class:`WebSocketWatch`, which accepts with the one subprotocol the client offered (Kubernetes'
handler echoes it; ``base64.binary.k8s.io`` changes nothing about the framing) and sends each
event as one text message holding one WatchEvent, as Kubernetes frames JSON watch events; the
410 of a compacted revision is an ERROR message. It closes normally (1000) at
``timeoutSeconds`` or after an ERROR, and ends when the client closes. Kubernetes' handler
(golang.org/x/net/websocket) also refuses a handshake without an ``Origin`` header; minik8s
does not ask for one, as Origin proves nothing to a server that takes no cookies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from apiserver import errors, params, printers
from apiserver.auth import requestinfo
from apiserver.auth.user import ANONYMOUS_USER, USER_KEY
from apiserver.metrics import cache as watch_metrics
from apiserver.registry.table import Entry
from apiserver.responses import JSON, status_response, wants_table
from apiserver.rest import ListOptions, parse_resource_version
from apiserver.scope import Server, resource_path
from apiserver.storage.interface import Compacted
from apiserver.stored import storage_key
from apiserver.watchcache import CacheEvent, Watcher, decode
from minik8s import taskgroup
from minik8s.api import resources as rs

__all__ = ["BOOKMARK_INTERVAL", "UPGRADE_KEY", "WebSocketWatch", "install", "watch", "websocket"]

log = logging.getLogger(__name__)

#: Seconds a watch stream may be idle before it sends a BOOKMARK (when the client allows them).
BOOKMARK_INTERVAL = 5.0
#: Set in the scope of a request :func:`websocket` is upgrading: :func:`watch` answers it a WebSocketWatch.
UPGRADE_KEY = "minik8s.websocket-upgrade"
# What sending to, or closing, a WebSocket the client has gone from raises.
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


async def watch(server: Server, request: Request, entry: Entry, ns: str | None, opts: ListOptions,
                lq: params.ListQuery) -> Response:
    """The streamed answer to a watch of ``entry`` (in ``ns``) with ``opts``: chunked HTTP, or a
    :class:`WebSocketWatch` when :func:`websocket` is upgrading the request."""
    upgrade = bool(request.scope.get(UPGRADE_KEY))
    subprotocol = _subprotocol(request.scope) if upgrade else None  # refused before anything is subscribed
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

    def release() -> None:  # idempotent: the stream's end, or a WebSocket that never opened
        cache.unsubscribe(watcher)
        if pump is not None:
            pump.cancel()

    timeout = float(lq.timeout_seconds or random.uniform(1800, 3600))
    table = wants_table(request)
    include = "Object" if request.query_params.get("includeObject") == "Object" else "Metadata"
    events = _events(server, entry, watcher, timeout, lq.allow_bookmarks, table, include, pump, release)
    if upgrade:
        return WebSocketWatch(events, subprotocol, release)
    return StreamingResponse(events, media_type=JSON)


class WebSocketWatch(Response):
    """A watch served over the WebSocket its request asked for: what :func:`watch` answers a
    request :func:`websocket` is upgrading. As an ASGI application it speaks the WebSocket side
    (accept, one text message per event, close), not HTTP."""

    def __init__(self, events: AsyncGenerator[bytes, None], subprotocol: str | None,
                 release: Callable[[], None]) -> None:
        super().__init__(status_code=101)
        self.events = events
        self.subprotocol = subprotocol
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ws = WebSocket(scope, receive, send)
        try:
            await ws.accept(subprotocol=self.subprotocol)
            sender = asyncio.create_task(self._send(send))
            reader = asyncio.create_task(_until_closed(ws))
            try:
                done, _ = await asyncio.wait((sender, reader), return_when=asyncio.FIRST_COMPLETED)
                if sender in done and sender.exception() is None:  # timeoutSeconds, or the stream's end
                    with contextlib.suppress(*_GONE):
                        await ws.close(1000)
            finally:
                for r in await taskgroup.cancel_and_wait((sender, reader)):
                    if isinstance(r, Exception) and not isinstance(r, _GONE):
                        log.warning("watch over WebSocket ended with %r", r)
        finally:
            await self.events.aclose()
            self.release()

    async def _send(self, send: Send) -> None:
        # One WatchEvent per message (its line, newline included, as Kubernetes' JSON encoder
        # writes it), in text frames: Kubernetes frames JSON watch events as text. A chunk's
        # lines split only at its newlines (JSON escapes those inside a line). Sent straight
        # through ASGI, not Starlette's send_text: every microsecond here is paid per event
        # and per watcher.
        async for chunk in self.events:
            text = chunk.decode()
            start = 0
            while (end := text.find("\n", start) + 1) > 0:
                await send({"type": "websocket.send", "text": text[start:end]})
                start = end


async def _until_closed(ws: WebSocket) -> None:
    """Read (and drop) what the client sends until it closes: a watch reads nothing from its
    client, as Kubernetes' ``wsstream.IgnoreReceives``, and this is how its going is noticed."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


def _subprotocol(scope: Scope) -> str | None:
    """The subprotocol to echo: the one the client offered (its bearer token's taken out by
    authentication). Kubernetes' WebSocket handler echoes a single one and refuses several with
    400; the framing does not depend on it (``base64.binary.k8s.io`` and ``binary.k8s.io``
    clients alike get JSON text messages)."""
    offered: list[str] = list(scope.get("subprotocols") or [])
    if len(offered) > 1:
        raise errors.BadRequest(f"a watch over WebSocket takes at most one subprotocol besides the bearer token, "
                                f"got {len(offered)}: {', '.join(offered)}")
    return offered[0] if offered else None


async def websocket(ws: WebSocket) -> None:
    """The WebSocket endpoint of every resource path (``/api/...``, ``/apis/...``): a watch
    (``watch=true`` or a ``/watch/`` path) is served as over HTTP -- the same path parsing,
    checks and errors, which refuse the upgrade with their Status -- then upgraded."""
    scope = ws.scope
    path: str = scope["path"]
    attrs = scope.get(requestinfo.ATTRS_KEY) or requestinfo.attributes(
        scope.get(USER_KEY) or ANONYMOUS_USER, "GET", path, scope.get("query_string", b""))
    if not attrs.resource_request or attrs.verb != "watch":
        # A path nothing serves is a 404 whatever the upgrade, as over HTTP; a served one that
        # is no watch is refused: only watches are upgraded.
        error = errors.BadRequest(f"the server upgrades {path} to a WebSocket only for a watch (watch=true)") \
            if resource_path(path) is not None else errors.not_found_path()
        await ws.send_denial_response(status_response(error))
        return
    grouped = path.startswith("/apis/")
    endpoint = ws.app.state.resource_endpoints["/apis/" if grouped else "/api/"]
    http_scope = {**scope, "type": "http", "method": "GET", UPGRADE_KEY: True,
                  "path_params": {"rest": path[6:] if grouped else path[5:]}}

    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    response = await endpoint(Request(http_scope, no_body))
    if isinstance(response, WebSocketWatch):
        await response(scope, ws.receive, ws.send)
    else:
        await ws.send_denial_response(response)


def install(app: Starlette) -> None:
    """Route WebSockets on resource paths here, ahead of the catch-all 404 (:mod:`apiserver.exec`
    routes its own first: exec, attach and portforward keep theirs)."""
    routes = app.router.routes
    at = next((i for i, r in enumerate(routes) if isinstance(r, WebSocketRoute) and r.path == "/{path:path}"),
              len(routes))
    routes[at:at] = [WebSocketRoute("/api/{rest:path}", websocket), WebSocketRoute("/apis/{rest:path}", websocket)]


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


async def _events(server: Server, entry: Entry, watcher: Watcher, timeout: float, bookmarks: bool, table: bool,
                  include: str, pump: asyncio.Task[None] | None,
                  release: Callable[[], None]) -> AsyncGenerator[bytes, None]:
    """The watch's events, newline-delimited JSON, a chunk at a time (what was queued when the
    stream looked)."""
    cache = server.cache
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    queue = watcher.queue
    first_table = True
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
                    t = printers.table(entry.printer, [ev.obj], include_object=include,
                                       resource_version=str(ev.revision), with_columns=first_table)
                    first_table = False
                    chunks.append(orjson.dumps({"type": ev.type, "object": t}) + b"\n")
                elif entry.custom is not None:
                    chunks.append(orjson.dumps({"type": ev.type, "object": entry.custom.convert_out(ev.obj)})
                                  + b"\n")
                else:
                    chunks.append(ev.encoded())
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
        release()


def _pinned_node(entry: Entry, field_selector: str | None) -> str | None:
    """The node a pod watch is pinned to by ``spec.nodeName=X`` (the watch cache indexes those)."""
    if entry.type is not rs.PODS or not field_selector or "spec.nodeName" not in field_selector:
        return None
    from minik8s import fields
    try:
        return fields.parse(field_selector).requires_exact_match("spec.nodeName")
    except ValueError:
        return None
