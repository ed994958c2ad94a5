"""``GET`` of metrics.k8s.io/v1beta1 ``nodes`` and ``pods``, as metrics-server answers it.

A list takes the label and field selectors of the objects measured (``kubectl top pod -l``):
the Nodes or Pods are listed with them, through the watch cache, and each one with metrics
is answered; those without (not scraped twice yet, a hollow node's) are left out. A get of
one without metrics is 404 (``pods.metrics.k8s.io "ns/name" not found``, metrics-server's
text). Watching is not offered, as metrics-server offers none. Asked for a Table, the answer
is one (:mod:`.printers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from apiserver import errors
from apiserver.registry import table as registry
from apiserver.resourcemetrics.store import MetricsStore
from apiserver.responses import json_response, wants_table
from apiserver.rest import ListOptions
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.scope import RequestInfo, Server

__all__ = ["handle"]


async def handle(request: Request, server: Server, info: RequestInfo) -> Response:
    if request.method != "GET" or info.watch_path or info.subresource is not None or _flag(request, "watch"):
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    store: MetricsStore = server.resource_metrics.store
    node_kind = info.entry.type == rs.NODEMETRICS
    measured = registry.BY_TYPE[rs.NODES if node_kind else rs.PODS]

    def metrics_of(o: dict[str, Any]) -> dict[str, Any] | None:
        md = o["metadata"]
        m = store.node_metrics(md["name"]) if node_kind else store.pod_metrics(md["namespace"], md["name"])
        if m is not None and md.get("labels"):
            m["metadata"]["labels"] = dict(md["labels"])  # metrics-server copies the measured object's labels
        return m

    if info.name is not None:
        if not node_kind and info.namespace is None:
            raise errors.not_found_path()
        missing = info.name if node_kind else f"{info.namespace}/{info.name}"
        try:
            obj = metrics_of(await server.rest.get(measured, None if node_kind else info.namespace, info.name))
        except errors.NotFound:
            obj = None
        if obj is None:
            raise errors.NotFound(f'{info.entry.type.plural}.{info.entry.type.group} "{missing}" not found',
                                  details={"name": missing, "group": info.entry.type.group,
                                           "kind": info.entry.type.plural})
        items = [obj]
    else:
        q = request.query_params
        opts = ListOptions(q.get("labelSelector"), q.get("fieldSelector"))
        listed = await server.rest.list(measured, None if node_kind else info.namespace, opts)
        items = [m for m in map(metrics_of, listed["items"]) if m is not None]
    if wants_table(request):
        return json_response(server.table(request, info.entry, items, {"resourceVersion": ""}))
    if info.name is not None:
        return json_response(items[0])
    kind = "NodeMetricsList" if node_kind else "PodMetricsList"
    return json_response({"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items})


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name) in ("1", "t", "T", "true", "True", "TRUE")
