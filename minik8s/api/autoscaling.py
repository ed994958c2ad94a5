"""autoscaling/v1 Scale (the ``/scale`` subresource of Deployments, ReplicaSets, StatefulSets
and ReplicationControllers) and autoscaling/v2 HorizontalPodAutoscaler.

Fields follow ``k8s.io/api/autoscaling/v1/types.go``. ``status.selector`` is the label
selector in its string form (``app=web,tier in (a,b)``), as ``kubectl scale`` reads it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from minik8s.api.base import Int32, K8sModel
from minik8s.api.core import Quantity
from minik8s.api.meta import ListMeta, ObjectMeta


class ScaleSpec(K8sModel):
    replicas: Int32 | None = None


class ScaleStatus(K8sModel):
    replicas: int = 0  # no omitempty in Kubernetes: always written
    selector: str | None = None


class Scale(K8sModel):
    api_version: str = "autoscaling/v1"
    kind: str = "Scale"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ScaleSpec = Field(default_factory=ScaleSpec)
    status: ScaleStatus = Field(default_factory=ScaleStatus)


# --- autoscaling/v2 HorizontalPodAutoscaler (k8s.io/api/autoscaling/v2/types.go) -------------


class CrossVersionObjectReference(K8sModel):
    kind: str = ""
    name: str = ""
    api_version: str | None = None


class MetricTarget(K8sModel):
    type: str = ""  # Utilization | Value | AverageValue
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: Int32 | None = None


class ResourceMetricSource(K8sModel):
    name: str = ""
    target: MetricTarget = Field(default_factory=MetricTarget)


class ContainerResourceMetricSource(K8sModel):
    name: str = ""
    target: MetricTarget = Field(default_factory=MetricTarget)
    container: str = ""


class MetricSpec(K8sModel):
    type: str = ""  # Resource | ContainerResource | Pods | Object | External
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    # Pods, Object and External metrics need a custom/external metrics API, which is not served
    pods: dict[str, Any] | None = None
    object: dict[str, Any] | None = None
    external: dict[str, Any] | None = None


class HPAScalingPolicy(K8sModel):
    type: str = ""  # Pods | Percent
    value: Int32 = 0
    period_seconds: Int32 = 0


class HPAScalingRules(K8sModel):
    stabilization_window_seconds: Int32 | None = None
    select_policy: str | None = None  # Max | Min | Disabled
    policies: list[HPAScalingPolicy] | None = None


class HorizontalPodAutoscalerBehavior(K8sModel):
    scale_up: HPAScalingRules | None = None
    scale_down: HPAScalingRules | None = None


class HorizontalPodAutoscalerSpec(K8sModel):
    scale_target_ref: CrossVersionObjectReference = Field(default_factory=CrossVersionObjectReference)
    min_replicas: Int32 | None = None
    max_replicas: Int32 = 0
    metrics: list[MetricSpec] | None = None
    behavior: HorizontalPodAutoscalerBehavior | None = None


class MetricValueStatus(K8sModel):
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: Int32 | None = None


class ResourceMetricStatus(K8sModel):
    name: str = ""
    current: MetricValueStatus = Field(default_factory=MetricValueStatus)


class ContainerResourceMetricStatus(K8sModel):
    name: str = ""
    current: MetricValueStatus = Field(default_factory=MetricValueStatus)
    container: str = ""


class MetricStatus(K8sModel):
    type: str = ""
    resource: ResourceMetricStatus | None = None
    container_resource: ContainerResourceMetricStatus | None = None


class HorizontalPodAutoscalerCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class HorizontalPodAutoscalerStatus(K8sModel):
    observed_generation: int | None = None
    last_scale_time: str | None = None
    current_replicas: Int32 | None = None
    desired_replicas: Int32 = 0
    current_metrics: list[MetricStatus] | None = None
    conditions: list[HorizontalPodAutoscalerCondition] | None = None


class HorizontalPodAutoscaler(K8sModel):
    api_version: str = "autoscaling/v2"
    kind: str = "HorizontalPodAutoscaler"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: HorizontalPodAutoscalerSpec = Field(default_factory=HorizontalPodAutoscalerSpec)
    status: HorizontalPodAutoscalerStatus = Field(default_factory=HorizontalPodAutoscalerStatus)


class HorizontalPodAutoscalerList(K8sModel):
    api_version: str = "autoscaling/v2"
    kind: str = "HorizontalPodAutoscalerList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[HorizontalPodAutoscaler] = []
