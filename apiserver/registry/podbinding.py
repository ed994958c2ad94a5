"""``pods/{name}/binding``: assigning a pending pod to a node (the scheduler's POST), as Kubernetes'
BindingREST (``pkg/registry/core/pod/storage/storage.go``) does it.

The REST storage writes it as a guaranteed update of the pod (:meth:`apiserver.rest.RestStorage.
guaranteed_update`: re-read and retried when another write got there first, the Binding's uid a
precondition). :meth:`BindingStrategy.bind` is its update function: a pod being deleted or
already assigned cannot be bound (409 Conflict, Kubernetes' words); otherwise ``spec.nodeName``
is the target's name and the ``PodScheduled`` condition is True. The update hooks keep every
other field as stored, and, as Kubernetes' storage-level update, a binding attributes no fields
(managedFields stay as they were).
"""

from __future__ import annotations

from typing import Any

from apiserver.registry.pods import PodStrategy
from apiserver.validation import FieldError
from minik8s.timestamps import now_rfc3339

__all__ = ["BindingStrategy"]


class BindingStrategy(PodStrategy):
    """POST ``pods/{name}/binding``."""

    def bind(self, pod: dict[str, Any], binding: dict[str, Any]) -> dict[str, Any]:
        """``pod`` bound to ``binding.target.name``, as a new object (``pod`` is not changed);
        raises ValueError when it cannot be."""
        node = ((binding.get("target") or {}).get("name")) or ""
        if not node:
            raise ValueError("target.name: Required value")
        spec = pod["spec"]
        if pod["metadata"].get("deletionTimestamp"):
            raise ValueError(f"pod {pod['metadata']['name']} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName"):
            raise ValueError(f"pod {pod['metadata']['name']} is already assigned to node \"{spec['nodeName']}\"")
        status = dict(pod.get("status") or {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": now_rfc3339()})
        status["conditions"] = conds
        return {**pod, "metadata": dict(pod["metadata"]), "spec": {**spec, "nodeName": node}, "status": status}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """A binding changes ``spec.nodeName`` and the ``PodScheduled`` condition; anything else
        is kept as stored."""
        node = (new.get("spec") or {}).get("nodeName")
        scheduled = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
        md = new["metadata"]
        new.clear()
        new.update(old)
        new["metadata"] = md
        new["spec"] = {**old["spec"], "nodeName": node}
        status = dict(old.get("status") or {})
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"] + scheduled
        new["status"] = status

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        # What may be bound is decided by bind(), Kubernetes' update function, as a Conflict;
        # the pod's own update rules (spec immutable but for images) are not a binding's.
        return []
