"""The kubelet's port-forward session (``kubelet/portforward.py``) spoken to as kubectl 1.32
speaks it: SPDY/3.1 frames in WebSocket messages, through starlette's WebSocket served by
uvicorn on loopback, forwarding to a TCP server on loopback that stands where the pod's port
would be. The real kubectl, the apiserver's relay and Docker's network namespaces are the e2e
test's (``tests/e2e/test_portforward_docker.py``); here each frame's order is checked exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from kubelet import portforward, spdy
from tests.conftest import pick_free_port

ERROR, DATA = 1, 3  # stream ids as kubectl allocates them for its first connection


class _Pod:
    """A TCP server on loopback playing the pod's port: it answers each request line with
    ``reply`` and then closes, or (``hold``) keeps the connection open until its peer closes it."""

    def __init__(self, reply: bytes, *, hold: bool = False) -> None:
        self.reply, self.hold = reply, hold
        self.closed = asyncio.Event()
        self.received = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _Pod:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.received += await reader.readline()
            writer.write(self.reply)
            await writer.drain()
            if self.hold:
                while await reader.read(1024):
                    pass
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            writer.close()

    async def dial(self, port: int) -> socket.socket:
        if port != 8080:
            raise ConnectionRefusedError(111, "connect: connection refused")
        return socket.create_connection(("127.0.0.1", self.port))


@contextlib.asynccontextmanager
async def _session(dial: Callable[[int], Awaitable[socket.socket]]) -> AsyncIterator[_Ws]:
    async def endpoint(ws: WebSocket) -> None:
        await ws.accept(subprotocol=portforward.PROTOCOL)
        await portforward.Session(ws, dial, pod="web_default", uid="u-1").run()

    port = pick_free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[WebSocketRoute("/pf", endpoint)]),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           ws="wsproto"))  # as the node server (minik8s/tlspeer.py)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        # aiohttp, as the apiserver's relay dials the kubelet (websockets refuses this subprotocol).
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(f"ws://127.0.0.1:{port}/pf", protocols=[portforward.PROTOCOL]) as ws:
            assert ws.protocol == portforward.PROTOCOL
            yield _Ws(ws)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class _Ws:
    """Binary messages in and out of an aiohttp WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    async def send(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def recv(self) -> bytes:
        msg = await self._ws.receive()
        assert msg.type == aiohttp.WSMsgType.BINARY, msg
        data: bytes = msg.data
        return data


class _Client:
    """kubectl's side of one session: SYN_STREAMs with its headers, frames read in order."""

    def __init__(self, ws: _Ws) -> None:
        self.ws = ws
        self.codec = spdy.HeaderCodec()
        self.reader = spdy.FrameReader()
        self.pending: list[spdy.ControlFrame | spdy.DataFrame] = []

    async def open(self, stream_id: int, kind: str, port: int, request_id: str = "0") -> None:
        block = self.codec.encode({"streamType": [kind], "port": [str(port)], "requestID": [request_id]})
        payload = struct.pack(">IIH", stream_id, 0, 0) + block
        await self.ws.send(struct.pack(">HHI", 0x8000 | spdy.VERSION, spdy.SYN_STREAM, len(payload)) + payload)

    async def next(self) -> spdy.ControlFrame | spdy.DataFrame:
        while not self.pending:
            self.pending += self.reader.feed(await asyncio.wait_for(self.ws.recv(), 5))
        return self.pending.pop(0)

    async def data_frames(self, until_fin_of: int) -> list[tuple[int, bytes, bool]]:
        """The DATA frames received up to the FIN of ``until_fin_of`` (SYN_REPLYs skipped)."""
        out: list[tuple[int, bytes, bool]] = []
        while True:
            frame = await self.next()
            if isinstance(frame, spdy.DataFrame):
                out.append((frame.stream_id, frame.data, frame.fin))
                if frame.fin and frame.stream_id == until_fin_of:
                    return out
            else:
                assert frame.type == spdy.SYN_REPLY, frame


async def test_pod_end_of_output_fins_data_then_error() -> None:
    async with _Pod(b"hello\n") as pod, _session(pod.dial) as ws:
        c = _Client(ws)
        await c.open(ERROR, "error", 8080)
        await c.open(DATA, "data", 8080)
        await ws.send(spdy.encode_data(DATA, b"GET /\n"))
        assert await c.data_frames(until_fin_of=ERROR) == [(DATA, b"hello\n", False), (DATA, b"", True),
                                                           (ERROR, b"", True)]
        assert bytes(pod.received) == b"GET /\n"


async def test_reset_data_stream_still_ends_the_error_stream_and_the_pod_connection() -> None:
    # kubectl 1.32 resets a data stream it is done with, at times before the error stream's FIN
    # went out; it then waits for that FIN before closing its local connection, so the FIN must
    # come, and nothing more may follow on the reset stream.
    async with _Pod(b"partial", hold=True) as pod, _session(pod.dial) as ws:
        c = _Client(ws)
        await c.open(ERROR, "error", 8080)
        await c.open(DATA, "data", 8080)
        await ws.send(spdy.encode_data(DATA, b"GET /\n"))
        assert await c.next() is not None and await c.next() is not None  # the two SYN_REPLYs
        frame = await c.next()
        assert isinstance(frame, spdy.DataFrame) and (frame.stream_id, frame.data) == (DATA, b"partial")
        await ws.send(spdy.encode_rst_stream(DATA, spdy.CANCEL))
        assert await c.data_frames(until_fin_of=ERROR) == [(ERROR, b"", True)]
        await asyncio.wait_for(pod.closed.wait(), 5)


async def test_refused_port_reports_kubernetes_message_on_the_error_stream() -> None:
    async with _Pod(b"") as pod, _session(pod.dial) as ws:
        c = _Client(ws)
        await c.open(ERROR, "error", 9)
        await c.open(DATA, "data", 9)
        frames = await c.data_frames(until_fin_of=ERROR)
        assert frames == [(ERROR, b"error forwarding port 9 to pod web_default, uid u-1: "
                                  b"[Errno 111] connect: connection refused", False),
                          (DATA, b"", True), (ERROR, b"", True)]


@pytest.mark.parametrize("reset", [ERROR, DATA])
async def test_reset_before_the_pair_is_complete_forgets_the_request(reset: int) -> None:
    async with _Pod(b"hi") as pod, _session(pod.dial) as ws:
        c = _Client(ws)
        await c.open(reset, "error" if reset == ERROR else "data", 8080, request_id="7")
        await ws.send(spdy.encode_rst_stream(reset, spdy.CANCEL))
        # A new request with the same id starts afresh and is served whole.
        await c.open(5, "error", 8080, request_id="7")
        await c.open(7, "data", 8080, request_id="7")
        await ws.send(spdy.encode_data(7, b"GET\n"))
        assert await c.data_frames(until_fin_of=5) == [(7, b"hi", False), (7, b"", True), (5, b"", True)]
