"""The ``proxy`` subresources: ``pods/{name[:port]}/proxy/...``,
``services/{name[:port]}/proxy/...`` and ``nodes/{name}/proxy/...``, as Kubernetes serves them.

The request is passed on (method, body, headers but the hop-by-hop ones and the caller's
credentials) and the answer streamed back. Authorization is the ordinary one on the
subresource (``get pods/proxy``, ``create services/proxy``, ``get nodes/proxy`` ...).

Only addresses the cluster registered are ever dialled, never one taken from the request:

* a pod: its ``status.podIP`` on the port asked for (or its first container port), plain
  HTTP (``https:NAME:PORT`` for TLS, unverified, as Kubernetes' proxy); the pod must run on a
  node that is not hollow (a hollow node's pod IPs belong to no process, and a hollow node is
  never dialled through);
* a service: one ready endpoint address of the service port named (or numbered) in the URL,
  that is the ``podIP`` of the pod the endpoint's ``targetRef`` names, so a hand-written
  Endpoints object cannot steer the apiserver elsewhere;
* a node: its kubelet at the registered InternalIP and port over verified TLS with the
  apiserver's client certificate (:mod:`apiserver.kubelet_client`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from apiserver import errors, kubelet_client
from apiserver.registry import table as registry
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.scope import RequestInfo, Server

__all__ = ["handle"]

_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                         "transfer-encoding", "upgrade", "host", "authorization", "content-length"))
_TIMEOUT = httpx.Timeout(30.0, read=None)
_client: httpx.AsyncClient | None = None


def _http() -> httpx.AsyncClient:
    global _client
    if _client is None:
        # Kubernetes' proxy does not verify pods' certificates either (https:NAME:PORT).
        _client = httpx.AsyncClient(verify=False, timeout=_TIMEOUT, trust_env=False)
    return _client


def _split(name: str) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` -> (scheme, name, port)."""
    parts = name.split(":")
    if len(parts) == 3:
        scheme, name, port = parts
        if scheme not in ("http", "https"):
            raise errors.BadRequest(f"invalid scheme {scheme!r}: must be http or https")
        return scheme, name, port
    if len(parts) == 2:
        return "http", parts[0], parts[1]
    return "http", name, ""


def _rest_of_path(request: Request, info: RequestInfo) -> str:
    path = request.url.path
    marker = f"/{info.name}/proxy"
    at = path.find(marker)
    rest = path[at + len(marker):] if at >= 0 else "/"
    return rest or "/"


async def _not_hollow(server: Server, node_name: str) -> None:
    node = await server.rest.get(registry.BY_TYPE[rs.NODES], None, node_name)
    runtime = ((node.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion") or ""
    if runtime.startswith("fake://"):
        raise errors.ServiceUnavailable(f"node {node_name} is hollow: its pods have no address to proxy to")


async def _pod_target(server: Server, namespace: str, name: str, port: str) -> str:
    pod = await server.rest.get(registry.BY_TYPE[rs.PODS], namespace, name)
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ip = status.get("podIP")
    if not ip or not spec.get("nodeName"):
        raise errors.ServiceUnavailable(f'pod "{name}" has no IP address yet')
    await _not_hollow(server, spec["nodeName"])
    if not port:
        port = next((str(p["containerPort"]) for c in spec.get("containers") or [] for p in c.get("ports") or []
                     if p.get("containerPort")), "80")
    elif not port.isdigit():  # a named container port
        port = next((str(p["containerPort"]) for c in spec.get("containers") or [] for p in c.get("ports") or []
                     if p.get("name") == port), "")
        if not port:
            raise errors.BadRequest(f'no port named "{port}" in pod "{name}"')
    if not 0 < int(port) < 65536:
        raise errors.BadRequest(f"invalid port {port}")
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def _service_target(server: Server, namespace: str, name: str, port: str) -> str:
    svc = await server.rest.get(registry.BY_TYPE[rs.SERVICES], namespace, name)
    ports = (svc.get("spec") or {}).get("ports") or []
    chosen = next((p for p in ports if (port and (p.get("name") == port or str(p.get("port")) == port))
                   or (not port and len(ports) == 1)), None)
    if chosen is None:
        raise errors.ServiceUnavailable(f'no service port "{port}" found for service "{name}"')
    try:
        eps = await server.rest.get(registry.BY_TYPE[rs.ENDPOINTS], namespace, name)
    except errors.NotFound:
        eps = {}
    candidates: list[tuple[str, int]] = []
    by_ip: dict[str, str] = {}
    for subset in eps.get("subsets") or []:
        eport = next((p.get("port") for p in subset.get("ports") or [] if p.get("name", "") == chosen.get("name", "")),
                     None)
        if eport is None:
            continue
        candidates += [(a["ip"], eport) for a in subset.get("addresses") or []
                       if a.get("ip") and (a.get("targetRef") or {}).get("kind") == "Pod"
                       and (a.get("targetRef") or {}).get("name")]
        # Only pod addresses, each checked against its pod below.
        by_ip.update((a["ip"], a["targetRef"]["name"]) for a in subset.get("addresses") or []
                     if a.get("ip") and (a.get("targetRef") or {}).get("kind") == "Pod")
    random.shuffle(candidates)
    for ip, eport in candidates:
        pod_name = by_ip[ip]
        try:
            pod = await server.rest.get(registry.BY_TYPE[rs.PODS], namespace, pod_name)
        except errors.NotFound:
            continue
        if (pod.get("status") or {}).get("podIP") != ip or not (pod.get("spec") or {}).get("nodeName"):
            continue
        await _not_hollow(server, pod["spec"]["nodeName"])
        return f"[{ip}]:{eport}" if ":" in ip else f"{ip}:{eport}"
    raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')


async def handle(request: Request, server: Server, info: RequestInfo) -> Response:
    """Serve ``.../{name}/proxy/...`` for pods, services and nodes."""
    assert info.name is not None
    rest = _rest_of_path(request, info)
    query = request.url.query
    kind = info.entry.type
    client = _http()
    if kind is rs.NODES:
        if ":" in info.name:
            raise errors.BadRequest("only the node's kubelet port can be proxied to")
        ep = await kubelet_client.endpoint(server.rest, info.name)
        if server.kubelet_client is None:
            raise errors.ServiceUnavailable("this apiserver has no credentials for kubelets")
        client = server.kubelet_client.http
        url = ep.url(rest)
    else:
        assert info.namespace is not None
        scheme, name, port = _split(info.name)
        target = await (_pod_target if kind is rs.PODS else _service_target)(server, info.namespace, name, port)
        url = f"{scheme}://{target}{rest}"
    if query:
        url += "?" + query
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
    body = await request.body()
    try:
        upstream = await client.send(client.build_request(request.method, url, headers=headers, content=body or None),
                                     stream=True)
    except httpx.HTTPError as e:
        raise errors.ServiceUnavailable(f"error trying to reach service: {e}") from None

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    out_headers: dict[str, Any] = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
    return StreamingResponse(stream(), status_code=upstream.status_code, headers=out_headers)
