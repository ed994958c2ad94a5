"""What a request handler is given: the :class:`RequestInfo` its path named (:func:`parse_path`) and the
:class:`Server` it serves on — Kubernetes' handlers likewise get a ``RequestInfo`` and a
``RequestScope``, not the whole ``GenericAPIServer``.

:class:`Server` is the part of :class:`apiserver.app.ApiServer` the handlers outside the app
use (subresources, exec, port-forward, proxy, the virtual resources: reviews, metrics,
autoscaling/v1, ServiceAccount tokens). Typed against this protocol, they need not import
:mod:`apiserver.app`, which imports them; the type checker holds ``ApiServer`` to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from starlette.requests import Request

from apiserver.registry import table as registry
from apiserver.registry.table import Entry
from apiserver.rest import RestStorage
from apiserver.storage.interface import Storage
from apiserver.watchcache import WatchCache


@dataclasses.dataclass(slots=True)
class RequestInfo:
    entry: Entry
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def parse_path(group: str, version_: str, parts: list[str]) -> RequestInfo | None:
    """The resource request a path names (``parts`` follow ``/api/v1`` or ``/apis/g/v``)."""
    watch = False
    if parts and parts[0] == "watch":
        watch, parts = True, parts[1:]
    ns = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        entry = registry.lookup(group, version_, parts[2])
        if entry is not None and entry.type.namespaced:
            ns, parts = parts[1], parts[2:]
        elif group == "" and len(parts) == 3 and registry.lookup(group, version_, "namespaces") is not None:
            pass  # /namespaces/{name}/{status|finalize}
        else:
            return None
    if not parts:
        return None
    entry = registry.lookup(group, version_, parts[0])
    if entry is None or (len(parts) > 3 and parts[2] != "proxy"):  # proxy/{path...}
        return None
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if sub is not None and entry.subresource(sub) is None:
        return None
    if name == "" or ns == "":  # /namespaces//pods names no namespace: not "all of them"
        return None
    return RequestInfo(entry, ns, name, sub, watch)


def resource_path(path: str) -> RequestInfo | None:
    """The resource request a whole ``/api/v1/...`` or ``/apis/{group}/{version}/...`` path names."""
    segs = path.strip("/").split("/")
    if segs[0] == "api" and len(segs) >= 2:
        return parse_path("", segs[1], segs[2:])
    if segs[0] == "apis" and len(segs) >= 3:
        return parse_path(segs[1], segs[2], segs[3:])
    return None


class Server(Protocol):
    """The apiserver as its request handlers see it (read-only: handlers do not rewire it)."""

    @property
    def rest(self) -> RestStorage: ...

    @property
    def cache(self) -> WatchCache: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def kubelet_client(self) -> Any:
        """How pods/log, exec and the node proxy reach kubelets
        (:class:`apiserver.kubelet_client.KubeletClient`); None until main sets it."""

    @property
    def resource_metrics(self) -> Any:
        """metrics.k8s.io's scraper (:class:`apiserver.resourcemetrics.scraper.Scraper`, which
        is itself given the Server)."""

    @property
    def token_authenticators(self) -> list[Any]: ...

    async def read_body(self, request: Request) -> Any: ...

    def table(self, request: Request, entry: Entry, objs: list[dict[str, Any]], md: dict[str, Any],
              *, with_columns: bool = True) -> dict[str, Any]: ...
