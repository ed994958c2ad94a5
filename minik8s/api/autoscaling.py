"""autoscaling/v1 Scale: the ``/scale`` subresource of Deployments and ReplicaSets.

Fields follow ``k8s.io/api/autoscaling/v1/types.go``. ``status.selector`` is the label
selector in its string form (``app=web,tier in (a,b)``), as ``kubectl scale`` reads it.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import Int32, K8sModel
from minik8s.api.meta import ObjectMeta


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
