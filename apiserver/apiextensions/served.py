"""What an established CustomResourceDefinition serves: one registry entry per served version.

Each entry names the resource by the CRD's *accepted* names (``status.acceptedNames``, as
Kubernetes' discovery does), carries the version's strategy, printer and subresources, and
shares one storage segment (``<plural>.<group>``) with the CRD's other versions. Versions are
ordered as Kubernetes orders them (GA before beta before alpha, higher numbers first, others
alphabetically after), so the first is the group's preferred version.
"""

from __future__ import annotations

import re
from typing import Any

from minik8s.api import apiextensions as api
from minik8s.api.resources import ResourceType

from apiserver.registry import customresources as cr
from apiserver.registry import table
from apiserver.registry.customresourcedefinitions import storage_version

__all__ = ["entries_for", "version_priority"]

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """A sort key putting versions in Kubernetes' priority order (v1, v1beta2, v1beta1,
    v1alpha1, then others alphabetically)."""
    m = _KUBE_VERSION.match(name)
    if m is None:
        return (3, 0, 0, name)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


def entries_for(crd: dict[str, Any]) -> tuple[table.Entry, ...]:
    """The registry entries of ``crd``'s served versions (none unless it is established)."""
    if not api.is_true(crd, api.ESTABLISHED):
        return ()
    spec = crd["spec"]
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    names = spec["names"]
    group = spec["group"]
    plural = names["plural"]
    kind = accepted.get("kind") or names["kind"]
    list_kind = accepted.get("listKind") or names.get("listKind") or kind + "List"
    namespaced = spec.get("scope") == api.NAMESPACE_SCOPED
    storage = storage_version(crd) or ""
    terminating = bool(crd["metadata"].get("deletionTimestamp"))
    out: list[table.Entry] = []
    served = [ver for ver in spec.get("versions") or [] if ver.get("served")]
    for ver in sorted(served, key=lambda ver: version_priority(ver["name"])):
        subs = ver.get("subresources") or {}
        scale = subs.get("scale")
        cv = cr.CustomVersion(
            crd_name=crd["metadata"]["name"], group=group, version=ver["name"], kind=kind, list_kind=list_kind,
            plural=plural, namespaced=namespaced, schema=(ver.get("schema") or {}).get("openAPIV3Schema") or {},
            storage_version=storage, status_enabled=subs.get("status") is not None, scale=scale,
            selectable_fields=tuple(f["jsonPath"] for f in ver.get("selectableFields") or []),
            terminating=terminating)
        strategy = cr.CustomResourceStrategy(cv)
        subresources: list[table.Subresource] = []
        if cv.status_enabled:
            subresources.append(table.STATUS)
        if scale is not None:
            subresources.append(table.Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling"))
        rt = ResourceType(group, ver["name"], kind, plural, namespaced,
                          tuple(accepted.get("shortNames") or ()), tuple(accepted.get("categories") or ()),
                          accepted.get("singular") or names.get("singular") or kind.lower())
        out.append(table.Entry(rt, strategy, cr.printer_for(ver.get("additionalPrinterColumns") or []),
                               tuple(subresources), custom=cv, resource=f"{plural}.{group}",
                               custom_status_strategy=cr.CustomResourceStatusStrategy(strategy)))
    return tuple(out)
