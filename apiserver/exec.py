"""``pods/{name}/exec`` and ``pods/{name}/attach``: the apiserver's half of ``kubectl exec``
and ``kubectl attach`` (the same checks and relay; attach names no command and reaches the
kubelet's ``/attach/{ns}/{pod}/{container}``, the container's own stdio).

As in Kubernetes, the apiserver checks the request against the API (the pod exists, the
container is one of its own, the pod has a node), finds the node's kubelet (its InternalIP
and ``status.daemonEndpoints.kubeletEndpoint.Port``, reached over verified TLS with the
apiserver's client certificate: :mod:`apiserver.kubelet_client`) and proxies the client's WebSocket to the
kubelet's ``/exec/{ns}/{pod}/{container}``, which runs the command and speaks the
remote-command protocol (``kubelet/exec.py``). Frames pass through untouched both ways; the
subprotocol is the one the kubelet chose from the client's offer (kubectl 1.32 offers
``v5.channel.k8s.io``).

A refusal before the upgrade -- ours as a meta/v1 Status, the kubelet's relayed as it came --
answers the handshake with its HTTP status. kubectl then retries with SPDY, which minik8s does
not speak: that request (:func:`http`) runs the same checks, so kubectl prints the same error
Kubernetes makes it print.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import websockets
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from apiserver import errors, kubelet_client
from apiserver.registry import table as registry
from apiserver.responses import status_response
from minik8s import taskgroup
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from fastapi import FastAPI

    from apiserver.rest import RestStorage
    from apiserver.scope import RequestInfo, Server

__all__ = ["install", "http", "locate", "proxy"]

log = logging.getLogger(__name__)

_TRUE = frozenset(("1", "t", "T", "true", "True", "TRUE"))
# Those the kubelet speaks; whatever else a client offers is not passed on.
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
             "channel.k8s.io")
_CONNECT_TIMEOUT_S = 10.0


async def locate(rest: RestStorage, namespace: str, name: str, query: Any, *, kind: str = "exec") -> kubelet_client.Target:
    """Check an exec (or ``kind="attach"``) request against the API and find the kubelet
    that serves it."""
    pod_entry = registry.BY_TYPE[rs.PODS]
    pod = await rest.get(pod_entry, namespace, name)
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    container = query.get("container")
    if not container:
        if len(containers) != 1:
            raise errors.BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                                    f"[{' '.join(containers)}]"
                                    + (f" or one of the init containers: [{' '.join(inits)}]" if inits else ""))
        container = containers[0]
    elif container not in containers + inits + ephemeral:
        raise errors.BadRequest(f"container {container} is not valid for pod {name}")
    node_name = spec.get("nodeName")
    if not node_name:
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    ep = await kubelet_client.endpoint(rest, node_name)
    # The kubelet's parameter names (input/output/error), as Kubernetes' apiserver sends them.
    params: list[tuple[str, str]] = [("command", c) for c in query.getlist("command")] if kind == "exec" else []
    for ours, theirs in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
        if query.get(ours) in _TRUE:
            params.append((theirs, "1"))
    return kubelet_client.Target(ep, f"/{kind}/{namespace}/{name}/{container}?{urlencode(params)}")


async def http(request: Request, server: Server, info: RequestInfo) -> Response:
    """A request that is no WebSocket upgrade (kubectl's SPDY fallback, curl): the same
    checks, the kubelet's own (container running) included, then a refusal to stream."""
    assert info.name is not None and info.namespace is not None
    target = await locate(server.rest, info.namespace, info.name, request.query_params,
                          kind="attach" if info.subresource == "attach" else "exec")
    kubelets = kubelet_client.credentials(server)
    try:
        resp = await kubelets.http.get(target.url("https"), timeout=_CONNECT_TIMEOUT_S)
    except httpx.HTTPError as e:
        raise kubelets.unreachable(target.endpoint, e) from None
    if resp.status_code != 400 or resp.text.strip() != "Upgrade request required":
        # The kubelet's refusal, relayed as Kubernetes' proxy relays it.
        return Response(resp.content, status_code=resp.status_code,
                        media_type=resp.headers.get("content-type", "text/plain"))
    if request.headers.get("upgrade", "").lower().startswith("spdy"):
        raise errors.BadRequest("upgrade to SPDY/3.1 is not supported: minik8s streams exec over WebSocket "
                                "(v5.channel.k8s.io)")
    raise errors.BadRequest("Upgrade request required")


async def websocket(ws: WebSocket) -> None:
    """The WebSocket endpoint of ``/api/v1/namespaces/{namespace}/pods/{name}/exec``."""
    server: Server = ws.app.state.server
    p = ws.path_params
    try:
        target = await locate(server.rest, p["namespace"], p["name"], ws.query_params,
                              kind="attach" if ws.url.path.endswith("/attach") else "exec")
        kubelets = kubelet_client.credentials(server)
    except errors.StatusError as e:
        await ws.send_denial_response(status_response(e))
        return
    except Exception:
        log.exception("exec %s/%s", p["namespace"], p["name"])
        await ws.send_denial_response(status_response(errors.InternalError(
            "an error on the server prevented the request from succeeding")))
        return
    await proxy(ws, kubelets, target, PROTOCOLS)


async def proxy(ws: WebSocket, kubelets: kubelet_client.KubeletClient, target: kubelet_client.Target,
                protocols: tuple[str, ...]) -> None:
    """Connect ``target`` on the kubelet with those of ``protocols`` the client offers, then
    relay frames both ways (``pods/exec``, ``pods/attach``, ``pods/portforward``)."""
    offered = [s for s in ws.scope.get("subprotocols") or [] if s in protocols]
    if ws.scope.get("subprotocols") and not offered:
        await ws.send_denial_response(status_response(errors.BadRequest(
            f"requested protocol(s) are not supported: {ws.scope['subprotocols']}; supports {list(protocols)}")))
        return
    try:
        upstream = await connect(target.url("wss"), subprotocols=offered or None,
                                 ssl=kubelets.ssl_context, open_timeout=_CONNECT_TIMEOUT_S, max_size=None,
                                 compression=None, ping_interval=None)
    except websockets.InvalidStatus as e:
        # The kubelet refused (container not running, ...): relay its answer as it came.
        r = e.response
        await ws.send_denial_response(Response(r.body or b"", status_code=r.status_code,
                                               media_type=r.headers.get("Content-Type", "text/plain")))
        return
    except (OSError, TimeoutError, websockets.InvalidHandshake) as e:
        await ws.send_denial_response(status_response(kubelets.unreachable(target.endpoint, e)))
        return
    try:
        await ws.accept(subprotocol=upstream.subprotocol)
        await _relay(ws, upstream)
    finally:
        await upstream.close()


async def _relay(ws: WebSocket, upstream: Any) -> None:
    """Frames both ways until one side closes; the kubelet's close (after the status on
    channel 3) closes the client's connection too."""
    async def down() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for msg in upstream:
                if isinstance(msg, bytes):
                    await ws.send_bytes(msg)
                else:
                    await ws.send_text(msg)

    async def up() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                await upstream.send(msg["bytes"])
            elif msg.get("text") is not None:
                await upstream.send(msg["text"])

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0] in done:
            code = upstream.close_code if upstream.close_code in (1000, 1001) else 1011
            with contextlib.suppress(Exception):
                await ws.close(code)
    finally:
        for r in await taskgroup.cancel_and_wait(tasks):
            if isinstance(r, BaseException) and not isinstance(
                    r, (asyncio.CancelledError, WebSocketDisconnect, websockets.ConnectionClosed, RuntimeError)):
                log.warning("exec relay ended with %r", r)


