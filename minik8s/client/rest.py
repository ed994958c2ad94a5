"""The REST client: the only code outside the apiserver that speaks HTTP to it.

One :class:`ApiClient` per process holds one ``aiohttp.ClientSession`` (HTTP/1.1 keep-alive,
a connection pool sized for many long-lived watches beside ordinary requests), made on first
use inside the running event loop, so a client may be built before the loop runs. aiohttp
rather than httpx because this is the hot path of the whole cluster: on these 2-core machines
httpx's pool got slower with 32 requests in flight than with one, and this client ran at a
fifth of a bare aiohttp session's rate sequentially, a tenth concurrently; over aiohttp it
runs at that rate (``tests/perf/client_bench.py``, figures in ``tests/perf/RESULTS.md``).

Methods take a :class:`~minik8s.api.resources.ResourceType` and plain Kubernetes JSON dicts,
build the Kubernetes REST paths, and raise :mod:`minik8s.errors` for every non-2xx answer or
unreachable server; no aiohttp type crosses this module's boundary. JSON goes through
``orjson`` both ways; ``watch`` splits the newline-delimited event stream itself and parses
each line with ``orjson.loads``: controllers fan in many watches, so parsing cost matters.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json as _stdjson
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

import aiohttp
import orjson

from minik8s import errors
from minik8s.api.resources import ResourceType

PatchType = Literal["merge", "strategic", "json", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    # Server-side apply takes YAML; JSON is YAML, so the body is still JSON.
    "apply": "application/apply-patch+yaml",
}

# A watch may sit idle for minutes; the server ends it at timeoutSeconds, so the read timeout
# only has to catch a server that went silent without closing: allow this much beyond it.
_WATCH_READ_SLACK = 30.0
# Idle pooled connections live this long: long enough to carry a controller's request bursts.
_KEEPALIVE_SECONDS = 60.0

# The `timeout` argument of request(): "default" is the client's total timeout.
Timeout = float | None | Literal["default"]


@dataclasses.dataclass(slots=True)
class WatchEvent:
    """One event of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK, and its object."""

    type: str
    object: dict


def make_ssl_context(
    *,
    ca_file: str | None = None,
    ca_data: str | None = None,
    client_cert: str | tuple[str, str] | None = None,
    client_cert_data: tuple[bytes, bytes] | None = None,
    verify: bool = True,
    server_name_check: bool = True,
) -> ssl.SSLContext:
    """An SSL context for the apiserver: its CA, our client certificate, or no verification."""
    ctx = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif not server_name_check:
        ctx.check_hostname = False
    if client_cert is not None:
        if isinstance(client_cert, tuple):
            ctx.load_cert_chain(client_cert[0], client_cert[1])
        else:
            ctx.load_cert_chain(client_cert)
    if client_cert_data is not None:
        # ssl only loads certificate chains from files: stage the PEM data in a private temp
        # dir just long enough to load it.
        with tempfile.TemporaryDirectory(prefix="minik8s-tls-") as tmp:
            cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            for path, data in ((cert_path, client_cert_data[0]), (key_path, client_cert_data[1])):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


def _query(params: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Query parameters as the apiserver parses them: booleans as Go does, None dropped. Pairs
    may repeat a key (exec's ``command=sh&command=-c``)."""
    out: list[tuple[str, str]] = []
    for k, v in (params.items() if isinstance(params, Mapping) else params):
        if v is None:
            continue
        out.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out


class Response:
    """The answer of :meth:`ApiClient.request`: ours, so no aiohttp type leaks to callers.

    ``status_code``, ``headers`` (a case-insensitive mapping) and, once read, ``content``,
    ``text`` and ``json()``. A response from ``request(..., stream=True)`` has its body unread:
    iterate ``aiter_bytes()`` or ``await aread()``, and always ``await aclose()`` (reading to
    the end also returns the connection to the pool). Errors while reading raise
    :class:`~minik8s.errors.ConnectionFailed`.
    """

    __slots__ = ("status_code", "headers", "_content", "_raw", "_server")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes | None, *,
                 raw: aiohttp.ClientResponse | None = None, server: str = "") -> None:
        self.status_code = status_code
        self.headers = headers
        self._content = content
        self._raw = raw
        self._server = server

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the body of a streamed response is not read yet: await aread() first")
        return self._content

    @property
    def encoding(self) -> str:
        ctype = self.headers.get("Content-Type", "")
        for part in ctype.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, "replace")

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


def _finish(raw: aiohttp.ClientResponse) -> None:
    if raw.content.is_eof():
        raw.release()
    else:
        raw.close()


