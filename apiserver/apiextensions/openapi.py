"""The OpenAPI of the served custom resources, merged into ``/openapi/v2`` and served as one
``/openapi/v3/apis/<group>/<version>`` document per custom group-version, as Kubernetes'
apiextensions OpenAPI controller publishes them.

Each version's schema becomes the definition ``<reversed group>.<version>.<Kind>``
(``com.example.v1.Widget``, as Kubernetes names it) with ``apiVersion``, ``kind`` and
``metadata`` (a reference to ObjectMeta) filled in, ``x-kubernetes-group-version-kind`` set,
and a ``<Kind>List``; the paths and operations are those of every resource
(``apiserver/openapi.build_paths``), so ``kubectl apply`` finds its PATCH operation with the
``fieldValidation`` parameter and ``kubectl explain`` walks the schema. Version 2 cannot say
everything version 3 can: there ``nullable`` and the ``allOf``/``anyOf``/``oneOf``/``not``
value checks are left out, and int-or-string fields are typed ``string`` with that format.
Documents are built when first asked for after a change, and kept until the next one.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from apiserver import openapi
from apiserver.registry import table

__all__ = ["invalidate", "v2_body", "v3_bodies", "definition_name"]

_DROP_V2 = ("nullable", "allOf", "anyOf", "oneOf", "not", "x-kubernetes-validations")


def definition_name(group: str, version: str, kind: str) -> str:
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def invalidate() -> None:
    """Forget the built documents: a custom resource came, changed or went."""
    _v2.cache_clear()
    v3_bodies.cache_clear()


def _custom_entries() -> list[table.Entry]:
    return [e for e in table.all_entries() if e.custom is not None]


def _v2_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_v2_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _v2_schema(val) for k, val in node.items() if k not in _DROP_V2}
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    return out


def _definitions(e: table.Entry, meta_ref: str, list_meta_ref: str, *, v3: bool) -> dict[str, Any]:
    cv, rt = e.custom, e.type
    schema = copy.deepcopy(cv.schema) if v3 else _v2_schema(cv.schema)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {**openapi.API_VERSION_PROPERTY, **{k: v for k, v in props.get("apiVersion", {}).items()
                                                      if k != "type"}}
    props["kind"] = {**openapi.KIND_PROPERTY, **{k: v for k, v in props.get("kind", {}).items() if k != "type"}}
    props["metadata"] = {"$ref": meta_ref} if not v3 else {"allOf": [{"$ref": meta_ref}],
                                                           "description": "Standard object's metadata."}
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [openapi.group_version_kind(rt.group, rt.version, rt.kind)]
    name = definition_name(rt.group, rt.version, rt.kind)
    list_def = {
        "type": "object", "required": ["items"],
        "description": f"{cv.list_kind} is a list of {rt.kind}",
        "properties": {
            "apiVersion": dict(openapi.API_VERSION_PROPERTY), "kind": dict(openapi.KIND_PROPERTY),
            "items": {"type": "array", "items": {"$ref": _ref(name, v3)},
                      "description": f"List of {rt.plural}. More info: "
                                     "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                                     "api-conventions.md"},
            "metadata": {"$ref": list_meta_ref} if not v3 else {"allOf": [{"$ref": list_meta_ref}],
                                                                "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [openapi.group_version_kind(rt.group, rt.version, cv.list_kind)],
    }
    return {name: schema, definition_name(rt.group, rt.version, cv.list_kind): list_def}


def _ref(name: str, v3: bool) -> str:
    return ("#/components/schemas/" if v3 else "#/definitions/") + name


def _models(entries: list[table.Entry]) -> dict[tuple[str, str], Any]:
    from minik8s.api.schema import MODELS
    models: dict[tuple[str, str], Any] = {("autoscaling", "Scale"): MODELS[("autoscaling", "Scale")]}
    for e in entries:
        rt = e.type
        models[(rt.group, rt.kind)] = definition_name(rt.group, rt.version, rt.kind)
        models[(rt.group, rt.kind + "List")] = definition_name(rt.group, rt.version, e.custom.list_kind)
    return models


def _paths(entries: list[table.Entry], *, v3: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in entries:  # one at a time: versions of one group name their kinds alike
        items = openapi.build_paths([e], _models([e]))
        for path, item in items.items():
            op = item.get("patch")
            if op is not None and not path.endswith("/scale"):
                # custom objects take no strategic merge patch: kubectl reads this and merge-patches
                op.body_types = tuple(t for t in op.body_types if t != "application/strategic-merge-patch+json")
        out.update({p: openapi.render_path(item, v3=v3) for p, item in items.items()})
    return out


@functools.cache
def _v2() -> bytes | None:
    entries = _custom_entries()
    if not entries:
        return None
    doc = json.loads(openapi.builtin_v2()[0])
    meta = f"#/definitions/{openapi.META}.ObjectMeta"
    list_meta = f"#/definitions/{openapi.META}.ListMeta"
    for e in entries:
        doc["definitions"].update(_definitions(e, meta, list_meta, v3=False))
    doc["paths"].update(_paths(entries, v3=False))
    doc["paths"] = dict(sorted(doc["paths"].items()))
    doc["definitions"] = dict(sorted(doc["definitions"].items()))
    return openapi.dump(doc)


def v2_body() -> bytes | None:
    """``/openapi/v2`` with the custom resources, or None when there are none."""
    return _v2()


@functools.cache
def _meta_schemas() -> dict[str, Any]:
    from minik8s.api import autoscaling, meta
    defs = openapi.build_definitions([], extra_models=[meta.ObjectMeta, meta.ListMeta, meta.Status,
                                                       meta.DeleteOptions, autoscaling.Scale], v3=True)
    schemas: dict[str, Any] = openapi.rewrite_refs(defs, "#/components/schemas/")
    return schemas


@functools.cache
def v3_bodies() -> dict[str, tuple[bytes, str]]:
    """``gv_path`` → (document, hash) of each custom group-version."""
    by_gv: dict[tuple[str, str], list[table.Entry]] = {}
    for e in _custom_entries():
        by_gv.setdefault((e.type.group, e.type.version), []).append(e)
    out: dict[str, tuple[bytes, str]] = {}
    meta = f"#/components/schemas/{openapi.META}.ObjectMeta"
    list_meta = f"#/components/schemas/{openapi.META}.ListMeta"
    for (group, ver), entries in sorted(by_gv.items()):
        schemas = dict(_meta_schemas())
        for e in entries:
            schemas.update(_definitions(e, meta, list_meta, v3=True))
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": dict(sorted(_paths(entries, v3=True).items())),
            "components": {
                "schemas": dict(sorted(schemas.items())),
                "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token "
                                                    "authentication", "name": "authorization", "in": "header"}},
            },
        }
        body = openapi.dump(doc)
        out[openapi.gv_path(group, ver)] = (body, openapi.content_hash(body))
    return out
