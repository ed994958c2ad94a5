"""The kubelet's httpGet probe (``kubelet/probes.py``) against a real HTTP server on loopback:
a 2xx or 3xx answer passes, anything else or no answer fails with Kubernetes' message, the
probe's headers are sent, and a redirect is followed. The client is made by the first httpGet
probe, so a node whose pods have none never loads httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubelet.probes import ProbeManager, run_probe
from kubelet.runtime.fake import FakeRuntime
from minik8s.api import typed
from tests.conftest import pick_free_port


class _Server:
    """Answers ``GET /ok`` 200, ``/moved`` 302 to ``/ok``, anything else 500; keeps requests."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        path = head.split(b" ", 2)[1]
        if path == b"/ok":
            status, extra = b"200 OK", b""
        elif path == b"/moved":
            status, extra = b"302 Found", b"Location: /ok\r\n"
        else:
            status, extra = b"500 Internal Server Error", b""
        writer.write(b"HTTP/1.1 " + status + b"\r\n" + extra + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    s = _Server()
    srv = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    s.port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield s


def _probe(path: str, port: int, headers: list[dict[str, str]] | None = None) -> typed.Probe:
    hg: dict[str, object] = {"path": path, "port": port, "host": "127.0.0.1"}
    if headers:
        hg["httpHeaders"] = headers
    return {"httpGet": hg, "timeoutSeconds": 2}  # type: ignore[typeddict-item]


async def test_http_probe_status_headers_and_redirect(server: _Server) -> None:
    manager = ProbeManager(FakeRuntime(), recorder=None, on_change=lambda uid: None)  # type: ignore[arg-type]
    container: typed.Container = {"name": "app"}
    assert manager._http is None  # nothing made until an httpGet probe runs
    try:
        ok = await run_probe(manager.runtime, _probe("/ok", server.port, [{"name": "X-Probe", "value": "yes"}]),
                             container=container, container_id="c1", pod_ip=None, http=manager.client)
        assert ok == (True, "")
        assert b"x-probe: yes" in server.requests[-1].lower()
        assert b"user-agent: kube-probe/" in server.requests[-1].lower()
        assert await run_probe(manager.runtime, _probe("moved", server.port), container=container,
                               container_id="c1", pod_ip=None, http=manager.client) == (True, "")
        assert server.requests[-1].startswith(b"GET /ok ")  # the redirect was followed
        assert await run_probe(manager.runtime, _probe("/bad", server.port), container=container,
                               container_id="c1", pod_ip=None, http=manager.client) == (
            False, "HTTP probe failed with statuscode: 500")
    finally:
        await manager.close()


async def test_http_probe_to_a_closed_port_fails_with_the_url() -> None:
    unused_tcp_port = pick_free_port()
    manager = ProbeManager(FakeRuntime(), recorder=None, on_change=lambda uid: None)  # type: ignore[arg-type]
    try:
        ok, message = await run_probe(manager.runtime, _probe("/x", unused_tcp_port), container={"name": "app"},
                                      container_id="c1", pod_ip=None, http=manager.client)
        assert not ok and message.startswith(f'Get "http://127.0.0.1:{unused_tcp_port}/x": ')
    finally:
        await manager.close()
