"""policy/v1 types: PodDisruptionBudget (and Eviction, which the pods/eviction subresource reads).

Fields follow ``k8s.io/api/policy/v1/types.go``. A budget says how many of the pods its selector
matches must stay healthy (``minAvailable``) or may be down (``maxUnavailable``) during voluntary
disruptions; the disruption controller writes what that allows now in its status.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import IntOrString, K8sModel, merge_key
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta


class PodDisruptionBudgetSpec(K8sModel):
    min_available: IntOrString | None = None
    selector: LabelSelector | None = None
    max_unavailable: IntOrString | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PDBCondition(K8sModel):
    type: str
    status: str
    observed_generation: int | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class PodDisruptionBudgetStatus(K8sModel):
    observed_generation: int | None = None
    disrupted_pods: dict[str, str] | None = None
    # No omitempty on these four in Kubernetes.
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0
    conditions: list[PDBCondition] | None = merge_key("type")


class PodDisruptionBudget(K8sModel):
    api_version: str = "policy/v1"
    kind: str = "PodDisruptionBudget"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodDisruptionBudgetSpec = Field(default_factory=PodDisruptionBudgetSpec)
    status: PodDisruptionBudgetStatus = Field(default_factory=PodDisruptionBudgetStatus)


class PodDisruptionBudgetList(K8sModel):
    api_version: str = "policy/v1"
    kind: str = "PodDisruptionBudgetList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[PodDisruptionBudget] = []
