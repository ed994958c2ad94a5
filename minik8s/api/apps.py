"""apps/v1 types: Deployment and ReplicaSet.

Fields and merge keys follow ``k8s.io/api/apps/v1/types.go``; defaults follow
``pkg/apis/apps/v1/defaults.go`` (conventions in ``minik8s/api/base.py``). The pod template's
own defaults come from ``minik8s.api.core.PodSpec`` and ``Container``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from minik8s.api.base import Int32, IntOrString, K8sModel, merge_key, set_strategy
from minik8s.api.core import PodTemplateSpec
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"


class RollingUpdateDeployment(K8sModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(K8sModel):
    type: str = ROLLING_UPDATE
    rolling_update: RollingUpdateDeployment | None = None

    @model_validator(mode="after")
    def _default_rolling_update(self) -> DeploymentStrategy:
        # SetDefaults_Deployment: 25%/25% only for a rolling update. A Recreate strategy is
        # left as given (validation rejects a rollingUpdate beside it).
        if self.type == ROLLING_UPDATE:
            ru = self.rolling_update
            if ru is None:
                ru = self.rolling_update = RollingUpdateDeployment()
            if ru.max_unavailable is None:
                ru.max_unavailable = "25%"
            if ru.max_surge is None:
                ru.max_surge = "25%"
        return self


class DeploymentSpec(K8sModel):
    replicas: Int32 = 1
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    # retainKeys: switching RollingUpdate -> Recreate by apply drops rollingUpdate
    strategy: DeploymentStrategy = set_strategy("retainKeys", default_factory=DeploymentStrategy)
    min_ready_seconds: int | None = None
    revision_history_limit: int = 10
    paused: bool | None = None
    progress_deadline_seconds: int = 600


class DeploymentCondition(K8sModel):
    type: str
    status: str
    last_update_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(K8sModel):
    observed_generation: int | None = None
    replicas: int | None = None
    updated_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    unavailable_replicas: int | None = None
    terminating_replicas: int | None = None
    conditions: list[DeploymentCondition] | None = merge_key("type")
    collision_count: int | None = None


class Deployment(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "Deployment"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)


class DeploymentList(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "DeploymentList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Deployment] = []


class ReplicaSetSpec(K8sModel):
    replicas: Int32 = 1
    min_ready_seconds: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)


class ReplicaSetCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ReplicaSetStatus(K8sModel):
    replicas: int = 0  # no omitempty in Kubernetes: always written
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    terminating_replicas: int | None = None
    observed_generation: int | None = None
    conditions: list[ReplicaSetCondition] | None = merge_key("type")


class ReplicaSet(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "ReplicaSet"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ReplicaSetSpec = Field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus = Field(default_factory=ReplicaSetStatus)


class ReplicaSetList(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "ReplicaSetList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ReplicaSet] = []
