"""How ``mkctl apply`` learns a kind's merge keys: from the server's OpenAPI v3 document, as
kubectl does (``buildStrategicMergePatchFromOpenAPIV3``).

kubectl computes a built-in kind's strategic merge patch from the schema the server publishes
(``GET /openapi/v3``, then the group-version's document named there), reading the
``x-kubernetes-patch-merge-key`` and ``x-kubernetes-patch-strategy`` of each field; it falls
back to its compiled-in types only when the document cannot be had. mkctl does the same: the
document answers in a few milliseconds, where building minik8s' pydantic models to read the
same extensions off them takes half a second (``minik8s.cli.threeway`` keeps that fallback).

:class:`OpenAPISchema` is a :class:`~minik8s.patchschema.PatchSchema` over one schema of the
document, following ``$ref`` and the single-element ``allOf`` wrappers Kubernetes puts around
a referenced type that carries its own patch strategy.
"""

from __future__ import annotations

from typing import Any

from minik8s import errors
from minik8s.client.oneshot import OneShotClient

_MERGE_KEY = "x-kubernetes-patch-merge-key"
_STRATEGY = "x-kubernetes-patch-strategy"
_REF_PREFIX = "#/components/schemas/"


class OpenAPISchema:
    """The patch schema of one node of an OpenAPI v3 document (``schemas`` is its
    ``components.schemas``): the node's own merge metadata, its referenced type's fields."""

    __slots__ = ("_schemas", "_node", "merge_key", "patch_strategy")

    def __init__(self, schemas: dict[str, Any], node: dict[str, Any]) -> None:
        self._schemas = schemas
        self.merge_key: str | None = node.get(_MERGE_KEY)
        self.patch_strategy: str | None = node.get(_STRATEGY)
        self._node = _resolve(schemas, node)

    def field(self, name: str) -> OpenAPISchema | None:
        sub = (self._node.get("properties") or {}).get(name)
        if sub is None:  # a map (labels, data): every key has the value schema
            extra = self._node.get("additionalProperties")
            sub = extra if isinstance(extra, dict) else None
        return OpenAPISchema(self._schemas, sub) if isinstance(sub, dict) else None

    def items(self) -> OpenAPISchema | None:
        sub = self._node.get("items")
        return OpenAPISchema(self._schemas, sub) if isinstance(sub, dict) else None

    def __repr__(self) -> str:
        return f"OpenAPISchema(merge_key={self.merge_key!r}, patch_strategy={self.patch_strategy!r})"


def _resolve(schemas: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The schema a node stands for: through ``$ref`` and one-element ``allOf``."""
    seen = 0
    while seen < 32:  # a reference chain, never a cycle, in a sane document
        seen += 1
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            target = schemas.get(ref[len(_REF_PREFIX):])
            if not isinstance(target, dict):
                return {}
            node = target
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            node = all_of[0]
            continue
        return node
    return {}


def find_kind(doc: dict[str, Any], group: str, version: str, kind: str) -> OpenAPISchema | None:
    """The schema of the kind in a group-version's document: the one whose
    ``x-kubernetes-group-version-kind`` names it."""
    schemas = (doc.get("components") or {}).get("schemas") or {}
    for schema in schemas.values():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind:
                return OpenAPISchema(schemas, schema)
    return None


async def schema_for(client: OneShotClient, api_version: str, kind: str) -> OpenAPISchema | None:
    """The kind's patch schema from the server's OpenAPI v3, or None when the server publishes
    none for it (or cannot be asked): the caller falls back as kubectl does."""
    group, _, version = api_version.rpartition("/")
    key = f"apis/{group}/{version}" if group else f"api/{version}"
    try:
        root = (await client.request("GET", "/openapi/v3")).json()
        entry = (root.get("paths") or {}).get(key)
        if not isinstance(entry, dict) or not entry.get("serverRelativeURL"):
            return None
        doc = (await client.request("GET", entry["serverRelativeURL"])).json()
    except (errors.ApiError, ValueError):
        return None
    return find_kind(doc, group, version, kind)
