"""OpenAPI documents of the served API: ``/openapi/v2`` (Swagger 2.0) and ``/openapi/v3``.

kubectl reads them for two things: ``kubectl apply`` (strict validation by default) looks for a
PATCH operation whose ``x-kubernetes-group-version-kind`` is the object's and which takes a
``fieldValidation`` parameter, then leaves validation to the server; ``kubectl explain`` walks
``components.schemas`` from the schema carrying the resource's ``x-kubernetes-group-version-kind``.

Schemas come from the pydantic models (``minik8s.api.schema.MODELS``) through pydantic's JSON
schema, renamed to Kubernetes' definition names (``io.k8s.api.core.v1.Pod``,
``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta``) and reshaped into what OpenAPI 2/3 allow
(no ``null`` branches, ``$ref`` wrapped in ``allOf`` when it has siblings in v3). Paths and
operations come from the registry table. Everything is static, so each document is built once
and kept as bytes with its hash.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import DefsRef, GenerateJsonSchema, models_json_schema

from apiserver import version

META = "io.k8s.apimachinery.pkg.apis.meta.v1"

#: Python module of the API types → Kubernetes' OpenAPI package of the same types.
PACKAGES: dict[str, str] = {
    "minik8s.api.meta": META,
    "minik8s.api.core": "io.k8s.api.core.v1",
    "minik8s.api.apps": "io.k8s.api.apps.v1",
    "minik8s.api.daemonsets": "io.k8s.api.apps.v1",
    "minik8s.api.statefulsets": "io.k8s.api.apps.v1",
    "minik8s.api.replicationcontrollers": "io.k8s.api.core.v1",
    "minik8s.api.policy": "io.k8s.api.policy.v1",
    "minik8s.api.coordination": "io.k8s.api.coordination.v1",
    "minik8s.api.autoscaling": "io.k8s.api.autoscaling.v1",
    "minik8s.api.volumes": "io.k8s.api.core.v1",
    "minik8s.api.storage": "io.k8s.api.storage.v1",
    "minik8s.api.serviceaccounts": "io.k8s.api.core.v1",
    "minik8s.api.tokens": "io.k8s.api.authentication.v1",
    "minik8s.api.certificates": "io.k8s.api.certificates.v1",
    "minik8s.api.rbac": "io.k8s.api.rbac.v1",
    "minik8s.api.authorization": "io.k8s.api.authorization.v1",
    "minik8s.api.authentication": "io.k8s.api.authentication.v1",
    "minik8s.api.batch": "io.k8s.api.batch.v1",
    "minik8s.api.apiextensions": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
}

_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
                "application/merge-patch+json", "application/strategic-merge-patch+json")


# ---------------------------------------------------------------------------------------------
# Definition names


def definition_name(cls: type, packages: Mapping[str, str] = PACKAGES) -> str:
    """Kubernetes' name of a model class: its package by module, then the class name."""
    pkg = packages.get(cls.__module__)
    if pkg is None:
        pkg = "io.minik8s." + cls.__module__.replace("_", "-")
    return f"{pkg}.{cls.__qualname__}"


def _schema_generator(packages: Mapping[str, str]) -> type[GenerateJsonSchema]:
    by_path: dict[str, str] = {}

    class KubernetesNames(GenerateJsonSchema):
        """Names every definition as Kubernetes does instead of pydantic's short class name."""

        def get_defs_ref(self, core_mode_ref: Any) -> DefsRef:
            core_ref, _mode = core_mode_ref
            path = core_ref.rsplit(":", 1)[0]  # "minik8s.api.core.Container"
            module, _, qualname = path.rpartition(".")
            name = by_path.get(path)
            if name is None:
                pkg = packages.get(module) or "io.minik8s." + module
                name = by_path[path] = f"{pkg}.{qualname}"
            ref = DefsRef(name)
            # The only choice pydantic may pick for this definition is the Kubernetes name.
            self._prioritized_defsref_choices[ref] = [ref]
            return ref

    return KubernetesNames


# ---------------------------------------------------------------------------------------------
# Schema reshaping