class ApiClient:
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
        self.server = server.rstrip("/")
        self.namespace = namespace
        self.timeout = timeout
        self._max_connections = max_connections
        self._ssl: ssl.SSLContext | Literal[False]
        if isinstance(verify, ssl.SSLContext):
            self._ssl = verify
        elif self.server.startswith("https://"):
            self._ssl = make_ssl_context(ca_file=ca_file, client_cert=client_cert, verify=verify)
        else:
            self._ssl = False  # plain HTTP: no TLS at all
        # Sent on every request; from_kubeconfig may still set Authorization before first use.
        self._headers: dict[str, str] = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._default_timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None, **kwargs: Any) -> ApiClient:
        """A client for a kubeconfig context (``$KUBECONFIG``, then ``~/.kube/config``)."""
        from minik8s.client import kubeconfig  # local: kubeconfig imports nothing of ours

        cfg = kubeconfig.load(path).resolve(context)
        verify: bool | ssl.SSLContext = not cfg.insecure_skip_tls_verify
        if cfg.server.startswith("https://"):
            verify = make_ssl_context(
                ca_file=cfg.ca_file,
                ca_data=cfg.ca_data.decode() if cfg.ca_data else None,
                client_cert=(cfg.cert_file, cfg.key_file) if cfg.cert_file and cfg.key_file else None,
                client_cert_data=(cfg.cert_data, cfg.key_data) if cfg.cert_data and cfg.key_data else None,
                verify=not cfg.insecure_skip_tls_verify,
            )
        client = cls(cfg.server, token=cfg.token, verify=verify, namespace=cfg.namespace or "default", **kwargs)
        if cfg.username and cfg.password and not cfg.token:
            basic = base64.b64encode(f"{cfg.username}:{cfg.password}".encode()).decode()
            client._headers["Authorization"] = f"Basic {basic}"
        return client

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
        self._session = aiohttp.ClientSession(
            connector=connector, headers=self._headers, timeout=self._default_timeout,
            raise_for_status=False, trust_env=False,
        )
        self._loop = loop
        return self._session

    async def websocket(self, path: str, *, params: Any = None, protocols: Sequence[str] = (),
                        heartbeat: float | None = None) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket (``pods/{name}/exec``) with this client's TLS settings and
        credentials; the caller closes it (``async with``). A refused upgrade is asked again
        as a plain POST, so the server's Status surfaces as its :mod:`minik8s.errors` class
        (as kubectl's fallback reveals it); else :class:`~minik8s.errors.ConnectionFailed`."""
        url = self.server + path
        try:
            return await self._http().ws_connect(url, params=params, protocols=tuple(protocols),
                                                 heartbeat=heartbeat, max_msg_size=0,
                                                 timeout=aiohttp.ClientWSTimeout(ws_close=5))
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
            raise errors.ConnectionFailed(f"unable to upgrade connection: {e}") from None

    async def close(self) -> None:
        self._closed = True
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
        self, method: str, path: str, params: Mapping[str, Any] | None, body: bytes | str | None,
        headers: Mapping[str, str] | None, timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """Open one request; the response's status and headers are in, its body unread.
        Non-2xx raises :mod:`minik8s.errors` (its body read, its connection released).
        ``timeout`` is always given: aiohttp takes ``None`` as "no timeout at all"."""
        query = _query(params) if params else None
        try:
            resp = await self._http().request(method, self.server + path, params=query or None,
                                              data=body, headers=headers, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise _connection_failed(e, self.server) from e
        if resp.status >= 300:
            try:
                payload = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as e:
                raise _connection_failed(e, self.server) from e
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
                    headers: Mapping[str, str] | None = None) -> dict:
        """The hot path of every typed verb: no Response object, the body straight to orjson."""
        if json is not None:
            content = _dumps(json)
            headers = _JSON_BODY if headers is None else {**_JSON_BODY, **headers}
        resp = await self._send(method, path, params, content, headers, self._default_timeout)
        body = await self._read(resp)
        return orjson.loads(body) if body else {}

    def _ns(self, rt: ResourceType, namespace: str | None, obj: dict | None = None) -> str | None:
        """The namespace addressing one object: given, else the object's, else the default."""
        if not rt.namespaced:
            return None
        if namespace:
            return namespace
        if obj is not None:
            ns = (obj.get("metadata") or {}).get("namespace")
            if ns:
                return ns
        return self.namespace

    # -- typed verbs ----------------------------------------------------------------------

    async def get(self, rt: ResourceType, name: str, *, namespace: str | None = None) -> dict:
        return await self._json("GET", rt.path(self._ns(rt, namespace), name))

    async def list(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> dict:
        """One page of the List; ``namespace=None`` on a namespaced type lists all namespaces."""
        params = {
            "labelSelector": label_selector or None, "fieldSelector": field_selector or None,
            "limit": limit, "continue": continue_ or None, "resourceVersion": resource_version,
        }
        return await self._json("GET", rt.path(namespace), params=params)

    async def list_all(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = 500,
        resource_version: str | None = None,
    ) -> dict:
        """The whole List, following ``continue`` page by page. Its resourceVersion is the first
        page's: a continued list is a snapshot at that revision."""
        first = await self.list(rt, namespace=namespace, label_selector=label_selector,
                                field_selector=field_selector, limit=limit, resource_version=resource_version)
        items = list(first.get("items") or [])
        token = (first.get("metadata") or {}).get("continue")
        while token:
            page = await self.list(rt, namespace=namespace, label_selector=label_selector,
                                   field_selector=field_selector, limit=limit, continue_=token)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
        meta = dict(first.get("metadata") or {})
        meta.pop("continue", None)
        meta.pop("remainingItemCount", None)
        return {**first, "metadata": meta, "items": items}

    async def create(
        self,
        rt: ResourceType,
        obj: dict,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        params = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self._json("POST", rt.path(self._ns(rt, namespace, obj)), params=params, json=obj)

    async def update(self, rt: ResourceType, obj: dict, *, field_manager: str | None = None) -> dict:
        """PUT the whole object; its metadata.resourceVersion makes it a compare-and-swap."""
        return await self._json("PUT", rt.path(self._ns(rt, None, obj), _name(obj)),
                                params={"fieldManager": field_manager}, json=obj)

    async def update_status(self, rt: ResourceType, obj: dict, *, field_manager: str | None = None) -> dict:
        return await self.update_subresource(rt, obj, "status", field_manager=field_manager)

    async def update_subresource(self, rt: ResourceType, obj: dict, subresource: str, *,
                                 field_manager: str | None = None) -> dict:
        """PUT the whole object to a writable subresource (``status``, a CSR's ``approval``)."""
        return await self._json("PUT", rt.path(self._ns(rt, None, obj), _name(obj), subresource),
                                params={"fieldManager": field_manager}, json=obj)

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: dict | list,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict:
        try:
            content_type = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            raise ValueError(f"unknown patch_type {patch_type!r}; one of {sorted(PATCH_CONTENT_TYPES)}") from None
        if patch_type == "apply" and not field_manager:
            # The apiserver would 400 anyway; say it before the round trip.
            raise ValueError("server-side apply needs a field_manager")
        return await self._json(
            "PATCH", rt.path(self._ns(rt, namespace), name, subresource),
            params={"fieldManager": field_manager, "force": force},
            content=_dumps(patch), headers={"Content-Type": content_type},
        )

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict | None = None,
    ) -> dict:
        """DELETE one object; returns what the server answers (the object, or a Status)."""
        body = _delete_options(grace_period_seconds, propagation_policy, preconditions)
        return await self._json("DELETE", rt.path(self._ns(rt, namespace), name), json=body)

    async def delete_collection(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> dict:
        body = _delete_options(grace_period_seconds, propagation_policy, None)
        params = {"labelSelector": label_selector or None, "fieldSelector": field_selector or None}
        return await self._json("DELETE", rt.path(self._ns(rt, namespace)), params=params, json=body)

    async def create_subresource(
        self, rt: ResourceType, name: str, subresource: str, body: dict, *, namespace: str | None = None,
    ) -> dict:
        """POST to a subresource: ``pods/binding``, ``pods/eviction``."""
        return await self._json("POST", rt.path(self._ns(rt, namespace), name, subresource), json=body)

    async def get_subresource(
        self, rt: ResourceType, name: str, subresource: str, *, namespace: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict:
        """GET a JSON subresource (``status``, ``scale``); text ones (``log``) go through request()."""
        return await self._json("GET", rt.path(self._ns(rt, namespace), name, subresource), params=params)

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
    ) -> AsyncIterator[WatchEvent]:
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


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson refuses what the stdlib coerces (non-string dict keys, ints past 64 bits);
        # keep accepting it rather than break a caller that worked before.
        return _stdjson.dumps(obj, separators=(",", ":")).encode()


def _name(obj: dict) -> str:
    name = (obj.get("metadata") or {}).get("name")
    if not name:
        raise ValueError("object has no metadata.name")
    return name


def _delete_options(grace: int | None, propagation: str | None, preconditions: dict | None) -> dict:
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if grace is not None:
        body["gracePeriodSeconds"] = grace
    if propagation is not None:
        body["propagationPolicy"] = propagation
    if preconditions:
        body["preconditions"] = preconditions
    return body


def _connection_failed(e: BaseException, server: str) -> errors.ConnectionFailed:
    if isinstance(e, TimeoutError):
        what = "timed out"
    elif isinstance(e, aiohttp.ClientConnectorError):
        what = "connection failed"
    else:
        what = "connection broken"
    detail = str(e) or type(e).__name__
    return errors.ConnectionFailed(f"{server}: {what}: {detail}")
