"""apps/v1 StatefulSet: pods with a stable identity (``<set>-<ordinal>``) and stable storage (a
PersistentVolumeClaim per pod from ``volumeClaimTemplates``).

Fields follow ``k8s.io/api/apps/v1/types.go``; defaults follow ``SetDefaults_StatefulSet``:
one replica, OrderedReady, a RollingUpdate with partition 0, ten revisions of history, claims
retained when the set is deleted or scaled down. The claim templates are the storage API's own
PersistentVolumeClaim (``minik8s.api.volumes``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from minik8s.api.base import Int32, IntOrString, K8sModel, merge_key
from minik8s.api.core import PodTemplateSpec
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta
from minik8s.api.volumes import PersistentVolumeClaim

ORDERED_READY = "OrderedReady"
PARALLEL = "Parallel"


class RollingUpdateStatefulSetStrategy(K8sModel):
    partition: Int32 | None = None
    max_unavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(K8sModel):
    type: str = "RollingUpdate"
    rolling_update: RollingUpdateStatefulSetStrategy | None = None

    @model_validator(mode="after")
    def _default_partition(self) -> StatefulSetUpdateStrategy:
        if self.type == "RollingUpdate":
            if self.rolling_update is None:
                self.rolling_update = RollingUpdateStatefulSetStrategy()
            if self.rolling_update.partition is None:
                self.rolling_update.partition = 0
        return self


class StatefulSetPersistentVolumeClaimRetentionPolicy(K8sModel):
    when_deleted: str = "Retain"
    when_scaled: str = "Retain"


class StatefulSetOrdinals(K8sModel):
    start: Int32 = 0


class StatefulSetSpec(K8sModel):
    replicas: Int32 = 1
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    volume_claim_templates: list[PersistentVolumeClaim] | None = None
    service_name: str | None = None
    pod_management_policy: str = ORDERED_READY
    update_strategy: StatefulSetUpdateStrategy = Field(default_factory=StatefulSetUpdateStrategy)
    revision_history_limit: Int32 = 10
    min_ready_seconds: Int32 | None = None
    persistent_volume_claim_retention_policy: StatefulSetPersistentVolumeClaimRetentionPolicy = Field(
        default_factory=StatefulSetPersistentVolumeClaimRetentionPolicy)
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class StatefulSetStatus(K8sModel):
    observed_generation: int | None = None
    replicas: int = 0
    ready_replicas: int | None = None
    current_replicas: int | None = None
    updated_replicas: int | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: int | None = None
    conditions: list[StatefulSetCondition] | None = merge_key("type")
    available_replicas: int = 0


class StatefulSet(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "StatefulSet"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: StatefulSetSpec = Field(default_factory=StatefulSetSpec)
    status: StatefulSetStatus = Field(default_factory=StatefulSetStatus)


class StatefulSetList(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "StatefulSetList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[StatefulSet] = []
