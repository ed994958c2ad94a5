"""``pods/{name}/portforward``: the apiserver's half of ``kubectl port-forward``.

As in Kubernetes, the apiserver checks the pod (it exists and has a node), finds the node's
kubelet (:mod:`apiserver.kubelet_client`: the registered address, verified TLS) and relays
the client's WebSocket to the kubelet's ``/portForward/{ns}/{pod}`` frame for frame. kubectl
1.32 offers the subprotocol ``SPDY/3.1+portforward.k8s.io`` (SPDY tunnelled in binary
WebSocket messages); the kubelet speaks it (``kubelet/portforward.py``). Kubernetes' apiserver
translates that tunnel into a SPDY upgrade to its kubelet; minik8s' kubelet takes the
WebSocket itself, so the apiserver passes the bytes through untouched. The ports travel in
the SPDY streams' headers, never in the URL, so the apiserver cannot be steered to any other
address than the node's kubelet.

A request that is no WebSocket upgrade (kubectl's SPDY fallback after a refused upgrade) gets
the same checks, the kubelet's own included (its refusal relayed, so kubectl prints it) and,
when they pass, a 400 saying SPDY upgrades are not served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import aiohttp
import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from apiserver import errors, kubelet_client
from apiserver.registry import table as registry
from minik8s import taskgroup
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.rest import RestStorage
    from apiserver.scope import RequestInfo, Server

__all__ = ["PROTOCOLS", "locate", "websocket", "http"]

log = logging.getLogger(__name__)

PROTOCOLS = ("SPDY/3.1+portforward.k8s.io",)
_CONNECT_TIMEOUT_S = 10.0


async def locate(rest: RestStorage, namespace: str, name: str) -> kubelet_client.Target:
    """Check a port-forward request against the API and find the kubelet that serves it."""
    pod = await rest.get(registry.BY_TYPE[rs.PODS], namespace, name)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    ep = await kubelet_client.endpoint(rest, node_name)
    return kubelet_client.Target(ep, f"/portForward/{namespace}/{name}")


async def websocket(ws: WebSocket) -> None:
    """The WebSocket endpoint of ``/api/v1/namespaces/{namespace}/pods/{name}/portforward``."""
    server: Server = ws.app.state.server
    p = ws.path_params
    try:
        target = await locate(server.rest, p["namespace"], p["name"])
        kubelets = kubelet_client.credentials(server)
    except errors.StatusError as e:
        await ws.send_denial_response(Response(e.encoded(), status_code=e.code, media_type="application/json"))
        return
    if not set(PROTOCOLS) & set(ws.scope.get("subprotocols") or []):
        await ws.send_denial_response(Response(errors.BadRequest(
            f"requested protocol(s) are not supported: {ws.scope.get('subprotocols')}; supports {list(PROTOCOLS)}"
        ).encoded(), status_code=400, media_type="application/json"))
        return
    # aiohttp dials: the websockets client refuses this subprotocol (no RFC 6455 token).
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=_CONNECT_TIMEOUT_S))
    try:
        try:
            upstream = await session.ws_connect(target.url("wss"), protocols=PROTOCOLS, ssl=kubelets.ssl_context,
                                                autoping=True, max_msg_size=0, compress=0)
        except aiohttp.WSServerHandshakeError as e:
            # The kubelet refused (a hollow node, no sandbox): relay its words and code.
            await ws.send_denial_response(Response(
                await _refusal_body(session, target, kubelets, e), status_code=e.status,
                media_type="text/plain"))
            return
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            err = kubelets.unreachable(target.endpoint, e)
            await ws.send_denial_response(Response(err.encoded(), status_code=err.code,
                                                   media_type="application/json"))
            return
        await ws.accept(subprotocol=upstream.protocol)
        await _relay(ws, upstream)
    finally:
        await session.close()


async def _refusal_body(session: aiohttp.ClientSession, target: kubelet_client.Target,
                        kubelets: kubelet_client.KubeletClient, e: aiohttp.WSServerHandshakeError) -> bytes:
    """aiohttp keeps no body of a refused handshake: ask the kubelet's plain endpoint, which
    runs the same checks and answers the same refusal."""
    try:
        resp = await kubelets.http.get(target.url("https"), timeout=_CONNECT_TIMEOUT_S)
        return resp.content
    except httpx.HTTPError:
        return (e.message or "").encode()


async def _relay(ws: WebSocket, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Binary messages both ways until one side closes; either side's close closes the other."""
    async def down() -> None:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_text(msg.data)

    async def up() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                await upstream.send_bytes(msg["bytes"])
            elif msg.get("text") is not None:
                await upstream.send_str(msg["text"])

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for r in await taskgroup.cancel_and_wait(tasks):
            if isinstance(r, BaseException) and not isinstance(
                    r, (asyncio.CancelledError, WebSocketDisconnect, ConnectionError, RuntimeError)):
                log.warning("port-forward relay ended with %r", r)
        with contextlib.suppress(Exception):
            await upstream.close()
        with contextlib.suppress(Exception):
            await ws.close(1000)


async def http(request: Request, server: Server, info: RequestInfo) -> Response:
    """No upgrade to a WebSocket: the checks, then Kubernetes' refusal of what we do not speak."""
    assert info.name is not None and info.namespace is not None
    target = await locate(server.rest, info.namespace, info.name)
    kubelets = kubelet_client.credentials(server)
    try:
        resp = await kubelets.http.get(target.url("https"), timeout=_CONNECT_TIMEOUT_S)
    except httpx.HTTPError as e:
        raise kubelets.unreachable(target.endpoint, e) from None
    if resp.status_code != 400 or resp.text.strip() != "Upgrade request required":
        # The kubelet's refusal (a hollow node, no sandbox), relayed as it came.
        return Response(resp.content, status_code=resp.status_code,
                        media_type=resp.headers.get("content-type", "text/plain"))
    if request.headers.get("upgrade", "").lower().startswith("spdy"):
        raise errors.BadRequest("upgrade to SPDY/3.1 is not supported: minik8s forwards ports over WebSocket "
                                "(SPDY/3.1+portforward.k8s.io)")
    raise errors.BadRequest("Upgrade request required")
