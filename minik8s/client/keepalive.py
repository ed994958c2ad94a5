"""The asynchronous client's ordinary requests: a pool of keep-alive HTTP/1.1 connections.

Every typed verb of :class:`~minik8s.client.rest.ApiClient` (get, create, patch, a binding, an
Event...) is one request with a body of known length and one answer read whole: what this
module does, and nothing else. Watches, streams, WebSockets and ``request()`` stay on aiohttp.
Why not aiohttp for these too: its request machinery (URL objects, header multidicts, a
timer, a response object and a task per request) cost ~145 us of the client's CPU per request
on these 2-core machines, this ~45 us (``tests/perf/client_bench.py``; figures in
``tests/perf/RESULTS.md``), and a hollow kubelet process sends five such requests per pod for
500 nodes. The bytes on the wire are the same requests: the same method, path, query and
headers (aiohttp's own ``Accept-Encoding`` aside: nothing is compressed on loopback).

One connection carries one request at a time (no pipelining); the answer is parsed by
``httptools`` (uvicorn's parser, a dependency already), framed by ``Content-Length``, chunked
transfer encoding or the end of the connection. Idle connections are kept per server URL, at
most ``limit`` open at once (more requests wait for one), and dropped once idle longer than
``keepalive`` seconds or closed by the server (a kept connection whose socket has anything
to read is not reused: its end arrived and the loop has not read it yet). A kept connection the server
closed just as it was reused is not an answer: an idempotent request is sent again once on a new connection,
as aiohttp and Go's transport do.

Failures raise :class:`Unreached` (``sent``: whether the request may have gone out; ``error``:
the :class:`~minik8s.errors.ConnectionFailed` worded as :mod:`minik8s.client.rest` words
them), so the caller can fail over to the next server as for aiohttp's errors (a connect that
times out among them); a timeout after the request went out raises
:class:`~minik8s.errors.ConnectionFailed` itself (a slow server is not a dead one).
"""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
from typing import cast
from urllib.parse import urlsplit

import httptools

from minik8s import errors

__all__ = ["Pool", "Unreached"]

# Requests sent again after a kept connection broke under them (the server may have closed it
# as it idled): the methods HTTP calls idempotent, as aiohttp retries them.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_CLOSE_WAIT_S = 2.0  # how long close() waits for the connections' ends


