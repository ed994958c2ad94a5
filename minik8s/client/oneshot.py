"""The REST client of one-shot commands (``mkctl``): the typed verbs over one blocking
connection, with the asynchronous :class:`~minik8s.client.rest.ApiClient` only for what needs
a loop.

:class:`OneShotClient` has the :class:`~minik8s.client.rest.ApiClient` interface (the typed
verbs, ``request``, ``watch``, ``websocket``, ``server``, ``namespace``, ``close``), so a verb's
code does not know which client it holds. Its plain requests go over one
:class:`~minik8s.client.http1.HTTPConnection`: its coroutines never suspend, so a command that
only asks and prints runs without an event loop at all (``minik8s.cli.main``), and aiohttp is
never imported for it. What must share an event loop with other work is handed to an
``ApiClient`` made on first use from the same :class:`~minik8s.client.connection.Connection`
(the same TLS and credentials): watches, WebSockets (``exec``), and streamed bodies read while
a loop runs (``get -w`` under ``asyncio.timeout``). A streamed body read without a loop (``logs``,
``logs -f``) is read from the blocking connection as it arrives.

Requests run one at a time: inside a running loop each blocks it for its round trip, which a
command (unlike a component) can afford.
"""

from __future__ import annotations

import json as _json
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from minik8s import errors
from minik8s.client import http1, verbs
from minik8s.client.connection import Connection

if TYPE_CHECKING:
    from minik8s.api.resources import ResourceType
    from minik8s.client.rest import ApiClient, WatchEvent

# A path's characters kept as they are (already-escaped ``%XX`` included); the rest is escaped.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def loop_running() -> bool:
    """Whether this thread runs an asyncio event loop now (the guess when nobody said)."""
    if "asyncio" not in sys.modules:  # not imported: certainly not running (and stays unimported)
        return False
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _dumps(obj: Any) -> bytes:
    return _json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class StreamResponse(verbs.Response):
    """A streamed answer read from the blocking connection: ``aiter_bytes()`` yields each piece
    as it arrives (blocking until it does)."""

    __slots__ = ("_raw", "_server")

    def __init__(self, raw: http1.Response, server: str) -> None:
        super().__init__(raw.status, raw.headers, None)
        self._raw = raw
        self._server = server

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        try:
            for chunk in self._raw.iter_body():
                yield chunk
        except (OSError, http1.ProtocolError) as e:
            self._raw.close()
            raise http1.failed(e, self._server) from e

    async def aread(self) -> bytes:
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    async def aclose(self) -> None:
        self._raw.close()


class OneShotClient(verbs.TypedVerbs):
    """A client for a command's few requests: one blocking connection, no pool, no loop needed.

    ``timeout`` bounds connecting and each read of an ordinary request."""

    def __init__(self, conn: Connection, *, timeout: float = 30.0, user_agent: str = "minik8s",
                 namespace: str = "default") -> None:
        self.connection = conn
        self.namespace = namespace
        self.timeout = timeout
        self.user_agent = user_agent
        self._http = http1.HTTPConnection(conn, timeout=timeout)
        self._headers = [("User-Agent", user_agent), *conn.headers]
        self._async: ApiClient | None = None
        # Whether the command using this client runs on an event loop (mkctl sets it from the
        # verb): a streamed body is then read by the async client. None: whether one runs here.
        self.on_loop: bool | None = None

    @property
    def server(self) -> str:
        return self.connection.server

    def async_client(self) -> ApiClient:
        """The asynchronous client for this connection (made on first use, closed with this one)."""
        if self._async is None:
            from minik8s.client.rest import ApiClient  # aiohttp: only for the commands that need it

            self._async = ApiClient.from_connection(self.connection, timeout=self.timeout,
                                                    user_agent=self.user_agent, namespace=self.namespace)
        return self._async

    async def close(self) -> None:
        self._http.close()
        if self._async is not None:
            await self._async.close()

    async def __aenter__(self) -> OneShotClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
              body: bytes | None, headers: Mapping[str, str] | None, *, stream: bool = False,
              timeout: float | None | bool = False) -> http1.Response:
        """One request; a non-2xx answer raises :mod:`minik8s.errors` (its body read)."""
        path, sep, given_query = path.partition("?")  # a path may carry its query (openapi's ?hash=)
        target = quote(path, safe=_PATH_SAFE) + sep + given_query
        pairs = verbs.query(params) if params else []
        if pairs:
            target += ("&" if sep else "?") + urlencode(pairs)
        given = {k.lower() for k in headers} if headers else set()
        hdrs = [(k, v) for k, v in self._headers if k.lower() not in given]
        if "accept" not in given:
            hdrs.append(("Accept", "application/json"))
        if headers:
            hdrs.extend(headers.items())
        resp = self._http.request(method, target, hdrs, body, stream=stream, timeout=timeout)
        if resp.status >= 300:
            if resp.content is None:
                try:
                    resp.content = b"".join(resp.iter_body())
                except (OSError, http1.ProtocolError) as e:
                    resp.close()
                    raise http1.failed(e, self.server) from e
            raise errors.ApiError.from_response(resp.status, resp.content)
        return resp

    async def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    json: Any = None, content: bytes | None = None,
                    headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        if json is not None:
            content = _dumps(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        body = self._send(method, path, params, content, headers).content
        return _json.loads(body) if body else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None | str = "default",
    ) -> verbs.Response:
        """One HTTP request, as :meth:`ApiClient.request <minik8s.client.rest.ApiClient.request>`:
        a read :class:`~minik8s.client.verbs.Response`, or with ``stream=True`` one to iterate and
        ``aclose()``. ``timeout``: "default" (the client's), seconds per read, or None (none)."""
        if stream and self.runs_on_loop():
            return await self.async_client().request(method, path, params=params, json=json, content=content,
                                                     headers=headers, stream=True, timeout=timeout)  # type: ignore[arg-type]
        hdrs = dict(headers) if headers else {}
        if json is not None:
            content = _dumps(json)
            hdrs.setdefault("Content-Type", "application/json")
        body = content.encode() if isinstance(content, str) else content
        per_read: float | None | bool = False if timeout == "default" else timeout  # type: ignore[assignment]
        resp = self._send(method, path, params, body, hdrs or None, stream=stream, timeout=per_read)
        if stream:
            return StreamResponse(resp, self.server)
        return verbs.Response(resp.status, resp.headers, resp.content)

    # -- what needs a loop ------------------------------------------------------------------

    def runs_on_loop(self) -> bool:
        """Whether the command awaits this client on an event loop (``on_loop``, else a guess)."""
        return self.on_loop if self.on_loop is not None else loop_running()

    async def pause(self, seconds: float) -> None:
        """Wait before a retry: ``asyncio.sleep`` on the event loop, else simply block (a command
        run without a loop cannot await asyncio)."""
        if self.runs_on_loop():
            import asyncio

            await asyncio.sleep(seconds)
        else:
            import time

            time.sleep(seconds)  # noqa: ASYNC251 - this branch runs only without an event loop

    def watch(self, rt: ResourceType, **kwargs: Any) -> AsyncGenerator[WatchEvent, None]:
        """:meth:`ApiClient.watch <minik8s.client.rest.ApiClient.watch>`, on the asynchronous client."""
        return self.async_client().watch(rt, **kwargs)

    async def websocket(self, path: str, **kwargs: Any) -> Any:
        """:meth:`ApiClient.websocket <minik8s.client.rest.ApiClient.websocket>`, on the asynchronous client."""
        return await self.async_client().websocket(path, **kwargs)
