"""The typed verbs' keep-alive pool (minik8s/client/keepalive.py) over real sockets: answers
framed by length, by chunks or by the connection's end; kept connections reused, and replaced
when the server closed them; the connection limit; an idempotent request asked again when a
kept connection dies under it, a POST not.

The server is a few lines of asyncio in the test, speaking HTTP/1.1 by hand, so that it can
frame answers and drop connections as the real apiserver cannot be made to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import pytest

from minik8s import errors
from minik8s.api.resources import CONFIGMAPS
from minik8s.client.rest import ApiClient


class Server:
    """Answers GET/POST .../configmaps/<mode> as <mode> says; counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                               if line.lower().startswith("content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                served += 1
                path = target.split("?")[0]
                mode = path.split("/configmaps/")[1].split("/")[0] if "/configmaps/" in path else "configmaps"
                self.requests.append(f"{method} {mode}")
                body = orjson.dumps({"kind": "ConfigMap", "metadata": {"name": mode}})
                if mode == "drop-second" and served == 2:
                    return  # the connection ends under the request, unanswered
                if mode == "chunked":
                    half = len(body) // 2
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:]))
                elif mode == "until-close":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + body)
                    await writer.drain()
                    return
                else:
                    if mode == "slow":
                        await asyncio.sleep(0.05)
                    elif mode == "stall":
                        await asyncio.sleep(10)
                    close = mode in ("close", "bye")
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
                                 % (len(body), b"Connection: close\r\n" if mode == "close" else b"", body))
                    await writer.drain()
                    if close:
                        return  # "bye": kept alive as far as the client knows, then closed idle
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


@contextlib.asynccontextmanager
async def serve() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield srv, f"http://127.0.0.1:{port}"
    finally:
        server.close()


@pytest.fixture
async def http() -> AsyncIterator[tuple[Server, str]]:
    async with serve() as pair:
        yield pair


async def test_answers_framed_by_length_chunks_or_the_end_of_the_connection(http: tuple[Server, str]) -> None:
    srv, url = http
    async with ApiClient(url) as client:
        for mode in ("plain", "chunked", "plain", "until-close", "plain", "close", "plain"):
            got = await client.get(CONFIGMAPS, mode, namespace="default")
            assert got["metadata"]["name"] == mode
    # kept across plain and chunked answers; a new one after each answer that ended its connection
    assert srv.connections == 3


async def test_a_kept_connection_the_server_closed_is_replaced(http: tuple[Server, str]) -> None:
    srv, url = http
    async with ApiClient(url) as client:
        await client.get(CONFIGMAPS, "bye", namespace="default")
        await asyncio.sleep(0.1)  # the server has closed the idle connection meanwhile
        got = await client.create(CONFIGMAPS, {"metadata": {"name": "plain"}}, namespace="default")
        assert got["kind"] == "ConfigMap"
    assert srv.connections == 2
    assert srv.requests == ["GET bye", "POST configmaps"]


async def test_requests_wait_for_a_connection_at_the_limit(http: tuple[Server, str]) -> None:
    srv, url = http
    async with ApiClient(url, max_connections=2) as client:
        got = await asyncio.gather(*(client.get(CONFIGMAPS, "slow", namespace="default") for _ in range(6)))
    assert [g["metadata"]["name"] for g in got] == ["slow"] * 6
    assert srv.most_open <= 2 and srv.connections == 2


async def test_an_idempotent_request_is_asked_again_when_its_kept_connection_dies(http: tuple[Server, str]) -> None:
    srv, url = http
    async with ApiClient(url) as client:
        await client.get(CONFIGMAPS, "drop-second", namespace="default")
        got = await client.get(CONFIGMAPS, "drop-second", namespace="default")  # dropped, then asked again
        assert got["metadata"]["name"] == "drop-second"
        assert srv.requests == ["GET drop-second"] * 3
        # A POST may have been acted on: the caller hears of the broken connection instead.
        with pytest.raises(errors.ConnectionFailed, match="connection broken"):
            await client.create_subresource(CONFIGMAPS, "drop-second", "x", {}, namespace="default")


async def test_a_request_past_its_deadline_gives_up_its_connection(http: tuple[Server, str]) -> None:
    srv, url = http
    async with ApiClient(url, timeout=0.3) as client:
        await client.get(CONFIGMAPS, "plain", namespace="default")
        with pytest.raises(errors.ConnectionFailed, match="timed out"):
            await client.get(CONFIGMAPS, "stall", namespace="default")
        # the stalled connection is cut, not pooled: the next request takes a new one
        got = await client.get(CONFIGMAPS, "plain", namespace="default")
        assert got["metadata"]["name"] == "plain"
    assert srv.connections == 2