def _clean(node: Any, *, v3: bool) -> Any:
    """A pydantic JSON schema node made valid OpenAPI (refs still ``#/definitions/...``)."""
    if isinstance(node, list):
        return [_clean(x, v3=v3) for x in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for drop in ("title", "default", "examples"):
        node.pop(drop, None)
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        types = {b.get("type") for b in branches}
        if len(branches) == 1:
            node = {**branches[0], **node}  # the field's own keys (description, x-...) win
            node.pop("title", None)
            node.pop("default", None)
        elif types == {"integer", "string"} and all(len(b) == 1 for b in branches):
            node.update(type="string", format="int-or-string")
            if v3:
                node["x-kubernetes-int-or-string"] = True
        # Other unions have no OpenAPI 2 form: left untyped, i.e. "any".
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("additionalProperties") is True:
        del node["additionalProperties"]
        node.setdefault("type", "object")
    if "prefixItems" in node:  # tuples: OpenAPI 2 knows only homogeneous arrays
        node.pop("prefixItems")
        node.setdefault("items", {})
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {name: _clean(p, v3=v3) for name, p in v.items()}
        elif k in ("items", "additionalProperties", "allOf", "oneOf", "not"):
            out[k] = _clean(v, v3=v3)
        else:
            out[k] = v
    if v3 and "$ref" in out and len(out) > 1:
        # OpenAPI 3.0 ignores siblings of $ref; Kubernetes wraps the ref in allOf.
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, list):
        return [rewrite_refs(x, prefix) for x in node]
    if isinstance(node, dict):
        return {k: (prefix + v.rpartition("/")[2] if k == "$ref" and isinstance(v, str)
                    else rewrite_refs(v, prefix)) for k, v in node.items()}
    return node


def _refs(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, list):
        for x in node:
            _refs(x, out)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.add(v.rpartition("/")[2])
            else:
                _refs(v, out)
    return out


# ---------------------------------------------------------------------------------------------
# Definitions


