"""The node's HTTP API (``--port``, 10250): container logs for ``kubectl logs``, ``kubectl exec``,
health, pods. HTTPS only (:mod:`kubelet.serving`), every request authenticated by a client
certificate of the cluster CA and authorized (:mod:`kubelet.auth`) before a handler runs.

``/stats/summary`` is the Summary API (:mod:`kubelet.stats`), authorized as ``nodes/stats``.

``/metrics`` serves the process's Prometheus metrics (:mod:`kubelet.metrics`; the node's
proxy and DNS run here too), authorized as ``nodes/metrics``.

The apiserver's ``pods/{name}/log`` proxies to ``GET /containerLogs/{ns}/{pod}/{container}``
with ``follow``, ``tailLines``, ``previous``, ``timestamps``, ``sinceSeconds``, ``sinceTime``
and ``limitBytes``; the answer is a ``text/plain`` stream read from the runtime (a thread per
followed stream, inside the runtime). One server serves every kubelet of the process (the
hollow nodes of ``--count`` share it), finding a pod by namespace and name.
Errors are plain text with the status code the kubelet uses, which the apiserver relays.

``pods/{name}/exec`` is proxied as a WebSocket to ``/exec/{ns}/{pod}/{container}`` (the
protocol is ``kubelet/exec.py``'s); a plain request there runs the same checks and answers
their error, or 400 when all is well but the request is no upgrade. ``pods/{name}/attach`` goes
the same way to ``/attach/{ns}/{pod}/{container}`` (the container's own stdio, no command).
``pods/{name}/portforward``
is proxied the same way to ``/portForward/{ns}/{pod}`` (``kubelet/portforward.py``: SPDY/3.1
inside the WebSocket, connections made inside the pod's network namespace; a hollow node
refuses it).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from kubelet import auth, portforward, stats
from kubelet import exec as exec_
from kubelet.runtime import interface as ri
from minik8s import delegated_auth, metrics, timestamps
from minik8s.api import typed

__all__ = ["NodeServer", "PodSource", "make_app"]

log = logging.getLogger(__name__)

_TRUE = {"1", "t", "T", "true", "True", "TRUE"}


class PodSource(Protocol):
    """What the server needs of a kubelet."""

    node_name: str
    runtime: ri.ContainerRuntime

    def find_pod(self, namespace: str, name: str) -> typed.Pod | None: ...

    def pods(self) -> list[typed.Pod]: ...


class _BadRequest(Exception):
    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def _int(q: Mapping[str, str], key: str) -> int | None:
    value = q.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise _BadRequest(f"invalid {key} {value!r}: must be an integer") from None


def make_app(sources: Callable[[], Sequence[PodSource]], *,
             stats_interval: float = stats.SWEEP_INTERVAL_S) -> Starlette:
    summary_provider = stats.StatsProvider(interval=stats_interval)

    def locate(namespace: str, name: str) -> tuple[PodSource, typed.Pod]:
        for src in sources():
            pod = src.find_pod(namespace, name)
            if pod is not None:
                return src, pod
        raise _BadRequest(f'pod "{name}" in namespace "{namespace}" not found on this node', 404)

    async def running_container(namespace: str, name: str, container: str) -> tuple[PodSource, ri.ContainerId]:
        """The running container ``kubectl exec`` targets, or the kubelet's refusal."""
        try:
            src, pod = locate(namespace, name)
        except _BadRequest:
            raise _BadRequest("pod does not exist", 404) from None
        spec = pod.get("spec") or {}
        if container not in [c["name"] for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                             + (spec.get("ephemeralContainers") or [])]:
            raise _BadRequest(f'container not found ("{container}")', 500)
        running = [c for c in await src.runtime.list_containers(node=src.node_name, pod_uid=pod["metadata"]["uid"])
                   if c.name == container and c.state is ri.ContainerState.RUNNING]
        if not running:
            raise _BadRequest(f'container not found ("{container}")', 500)
        return src, max(running, key=lambda c: (c.restart_count, c.created_at)).id

    async def exec_check(request: Request) -> Response:
        p = request.path_params
        try:
            exec_.parse_options(request.query_params, attach=request.url.path.startswith("/attach/"))
            await running_container(p["namespace"], p["pod"], p["container"])
        except ValueError as e:
            return PlainTextResponse(str(e), status_code=400)
        except _BadRequest as e:
            return PlainTextResponse(str(e), status_code=e.code)
        return PlainTextResponse("Upgrade request required", status_code=400)

    async def exec_ws(ws: WebSocket) -> None:
        p = ws.path_params
        attach = ws.url.path.startswith("/attach/")
        try:
            opts = exec_.parse_options(ws.query_params, attach=attach)
            src, container_id = await running_container(p["namespace"], p["pod"], p["container"])
        except ValueError as e:
            await ws.send_denial_response(PlainTextResponse(str(e), status_code=400))
            return
        except _BadRequest as e:
            await ws.send_denial_response(PlainTextResponse(str(e), status_code=e.code))
            return
        protocol = exec_.choose_protocol(ws.scope.get("subprotocols") or [])
        if protocol is None:
            await ws.send_denial_response(PlainTextResponse(
                f"requested protocol(s) are not supported: {ws.scope.get('subprotocols')}; "
                f"supports {list(exec_.PROTOCOLS)}", status_code=400))
            return
        await ws.accept(subprotocol=protocol or None)
        try:
            if attach:
                session = await src.runtime.attach(container_id, stdin=opts.stdin, tty=opts.tty)
            else:
                session = await src.runtime.exec(container_id, opts.command, stdin=opts.stdin, tty=opts.tty)
        except ri.RuntimeError_ as e:
            status = exec_.final_status(None, opts.command, error=f"error executing command in container: {e}")
            await exec_.send_status(ws, status, exec_.protocol_version(protocol))
            await ws.close(1000)
            return
        await exec_.relay(ws, session, opts, protocol)

    async def port_forward_target(namespace: str, name: str) -> tuple[PodSource, typed.Pod, ri.PodSandbox]:
        """The pod's ready sandbox, or the kubelet's refusal (a hollow node refuses all)."""
        src, pod = locate(namespace, name)
        if not getattr(src.runtime, "forwards_ports", True):
            # No ": " in the text: kubectl reads a refused upgrade's body as YAML first, and a
            # "key: value" line would turn into an empty Status.
            raise _BadRequest(f"port-forward is not supported on node {src.node_name}, which runs the hollow "
                              "runtime (it never connects to a pod)", 400)
        uid = pod["metadata"]["uid"]
        ready = [s for s in await src.runtime.list_pod_sandboxes(node=src.node_name, pod_uid=uid)
                 if s.state is ri.SandboxState.READY]
        if not ready:
            raise _BadRequest(f'pod "{name}" in namespace "{namespace}" has no running sandbox', 500)
        return src, pod, max(ready, key=lambda s: (s.attempt, s.created_at))

    async def port_forward_check(request: Request) -> Response:
        p = request.path_params
        try:
            await port_forward_target(p["namespace"], p["pod"])
        except _BadRequest as e:
            return PlainTextResponse(str(e), status_code=e.code)
        return PlainTextResponse("Upgrade request required", status_code=400)

    async def port_forward_ws(ws: WebSocket) -> None:
        p = ws.path_params
        try:
            src, pod, sandbox = await port_forward_target(p["namespace"], p["pod"])
        except _BadRequest as e:
            await ws.send_denial_response(PlainTextResponse(str(e), status_code=e.code))
            return
        if portforward.PROTOCOL not in (ws.scope.get("subprotocols") or []):
            await ws.send_denial_response(PlainTextResponse(
                f"requested protocol(s) are not supported: {ws.scope.get('subprotocols')}; "
                f"supports [{portforward.PROTOCOL}]", status_code=400))
            return
        await ws.accept(subprotocol=portforward.PROTOCOL)
        runtime = src.runtime

        async def dial(port: int) -> Any:
            return await runtime.port_forward(sandbox.id, port)
        await portforward.Session(ws, dial, pod=f"{p['pod']}_{p['namespace']}", uid=pod["metadata"]["uid"]).run()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def metrics_(request: Request) -> Response:
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    async def pods(request: Request) -> Response:
        items = [p for src in sources() for p in src.pods()]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return Response(orjson.dumps(body), media_type="application/json")

    async def stats_summary(request: Request) -> Response:
        try:
            body = await summary_provider.summary(sources())
        except ri.RuntimeError_ as e:
            return PlainTextResponse(f"failed to get node stats: {e}", status_code=500)
        return Response(orjson.dumps(body), media_type="application/json")

    async def container_logs(request: Request) -> Response:
        p = request.path_params
        q = request.query_params
        try:
            src, pod = locate(p["namespace"], p["pod"])
            container = p["container"]
            spec = pod.get("spec") or {}
            names = [c["name"] for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                     + (spec.get("ephemeralContainers") or [])]
            if container not in names:
                raise _BadRequest(f'container "{container}" in pod "{p["pod"]}" is not valid', 400)
            uid = pod["metadata"]["uid"]
            attempts = sorted((c for c in await src.runtime.list_containers(node=src.node_name, pod_uid=uid)
                               if c.name == container),
                              key=lambda c: (c.restart_count, c.created_at), reverse=True)
            previous = q.get("previous") in _TRUE
            if previous:
                if len(attempts) < 2:
                    raise _BadRequest(f'previous terminated container "{container}" in pod "{p["pod"]}" not found')
                target = attempts[1]
            else:
                if not attempts:
                    raise _BadRequest(f'container "{container}" in pod "{p["pod"]}" is waiting to start: '
                                      "ContainerCreating")
                target = attempts[0]
            tail = _int(q, "tailLines")
            since_s = _int(q, "sinceSeconds")
            limit = _int(q, "limitBytes")
            since = None
            if since_s is not None:
                since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=since_s)
            elif q.get("sinceTime"):
                since = timestamps.parse(q["sinceTime"])
                if since is None:
                    raise _BadRequest(f"invalid sinceTime {q['sinceTime']!r}")
            try:
                stream = src.runtime.logs(target.id, follow=q.get("follow") in _TRUE, tail=tail,
                                          timestamps=q.get("timestamps") in _TRUE, since=since)
            except ri.RuntimeError_ as e:  # the runtime cannot read them at all (a hollow node)
                raise _BadRequest(str(e), 400) from e
        except _BadRequest as e:
            return PlainTextResponse(str(e), status_code=e.code)

        async def body() -> AsyncIterator[bytes]:
            sent = 0
            try:
                async for chunk in stream:
                    if limit is not None:
                        chunk = chunk[:max(0, limit - sent)]
                    if chunk:
                        yield chunk
                        sent += len(chunk)
                    if limit is not None and sent >= limit:
                        break
            except ri.RuntimeError_ as e:
                log.info("log stream of %s ended: %s", target.id[:12], e)
            finally:
                await stream.aclose()

        return StreamingResponse(body(), media_type="text/plain")

    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/metrics", metrics_),  # Prometheus (authorized as nodes/metrics)
        Route("/pods", pods),
        Route("/stats/summary", stats_summary),  # the Summary API (kubelet/stats.py; nodes/stats)
        Route("/containerLogs/{namespace}/{pod}/{container}", container_logs),
        Route("/exec/{namespace}/{pod}/{container}", exec_check, methods=["GET", "POST"]),
        WebSocketRoute("/exec/{namespace}/{pod}/{container}", exec_ws),
        Route("/attach/{namespace}/{pod}/{container}", exec_check, methods=["GET", "POST"]),
        WebSocketRoute("/attach/{namespace}/{pod}/{container}", exec_ws),
        Route("/portForward/{namespace}/{pod}", port_forward_check, methods=["GET", "POST"]),
        WebSocketRoute("/portForward/{namespace}/{pod}", port_forward_ws),
    ])


