"""scheduling.k8s.io/v1 PriorityClass: a name for a pod priority, resolved into
``spec.priority`` and ``spec.preemptionPolicy`` by the apiserver's Priority admission.

Fields follow ``k8s.io/api/scheduling/v1/types.go``; ``preemptionPolicy`` defaults to
``PreemptLowerPriority`` as Kubernetes' defaulting does.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta


class PriorityClass(K8sModel):
    api_version: str = "scheduling.k8s.io/v1"
    kind: str = "PriorityClass"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    # Required by validation; 0 is what Go writes when the field is missing.
    value: int = 0
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str = "PreemptLowerPriority"


class PriorityClassList(K8sModel):
    api_version: str = "scheduling.k8s.io/v1"
    kind: str = "PriorityClassList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[PriorityClass] = []
