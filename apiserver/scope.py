"""What a request handler is given: the :class:`RequestInfo` its path named and the
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
