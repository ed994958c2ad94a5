"""The REST client: the only code outside the apiserver that speaks HTTP to it.

One :class:`ApiClient` per process holds one ``httpx.AsyncClient`` (HTTP/1.1 keep-alive, a
connection pool sized for many long-lived watches beside ordinary requests). Methods take a
:class:`~minik8s.api.resources.ResourceType` and plain Kubernetes JSON dicts, build the
Kubernetes REST paths, and raise :mod:`minik8s.errors` for every non-2xx answer or
unreachable server. ``watch`` parses the newline-delimited event stream incrementally with
``json.loads`` per line: controllers fan in many watches, so parsing cost matters.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import httpx

from minik8s import errors
from minik8s.api.resources import ResourceType

PatchType = Literal["merge", "strategic", "json", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    # Server-side apply takes YAML; JSON is YAML, so the body is still json.dumps.
    "apply": "application/apply-patch+yaml",
}

# A watch may sit idle for minutes; the server ends it at timeoutSeconds, so the read timeout
# only has to catch a server that went silent without closing: allow this much beyond it.
_WATCH_READ_SLACK = 30.0


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


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the apiserver parses them: booleans as Go does, None dropped."""
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


class ApiClient:
    """An asynchronous Kubernetes REST client over one shared, pooled httpx connection set."""

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``namespace`` is the default for calls naming one object of a namespaced type
        (kubeconfig's context namespace); lists without a namespace span all namespaces.
        ``transport`` is for tests and in-process use (e.g. ``httpx.ASGITransport``)."""
        self.server = server.rstrip("/")
        self.namespace = namespace
        self.timeout = timeout
        if isinstance(verify, ssl.SSLContext):
            tls: ssl.SSLContext | bool = verify
        elif self.server.startswith("https://"):
            tls = make_ssl_context(ca_file=ca_file, client_cert=client_cert, verify=verify)
        else:
            tls = verify
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # Every watch pins one connection for minutes: the pool must be far larger than
        # httpx's default of 100, and keep enough idle ones warm for request bursts.
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=200,
                              keepalive_expiry=60.0)
        self._http = httpx.AsyncClient(
            base_url=self.server, headers=headers, verify=tls, timeout=httpx.Timeout(timeout),
            limits=limits, transport=transport, http2=False, trust_env=False,
        )

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
            client._http.headers["Authorization"] = f"Basic {basic}"
        return client

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- raw ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None | Literal["default"] = "default",
    ) -> httpx.Response:
        """One HTTP request; non-2xx raises :mod:`minik8s.errors`. With ``stream=True`` the
        body is left unread and the caller must ``await response.aclose()``."""
        hdrs = dict(headers or {})
        if json is not None:
            content = _dumps(json)
            hdrs.setdefault("Content-Type", "application/json")
        req = self._http.build_request(
            method, path, params=_query(params or {}), content=content, headers=hdrs,
            timeout=self._http.timeout if timeout == "default" else httpx.Timeout(self.timeout, read=timeout),
        )
        try:
            resp = await self._http.send(req, stream=stream)
        except httpx.HTTPError as e:
            raise _connection_failed(e, self.server) from e
        if resp.status_code >= 300:
            try:
                body = await resp.aread() if stream else resp.content
            except httpx.HTTPError as e:
                raise _connection_failed(e, self.server) from e
            finally:
                if stream:
                    await resp.aclose()
            raise errors.ApiError.from_response(resp.status_code, body)
        return resp

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict:
        resp = await self.request(method, path, **kwargs)
        return json.loads(resp.content) if resp.content else {}

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
        return await self._json("PUT", rt.path(self._ns(rt, None, obj), _name(obj), "status"),
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
        resp = await self.request("GET", rt.path(namespace), params=params, stream=True, timeout=read_timeout)
        try:
            parts: list[bytes] = []
            async for chunk in resp.aiter_bytes():
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
        except httpx.HTTPError as e:
            raise _connection_failed(e, self.server) from e
        finally:
            await resp.aclose()


def _watch_event(line: bytes) -> WatchEvent:
    try:
        d = json.loads(line)
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


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


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


def _connection_failed(e: httpx.HTTPError, server: str) -> errors.ConnectionFailed:
    if isinstance(e, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(e, httpx.ConnectError):
        what = "connection failed"
    else:
        what = "connection broken"
    detail = str(e) or type(e).__name__
    return errors.ConnectionFailed(f"{server}: {what}: {detail}")
