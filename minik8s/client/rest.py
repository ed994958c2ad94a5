"""The REST client: the only code outside the apiserver that speaks HTTP to it.

One :class:`ApiClient` per process holds one ``aiohttp.ClientSession`` (HTTP/1.1 keep-alive,
a connection pool sized for many long-lived watches beside ordinary requests), made on first
use inside the running event loop, so a client may be built before the loop runs. aiohttp
rather than httpx because this is the hot path of the whole cluster: on these 2-core machines
httpx's pool got slower with 32 requests in flight than with one, and this client ran at a
fifth of a bare aiohttp session's rate sequentially, a tenth concurrently; over aiohttp it
runs at that rate (``tests/perf/client_bench.py``, figures in ``tests/perf/RESULTS.md``).
The session carries watches, streams, WebSockets and ``request()``; the typed verbs (one
request, one answer read whole: most of a component's requests) go over the leaner pool of
:mod:`~minik8s.client.keepalive`, the same requests at a third of aiohttp's CPU per request.

Methods take a :class:`~minik8s.api.resources.ResourceType` and plain Kubernetes JSON dicts
(the typed verbs of :class:`~minik8s.client.verbs.TypedVerbs`, shared with ``mkctl``'s one-shot
client), and raise :mod:`minik8s.errors` for every non-2xx answer or unreachable server; no
aiohttp type crosses this module's boundary. TLS and credentials come from a
:class:`~minik8s.client.connection.Connection`, as for every client. JSON goes through
``orjson`` both ways; ``watch`` splits the newline-delimited event stream itself and parses
each line with ``orjson.loads``: controllers fan in many watches, so parsing cost matters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as _stdjson
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlencode

import aiohttp
import orjson

from minik8s import errors
from minik8s.api.resources import ResourceType
from minik8s.client import connection, keepalive, verbs
from minik8s.client.connection import make_ssl_context
from minik8s.client.verbs import PATCH_CONTENT_TYPES, PatchType

__all__ = ["PATCH_CONTENT_TYPES", "ApiClient", "PatchType", "Response", "WatchEvent", "make_ssl_context"]

# A watch may sit idle for minutes; the server ends it at timeoutSeconds, so the read timeout
# only has to catch a server that went silent without closing: allow this much beyond it.
_WATCH_READ_SLACK = 30.0
# Idle pooled connections live this long: long enough to carry a controller's request bursts.
_KEEPALIVE_SECONDS = 60.0
# How long a WebSocket's close may take: the closing handshake, then the connection's end.
_WS_CLOSE_SECONDS = 5.0

# The `timeout` argument of request(): "default" is the client's total timeout.
Timeout = float | None | Literal["default"]


@dataclasses.dataclass(slots=True)
class WatchEvent:
    """One event of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK, and its object."""

    type: str
    object: dict[str, Any]


_query = verbs.query


class Response(verbs.Response):
    """The answer of :meth:`ApiClient.request` (see :class:`~minik8s.client.verbs.Response`):
    ours, so no aiohttp type leaks to callers. Reading a stream to its end returns the
    connection to the pool."""

    __slots__ = ("_raw", "_server")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes | None, *,
                 raw: aiohttp.ClientResponse | None = None, server: str = "") -> None:
        super().__init__(status_code, headers, content)
        self._raw = raw
        self._server = server

    def json(self) -> Any:
        return orjson.loads(self.content)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives, in chunks of whatever size the network delivers."""
        if self._raw is None:
            if self._content:
                yield self._content
            return
        try:
            async for chunk in self._raw.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as e:
            raise _connection_failed(e, self._server) from e

    async def aread(self) -> bytes:
        """The whole (rest of the) body; the connection goes back to the pool."""
        if self._content is None:
            assert self._raw is not None
            try:
                self._content = await self._raw.read()
            except (aiohttp.ClientError, TimeoutError) as e:
                raise _connection_failed(e, self._server) from e
            finally:
                _finish(self._raw)
        return self._content

    async def aclose(self) -> None:
        """Release the connection: pooled again when the body was read to its end, else closed
        at once (an unread stream cannot be reused)."""
        if self._raw is not None:
            _finish(self._raw)


