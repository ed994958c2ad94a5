"""``kubectl port-forward`` on the node: SPDY/3.1 port-forward streams over a WebSocket.

kubectl 1.32 opens a WebSocket with subprotocol ``SPDY/3.1+portforward.k8s.io`` (the
apiserver's ``pods/{name}/portforward`` relays it here, to ``/portForward/{ns}/{pod}``) and
speaks SPDY inside it (:mod:`kubelet.spdy`). For each local connection it opens two streams
with headers ``streamType`` (``error`` then ``data``), ``port`` and ``requestID``; the
server answers each with a SYN_REPLY. Once both streams of a request are there the kubelet
connects to the port on localhost inside the pod's network namespace (the runtime's
:meth:`~kubelet.runtime.interface.ContainerRuntime.port_forward`) and copies bytes both
ways: the client's FIN half-closes the pod connection; the pod's end of output FINs the data
stream and then, at once, the error stream -- carrying, when the connection could not be
made, Kubernetes' message ``error forwarding port P to pod ID, uid UID: ...``, which kubectl
prints and goes on serving other connections. kubectl waits for the error stream's FIN before
it closes its local connection, so every request ends with it unless the client reset that
stream. A RST_STREAM from the client ends the pod connection of its request (kubectl 1.32
resets a data stream it is done with, sometimes before the error stream's FIN has gone out),
and nothing more is sent on a stream it reset. Streams of many requests run at once; PINGs
are answered; when the WebSocket closes every connection of the session is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket

from kubelet import spdy

__all__ = ["PROTOCOL", "Session"]

log = logging.getLogger(__name__)

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
_READ = 32 * 1024
_OUTBOX = 64  # frames queued towards the client before pod reads wait (back-pressure)

Dial = Callable[[int], Awaitable[socket.socket]]


@dataclasses.dataclass(slots=True)
class _Request:
    """The two streams of one forwarded connection."""

    request_id: str
    port: int | None = None
    error_stream: int | None = None
    data_stream: int | None = None
    inbound: asyncio.Queue[bytes | None] = dataclasses.field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    pod_conn: asyncio.StreamWriter | None = None  # the connection to the pod, once dialled
    reset: set[int] = dataclasses.field(default_factory=set)  # streams the client reset

    def live(self, stream_id: int) -> bool:
        return stream_id not in self.reset


class Session:
    """One accepted WebSocket: the SPDY session and the connections it forwards."""

    def __init__(self, ws: WebSocket, dial: Dial, *, pod: str, uid: str) -> None:
        self._ws = ws
        self._dial = dial
        self._pod = pod
        self._uid = uid
        self._codec = spdy.HeaderCodec()
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue(_OUTBOX)
        self._requests: dict[str, _Request] = {}
        self._by_stream: dict[int, _Request] = {}
        self._last_stream = 0

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            await self._read()
        except spdy.ProtocolError as e:
            log.info("port-forward to %s: %s", self._pod, e)
            await self._outbox.put(spdy.encode_goaway(self._last_stream, 1))
        finally:
            for req in list(self._requests.values()):
                if req.task is not None:
                    req.task.cancel()
            await asyncio.gather(*(r.task for r in self._requests.values() if r.task is not None),
                                 return_exceptions=True)
            self._outbox.put_nowait(None) if not self._outbox.full() else None
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._ws.close(1000)

    async def _write(self) -> None:
        while (frame := await self._outbox.get()) is not None:
            await self._ws.send_bytes(frame)

    async def _read(self) -> None:
        reader = spdy.FrameReader()
        while True:
            msg = await self._ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("bytes")
            if data is None:
                continue  # text messages carry nothing in this protocol
            for frame in reader.feed(data):
                if isinstance(frame, spdy.DataFrame):
                    self._on_data(frame)
                elif not await self._on_control(frame):
                    return

    async def _on_control(self, frame: spdy.ControlFrame) -> bool:
        """Handle one control frame; False when the session ends (GOAWAY)."""
        if frame.type == spdy.SYN_STREAM:
            stream_id, block = spdy.parse_syn_stream(frame.payload)
            headers = self._codec.decode(block)  # always, to keep the zlib context in step
            self._last_stream = max(self._last_stream, stream_id)
            await self._on_syn_stream(stream_id, headers)
        elif frame.type == spdy.HEADERS:
            self._codec.decode(frame.payload[4:])
        elif frame.type == spdy.RST_STREAM:
            stream_id = spdy.stream_id_of(frame.payload)
            req = self._by_stream.get(stream_id)
            if req is not None:
                self._on_reset(req, stream_id)
        elif frame.type == spdy.PING:
            await self._outbox.put(spdy.encode_ping(int.from_bytes(frame.payload[:4], "big")))
        elif frame.type == spdy.GOAWAY:
            return False
        # SETTINGS and WINDOW_UPDATE need nothing (see kubelet.spdy on flow control).
        return True

    async def _on_syn_stream(self, stream_id: int, headers: dict[str, list[str]]) -> None:
        def one(name: str) -> str:
            return (headers.get(name.lower()) or [""])[0]
        kind, request_id = one("streamType"), one("requestID")
        try:
            port = int(one("port"))
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            log.info("port-forward to %s: stream %d has no valid port %r", self._pod, stream_id, one("port"))
            await self._outbox.put(spdy.encode_rst_stream(stream_id, spdy.PROTOCOL_ERROR))
            return
        if kind not in ("error", "data"):
            await self._outbox.put(spdy.encode_rst_stream(stream_id, spdy.PROTOCOL_ERROR))
            return
        req = self._requests.setdefault(request_id, _Request(request_id))
        if (req.error_stream if kind == "error" else req.data_stream) is not None:
            await self._outbox.put(spdy.encode_rst_stream(stream_id, spdy.PROTOCOL_ERROR))
            return
        if kind == "error":
            req.error_stream = stream_id
        else:
            req.data_stream = stream_id
        req.port = port
        self._by_stream[stream_id] = req
        await self._outbox.put(spdy.encode_syn_reply(self._codec, stream_id))
        if req.error_stream is not None and req.data_stream is not None and req.task is None:
            req.task = asyncio.create_task(self._forward(req))

    def _on_data(self, frame: spdy.DataFrame) -> None:
        req = self._by_stream.get(frame.stream_id)
        if req is None or frame.stream_id != req.data_stream:
            return  # the error stream carries nothing from the client; unknown streams are gone
        if frame.data:
            req.inbound.put_nowait(frame.data)
        if frame.fin:
            req.inbound.put_nowait(None)

    def _on_reset(self, req: _Request, stream_id: int) -> None:
        """The client reset one stream of ``req``: its pod connection ends (the forwarding
        task then finishes what the client still waits for), or, not yet forwarding, it is
        forgotten."""
        req.reset.add(stream_id)
        if req.task is None:
            self._forget(req)
            return
        req.inbound.put_nowait(None)
        if req.pod_conn is not None:
            req.pod_conn.transport.abort()  # the read loop sees end of input and winds up

    def _forget(self, req: _Request) -> None:
        self._requests.pop(req.request_id, None)
        for sid in (req.error_stream, req.data_stream):
            if sid is not None:
                self._by_stream.pop(sid, None)

    async def _forward(self, req: _Request) -> None:
        assert req.port is not None and req.data_stream is not None and req.error_stream is not None
        data, error = req.data_stream, req.error_stream
        try:
            try:
                sock = await self._dial(req.port)
            except Exception as e:
                message = f"error forwarding port {req.port} to pod {self._pod}, uid {self._uid}: {e}"
                log.info("port-forward: %s", message)
                if req.live(error):
                    await self._outbox.put(spdy.encode_data(error, message.encode()))
                await self._finish(req)
                return
            reader, writer = await asyncio.open_connection(sock=sock)
            req.pod_conn = writer
            if req.reset:  # reset while dialling
                writer.transport.abort()
            to_pod = asyncio.create_task(self._to_pod(req, writer))
            try:
                while req.live(data) and (chunk := await reader.read(_READ)):
                    await self._outbox.put(spdy.encode_data(data, chunk))
            except OSError as e:
                log.info("port-forward to %s port %d: %s", self._pod, req.port, e)
            # The pod is done sending (or the client reset the request): both streams end now,
            # as Kubernetes' kubelet closes them once the pod's side of the copy ends; what the
            # client still sends has no reader left.
            await self._finish(req)
            to_pod.cancel()
            writer.transport.abort()
            await asyncio.gather(to_pod, return_exceptions=True)
        finally:
            self._forget(req)

    async def _finish(self, req: _Request) -> None:
        """FIN the data stream, then the error stream, skipping any the client reset."""
        for stream_id in (req.data_stream, req.error_stream):
            if stream_id is not None and req.live(stream_id):
                await self._outbox.put(spdy.encode_data(stream_id, b"", fin=True))

    async def _to_pod(self, req: _Request, writer: asyncio.StreamWriter) -> None:
        while (chunk := await req.inbound.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()  # the client's FIN: the pod reads end of input, may still answer
