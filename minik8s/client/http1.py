"""One blocking HTTP/1.1 connection to the apiserver, for commands that make a few requests and
exit (``mkctl``).

A one-shot command spends more time starting than talking: it needs no event loop, no pool and
no HTTP library (aiohttp takes ~100 ms to import, the standard library's ``http.client`` ~15 ms
through its ``email`` header parser). This is the little a client of the apiserver needs: one
keep-alive connection (TLS from a :class:`~minik8s.client.connection.Connection`), requests
with a body of known length, and responses framed by ``Content-Length``, chunked transfer
encoding or the end of the connection, read whole or as a stream. A connection the server
closed while idle is noticed before reuse and opened again.

Every failure to connect, send or read raises :class:`~minik8s.errors.ConnectionFailed` (its
cause the ``OSError``), worded as :mod:`minik8s.client.rest` words them.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import BinaryIO
from urllib.parse import urlsplit

from minik8s import errors
from minik8s.client import connection
from minik8s.client.connection import Connection

_MAX_LINE = 65536
_MAX_HEADERS = 200
_READ_SIZE = 65536


class _Unreached(Exception):
    """The server in use could not be reached (``sent``: perhaps after the request went out)."""

    def __init__(self, error: errors.ConnectionFailed, *, sent: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case (a repeated header: its last value)."""

    __slots__ = ("_items",)

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._items = {name.lower(): (name, value) for name, value in pairs}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class HTTPConnection:
    """One connection to ``conn.server``; ``timeout`` bounds connecting and each read."""

    def __init__(self, conn: Connection, *, timeout: float | None) -> None:
        self._conn = conn
        self._ssl = conn.ssl
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None
        self._busy = False  # a streamed body is being read: the connection is not free
        self._aim(conn.server)

    def _aim(self, server: str) -> None:
        """Address ``server`` (one of the connection's servers) from now on."""
        url = urlsplit(server)
        self.server = server
        self._tls = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._tls else 80)
        self._prefix = url.path.rstrip("/")  # a server URL may carry a path: it prefixes every request
        host = f"[{self._host}]" if ":" in self._host else self._host
        default_port = 443 if self._tls else 80
        self._host_header = host if self._port == default_port else f"{host}:{self._port}"
        self._server_hostname = self._conn.server_hostname or self._host

    # -- the socket ------------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            # typeshed wants a str host; socket takes the ASCII bytes _ascii gives just as well
            sock = socket.create_connection((_ascii(self._host), self._port),  # type: ignore[arg-type]
                                            timeout=self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls:
                ctx = self._ssl or ssl.create_default_context()
                sock = ctx.wrap_socket(sock, server_hostname=_ascii(self._server_hostname))
        except OSError as e:
            raise failed(e, self.server, connecting=True) from e
        self._sock = sock
        self._file = sock.makefile("rb")

    def _stale(self) -> bool:
        """Whether the idle connection was closed by the server (readable with nothing pending
        means EOF or an unexpected byte: either way it cannot carry a request)."""
        assert self._sock is not None
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = self._file = None
        self._busy = False

    # -- a request -------------------------------------------------------------------------

    def request(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None, *,
                stream: bool = False, timeout: float | None | bool = False) -> Response:
        """Send one request (``target``: path and query) and read the status and headers; the
        body is read too unless ``stream``. ``timeout`` (if not False) replaces the connection's
        read timeout for this request. A server that cannot be reached hands the request to the
        connection's next server when :func:`~minik8s.client.connection.may_retry` allows."""
        tries = len(self._conn.servers.urls)
        while True:
            if self.server != self._conn.server:  # this or another request failed over
                self.close()
                self._aim(self._conn.server)
            try:
                return self._request_once(method, target, headers, body, stream=stream, timeout=timeout)
            except _Unreached as u:
                tries -= 1
                if not (self._conn.servers.failed(self.server) and tries > 0
                        and connection.may_retry(method, sent=u.sent)):
                    raise u.error from u.error.__cause__

    def _request_once(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None, *,
                      stream: bool, timeout: float | None | bool) -> Response:
        """:meth:`request` on the server in use; :class:`_Unreached` when it cannot be reached."""
        if self._busy:
            self.close()  # an unfinished stream: its connection cannot be reused
        if self._sock is not None and self._stale():
            self.close()
        reused = self._sock is not None
        if not reused:
            try:
                self._connect()
            except errors.ConnectionFailed as e:
                raise _Unreached(e, sent=False) from None
        assert self._sock is not None
        head = [f"{method} {self._prefix}{target} HTTP/1.1", f"Host: {self._host_header}"]
        head.extend(f"{k}: {v}" for k, v in headers)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        try:
            self._sock.settimeout(self._timeout if timeout is False else timeout)
            self._sock.sendall(data)
            resp = self._read_head(method)
        except (OSError, ProtocolError) as e:
            self.close()
            if reused and method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS") and not isinstance(e, TimeoutError):
                # the server closed the kept-alive connection as we reused it: idempotent, ask again
                return self._request_once(method, target, headers, body, stream=stream, timeout=timeout)
            err = failed(e, self.server)
            err.__cause__ = e
            if isinstance(e, TimeoutError):
                raise err from e  # a slow server is not a dead one: no failover
            raise _Unreached(err, sent=True) from None
        if not stream:
            try:
                resp.content = b"".join(resp.iter_body())
            except (OSError, ProtocolError) as e:
                self.close()
                raise failed(e, self.server) from e
        return resp

    def _read_head(self, method: str) -> Response:
        f = self._file
        assert f is not None
        while True:
            line = f.readline(_MAX_LINE + 1)
            if not line:
                raise ProtocolError("the server closed the connection before answering")
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code_text, _, _reason = rest.partition(" ")
            if not version.startswith("HTTP/") or not code_text.isdigit():
                raise ProtocolError(f"malformed HTTP status line: {line[:100]!r}")
            pairs = self._read_headers()
            status = int(code_text)
            if status >= 200 or status == 101:
                break  # 1xx (100 Continue) precede the real answer
        resp = Response(self, status, Headers(pairs))
        te = resp.headers.get("Transfer-Encoding", "").lower()
        length = resp.headers.get("Content-Length")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            resp._framing, resp._remaining = "none", 0
        elif "chunked" in te:
            resp._framing = "chunked"
        elif length is not None and length.strip().isdigit():
            resp._framing, resp._remaining = "length", int(length)
        else:
            resp._framing = "close"
        resp._keep = version == "HTTP/1.1" and resp.headers.get("Connection", "").lower() != "close" \
            and resp._framing != "close"
        self._busy = True
        return resp

    def _read_headers(self) -> list[tuple[str, str]]:
        f = self._file
        assert f is not None
        pairs: list[tuple[str, str]] = []
        while True:
            line = f.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return pairs
            if len(pairs) >= _MAX_HEADERS:
                raise ProtocolError("too many headers in the answer")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolError(f"malformed HTTP header: {line[:100]!r}")
            pairs.append((name.strip(), value.strip()))

    def _done(self, keep: bool) -> None:
        """The body was read to its end: the connection is free again, or closed."""
        self._busy = False
        if not keep:
            self.close()


class Response:
    """Status, headers, and the body (``content`` once read, else ``iter_body()``)."""

    __slots__ = ("_conn", "status", "headers", "content", "_framing", "_remaining", "_keep", "_finished")

    def __init__(self, conn: HTTPConnection, status: int, headers: Headers) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers
        self.content: bytes | None = None
        self._framing = "none"
        self._remaining = 0
        self._keep = False
        self._finished = False

    def iter_body(self) -> Iterator[bytes]:
        """The body in pieces as the network delivers them; the connection is free (or closed)
        once the last piece was read. Raises ``OSError`` (and a malformed frame) as it reads."""
        if self._finished:
            return
        f = self._conn._file
        assert f is not None
        if self._framing == "length":
            while self._remaining > 0:
                chunk = f.read1(min(self._remaining, _READ_SIZE))  # type: ignore[attr-defined]
                if not chunk:
                    raise ProtocolError("the server closed the connection in the middle of the body")
                self._remaining -= len(chunk)
                yield chunk
        elif self._framing == "chunked":
            while True:
                size_line = f.readline(_MAX_LINE + 1)
                size_text = size_line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"malformed chunk size: {size_line[:100]!r}") from None
                if size == 0:
                    self._conn._read_headers()  # trailers, then the blank line
                    break
                left = size
                while left > 0:
                    chunk = f.read1(min(left, _READ_SIZE))  # type: ignore[attr-defined]
                    if not chunk:
                        raise ProtocolError("the server closed the connection in the middle of a chunk")
                    left -= len(chunk)
                    yield chunk
                if f.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n"):
                    raise ProtocolError("a chunk did not end with CRLF")
        elif self._framing == "close":
            while True:
                chunk = f.read1(_READ_SIZE)  # type: ignore[attr-defined]
                if not chunk:
                    break
                yield chunk
        self._finished = True
        self._conn._done(self._keep)

    def close(self) -> None:
        """Give the connection back: kept when the body was read to its end, else closed."""
        if not self._finished:
            self._finished = True
            self._conn.close()


def _ascii(host: str) -> str | bytes:
    """An ASCII host name as bytes: socket and ssl take those as they are, where a str goes
    through the ``idna`` codec (and its ~3 ms import: unicodedata, stringprep)."""
    return host.encode("ascii") if host.isascii() else host


class ProtocolError(Exception):
    """Raised when the server's answer is not the HTTP/1.1 it should be (the transport turns it
    into :class:`~minik8s.errors.ConnectionFailed`, as an ``OSError``)."""


def failed(e: BaseException, server: str, *, connecting: bool = False) -> errors.ConnectionFailed:
    """The :class:`~minik8s.errors.ConnectionFailed` for a socket, TLS or framing failure."""
    if isinstance(e, TimeoutError | socket.timeout):
        what = "timed out"
    elif connecting:
        what = "connection failed"
    else:
        what = "connection broken"
    detail = str(e) or type(e).__name__
    return errors.ConnectionFailed(f"{server}: {what}: {detail}")
