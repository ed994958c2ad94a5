"""The blocking HTTP/1.1 connection of mkctl against a local server answering canned bytes:
each framing (length, chunked with extensions and trailers, end of connection), 1xx before the
answer, a kept-alive connection the server dropped (asked again), and malformed answers
(ConnectionFailed, never a hang or a traceback of ours)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from minik8s import errors
from minik8s.client import http1
from minik8s.client.connection import Connection


class CannedServer:
    """Accepts connections on loopback, one list of canned answers each: per answer it reads a
    request and writes the answer (``None``: closes without answering); after the last answer
    it closes the connection."""

    def __init__(self, answers: list[list[bytes | None]]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self._answers = answers
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        for per_connection in self._answers:
            conn, _ = self.sock.accept()
            with conn:
                for answer in per_connection:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    self.requests.append(data)
                    if answer is None:
                        break
                    conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[CannedServer] = []

    def make(*answers: list[bytes | None]) -> http1.HTTPConnection:
        server = CannedServer(list(answers))
        servers.append(server)
        return http1.HTTPConnection(Connection(f"http://127.0.0.1:{server.port}"), timeout=5)

    yield make
    for s in servers:
        s.close()


def test_length_chunked_and_close_framings(serve) -> None:
    conn = serve([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                  b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
                  b"HTTP/1.0 200 OK\r\n\r\nuntil the end"])
    a = conn.request("GET", "/a", [], None)
    sock = conn._sock
    b = conn.request("GET", "/b", [], None)
    assert (a.status, a.content, b.content) == (200, b"hello", b"abcde")
    assert conn._sock is sock, "kept alive"
    c = conn.request("POST", "/c", [("Content-Type", "application/json")], b"{}")
    assert c.content == b"until the end" and conn._sock is None, "read to the end of the connection, then closed"



def test_a_kept_alive_connection_the_server_dropped_is_asked_again(serve) -> None:
    conn = serve([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", None],
                 [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"])
    assert conn.request("GET", "/1", [], None).content == b"ok"
    # the server read the second request and closed without answering: a GET is sent again
    assert conn.request("GET", "/2", [], None).content == b"again"


@pytest.mark.parametrize("answer, message", [
    (b"SPDY/3 200 OK\r\n\r\n", "malformed HTTP status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed HTTP header"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "in the middle of the body"),
    (None, "closed the connection before answering"),
])
def test_malformed_answers_are_connection_failed(serve, answer: bytes | None, message: str) -> None:
    conn = serve([answer])  # the server answers (or not) and closes
    with pytest.raises(errors.ConnectionFailed) as e:
        conn.request("GET", "/", [], None)
    assert message in str(e.value) and "connection broken" in str(e.value)