class WebSocket:
    """An open WebSocket of this client (``pods/{name}/exec``), ours so that no aiohttp type
    crosses the client's boundary: iterating yields the payload of each binary message until
    the connection ends (closed by the server, or broken); :meth:`send_bytes` sends one, and
    raises :class:`~minik8s.errors.ConnectionFailed` when it cannot. Use it as ``async with``."""

    __slots__ = ("_ws",)

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    async def send_bytes(self, data: bytes) -> None:
        try:
            await self._ws.send_bytes(data)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as e:
            raise errors.ConnectionFailed(f"websocket closed: {e}") from None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._binary_messages()

    async def _binary_messages(self) -> AsyncIterator[bytes]:
        try:
            async for msg in self._ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    yield msg.data
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    return
        except aiohttp.ClientError:
            return

    async def close(self) -> None:
        await self._ws.close()

    async def __aenter__(self) -> WebSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _ClosingWebSocketResponse(aiohttp.ClientWebSocketResponse):
    """aiohttp's client WebSocket, whose ``close()`` returns only once its connection is gone.

    aiohttp closes a finished WebSocket's transport and forgets it (aio-libs/aiohttp#1925): the
    connection has left the pool, so ``ClientSession.close()`` no longer waits for it, yet a TLS
    transport ends asynchronously (close_notify both ways, then the socket). A process that
    stops its event loop right after (``mkctl exec``) left that socket open: ``ResourceWarning:
    unclosed transport`` at exit. This close waits for the connection's ``connection_lost``,
    bounded by ``_WS_CLOSE_SECONDS``, and aborts a transport that outlives the bound."""

    def __init__(self, reader: Any, writer: Any, protocol: str | None, response: aiohttp.ClientResponse,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(reader, writer, protocol, response, *args, **kwargs)
        conn = response.connection
        handler = conn.protocol if conn is not None else None
        # Taken now, while the connection is open: the handler's future of its connection_lost.
        self._lost: asyncio.Future[None] | None = handler.closed if handler is not None else None
        self._transport: asyncio.Transport | None = conn.transport if conn is not None else None

    async def close(self, *, code: int = aiohttp.WSCloseCode.OK, message: bytes = b"") -> bool:
        closed = await super().close(code=code, message=message)
        lost, transport = self._lost, self._transport
        if lost is None:
            return closed
        if not lost.done():
            if transport is not None and not transport.is_closing():
                transport.close()  # a path of aiohttp's that marks the socket closed without closing it
            await asyncio.wait((lost,), timeout=_WS_CLOSE_SECONDS)
            if not lost.done() and transport is not None:
                transport.abort()
        if lost.done() and not lost.cancelled():
            lost.exception()  # a connection lost with an error: already answered by the close above
        return closed


def _finish(raw: aiohttp.ClientResponse) -> None:
    if raw.content.is_eof():
        raw.release()
    else:
        raw.close()


class ApiClient(verbs.TypedVerbs):
    """An asynchronous Kubernetes REST client over one shared, pooled aiohttp session.

    Use it as an async context manager or ``await close()`` it. It belongs to the event loop
    it first makes a request in."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        client_cert: str | tuple[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
        timeout: float = 30.0,
        user_agent: str = "minik8s",
        namespace: str = "default",
        max_connections: int = 1000,
    ) -> None:
        """``namespace`` is the default for calls naming one object of a namespaced type
        (kubeconfig's context namespace); lists without a namespace span all namespaces.
        ``timeout`` bounds each ordinary request whole (connect, send, read the body)."""
        # the servers to try (one, unless from_connection shares a Connection's list)
        self._servers = connection.Servers([server])
        self.namespace = namespace
        self.timeout = timeout
        self._max_connections = max_connections
        self._ssl: ssl.SSLContext | Literal[False]
        if isinstance(verify, ssl.SSLContext):
            self._ssl = verify
        elif self._servers.current.startswith("https://"):
            self._ssl = make_ssl_context(ca_file=ca_file, client_cert=client_cert, verify=verify)
        else:
            self._ssl = False  # plain HTTP: no TLS at all
        # Sent on every request; from_kubeconfig may still set Authorization before first use.
        self._headers: dict[str, str] = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        # what a Connection adds: repeated headers (one Impersonate-Group per group), the TLS name
        self._extra_headers: list[tuple[str, str]] = []
        # both, rendered as header lines per set of given headers, for the typed verbs (on first use)
        self._header_blocks: dict[tuple[tuple[str, str], ...], str] = {}
        self._server_hostname: str | None = None
        self._default_timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._pool: keepalive.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None, **kwargs: Any) -> ApiClient:
        """A client for a kubeconfig context (``$KUBECONFIG``, then ``~/.kube/config``)."""
        from minik8s.client import kubeconfig  # local: kubeconfig imports nothing of ours

        cfg = kubeconfig.load(path).resolve(context)
        kwargs.setdefault("namespace", cfg.namespace or "default")
        return cls.from_connection(connection.from_access(cfg), **kwargs)

    @classmethod
    def from_connection(cls, conn: connection.Connection, **kwargs: Any) -> ApiClient:
        """A client for a :class:`~minik8s.client.connection.Connection` (its TLS, its headers)."""
        client = cls(conn.server, verify=conn.ssl if conn.ssl is not None else True, **kwargs)
        for name, value in conn.headers:
            if name == "Authorization":
                client._headers[name] = value
            else:
                client._extra_headers.append((name, value))
        client._server_hostname = conn.server_hostname
        client._servers = conn.servers  # shared: a failover is seen by every user of the connection
        return client

    @property
    def server(self) -> str:
        """The URL of the apiserver in use (the next of the connection's servers after a failover)."""
        return self._servers.current

    def _http(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the loop it is created in."""
        if self._closed:
            raise RuntimeError("this ApiClient is closed")
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop:
            return self._session
        if self._session is not None:
            raise RuntimeError("an ApiClient belongs to the event loop it first ran in; make one per loop")
        # Every watch pins one connection for minutes: the pool must be far larger than
        # aiohttp's default of 100. TLS (or none) is fixed per client, so the connector has it.
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=_KEEPALIVE_SECONDS,
                                         ssl=self._ssl)
        headers: Any = self._headers
        if self._extra_headers:
            headers = [*self._headers.items(), *self._extra_headers]
        self._session = aiohttp.ClientSession(
            connector=connector, headers=headers, timeout=self._default_timeout,
            raise_for_status=False, trust_env=False, ws_response_class=_ClosingWebSocketResponse,
        )
        self._loop = loop
        return self._session

    async def websocket(self, path: str, *, params: Any = None, protocols: Sequence[str] = (),
                        heartbeat: float | None = None) -> WebSocket:
        """Open a WebSocket (``pods/{name}/exec``) with this client's TLS settings and
        credentials; the caller closes it (``async with``). A refused upgrade is asked again
        as a plain POST, so the server's Status surfaces as its :mod:`minik8s.errors` class
        (as kubectl's fallback reveals it); else :class:`~minik8s.errors.ConnectionFailed`.
        A server that cannot be reached hands the upgrade to the connection's next server."""
        tries = len(self._servers.urls)
        while True:
            server = self.server
            url = server + path
            try:
                return WebSocket(await self._http().ws_connect(url, params=params, protocols=tuple(protocols),
                                                               heartbeat=heartbeat, max_msg_size=0,
                                                               server_hostname=self._server_hostname,
                                                               timeout=aiohttp.ClientWSTimeout(ws_close=_WS_CLOSE_SECONDS)))
            except aiohttp.WSServerHandshakeError as e:
                refusal = f"{e.status} {e.message}"
                try:
                    async with self._http().post(url, params=_query(params or {})) as r:
                        body = await r.read()
                        status = r.status
                except aiohttp.ClientError:
                    pass
                else:
                    try:
                        parsed = orjson.loads(body)
                    except orjson.JSONDecodeError:
                        parsed = None
                    if status >= 300 and isinstance(parsed, dict) and parsed.get("kind") == "Status":
                        raise errors.ApiError.from_status(parsed, code=status) from None
                    refusal = body.decode("utf-8", "replace").strip() or refusal
                raise errors.ConnectionFailed(f"unable to upgrade connection: {refusal}") from None
            except aiohttp.ClientError as e:
                tries -= 1
                unreachable, sent = _unreachable(e)
                # never sent (refused, TLS handshake): the next server; a stream cut later is the caller's
                if unreachable and not sent and tries > 0 and self._servers.failed(server):
                    continue
                raise errors.ConnectionFailed(f"unable to upgrade connection: {e}") from None

    def _keepalive(self) -> keepalive.Pool:
        """The pool of the typed verbs' requests, made on first use (bound to the session's loop)."""
        if self._pool is None:
            self._http()  # the loop check, and the client is not closed
            self._pool = keepalive.Pool(ssl_context=self._ssl or None, server_hostname=self._server_hostname,
                                        limit=self._max_connections, keepalive=_KEEPALIVE_SECONDS)
        elif self._closed or self._loop is not asyncio.get_running_loop():
            self._http()  # raises as for the session
        return self._pool

    async def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- raw ------------------------------------------------------------------------------

    def _timeout(self, timeout: Timeout, *, stream: bool) -> aiohttp.ClientTimeout:
        """``"default"`` bounds an ordinary request whole; a stream (whose length is the
        caller's) and an explicit ``timeout`` bound each read instead, ``None`` not at all.
        Waiting for a connection is always bounded by the client's timeout."""
        if timeout == "default":
            if not stream:
                return self._default_timeout
            timeout = self.timeout
        return aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_read=timeout)

    async def _send(
        self, method: str, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
        body: bytes | str | None,
        headers: Mapping[str, str] | None, timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """Open one request; the response's status and headers are in, its body unread.
        Non-2xx raises :mod:`minik8s.errors` (its body read, its connection released).
        ``timeout`` is always given: aiohttp takes ``None`` as "no timeout at all"."""
        query = _query(params) if params else None
        tries = len(self._servers.urls)
        while True:
            server = self.server
            try:
                resp = await self._http().request(method, server + path, params=query or None,
                                                  data=body, headers=headers, timeout=timeout,
                                                  server_hostname=self._server_hostname)
                break
            except (aiohttp.ClientError, TimeoutError) as e:
                tries -= 1
                unreachable, sent = _unreachable(e)
                if not (unreachable and self._servers.failed(server) and tries > 0
                        and connection.may_retry(method, sent=sent)):
                    raise _connection_failed(e, server) from e
        if resp.status >= 300:
            try:
                payload = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as e:
                raise _connection_failed(e, server) from e
            finally:
                resp.release()
            raise errors.ApiError.from_response(resp.status, payload)
        return resp

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        try:
            return await resp.read()  # reading to the end returns the connection to the pool
        except (aiohttp.ClientError, TimeoutError) as e:
            raise _connection_failed(e, self.server) from e
        finally:
            resp.release()

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
        timeout: Timeout = "default",
    ) -> Response:
        """One HTTP request to ``path`` on the server; non-2xx raises :mod:`minik8s.errors`.
        Returns a :class:`Response`, its body read; with ``stream=True`` the body is left
        unread and the caller must ``await response.aclose()``."""
        hdrs = dict(headers) if headers else {}
        if json is not None:
            content = _dumps(json)
            hdrs.setdefault("Content-Type", "application/json")
        resp = await self._send(method, path, params, content, hdrs or None, self._timeout(timeout, stream=stream))
        if stream:
            return Response(resp.status, resp.headers, None, raw=resp, server=self.server)
        return Response(resp.status, resp.headers, await self._read(resp))

    async def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    json: Any = None, content: bytes | None = None,
                    headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The hot path of every typed verb: one request over :mod:`~minik8s.client.keepalive`'s
        pool (not aiohttp's), no Response object, the body straight to orjson."""
        if json is not None:
            content = _dumps(json)
            headers = _JSON_BODY if headers is None else {**_JSON_BODY, **headers}
        path, sep, given_query = path.partition("?")
        target = quote(path, safe=_PATH_SAFE) + sep + given_query
        if params:
            pairs = _query(params)
            if pairs:
                target += ("&" if sep else "?") + urlencode(pairs)
        hdrs = self._header_block(headers)
        pool = self._keepalive()
        tries = len(self._servers.urls)
        while True:
            server = self.server
            try:
                status, body = await pool.request(server, method, target, hdrs, content, self.timeout)
                break
            except keepalive.Unreached as e:
                tries -= 1
                if not (self._servers.failed(server) and tries > 0 and connection.may_retry(method, sent=e.sent)):
                    raise e.error from e.__cause__
        if status >= 300:
            raise errors.ApiError.from_response(status, body)
        return orjson.loads(body) if body else {}

    def _header_block(self, given: Mapping[str, str] | None) -> str:
        """The request's header lines: the client's (a given one of the same name replaces
        its), then the given; rendered once per set of given headers (a handful: the JSON
        body's Content-Type, a patch's), not per request."""
        key = tuple(given.items()) if given else ()
        block = self._header_blocks.get(key)
        if block is None:
            names = {k.lower() for k in given} if given else set()
            pairs = [*((k, v) for k, v in self._headers.items() if k.lower() not in names),
                     *((k, v) for k, v in self._extra_headers if k.lower() not in names), *key]
            block = "".join(f"{k}: {v}\r\n" for k, v in pairs)
            if len(self._header_blocks) < _HEADER_BLOCKS:
                self._header_blocks[key] = block
        return block

    # -- watch ----------------------------------------------------------------------------

    async def watch(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events from ``resource_version`` on, until the server ends the stream. An ERROR event
        raises: :class:`~minik8s.errors.WatchExpired` for 410, else its ApiError. A broken
        connection raises :class:`~minik8s.errors.ConnectionFailed`. Close early with
        ``contextlib.aclosing`` (or ``aclose()``) to free the connection at once."""
        params = {
            "watch": True, "resourceVersion": resource_version or None,
            "labelSelector": label_selector or None, "fieldSelector": field_selector or None,
            "allowWatchBookmarks": True if allow_bookmarks else None, "timeoutSeconds": timeout_seconds,
        }
        read_timeout = None if timeout_seconds is None else timeout_seconds + _WATCH_READ_SLACK
        resp = await self._send("GET", rt.path(namespace), params, None, None,
                                aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_read=read_timeout))
        try:
            # Chunks are split on newlines here rather than with readline(): aiohttp's
            # readline refuses lines over its buffer size, and one object may be megabytes.
            parts: list[bytes] = []
            async for chunk in resp.content.iter_any():
                if b"\n" not in chunk:
                    parts.append(chunk)  # an object larger than one chunk: join once it ends
                    continue
                if parts:
                    parts.append(chunk)
                    chunk = b"".join(parts)
                    parts.clear()
                lines = chunk.split(b"\n")
                tail = lines.pop()
                if tail:
                    parts.append(tail)
                for line in lines:
                    if line and not line.isspace():
                        yield _watch_event(line)
            if parts:
                rest = b"".join(parts)
                if rest.strip():
                    yield _watch_event(rest)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise _connection_failed(e, self.server) from e
        finally:
            # An unfinished stream closes its socket now; a finished one is pooled again.
            _finish(resp)


def _watch_event(line: bytes) -> WatchEvent:
    try:
        d = orjson.loads(line)
        etype, obj = d["type"], d["object"]
    except (ValueError, KeyError, TypeError) as e:
        raise errors.ConnectionFailed(f"malformed watch event from the server: {line[:200]!r}") from e
    if etype == "ERROR":
        code = int(obj.get("code") or 500)
        if code == 410:
            err = errors.ApiError.from_status(obj)
            raise errors.WatchExpired(obj, code, err.reason, err.message)
        raise errors.ApiError.from_status(obj)
    return WatchEvent(etype, obj)


_JSON_BODY = {"Content-Type": "application/json"}
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"  # what a path keeps unquoted (as the one-shot client)
_HEADER_BLOCKS = 64  # rendered header sets kept (callers pass a few fixed sets)


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson refuses what the stdlib coerces (non-string dict keys, ints past 64 bits);
        # keep accepting it rather than break a caller that worked before.
        return _stdjson.dumps(obj, separators=(",", ":")).encode()


def _unreachable(e: BaseException) -> tuple[bool, bool]:
    """Whether ``e`` says the server cannot be reached (so the next one should be used), and
    whether the request may have been sent. Refused, a failed TLS handshake, a connect timeout:
    never sent. Reset, or closed before answering: sent. A read timeout is a slow server, not a
    dead one, and any HTTP answer is an answer: neither moves on."""
    if isinstance(e, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return True, False
    if isinstance(e, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return True, True
    return False, True


def _connection_failed(e: BaseException, server: str) -> errors.ConnectionFailed:
    if isinstance(e, TimeoutError):
        what = "timed out"
    elif isinstance(e, aiohttp.ClientConnectorError):
        what = "connection failed"
    else:
        what = "connection broken"
    detail = str(e) or type(e).__name__
    return errors.ConnectionFailed(f"{server}: {what}: {detail}")
