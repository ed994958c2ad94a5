"""Priority admission (Kubernetes' ``plugin/pkg/admission/priority``).

* A new pod gets ``spec.priority`` and ``spec.preemptionPolicy`` from its
  ``priorityClassName``, or from the global default class when it names none (no default: 0
  and ``PreemptLowerPriority``); an unknown class is refused, and so is a pod that states a
  priority or policy other than its class's.
* Only one PriorityClass may be the global default.
* The two system classes are created at start (:func:`ensure_system_classes`).

Classes are read from the watch cache, which the apiserver keeps current with every write.
"""

from __future__ import annotations

import logging
from typing import Any

from apiserver import errors
from apiserver.admission.interface import CREATE, Attributes, Plugin, forbidden
from apiserver.registry.policy import SYSTEM_PRIORITY_CLASSES
from minik8s.api import resources as rs

log = logging.getLogger(__name__)

_PREFIX = "/registry/priorityclasses/"
DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"


class Priority(Plugin):
    handles = frozenset((rs.PODS, rs.PRIORITYCLASSES))

    def __init__(self, cache: Any) -> None:  # apiserver.watchcache.WatchCache
        self.cache = cache

    def _classes(self) -> dict[str, dict[str, Any]]:
        classes: dict[str, dict[str, Any]] = self.cache.resource(rs.PRIORITYCLASSES.plural).objects
        return classes

    def _default(self) -> dict[str, Any] | None:
        """The global default class; with several, the one of lowest value (as Kubernetes)."""
        best = None
        for pc in self._classes().values():
            if pc.get("globalDefault") and (best is None or pc.get("value", 0) < best.get("value", 0)):
                best = pc
        return best

    async def admit(self, attrs: Attributes) -> None:
        if attrs.resource is not rs.PODS or attrs.operation != CREATE or attrs.subresource:
            return
        spec = attrs.obj.setdefault("spec", {})
        name = spec.get("priorityClassName")
        if not name:
            pc = self._default()
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
        else:
            pc = self._classes().get(_PREFIX + name)
            if pc is None:
                raise forbidden(attrs, f"no PriorityClass with name {name} was found")
        priority = int(pc.get("value", 0)) if pc is not None else 0
        policy = (pc.get("preemptionPolicy") if pc is not None else None) or DEFAULT_PREEMPTION_POLICY
        given = spec.get("priority")
        if given is not None and given != priority:
            raise forbidden(attrs, f"the integer value of priority ({given}) must not be provided in pod spec; "
                                   f"priority admission controller computed {priority} from the given "
                                   f"PriorityClass name")
        given_policy = spec.get("preemptionPolicy")
        if given_policy is not None and given_policy != policy:
            raise forbidden(attrs, f"the string value of PreemptionPolicy ({given_policy}) must not be provided "
                                   f"in pod spec; priority admission controller computed {policy} from the "
                                   f"given PriorityClass name")
        spec["priority"] = priority
        spec["preemptionPolicy"] = policy

    async def validate(self, attrs: Attributes) -> None:
        if attrs.resource is not rs.PRIORITYCLASSES or not attrs.obj.get("globalDefault"):
            return
        current = self._default()
        if current is not None and current["metadata"]["name"] != attrs.name:
            raise forbidden(attrs, f"PriorityClass {current['metadata']['name']} is already marked as default. "
                                   f"Only one default can exist")


async def ensure_system_classes(rest: Any) -> None:
    """Create ``system-cluster-critical`` and ``system-node-critical`` when absent
    (Kubernetes' apiserver does at start). ``rest``: an ``apiserver.rest.RestStorage``."""
    from apiserver.registry import table
    entry = table.BY_TYPE[rs.PRIORITYCLASSES]
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        body = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                "value": value, "description": description}
        try:
            await rest.create(entry, None, body, field_manager="kube-apiserver")
            log.info("created PriorityClass %s with value %d", name, value)
        except errors.AlreadyExists:
            pass