def group_version_kind(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


API_VERSION_PROPERTY = {"type": "string", "description": "The versioned schema of this representation of "
                "an object (group/version). Servers convert recognized schemas to their latest value."}
KIND_PROPERTY = {"type": "string", "description": "The REST resource this object represents (CamelCase)."}

_EXTRA_DEFS: dict[str, dict[str, Any]] = {
    f"{META}.Patch": {"type": "object", "description": "The body of a PATCH request: a JSON patch, a "
                      "JSON merge patch, a strategic merge patch or an apply configuration."},
    f"{META}.WatchEvent": {
        "type": "object", "required": ["type", "object"],
        "description": "One event of a watch stream.",
        "properties": {
            "type": {"type": "string", "description": "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."},
            "object": {"type": "object", "description": "The object (or, for ERROR, a Status)."},
        },
    },
}


def build_definitions(kinds: Sequence[tuple[str, str, str, type[BaseModel]]], *,
                      extra_models: Iterable[type[BaseModel]] = (),
                      packages: Mapping[str, str] = PACKAGES, v3: bool) -> dict[str, Any]:
    """Every definition reachable from ``kinds`` (``(group, version, kind, model)``), keyed by
    Kubernetes' name, with ``x-kubernetes-group-version-kind`` on each kind.

    Refs are left as ``#/definitions/<name>``; the document builders point them where they live.
    """
    models = [m for *_, m in kinds] + [m for m in extra_models]
    unique = list(dict.fromkeys(models))  # first occurrences, in order
    _, top = models_json_schema([(m, "validation") for m in unique], ref_template="#/definitions/{model}",
                                schema_generator=_schema_generator(packages))
    defs = {name: _clean(schema, v3=v3) for name, schema in top.get("$defs", {}).items()}
    for group, ver, kind, model in kinds:
        d = defs[definition_name(model, packages)]
        props = d.setdefault("properties", {})
        # Models declare apiVersion and kind without a word; explain shows what they mean.
        for key, base in (("apiVersion", API_VERSION_PROPERTY), ("kind", KIND_PROPERTY)):
            props[key] = {**base, **props.get(key, {})}
        d.setdefault("type", "object")
        d["x-kubernetes-group-version-kind"] = [group_version_kind(group, ver, kind)]
    for name, schema in _EXTRA_DEFS.items():
        defs.setdefault(name, schema)
    return dict(sorted(defs.items()))


# ---------------------------------------------------------------------------------------------
# Operations


def _query(name: str, typ: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "type": typ, "uniqueItems": True}


_P = {
    "pretty": _query("pretty", "string", "If 'true', the output is pretty printed."),
    "dryRun": _query("dryRun", "string", "When present (All), the modification is validated but "
                     "not persisted."),
    "fieldManager": _query("fieldManager", "string", "The name of the actor making the change, "
                           "recorded in managedFields."),
    "fieldValidation": _query("fieldValidation", "string", "What to do with unknown or duplicate "
                              "fields in the body: Ignore, Warn, or Strict (reject the request)."),
    "force": _query("force", "boolean", "Apply requests only: take over fields that other managers "
                    "own instead of failing with a conflict."),
    "allowWatchBookmarks": _query("allowWatchBookmarks", "boolean", "Ask for BOOKMARK watch events."),
    "continue": _query("continue", "string", "The continue token of the previous page of a list."),
    "fieldSelector": _query("fieldSelector", "string", "Restrict the list by fields (metadata.name=x)."),
    "labelSelector": _query("labelSelector", "string", "Restrict the list by labels (app=web)."),
    "limit": _query("limit", "integer", "The most items to return in one page."),
    "resourceVersion": _query("resourceVersion", "string", "Which version of the data to read, or "
                              "from which to watch."),
    "resourceVersionMatch": _query("resourceVersionMatch", "string", "How resourceVersion applies "
                                   "to a list: Exact or NotOlderThan."),
    "sendInitialEvents": _query("sendInitialEvents", "boolean", "Start a watch with the current "
                                "state as synthetic ADDED events."),
    "timeoutSeconds": _query("timeoutSeconds", "integer", "End the list or watch after this long."),
    "watch": _query("watch", "boolean", "Watch for changes instead of listing."),
    "gracePeriodSeconds": _query("gracePeriodSeconds", "integer", "Seconds before the object is "
                                 "deleted; 0 deletes at once."),
    "orphanDependents": _query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    "propagationPolicy": _query("propagationPolicy", "string", "Whether and how dependents are "
                                "garbage collected: Orphan, Background or Foreground."),
}
_LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
                "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "type": "string", "uniqueItems": True}


def _camel_group(group: str) -> str:
    if not group:
        return "Core"
    return "".join(p[:1].upper() + p[1:] for p in group.removesuffix(".k8s.io").split("."))


class _Op:
    """One operation, written once and rendered in either OpenAPI version."""

    def __init__(self, *, op_id: str, action: str, gvk: dict[str, str], tag: str, params: Sequence[str],
                 body: str | None = None, body_types: Sequence[str] = ("application/json",),
                 response: str | None, response_codes: Sequence[str] = ("200",),
                 produces: Sequence[str] = ("application/json", "application/yaml"),
                 description: str) -> None:
        self.op_id, self.action, self.gvk, self.tag = op_id, action, gvk, tag
        self.params, self.body, self.body_types = params, body, body_types
        self.response, self.response_codes, self.produces = response, response_codes, produces
        self.description = description

    def _schema(self, name: str | None, prefix: str) -> dict[str, Any]:
        if name is None:
            return {"type": "string"}
        return {"$ref": prefix + name}

    def v2(self) -> dict[str, Any]:
        params = []
        if self.body is not None:
            params.append({"name": "body", "in": "body", "required": True,
                           "schema": self._schema(self.body, "#/definitions/")})
        params += [dict(_P[p]) for p in self.params]
        responses = {c: {"description": "OK" if c == "200" else ("Created" if c == "201" else "Accepted"),
                         "schema": self._schema(self.response, "#/definitions/")}
                     for c in self.response_codes}
        responses["401"] = {"description": "Unauthorized"}
        op: dict[str, Any] = {
            "description": self.description, "operationId": self.op_id, "tags": [self.tag],
            "consumes": list(self.body_types) if self.body is not None else ["*/*"],
            "produces": list(self.produces), "schemes": ["https"],
            "parameters": params, "responses": responses,
            "x-kubernetes-action": self.action, "x-kubernetes-group-version-kind": self.gvk,
        }
        return op

    def v3(self) -> dict[str, Any]:
        op: dict[str, Any] = {
            "tags": [self.tag], "description": self.description, "operationId": self.op_id,
            # Inline parameters: kubectl looks fieldValidation up by name on the operation itself.
            "parameters": [_v3_param(_P[p]) for p in self.params],
        }
        if self.body is not None:
            schema = self._schema(self.body, "#/components/schemas/")
            op["requestBody"] = {"content": {t: {"schema": schema} for t in self.body_types},
                                 "required": True}
        schema = self._schema(self.response, "#/components/schemas/")
        responses = {c: {"description": "OK" if c == "200" else ("Created" if c == "201" else "Accepted"),
                         "content": {t: {"schema": schema} for t in self.produces}}
                     for c in self.response_codes}
        responses["401"] = {"description": "Unauthorized"}
        op["responses"] = responses
        op["x-kubernetes-action"] = self.action
        op["x-kubernetes-group-version-kind"] = self.gvk
        return op


def _v3_param(p: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": p["type"], "uniqueItems": True}
    out = {"name": p["name"], "in": p["in"], "description": p["description"], "schema": schema}
    if p.get("required"):
        out["required"] = True
    return out


def _model_name(models: Mapping[tuple[str, str], type], group: str, kind: str,
                packages: Mapping[str, str]) -> str | None:
    m = models.get((group, kind))
    if isinstance(m, str):  # a custom resource's definition, named by its CRD
        return m
    return None if m is None else definition_name(m, packages)


def _sub_gvk(entry: Any, sub: Any) -> tuple[str, str, str]:
    kind = sub.kind or entry.type.kind
    if sub.group:
        return sub.group, sub.version, kind
    return entry.type.group, entry.type.version, kind


def build_paths(entries: Sequence[Any], models: Mapping[tuple[str, str], type], *,
                packages: Mapping[str, str] = PACKAGES) -> dict[str, dict[str, Any]]:
    """Every REST path of ``entries`` → ``{"parameters": [...], "<method>": _Op}``."""
    paths: dict[str, dict[str, Any]] = {}
    for e in entries:
        rt = e.type
        kind_def = _model_name(models, rt.group, rt.kind, packages)
        list_def = _model_name(models, rt.group, rt.kind + "List", packages)
        gvk = group_version_kind(rt.group, rt.version, rt.kind)
        tag = f"{(rt.group.removesuffix('.k8s.io').replace('.', '_') or 'core')}_{rt.version}"
        gv = f"{_camel_group(rt.group)}{rt.version[:1].upper()}{rt.version[1:]}"
        ns = "Namespaced" if rt.namespaced else ""
        verbs = set(e.verbs)
        base = rt.prefix + (f"/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"/{rt.plural}")
        ns_params = [_path_param("namespace", "The object name and auth scope, such as for teams "
                                 "and projects.")] if rt.namespaced else []
        name_param = _path_param("name", f"The name of the {rt.kind}.")
        pretty = dict(_P["pretty"])

        coll: dict[str, Any] = {"parameters": [*ns_params, pretty]}
        if "list" in verbs:
            coll["get"] = _Op(op_id=f"list{gv}{ns}{rt.kind}", action="list", gvk=gvk, tag=tag,
                              params=_LIST_PARAMS, response=list_def,
                              produces=("application/json", "application/yaml", "application/json;stream=watch"),
                              description=f"list or watch objects of kind {rt.kind}")
        if "create" in verbs:
            coll["post"] = _Op(op_id=f"create{gv}{ns}{rt.kind}", action="post", gvk=gvk, tag=tag,
                               params=_WRITE_PARAMS, body=kind_def, response=kind_def,
                               response_codes=("200", "201", "202"), description=f"create a {rt.kind}")
        if "deletecollection" in verbs:
            coll["delete"] = _Op(op_id=f"delete{gv}Collection{ns}{rt.kind}", action="deletecollection",
                                 gvk=gvk, tag=tag, params=(*_DELETE_PARAMS, *_LIST_PARAMS),
                                 body=f"{META}.DeleteOptions", response=f"{META}.Status",
                                 description=f"delete collection of {rt.kind}")
        paths[base] = coll

        item: dict[str, Any] = {"parameters": [name_param, *ns_params, pretty]}
        if "get" in verbs:
            item["get"] = _Op(op_id=f"read{gv}{ns}{rt.kind}", action="get", gvk=gvk, tag=tag, params=(),
                              response=kind_def, description=f"read the specified {rt.kind}")
        if "update" in verbs:
            item["put"] = _Op(op_id=f"replace{gv}{ns}{rt.kind}", action="put", gvk=gvk, tag=tag,
                              params=_WRITE_PARAMS, body=kind_def, response=kind_def,
                              response_codes=("200", "201"), description=f"replace the specified {rt.kind}")
        if "patch" in verbs:
            item["patch"] = _Op(op_id=f"patch{gv}{ns}{rt.kind}", action="patch", gvk=gvk, tag=tag,
                                params=(*_WRITE_PARAMS, "force"), body=f"{META}.Patch", body_types=_PATCH_TYPES,
                                response=kind_def, response_codes=("200", "201"),
                                description=f"partially update the specified {rt.kind}")
        if "delete" in verbs:
            item["delete"] = _Op(op_id=f"delete{gv}{ns}{rt.kind}", action="delete", gvk=gvk, tag=tag,
                                 params=_DELETE_PARAMS, body=f"{META}.DeleteOptions", response=f"{META}.Status",
                                 response_codes=("200", "202"), description=f"delete a {rt.kind}")
        paths[base + "/{name}"] = item

        if rt.namespaced and "list" in verbs:
            paths[f"{rt.prefix}/{rt.plural}"] = {
                "parameters": [pretty],
                "get": _Op(op_id=f"list{gv}{rt.kind}ForAllNamespaces", action="list", gvk=gvk, tag=tag,
                           params=_LIST_PARAMS, response=list_def,
                           produces=("application/json", "application/yaml", "application/json;stream=watch"),
                           description=f"list or watch objects of kind {rt.kind} in every namespace"),
            }

        for sub in e.subresources:
            sg, sv, skind = _sub_gvk(e, sub)
            sub_def = _model_name(models, sg, skind, packages)
            sgvk = group_version_kind(sg, sv, skind)
            suffix = sub.name[:1].upper() + sub.name[1:]
            op_kind = f"{ns}{rt.kind}{suffix}"
            entry_path: dict[str, Any] = {"parameters": [name_param, *ns_params, pretty]}
            sverbs = set(sub.verbs)
            if sub.name == "log":
                entry_path["get"] = _Op(op_id=f"read{gv}{op_kind}", action="get", gvk=sgvk, tag=tag,
                                        params=(), response=None, produces=("text/plain",),
                                        description=f"read log of the specified {rt.kind}")
                paths[f"{base}/{{name}}/{sub.name}"] = entry_path
                continue
            if "get" in sverbs:
                entry_path["get"] = _Op(op_id=f"read{gv}{op_kind}", action="get", gvk=sgvk, tag=tag,
                                        params=(), response=sub_def,
                                        description=f"read {sub.name} of the specified {rt.kind}")
            if "update" in sverbs:
                entry_path["put"] = _Op(op_id=f"replace{gv}{op_kind}", action="put", gvk=sgvk, tag=tag,
                                        params=_WRITE_PARAMS, body=sub_def, response=sub_def,
                                        response_codes=("200", "201"),
                                        description=f"replace {sub.name} of the specified {rt.kind}")
            if "patch" in sverbs:
                entry_path["patch"] = _Op(op_id=f"patch{gv}{op_kind}", action="patch", gvk=sgvk, tag=tag,
                                          params=(*_WRITE_PARAMS, "force"), body=f"{META}.Patch",
                                          body_types=_PATCH_TYPES, response=sub_def,
                                          response_codes=("200", "201"),
                                          description=f"partially update {sub.name} of the specified {rt.kind}")
            if "create" in sverbs:
                entry_path["post"] = _Op(op_id=f"create{gv}{op_kind}", action="post", gvk=sgvk, tag=tag,
                                         params=_WRITE_PARAMS, body=sub_def, response=sub_def,
                                         response_codes=("200", "201", "202"),
                                         description=f"create {sub.name} of a {rt.kind}")
            paths[f"{base}/{{name}}/{sub.name}"] = entry_path
    return paths


def render_path(item: Mapping[str, Any], *, v3: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in item.items():
        if k == "parameters":
            out[k] = [_v3_param(p) for p in v] if v3 else [dict(p) for p in v]
        else:
            out[k] = v.v3() if v3 else v.v2()
    return out


# ---------------------------------------------------------------------------------------------
# Documents


def _kinds(entries: Sequence[Any], models: Mapping[tuple[str, str], type]) -> list[tuple[str, str, str, type]]:
    """Each served kind, its List, and each subresource kind that has a model (Scale, Binding)."""
    out: list[tuple[str, str, str, type]] = []
    seen: set[tuple[str, str]] = set()

    def add(group: str, ver: str, kind: str) -> None:
        m = models.get((group, kind))
        if m is not None and (group, kind) not in seen:
            seen.add((group, kind))
            out.append((group, ver, kind, m))

    for e in entries:
        add(e.type.group, e.type.version, e.type.kind)
        add(e.type.group, e.type.version, e.type.kind + "List")
        for sub in e.subresources:
            add(*_sub_gvk(e, sub))
    return out


def _meta_models() -> list[type[BaseModel]]:
    from minik8s.api import meta
    return [meta.Status, meta.DeleteOptions, meta.ListMeta]


def build_v2(entries: Sequence[Any], models: Mapping[tuple[str, str], type], *,
             packages: Mapping[str, str] = PACKAGES,
             extra_models: Iterable[type[BaseModel]] | None = None) -> dict[str, Any]:
    """The Swagger 2.0 document of every served resource."""
    extra = _meta_models() if extra_models is None else list(extra_models)
    defs = build_definitions(_kinds(entries, models), extra_models=extra, packages=packages, v3=False)
    paths = {p: render_path(item, v3=False)
             for p, item in sorted(build_paths(entries, models, packages=packages).items())}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version.GIT_VERSION},
        "paths": paths,
        "definitions": defs,
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header",
                                                "description": "Bearer Token authentication"}},
        "security": [{"BearerToken": []}],
    }


