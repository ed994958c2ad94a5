"""Matching claims to volumes: what class a claim asks for, whether a volume satisfies a
claim, and which volume a claim gets (Kubernetes' ``pkg/controller/volume/persistentvolume/util``
and ``FindMatchingVolume``). Pure functions, shared by the volume binder (controller-manager)
and the scheduler's VolumeBinding plugin, as Kubernetes shares them.

A claim is matched to the *smallest* volume that has its class, every access mode it asks
for, its volume mode, at least its requested storage and the labels its selector wants, and
that is not bound to another claim nor being deleted. A volume pre-bound to the claim
(``spec.claimRef`` naming it) wins over any other. Under ``WaitForFirstConsumer`` a volume is
only chosen once the claim's pod has a node, and then only if the volume's node affinity
admits that node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from minik8s import labels, quantity
from minik8s.api.wellknown import volumes as vol_api
from minik8s.nodeselector import SelectableNode, selector_matcher

_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


# A volume as the caller holds it (a cached dict, a read-only mapping): the one chosen is returned as given.
Volume = TypeVar("Volume", bound=Mapping[str, Any])


def storage_of(resources: Mapping[str, Any] | None) -> int:
    """The ``storage`` amount of a ResourceList in bytes (0 when absent)."""
    value = (resources or {}).get("storage")
    return quantity.parse_bytes(value) if value is not None else 0


def requested_storage(pvc: Mapping[str, Any]) -> int:
    return storage_of(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))


def capacity(pv: Mapping[str, Any]) -> int:
    return storage_of((pv.get("spec") or {}).get("capacity"))


def storage_class(obj: Mapping[str, Any]) -> str:
    """The class of a volume or claim: the beta annotation, else ``spec.storageClassName``."""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if _BETA_CLASS_ANNOTATION in ann:
        beta: str = ann[_BETA_CLASS_ANNOTATION]
        return beta
    name: str = (obj.get("spec") or {}).get("storageClassName") or ""
    return name


def claim_key(pvc: Mapping[str, Any]) -> str:
    md = pvc.get("metadata") or {}
    return f"{md.get('namespace')}/{md.get('name')}"


def claim_ref_key(pv: Mapping[str, Any]) -> str | None:
    """``namespace/name`` of the claim a volume's ``claimRef`` names, None when unset."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return None
    return f"{ref.get('namespace') or ''}/{ref.get('name') or ''}"


def is_bound_to(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    """The volume's claimRef names this claim (``IsVolumeBoundToClaim``): same namespace and
    name, and the same uid unless the claimRef has none yet (pre-bound by a person)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    md = pvc.get("metadata") or {}
    if ref.get("name") != md.get("name") or ref.get("namespace") != md.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == md.get("uid")


def mismatch(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> str | None:
    """Why ``pv`` cannot satisfy ``pvc`` (``checkVolumeSatisfyClaim``'s words), None if it can."""
    pv_spec, pvc_spec = pv.get("spec") or {}, pvc.get("spec") or {}
    if capacity(pv) < requested_storage(pvc):
        return "requested PV is too small"
    if storage_class(pv) != storage_class(pvc):
        return "storageClassName does not match"
    if (pv_spec.get("volumeMode") or "Filesystem") != (pvc_spec.get("volumeMode") or "Filesystem"):
        return "incompatible volumeMode"
    have = set(pv_spec.get("accessModes") or ())
    if not set(pvc_spec.get("accessModes") or ()) <= have:
        return "incompatible accessMode"
    return None


def node_affinity_admits(pv: Mapping[str, Any], node: SelectableNode) -> bool:
    """Whether the volume's ``nodeAffinity.required`` admits ``node`` (no affinity: any node)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required is None:
        return True
    return selector_matcher(required)(node)


def find_best_volume(pvc: Mapping[str, Any], volumes: Iterable[Volume], *,
                     node: SelectableNode | None = None, delay_binding: bool = False) -> Volume | None:
    """The volume ``pvc`` should bind to, or None (``FindMatchingVolume``).

    ``delay_binding``: the claim's class waits for its first consumer, so with no ``node``
    only a volume pre-bound to the claim may be chosen."""
    spec = pvc.get("spec") or {}
    selector = spec.get("selector")
    try:
        sel = labels.from_label_selector(selector) if selector is not None else None
    except ValueError:
        return None
    best: Volume | None = None
    for pv in volumes:
        md = pv.get("metadata") or {}
        if md.get("deletionTimestamp"):
            continue
        if is_bound_to(pv, pvc):
            # Pre-bound (by a person, or by a provisioner for this node): nothing else is
            # considered, and its affinity was the chooser's business.
            if mismatch(pv, pvc) is None:
                return pv
            continue
        if node is not None and not node_affinity_admits(pv, node):
            continue
        if node is None and delay_binding:
            continue  # the scheduler's choice of node comes first
        if (pv.get("spec") or {}).get("claimRef"):
            continue  # someone else's
        if sel is not None and not sel.matches(md.get("labels") or {}):
            continue
        if mismatch(pv, pvc) is not None:
            continue
        if best is None or (capacity(pv), md.get("name", "")) < (capacity(best), best["metadata"].get("name", "")):
            best = pv
    return best


def claim_ref(pvc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``spec.claimRef`` a volume bound to ``pvc`` carries."""
    md = pvc.get("metadata") or {}
    return {"kind": "PersistentVolumeClaim", "namespace": md.get("namespace"), "name": md.get("name"),
            "uid": md.get("uid"), "apiVersion": "v1", "resourceVersion": md.get("resourceVersion")}


def bound_claim_status(pvc: Mapping[str, Any], pv: Mapping[str, Any]) -> dict[str, Any]:
    """The status of a claim bound to ``pv``: Bound, with the volume's modes and capacity."""
    status = dict(pvc.get("status") or {})
    pv_spec = pv.get("spec") or {}
    status["phase"] = vol_api.CLAIM_BOUND
    status["accessModes"] = list(pv_spec.get("accessModes") or [])
    status["capacity"] = dict(pv_spec.get("capacity") or {})
    return status