def install(app: FastAPI) -> None:
    """Route the exec WebSocket (FastAPI serves WebSocket scopes; the HTTP fast path does not)."""
    # port-forward's relay dials the kubelet with aiohttp, which the apiserver loads for
    # nothing else (~7 MiB of its memory): its module is imported by the first port-forward.
    # A missing aiohttp still stops the apiserver here, at start.
    if importlib.util.find_spec("aiohttp") is None:
        raise ModuleNotFoundError("No module named 'aiohttp' (the apiserver's port-forward needs it)", name="aiohttp")
    app.router.add_websocket_route("/api/v1/namespaces/{namespace}/pods/{name}/exec", websocket)
    app.router.add_websocket_route("/api/v1/namespaces/{namespace}/pods/{name}/attach", websocket)
    app.router.add_websocket_route("/api/v1/namespaces/{namespace}/pods/{name}/portforward", _portforward)
    app.router.add_websocket_route("/{path:path}", unserved)


async def _portforward(ws: WebSocket) -> None:
    from apiserver import portforward

    await portforward.websocket(ws)


async def unserved(ws: WebSocket) -> None:
    """A WebSocket upgrade to any other path: a 404 Status, as for any path nothing serves
    (Starlette's default is a bare 403 with an empty body)."""
    await ws.send_denial_response(status_response(errors.not_found_path()))