def gv_path(group: str, ver: str) -> str:
    """The key of a group-version in the v3 root: ``api/v1`` or ``apis/apps/v1``."""
    return f"apis/{group}/{ver}" if group else f"api/{ver}"


def build_v3(entries: Sequence[Any], models: Mapping[tuple[str, str], type], *,
             packages: Mapping[str, str] = PACKAGES,
             extra_models: Iterable[type[BaseModel]] | None = None) -> dict[str, dict[str, Any]]:
    """One OpenAPI 3.0 document per group-version, keyed by :func:`gv_path`.

    Each document holds the paths of its group-version and the schemas they reach (its kinds
    included), as Kubernetes serves them under ``/openapi/v3/<gv_path>``.
    """
    extra = _meta_models() if extra_models is None else list(extra_models)
    kinds = _kinds(entries, models)
    defs = rewrite_refs(build_definitions(kinds, extra_models=extra, packages=packages, v3=True),
                         "#/components/schemas/")
    all_paths = build_paths(entries, models, packages=packages)
    docs: dict[str, dict[str, Any]] = {}
    gvs: dict[tuple[str, str], None] = {}
    for e in entries:
        gvs.setdefault((e.type.group, e.type.version))
    for group, ver in gvs:
        prefix = "/" + gv_path(group, ver) + "/"
        paths = {p: render_path(item, v3=True) for p, item in sorted(all_paths.items())
                 if p.startswith(prefix)}
        # The schemas this group-version needs: its own kinds and all they reference.
        wanted = {definition_name(m, packages) for g, v, _k, m in kinds if (g, v) == (group, ver)}
        wanted |= _refs(paths, set())
        todo = list(wanted)
        while todo:
            for r in _refs(defs.get(todo.pop(), {}), set()):
                if r not in wanted:
                    wanted.add(r)
                    todo.append(r)
        docs[gv_path(group, ver)] = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": version.GIT_VERSION},
            "paths": paths,
            "components": {
                "schemas": {n: defs[n] for n in sorted(wanted) if n in defs},
                "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token "
                                                    "authentication", "name": "authorization", "in": "header"}},
            },
        }
    return docs


