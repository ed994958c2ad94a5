"""What both REST clients share above their transport: the typed verbs and the response.

:class:`TypedVerbs` builds the Kubernetes REST path and query of each verb (``get``, ``list``,
``create``, ``patch``, ``delete``...) from a :class:`~minik8s.api.resources.ResourceType` and
hands one request to its subclass's ``_json``: the asynchronous, pooled
:class:`~minik8s.client.rest.ApiClient` of the components, or the one-connection
:class:`~minik8s.client.oneshot.OneShotClient` of ``mkctl``. :class:`Response` is the answer of
``request()`` on either (no transport type crosses the boundary). Nothing here imports a
transport or speaks HTTP.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from minik8s.api.resources import ResourceType

PatchType = Literal["merge", "strategic", "json", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    # Server-side apply takes YAML; JSON is YAML, so the body is still JSON.
    "apply": "application/apply-patch+yaml",
}


def query(params: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Query parameters as the apiserver parses them: booleans as Go does, None dropped. Pairs
    may repeat a key (exec's ``command=sh&command=-c``)."""
    out: list[tuple[str, str]] = []
    for k, v in (params.items() if isinstance(params, Mapping) else params):
        if v is None:
            continue
        out.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out


class Response:
    """The answer of ``request()``: ``status_code``, ``headers`` (a case-insensitive mapping)
    and, once read, ``content``, ``text`` and ``json()``. A response from
    ``request(..., stream=True)`` has its body unread: iterate ``aiter_bytes()`` or ``await
    aread()``, and always ``await aclose()``. Transports subclass it for their streams; errors
    while reading raise :class:`~minik8s.errors.ConnectionFailed`."""

    __slots__ = ("status_code", "headers", "_content")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes | None) -> None:
        self.status_code = status_code
        self.headers = headers
        self._content = content

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
        import json  # the stdlib's: the one-shot CLI parses a few bodies, start-up time matters more

        return json.loads(self.content)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (a read body: at once)."""
        if self._content:
            yield self._content

    async def aread(self) -> bytes:
        return self.content

    async def aclose(self) -> None:
        """Release the connection (nothing to do for a body already read)."""


class TypedVerbs(abc.ABC):
    """The typed verbs over ``_json(method, path, *, params, json, content, headers) -> dict``,
    which a transport provides (non-2xx raising :mod:`minik8s.errors`). ``namespace`` is the
    default for calls naming one object of a namespaced type."""

    namespace: str

    @abc.abstractmethod
    async def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    json: Any = None, content: bytes | None = None,
                    headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One request with an optional JSON (or raw) body; the decoded JSON answer ({} if empty)."""

    def _ns(self, rt: ResourceType, namespace: str | None, obj: Mapping[str, Any] | None = None) -> str | None:
        """The namespace addressing one object: given, else the object's, else the default."""
        if not rt.namespaced:
            return None
        if namespace:
            return namespace
        if obj is not None:
            ns: str | None = (obj.get("metadata") or {}).get("namespace")
            if ns:
                return ns
        return self.namespace

    async def get(self, rt: ResourceType, name: str, *, namespace: str | None = None) -> dict[str, Any]:
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
    ) -> dict[str, Any]:
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
    ) -> dict[str, Any]:
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
        obj: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        params = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self._json("POST", rt.path(self._ns(rt, namespace, obj)), params=params, json=obj)

    async def update(self, rt: ResourceType, obj: Mapping[str, Any], *, field_manager: str | None = None) -> dict[str, Any]:
        """PUT the whole object; its metadata.resourceVersion makes it a compare-and-swap."""
        return await self._json("PUT", rt.path(self._ns(rt, None, obj), object_name(obj)),
                                params={"fieldManager": field_manager}, json=obj)

    async def update_status(self, rt: ResourceType, obj: Mapping[str, Any], *, field_manager: str | None = None) -> dict[str, Any]:
        return await self.update_subresource(rt, obj, "status", field_manager=field_manager)

    async def update_subresource(self, rt: ResourceType, obj: Mapping[str, Any], subresource: str, *,
                                 field_manager: str | None = None) -> dict[str, Any]:
        """PUT the whole object to a writable subresource (``status``, a CSR's ``approval``)."""
        return await self._json("PUT", rt.path(self._ns(rt, None, obj), object_name(obj), subresource),
                                params={"fieldManager": field_manager}, json=obj)

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: dict[str, Any] | builtins.list[Any],
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
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
            json=patch, headers={"Content-Type": content_type},
        )

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """DELETE one object; returns what the server answers (the object, or a Status)."""
        body = delete_options(grace_period_seconds, propagation_policy, preconditions)
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
    ) -> dict[str, Any]:
        body = delete_options(grace_period_seconds, propagation_policy, None)
        params = {"labelSelector": label_selector or None, "fieldSelector": field_selector or None}
        return await self._json("DELETE", rt.path(self._ns(rt, namespace)), params=params, json=body)

    async def create_subresource(
        self, rt: ResourceType, name: str, subresource: str, body: dict[str, Any], *, namespace: str | None = None,
    ) -> dict[str, Any]:
        """POST to a subresource: ``pods/binding``, ``pods/eviction``."""
        return await self._json("POST", rt.path(self._ns(rt, namespace), name, subresource), json=body)

    async def get_subresource(
        self, rt: ResourceType, name: str, subresource: str, *, namespace: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GET a JSON subresource (``status``, ``scale``); text ones (``log``) go through request()."""
        return await self._json("GET", rt.path(self._ns(rt, namespace), name, subresource), params=params)


def object_name(obj: Mapping[str, Any]) -> str:
    name: str | None = (obj.get("metadata") or {}).get("name")
    if not name:
        raise ValueError("object has no metadata.name")
    return name


def delete_options(grace: int | None, propagation: str | None, preconditions: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if grace is not None:
        body["gracePeriodSeconds"] = grace
    if propagation is not None:
        body["propagationPolicy"] = propagation
    if preconditions:
        body["preconditions"] = preconditions
    return body