class NodeServer:
    """uvicorn serving :func:`make_app` inside the kubelet's event loop, over ``tls`` (uvicorn's
    TLS options, :func:`kubelet.serving.uvicorn_options`) behind ``authorize``."""

    def __init__(self, sources: Callable[[], Sequence[PodSource]], *, host: str, port: int,
                 tls: dict[str, Any], authorize: auth.Authorize | None = None,
                 stats_interval: float = stats.SWEEP_INTERVAL_S,
                 tokens: delegated_auth.TokenReviewer | None = None) -> None:
        """``tokens``: a TokenReviewer when bearer tokens are accepted too."""
        app = auth.AuthFilter(make_app(sources, stats_interval=stats_interval), authorize or auth.always_allow,
                              tokens=tokens)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off", **tls)
        self._server = uvicorn.Server(config)
        # Meant to leave signal handling and shutdown to the kubelet, but uvicorn 0.29 replaced
        # install_signal_handlers with capture_signals, so this is a no-op (issue #16 reports it).
        self._server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]

    async def serve(self) -> None:
        await self._server.serve()

    def reload_certificate(self, cert_file: str, key_file: str) -> None:
        """Serve a renewed certificate to new connections (the TLS context is uvicorn's own)."""
        ctx = self._server.config.ssl if self._server.config.loaded else None
        if ctx is not None:
            ctx.load_cert_chain(cert_file, key_file)

    @property
    def started(self) -> bool:
        return self._server.started

    async def shutdown(self) -> None:
        self._server.should_exit = True
