"""core/v1 ReplicationController: the ReplicaSet's predecessor with an equality-based selector.

Fields follow ``k8s.io/api/core/v1/types.go``; defaults follow ``SetDefaults_ReplicationController``
(one replica; an empty selector, and empty labels, taken from the template's labels).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from minik8s.api.base import Int32, K8sModel, merge_key
from minik8s.api.core import PodTemplateSpec
from minik8s.api.meta import ListMeta, ObjectMeta


class ReplicationControllerSpec(K8sModel):
    replicas: Int32 = 1
    min_ready_seconds: Int32 | None = None
    selector: dict[str, str] | None = None
    template: PodTemplateSpec | None = None


class ReplicationControllerCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ReplicationControllerStatus(K8sModel):
    replicas: int = 0
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    observed_generation: int | None = None
    conditions: list[ReplicationControllerCondition] | None = merge_key("type")


class ReplicationController(K8sModel):
    api_version: str = "v1"
    kind: str = "ReplicationController"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ReplicationControllerSpec = Field(default_factory=ReplicationControllerSpec)
    status: ReplicationControllerStatus = Field(default_factory=ReplicationControllerStatus)

    @model_validator(mode="after")
    def _defaults(self) -> ReplicationController:
        tpl = self.spec.template
        tpl_labels = tpl.metadata.labels if tpl is not None else None
        if tpl_labels:
            if not self.spec.selector:
                self.spec.selector = dict(tpl_labels)
            if not self.metadata.labels:
                self.metadata.labels = dict(tpl_labels)
        return self


class ReplicationControllerList(K8sModel):
    api_version: str = "v1"
    kind: str = "ReplicationControllerList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ReplicationController] = []
