"""Validation of a CustomResourceDefinition, as Kubernetes' apiextensions validation does it,
with its field paths and messages: the name (``<plural>.<group>``), the group (a domain with
a dot), the names (DNS-1035 labels; kind and listKind distinct), the scope, the versions (one
storage version, unique names, a schema each), each schema (``structural.py``), the scale
subresource's paths, the printer columns, the conversion and, on update, what may not change.
"""

from __future__ import annotations

import re
from typing import Any

from apiserver import validation as v
from apiserver.crdschema import cel, pruning, structural
from apiserver.validation import FieldError
from minik8s.cli import jsonpath

__all__ = ["validate", "validate_update", "validate_status"]

_SCOPES = ["Cluster", "Namespaced"]
_COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
_COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
# minik8s converts between versions only by their apiVersion (no conversion webhooks here)
_CONVERSIONS = ["None"]
_PATH_PART = re.compile(r"^\.[A-Za-z0-9_-]+$")


def validate(crd: dict[str, Any]) -> list[FieldError]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    errs = v.validate_object_meta(crd)
    name = (crd.get("metadata") or {}).get("name")
    if name and name != f"{names.get('plural', '')}.{spec.get('group', '')}":
        errs.append(v.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    errs += _spec(spec)
    errs += validate_status(crd)
    errs += _api_approval(crd)
    return errs


_APPROVAL = "api-approved.kubernetes.io"


def _api_approval(crd: dict[str, Any]) -> list[FieldError]:
    """A group under k8s.io or kubernetes.io is Kubernetes' own: a CRD there must say where its
    API was approved (the annotation names the pull request, or starts with "unapproved")."""
    group = (crd.get("spec") or {}).get("group") or ""
    if not any(group == d or group.endswith("." + d) for d in ("k8s.io", "kubernetes.io")):
        return []
    if _APPROVAL in ((crd.get("metadata") or {}).get("annotations") or {}):
        return []
    return [FieldError(f"metadata.annotations[{_APPROVAL}]", v.REQUIRED,
                       f'Required value: protected groups must have approval annotation "{_APPROVAL}", see '
                       "https://github.com/kubernetes/enhancements/pull/1111")]


def validate_update(new: dict[str, Any], old: dict[str, Any], *, established: bool) -> list[FieldError]:
    errs = validate(new) + v.validate_object_meta_update(new, old)
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if established:
        if ns.get("scope") != os_.get("scope"):
            errs.append(v.invalid("spec.scope", ns.get("scope"), "field is immutable"))
        if (ns.get("names") or {}).get("kind") != (os_.get("names") or {}).get("kind"):
            errs.append(v.invalid("spec.names.kind", (ns.get("names") or {}).get("kind"), "field is immutable"))
    if ns.get("group") != os_.get("group"):
        errs.append(v.invalid("spec.group", ns.get("group"), "field is immutable"))
    if (ns.get("names") or {}).get("plural") != (os_.get("names") or {}).get("plural"):
        errs.append(v.invalid("spec.names.plural", (ns.get("names") or {}).get("plural"), "field is immutable"))
    errs += _stored_versions(new)
    return errs


def validate_status(crd: dict[str, Any]) -> list[FieldError]:
    accepted = ((crd.get("status") or {}).get("acceptedNames")) or {}
    return _names(accepted, "status.acceptedNames")


def _stored_versions(crd: dict[str, Any]) -> list[FieldError]:
    stored = ((crd.get("status") or {}).get("storedVersions")) or []
    served = {ver.get("name") for ver in (crd.get("spec") or {}).get("versions") or []}
    return [v.invalid(f"status.storedVersions[{i}]", s, "must appear in spec.versions")
            for i, s in enumerate(stored) if s not in served]


def _spec(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errs.append(v.required("spec.group"))
    elif v.dns1123_subdomain(group):
        errs.append(v.invalid("spec.group", group, ",".join(v.dns1123_subdomain(group))))
    elif len(group.split(".")) < 2:
        errs.append(v.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(v.required("spec.scope"))
    elif scope not in _SCOPES:
        errs.append(v.not_supported("spec.scope", scope, _SCOPES))
    errs += _versions(spec)
    names = spec.get("names") or {}
    for f in ("plural", "singular", "kind", "listKind"):
        if not names.get(f):
            errs.append(v.required(f"spec.names.{f}"))
    errs += _names(names, "spec.names")
    conv = (spec.get("conversion") or {}).get("strategy") or "None"
    if conv not in _CONVERSIONS:
        errs.append(v.not_supported("spec.conversion.strategy", conv, _CONVERSIONS))
    if spec.get("preserveUnknownFields"):
        errs.append(v.invalid("spec.preserveUnknownFields", True,
                              "must be false in order to use defaults in the schema"
                              if _any_default(spec) else "cannot set to true, set x-kubernetes-preserve-unknown-"
                              "fields to true in spec.versions[*].schema instead"))
    return errs


def _any_default(spec: dict[str, Any]) -> bool:
    return any(pruning.has_defaults((ver.get("schema") or {}).get("openAPIV3Schema"))
               for ver in spec.get("versions") or [] if isinstance(ver, dict))


def _names(names: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in ("plural", "singular"):
        val = names.get(f)
        if val and v.dns1035_label(val):
            errs.append(v.invalid(f"{path}.{f}", val, ",".join(v.dns1035_label(val))))
    for f in ("kind", "listKind"):
        val = names.get(f)
        if val and v.dns1035_label(val.lower()):
            errs.append(v.invalid(f"{path}.{f}", val, "may have mixed case, but should otherwise match: "
                                  + ",".join(v.dns1035_label(val.lower()))))
    for i, sn in enumerate(names.get("shortNames") or []):
        if v.dns1035_label(sn):
            errs.append(v.invalid(f"{path}.shortNames[{i}]", sn, ",".join(v.dns1035_label(sn))))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(v.invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for i, c in enumerate(names.get("categories") or []):
        if v.dns1035_label(c):
            errs.append(v.invalid(f"{path}.categories[{i}]", c, ",".join(v.dns1035_label(c))))
    return errs


def _versions(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    versions = spec.get("versions") or []
    if not versions:
        errs.append(FieldError("spec.versions", v.INVALID, "Invalid value: null: must have exactly one version "
                                                           "marked as storage version"))
        return errs
    seen: set[str] = set()
    unique = True
    storage = 0
    for i, ver in enumerate(versions):
        path = f"spec.versions[{i}]"
        name = ver.get("name") or ""
        if name in seen:
            unique = False
        seen.add(name)
        if v.dns1035_label(name):
            errs.append(v.invalid(f"{path}.name", name, ",".join(v.dns1035_label(name))))
        if ver.get("storage"):
            storage += 1
            if not ver.get("served"):
                pass  # allowed: a storage version need not be served
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errs.append(FieldError(f"{path}.schema.openAPIV3Schema", v.REQUIRED,
                                   "Required value: schemas are required"))
        else:
            schema_errs = structural.validate_schema(schema, f"{path}.schema.openAPIV3Schema")
            errs += schema_errs or cel.compile_errors(schema, f"{path}.schema.openAPIV3Schema")
        errs += _subresources(ver.get("subresources"), f"{path}.subresources")
        errs += _columns(ver.get("additionalPrinterColumns") or [], f"{path}.additionalPrinterColumns")
        errs += _selectable(ver.get("selectableFields") or [], f"{path}.selectableFields")
    if not unique:
        errs.append(v.invalid("spec.versions", "", "must contain unique version names"))
    if storage != 1:
        errs.append(v.invalid("spec.versions", "", "must have exactly one version marked as storage version"))
    if not any(ver.get("served") for ver in versions):
        errs.append(v.invalid("spec.versions", "", "must have at least one served version"))
    return errs


def _json_path_errors(path_text: str) -> str | None:
    try:
        jsonpath.parse("{" + path_text + "}")
    except jsonpath.JsonPathError as e:
        return str(e)
    return None


def _simple_path(p: str) -> bool:
    """A path of plain fields (``.spec.replicas``), what the scale subresource may name."""
    parts = re.split(r"(?=\.)", p)
    return bool(p) and all(_PATH_PART.match(x) for x in parts if x)


def _subresources(subs: dict[str, Any] | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    scale = (subs or {}).get("scale")
    if not scale:
        return errs
    sp = scale.get("specReplicasPath") or ""
    if not sp:
        errs.append(v.required(f"{path}.scale.specReplicasPath"))
    elif not _simple_path(sp):
        errs.append(v.invalid(f"{path}.scale.specReplicasPath", sp, "must be a simple json path"))
    elif not sp.startswith(".spec."):
        errs.append(v.invalid(f"{path}.scale.specReplicasPath", sp, "should be a json path under .spec"))
    st = scale.get("statusReplicasPath") or ""
    if not st:
        errs.append(v.required(f"{path}.scale.statusReplicasPath"))
    elif not _simple_path(st):
        errs.append(v.invalid(f"{path}.scale.statusReplicasPath", st, "must be a simple json path"))
    elif not st.startswith(".status."):
        errs.append(v.invalid(f"{path}.scale.statusReplicasPath", st, "should be a json path under .status"))
    sel = scale.get("labelSelectorPath")
    if sel:
        if not _simple_path(sel):
            errs.append(v.invalid(f"{path}.scale.labelSelectorPath", sel, "must be a simple json path"))
        elif not (sel.startswith(".spec.") or sel.startswith(".status.")):
            errs.append(v.invalid(f"{path}.scale.labelSelectorPath", sel,
                                  "should be a json path under either .spec or .status"))
    return errs


def _columns(columns: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(columns):
        p = f"{path}[{i}]"
        if not c.get("name"):
            errs.append(v.required(f"{p}.name"))
        t = c.get("type") or ""
        if not t:
            errs.append(FieldError(f"{p}.type", v.REQUIRED, "Required value: must not be empty"))
        elif t not in _COLUMN_TYPES:
            errs.append(v.not_supported(f"{p}.type", t, _COLUMN_TYPES))
        f = c.get("format")
        if f and f not in _COLUMN_FORMATS:
            errs.append(v.not_supported(f"{p}.format", f, _COLUMN_FORMATS))
        if (c.get("priority") or 0) < 0:
            errs.append(v.invalid(f"{p}.priority", c["priority"], "must be non-negative"))
        jp = c.get("jsonPath") or ""
        if not jp:
            errs.append(v.required(f"{p}.jsonPath"))
        else:
            problem = _json_path_errors(jp)
            if problem is not None:
                errs.append(v.invalid(f"{p}.jsonPath", jp, f"must be a simple json path: {problem}"))
    return errs


def _selectable(fields: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, f in enumerate(fields):
        jp = f.get("jsonPath") or ""
        if not jp:
            errs.append(v.required(f"{path}[{i}].jsonPath"))
        elif not _simple_path(jp):
            errs.append(v.invalid(f"{path}[{i}].jsonPath", jp, "must be a simple json path"))
    return errs