# ---------------------------------------------------------------------------------------------
# Cached bodies of the served registry


def _served() -> tuple[Sequence[Any], Mapping[tuple[str, str], type]]:
    # Imported late: the registry pulls in every strategy; the builders above need none of it.
    from apiserver.registry import table
    from minik8s.api.schema import MODELS
    return table.TABLE, MODELS


def dump(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def content_hash(body: bytes) -> str:
    # Kubernetes publishes the SHA-512 of each document, upper-case hex, as the ?hash= query.
    return hashlib.sha512(body).hexdigest().upper()


@functools.cache
def builtin_v2() -> tuple[bytes, str]:
    """The Swagger document of the built-in resources and its hash (``/openapi/v2`` serves it
    with the custom resources merged in: ``apiserver/openapi_served.py``)."""
    body = dump(build_v2(*_served()))
    return body, content_hash(body)


@functools.cache
def builtin_v3_bodies() -> dict[str, tuple[bytes, str]]:
    """``gv_path`` → (document, hash) of each built-in group-version."""
    out = {}
    for path, doc in build_v3(*_served()).items():
        body = dump(doc)
        out[path] = (body, content_hash(body))
    return out


@functools.cache
def builtin_v3_root_paths() -> dict[str, Any]:
    """The ``paths`` of ``/openapi/v3`` for the built-in group-versions."""
    return {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={h}"} for p, (_b, h) in builtin_v3_bodies().items()}
