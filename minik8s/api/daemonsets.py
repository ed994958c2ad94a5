"""apps/v1 types: DaemonSet and ControllerRevision.

Fields follow ``k8s.io/api/apps/v1/types.go``; defaults follow ``pkg/apis/apps/v1/defaults.go``
(a RollingUpdate with maxUnavailable 1 and maxSurge 0, ten revisions of history).
ControllerRevision is the immutable record of one pod template that ``kubectl rollout
history|undo`` reads for DaemonSets (and StatefulSets).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from minik8s.api.base import Int32, IntOrString, K8sModel, merge_key, set_strategy
from minik8s.api.core import PodTemplateSpec
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta

ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"


class RollingUpdateDaemonSet(K8sModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(K8sModel):
    type: str = ROLLING_UPDATE
    rolling_update: RollingUpdateDaemonSet | None = None

    @model_validator(mode="after")
    def _default_rolling_update(self) -> DaemonSetUpdateStrategy:
        if self.type == ROLLING_UPDATE:
            ru = self.rolling_update
            if ru is None:
                ru = self.rolling_update = RollingUpdateDaemonSet()
            if ru.max_unavailable is None:
                ru.max_unavailable = 1
            if ru.max_surge is None:
                ru.max_surge = 0
        return self


class DaemonSetSpec(K8sModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    update_strategy: DaemonSetUpdateStrategy = set_strategy("retainKeys", default_factory=DaemonSetUpdateStrategy)
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 = 10


class DaemonSetCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class DaemonSetStatus(K8sModel):
    # No omitempty on these four in Kubernetes: always written.
    current_number_scheduled: int = 0
    number_misscheduled: int = 0
    desired_number_scheduled: int = 0
    number_ready: int = 0
    observed_generation: int | None = None
    updated_number_scheduled: int | None = None
    number_available: int | None = None
    number_unavailable: int | None = None
    collision_count: int | None = None
    conditions: list[DaemonSetCondition] | None = merge_key("type")


class DaemonSet(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "DaemonSet"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DaemonSetSpec = Field(default_factory=DaemonSetSpec)
    status: DaemonSetStatus = Field(default_factory=DaemonSetStatus)


class DaemonSetList(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "DaemonSetList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[DaemonSet] = []


class ControllerRevision(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "ControllerRevision"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    data: dict[str, Any] | None = None
    revision: int = 0


class ControllerRevisionList(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "ControllerRevisionList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ControllerRevision] = []
