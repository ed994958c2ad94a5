"""apiextensions.k8s.io/v1 CustomResourceDefinition: scopes, condition types and the cleanup
finalizer, a CRD's conditions, and the resource types an established CRD serves (the
models: :mod:`minik8s.api.apiextensions`).
"""

from __future__ import annotations

import re
from typing import Any

from minik8s.api.resources import ResourceType
from minik8s.api.wellknown import condition as condition  # a CRD's conditions too (re-exported)

GROUP = "apiextensions.k8s.io"
NAMESPACE_SCOPED = "Namespaced"
CLUSTER_SCOPED = "Cluster"

# status.conditions types
ESTABLISHED = "Established"
NAMES_ACCEPTED = "NamesAccepted"
TERMINATING = "Terminating"
NON_STRUCTURAL = "NonStructuralSchema"

#: the finalizer that keeps a deleted CRD until every object of its resource is gone
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def is_true(crd: dict[str, Any], type_: str) -> bool:
    c = condition(crd, type_)
    return c is not None and c.get("status") == "True"


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """A sort key putting versions in Kubernetes' priority order (v1, v1beta2, v1beta1,
    v1alpha1, then others alphabetically): the first served one is a group's preferred."""
    m = _KUBE_VERSION.match(name)
    if m is None:
        return (3, 0, 0, name)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


def served_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource of an established CRD in each served version, preferred first, named by
    its accepted names (what discovery shows); none until the CRD is established."""
    if not is_true(crd, ESTABLISHED):
        return []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    kind = accepted.get("kind") or names.get("kind") or ""
    versions = sorted((v["name"] for v in spec.get("versions") or [] if v.get("served")), key=version_priority)
    return [ResourceType(spec.get("group") or "", v, kind, names.get("plural") or "",
                         spec.get("scope") == NAMESPACE_SCOPED, tuple(accepted.get("shortNames") or ()),
                         tuple(accepted.get("categories") or ()),
                         accepted.get("singular") or names.get("singular") or kind.lower())
            for v in versions]
