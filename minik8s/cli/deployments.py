"""What ``mkctl describe`` and ``mkctl rollout`` (and ``logs deployment/X``) both read of a
Deployment: the ReplicaSets it controls, found as kubectl finds them (its selector, then a
controller ownerReference to its uid), and whether a ReplicaSet's template is the
Deployment's once the ``pod-template-hash`` label is set aside. Its own module so that neither
verb imports the other for it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from minik8s.cli.session import CliError, Session
from minik8s.labels import label_selector_string

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed

HASH_LABEL = "pod-template-hash"


def selector_query(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as the ``labelSelector`` query parameter that lists what it selects."""
    text = label_selector_string(selector)
    if text is None:
        raise CliError(f"invalid label selector: {json.dumps(selector)}")
    return text


async def owned_replicasets(session: Session, deployment: typed.Deployment) -> list[typed.ReplicaSet]:
    """The ReplicaSets the deployment controls: its selector, then a controller ownerRef to its uid."""
    res = await session.resolver.resolve("replicasets.apps")
    meta = deployment.get("metadata") or {}
    doc = await session.client.list_all(res.rt, namespace=meta.get("namespace"),
                                        label_selector=selector_query((deployment.get("spec") or {}).get("selector")))
    replicasets: list[typed.ReplicaSet] = doc.get("items") or []
    return [rs for rs in replicasets
            if any(ref.get("controller") and ref.get("uid") == meta.get("uid")
                   for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])]


def without_hash(template: typed.PodTemplateSpec) -> typed.PodTemplateSpec:
    """A copy of a pod template without the `pod-template-hash` label the controller adds."""
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            t["metadata"].pop("labels")
    return t


def equal_ignore_hash(a: typed.PodTemplateSpec, b: typed.PodTemplateSpec) -> bool:
    return without_hash(a) == without_hash(b)
