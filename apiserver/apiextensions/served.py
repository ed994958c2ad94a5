"""What an established CustomResourceDefinition serves: one registry entry per served version.

Each entry names the resource by the CRD's *accepted* names (``status.acceptedNames``, as
Kubernetes' discovery does), carries the version's strategy, printer and subresources, and
shares one storage segment (``<plural>.<group>``) with the CRD's other versions. Versions are
ordered as Kubernetes orders them (GA before beta before alpha, higher numbers first, others
alphabetically after), so the first is the group's preferred version.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry import customresources as cr
from apiserver.registry import table
from apiserver.registry.customresourcedefinitions import storage_version
from minik8s.api.resources import ResourceType
from minik8s.api.wellknown import apiextensions as api

__all__ = ["entries_for"]


def entries_for(crd: dict[str, Any]) -> tuple[table.Entry, ...]:
    """The registry entries of ``crd``'s served versions (none unless it is established)."""
    spec = crd["spec"]
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    list_kind = accepted.get("listKind") or spec["names"].get("listKind") or spec["names"]["kind"] + "List"
    storage = storage_version(crd) or ""
    terminating = bool(crd["metadata"].get("deletionTimestamp"))
    versions = {ver["name"]: ver for ver in spec.get("versions") or []}
    out: list[table.Entry] = []
    for rt in api.served_resource_types(crd):
        ver = versions[rt.version]
        subs = ver.get("subresources") or {}
        scale = subs.get("scale")
        cv = cr.CustomVersion(
            crd_name=crd["metadata"]["name"], group=rt.group, version=rt.version, kind=rt.kind,
            list_kind=list_kind, plural=rt.plural, namespaced=rt.namespaced,
            schema=(ver.get("schema") or {}).get("openAPIV3Schema") or {},
            storage_version=storage, status_enabled=subs.get("status") is not None, scale=scale,
            selectable_fields=tuple(f["jsonPath"] for f in ver.get("selectableFields") or []),
            terminating=terminating, warning=_deprecation(rt, ver))
        strategy = cr.CustomResourceStrategy(cv)
        subresources: list[table.Subresource] = []
        if cv.status_enabled:
            subresources.append(table.STATUS)
        if scale is not None:
            subresources.append(table.Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling"))
        out.append(table.Entry(rt, strategy, cr.printer_for(ver.get("additionalPrinterColumns") or []),
                               tuple(subresources), custom=cv, resource=f"{rt.plural}.{rt.group}",
                               custom_status_strategy=cr.CustomResourceStatusStrategy(strategy)))
    return tuple(out)


def _deprecation(rt: ResourceType, ver: dict[str, Any]) -> str | None:
    if not ver.get("deprecated"):
        return None
    return ver.get("deprecationWarning") or f"{rt.group}/{rt.version} {rt.kind} is deprecated"
