"""Request metrics (Kubernetes' ``apiserver/pkg/endpoints/metrics``): an ASGI filter inside the
audit filter and around authentication, counting every request when its answer is done.

Labels as Kubernetes reports them: ``verb`` is the HTTP method upper-cased, a GET of a
collection ``LIST``, a watch ``WATCH``, a server-side apply ``APPLY``, a streaming
subresource (exec, attach, portforward, proxy) ``CONNECT``; ``group``, ``version``,
``resource``, ``subresource`` of the request; ``scope`` ``resource`` (one object, or a
create), ``namespace``, ``cluster`` or empty for non-resource paths; ``dry_run`` ``All``
when asked; ``component`` ``apiserver``; ``code`` the status sent. Non-resource requests
carry their path in ``subresource`` for the well-known ones (health, version, metrics,
OpenAPI, discovery roots) and nothing otherwise, so no label grows without bound.

Long-running requests (watches, streams, ``pods/log``) are in ``apiserver_longrunning_requests``
while they run. Each label set's metric children are looked up once and kept; the counter and
histogram are lock-free (observed on the event loop only).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Gauge

from apiserver.auth import requestinfo
from apiserver.auth.requestinfo import ATTRS_KEY
from apiserver.auth.user import ANONYMOUS_USER
from minik8s.metrics import REQUEST_DURATION_BUCKETS, LoopCounter, LoopHistogram

__all__ = ["RequestMetrics"]

_LABELS = ["verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"]
# on the event loop only: lock-free (minik8s.metrics.LoopCounter / LoopHistogram)
REQUESTS = LoopCounter("apiserver_request", "Counter of apiserver requests broken out for each verb, dry run value, "
                       "group, version, resource, scope, component, and HTTP response code.", [*_LABELS, "code"])
DURATION = LoopHistogram("apiserver_request_duration_seconds", "Response latency distribution in seconds for each "
                         "verb, dry run value, group, version, resource, subresource, scope and component.", _LABELS,
                         buckets=REQUEST_DURATION_BUCKETS)
LONG_RUNNING = Gauge("apiserver_longrunning_requests", "Gauge of all active long-running apiserver requests broken "
                     "out by verb, group, version, resource, scope and component. Not all requests are tracked "
                     "this way.", ["verb", "group", "version", "resource", "subresource", "scope", "component"])

_CONNECT = frozenset(("exec", "attach", "portforward", "proxy"))
_LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))
_KNOWN_PATHS = frozenset(("/healthz", "/livez", "/readyz", "/version", "/metrics", "/openapi/v2", "/openapi/v3",
                          "/api", "/apis"))


def _labels(attrs: Any, method: str, query: bytes, headers: Any) -> tuple[str, ...]:
    if not attrs.resource_request:
        path = attrs.path.rstrip("/") or "/"
        return (method, "", "", "", "", path if path in _KNOWN_PATHS else "", "", "apiserver")
    if attrs.name or attrs.verb == "create":
        scope = "resource"
    elif attrs.namespace:
        scope = "namespace"
    else:
        scope = "cluster"
    verb = method
    if attrs.subresource in _CONNECT:
        verb = "CONNECT"
    elif attrs.verb == "watch":
        verb = "WATCH"
    elif attrs.verb == "list":
        verb = "LIST"
    elif method == "HEAD":
        verb = "GET"
    elif method == "PATCH":
        for k, v in headers:
            if k == b"content-type" and v.startswith(b"application/apply-patch"):
                verb = "APPLY"
    dry_run = "All" if b"dryRun=All" in query else ""
    return (verb, dry_run, attrs.api_group, attrs.api_version, attrs.resource, attrs.subresource, scope, "apiserver")


class RequestMetrics:
    """ASGI: count and time every HTTP request and WebSocket handshake of ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # label tuple -> (duration child, {code: counter child}); bounded by the API's shape
        self._children: dict[tuple[str, ...], tuple[Any, dict[int, Any]]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        code = 0
        running: Any = None

        async def send_counted(message: dict[str, Any]) -> None:
            nonlocal code, running
            t = message["type"]
            if t == "http.response.start" or t == "websocket.http.response.start":
                code = message.get("status", 200)
                running = self._long_running(scope)
            elif t == "websocket.accept":
                code = 101
                running = self._long_running(scope)
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if running is not None:
                running.dec()
            self._observe(scope, code or 500, time.perf_counter() - start)

    def _attributes(self, scope: dict[str, Any]) -> Any:
        attrs = scope.get(ATTRS_KEY)
        if attrs is None:  # refused before authorization: ask as nobody in particular
            method = "GET" if scope["type"] == "websocket" else scope.get("method", "GET")
            attrs = requestinfo.attributes(ANONYMOUS_USER, method, scope["path"], scope.get("query_string", b""))
        return attrs

    def _long_running(self, scope: dict[str, Any]) -> Any:
        attrs = self._attributes(scope)
        if not attrs.resource_request or not (attrs.verb == "watch" or attrs.subresource in _LONG_RUNNING_SUBRESOURCES):
            return None
        labels = self._label_set(scope, attrs)
        gauge = LONG_RUNNING.labels(labels[0], *labels[2:])
        gauge.inc()
        return gauge

    def _label_set(self, scope: dict[str, Any], attrs: Any) -> tuple[str, ...]:
        method = "GET" if scope["type"] == "websocket" else scope.get("method", "GET")
        return _labels(attrs, method, scope.get("query_string", b""), scope["headers"])

    def _observe(self, scope: dict[str, Any], code: int, elapsed: float) -> None:
        labels = self._label_set(scope, self._attributes(scope))
        entry = self._children.get(labels)
        if entry is None:
            entry = self._children[labels] = (DURATION.child(*labels), {})
        duration, counters = entry
        counter = counters.get(code)
        if counter is None:
            counter = counters[code] = REQUESTS.child(*labels, str(code))
        counter.inc()
        duration.observe(elapsed)