class Unreached(Exception):
    """Raised when the server could not be reached or the connection broke before the answer."""

    def __init__(self, error: errors.ConnectionFailed, *, sent: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent


class _Broken(Exception):
    """Raised (inside this module) when a connection ends or garbles its answer."""


class _Server:
    """Where one server URL points, parsed once."""

    __slots__ = ("url", "host", "port", "tls", "prefix", "host_header")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")  # a server URL may carry a path: it prefixes every request
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


class _Connection(asyncio.Protocol):
    """One connection: the transport, the parser, and the answer being read."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._fd = -1
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._until_close = False
        self._framed = False  # the answer has a Content-Length or chunks
        self.answered = False  # some byte of the answer to the request in flight arrived
        self.keep = False

    # -- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, though they are ones
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted again
            return
        self.answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(_Broken(f"malformed answer: {e}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._waiter is not None and not self._waiter.done():
            if self._until_close and exc is None:
                self.keep = False
                self._waiter.set_result((self._parser.get_status_code(), b"".join(self._body)))
            else:
                self._fail(_Broken(str(exc) if exc else "the server closed the connection before answering"))
        if not self.lost.done():
            self.lost.set_result(None)

    # -- httptools --------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        # Neither a length nor chunks: the body ends with the connection.
        status = self._parser.get_status_code()
        self._until_close = status >= 200 and status not in (204, 304) and not self._framed
        self._framed = False

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue and the like precede the real answer
            self._body.clear()
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self.keep = self._parser.should_keep_alive()
            self._until_close = False
            waiter.set_result((status, b"".join(self._body)))

    # -- ours -------------------------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._body = []
        self._until_close = self._framed = False
        self.answered = False
        self.keep = False
        self.transport.write(data)
        return waiter

    def _fail(self, e: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(e)

    def reusable(self, idle_after: float) -> bool:
        """Whether this idle connection may carry a request: open, idle since ``idle_after``
        or later, and nothing to read. An idle connection with bytes waiting in its socket was
        closed by the server (or sent what nobody asked): the loop has not read its end yet."""
        if not self.open or self.idle_since < idle_after:
            return False
        if self._fd < 0:
            return True
        try:
            readable, _, _ = select.select([self._fd], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _expire(answer: asyncio.Future[tuple[int, bytes]]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


class Pool:
    """Keep-alive connections to the servers of one client (TLS, or none, fixed per pool).
    It belongs to the event loop it first ran in, as the client does."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None, server_hostname: str | None, limit: int,
                 keepalive: float) -> None:
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._limit = limit
        self._keepalive = keepalive
        self._servers: dict[str, _Server] = {}
        self._idle: dict[str, list[_Connection]] = {}
        self._all: set[_Connection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def request(self, server: str, method: str, target: str, headers: str,
                      body: bytes | None, timeout: float | None) -> tuple[int, bytes]:
        """Send one request to ``server`` (``target``: its path and query; ``headers``: its
        header lines, each ending in CRLF, Host and Content-Length aside) and read the answer
        whole: (status, body). ``timeout`` bounds all of it, waiting for a connection included."""
        srv = self._servers.get(server)
        if srv is None:
            srv = self._servers[server] = _Server(server)
        length = f"Content-Length: {len(body or b'')}\r\n" if body is not None or method in ("POST", "PUT", "PATCH") \
            else ""
        data = f"{method} {srv.prefix}{target} HTTP/1.1\r\nHost: {srv.host_header}\r\n{headers}{length}\r\n".encode(
            "latin-1")
        if body:
            data += body
        # The deadline is kept by one timer on the answer's future, not an asyncio.timeout
        # around the whole (a tenth of this module's cost per request); waiting for a
        # connection and opening one, rarer, are bounded by asyncio.timeout_at.
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        try:
            return await self._exchange(srv, method, data, deadline)
        except TimeoutError:
            raise errors.ConnectionFailed(f"{server}: timed out: {method} {target}") from None

    async def _exchange(self, srv: _Server, method: str, data: bytes, deadline: float | None) -> tuple[int, bytes]:
        retried = False
        loop = asyncio.get_running_loop()
        while True:
            conn, reused = await self._acquire(srv, deadline)
            done = False
            answer = conn.send(data)
            timer = None if deadline is None else loop.call_at(deadline, _expire, answer)
            try:
                status, payload = await answer
                done = True
                return status, payload
            except _Broken as e:
                if reused and not conn.answered and not retried and method in _IDEMPOTENT:
                    retried = True  # the server closed the kept connection as we reused it
                    continue
                raise Unreached(errors.ConnectionFailed(f"{srv.url}: connection broken: {e}"), sent=True) from None
            finally:
                if timer is not None:
                    timer.cancel()
                self._release(srv, conn, done=done)

    async def _acquire(self, srv: _Server, deadline: float | None) -> tuple[_Connection, bool]:
        """A connection to ``srv``: a kept one (True), else a new one (False), by ``deadline``."""
        if self._closed:
            raise RuntimeError("this connection pool is closed")
        loop = asyncio.get_running_loop()
        idle = self._idle.get(srv.url)
        while idle:
            conn = idle.pop()
            if conn.reusable(loop.time() - self._keepalive):
                return conn, True
            self._forget(conn)
        while len(self._all) + self._opening >= self._limit:
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # the turn this waiter was given passes to the next
                raise
            idle = self._idle.get(srv.url)
            while idle:
                conn = idle.pop()
                if conn.reusable(loop.time() - self._keepalive):
                    return conn, True
                self._forget(conn)
        self._opening += 1
        try:
            tls = self._ssl if srv.tls else None
            if srv.tls and tls is None:
                tls = ssl.create_default_context()
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(
                    _Connection, srv.host, srv.port, ssl=tls,
                    server_hostname=(self._server_hostname or srv.host) if tls is not None else None)
        except TimeoutError:  # a dead host: as refused, the request never went out
            raise Unreached(errors.ConnectionFailed(f"{srv.url}: connection failed: timed out"), sent=False) from None
        except (OSError, ssl.SSLError) as e:
            detail = str(e) or type(e).__name__
            raise Unreached(errors.ConnectionFailed(f"{srv.url}: connection failed: {detail}"), sent=False) from e
        finally:
            self._opening -= 1
            self._wake()
        self._all.add(conn)
        return conn, False

    def _release(self, srv: _Server, conn: _Connection, *, done: bool) -> None:
        """``conn`` is free again: kept when its answer was read whole and the server keeps it,
        closed when the server does not, cut when the answer was not read to its end."""
        if done and conn.keep and conn.open and not self._closed:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(srv.url, []).append(conn)
        else:
            if not done:
                conn.abort()
            self._forget(conn)
        self._wake()

    def _forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        if conn.open:
            conn.close()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection and wait (briefly) until they are gone."""
        self._closed = True
        conns = list(self._all)
        self._all.clear()
        self._idle.clear()
        for conn in conns:
            conn.close()
        lost = [c.lost for c in conns if not c.lost.done()]
        if lost:
            await asyncio.wait(lost, timeout=_CLOSE_WAIT_S)
        for conn in conns:
            if not conn.lost.done():
                conn.abort()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.cancel()
